/** Draws a box by dragging from one corner to the other (image pixels, clamped to the image). */
import { boxFromCorners, clamp, type Pt } from '../geometry';
import type { AnnotationTool, ToolHost, ToolPointer } from '../tool';

export class BoxTool implements AnnotationTool {
  static readonly toolName = 'box';
  readonly name = 'box' as const;
  readonly cursor = 'crosshair';
  #start: Pt | null = null;

  down(host: ToolHost, e: ToolPointer): void {
    const size = host.imageSize;
    if (!size) return;
    if (host.activeClassId === null) return host.notice('Choose a class first (keys 1-9).');
    this.#start = { x: clamp(e.p.x, 0, size.width), y: clamp(e.p.y, 0, size.height) };
    host.selectedId = null;
    host.draft = null;
  }

  move(host: ToolHost, e: ToolPointer): void {
    const size = host.imageSize;
    if (!this.#start || !size) return;
    const box = boxFromCorners(this.#start, e.p, size.width, size.height);
    host.draft = box ? { kind: 'box', box, id: null } : null;
  }

  up(host: ToolHost, e: ToolPointer): void {
    const size = host.imageSize;
    const start = this.#start;
    this.#start = null;
    host.draft = null;
    if (!start || !size) return;
    const box = boxFromCorners(start, e.p, size.width, size.height);
    if (box) host.createShape('box', box, 'Draw box');
  }

  key(host: ToolHost, key: string): boolean {
    if (key === 'Escape' && this.#start) {
      this.cancel(host);
      return true;
    }
    return false;
  }

  cancel(host: ToolHost): void {
    this.#start = null;
    host.draft = null;
  }
}
