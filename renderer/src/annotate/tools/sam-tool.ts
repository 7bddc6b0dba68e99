/**
 * Click-to-mask (Segment Anything): a click marks the object (Alt+click: not the object), a drag
 * draws a box around it; every prompt asks the backend for a new mask, refined from the last one.
 * Enter accepts the candidate as a mask of the active class, Shift+Enter as polygons; Backspace takes the
 * last click back, Escape clears. The prompts and the candidate live in the host's PromptHost.
 */
import { boxFromCorners, clamp, type Pt } from '../geometry';
import type { AnnotationTool, ToolHost, ToolPointer } from '../tool';
import { SAM_ACCEPT_MASK, SAM_ACCEPT_POLYGON } from '../../lib/hotkey-registry';

export class SamTool implements AnnotationTool {
  static readonly toolName = 'sam';
  readonly name = 'sam' as const;
  readonly cursor = 'crosshair';
  #start: Pt | null = null;
  #dragged = false;

  down(host: ToolHost, e: ToolPointer): void {
    const size = host.imageSize;
    if (!size || !host.prompts) return;
    if (host.activeClassId === null) return host.notice('Choose a class first (keys 1-9).');
    this.#start = { x: clamp(e.p.x, 0, size.width), y: clamp(e.p.y, 0, size.height) };
    this.#dragged = false;
    host.selectedId = null;
  }

  move(host: ToolHost, e: ToolPointer): void {
    const size = host.imageSize;
    const start = this.#start;
    if (!start || !size) return;
    if (!this.#dragged && Math.hypot(e.p.x - start.x, e.p.y - start.y) <= e.tol) return;
    this.#dragged = true;
    const box = boxFromCorners(start, e.p, size.width, size.height);
    host.draft = box ? { kind: 'box', box, id: null } : null;
  }

  up(host: ToolHost, e: ToolPointer): void {
    const size = host.imageSize;
    const start = this.#start;
    this.#start = null;
    host.draft = null;
    if (!start || !size || !host.prompts) return;
    if (this.#dragged) {
      const box = boxFromCorners(start, e.p, size.width, size.height);
      if (box) host.prompts.setBox(box);
    } else {
      host.prompts.click(start, !e.alt);
    }
  }

  key(host: ToolHost, key: string): boolean {
    const p = host.prompts;
    if (!p) return false;
    // Shift+Enter, not P: P is the viewer's pan key (lib/hotkey-registry.ts).
    if (key === SAM_ACCEPT_MASK) return p.accept('mask');
    if (key === SAM_ACCEPT_POLYGON) return p.accept('polygon');
    if (key === 'Backspace') return p.undoLast();
    if (key === 'Escape') return this.#start ? (this.cancel(host), true) : p.clear();
    return false;
  }

  cancel(host: ToolHost): void {
    this.#start = null;
    host.draft = null;
  }
}
