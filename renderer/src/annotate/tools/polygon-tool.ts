/**
 * Draws a polygon: each click adds a vertex; clicking the first vertex, a double click or
 * Enter closes it; Backspace removes the last vertex; Escape drops it.
 */
import { clampPoint, type Pt } from '../geometry';
import type { AnnotationTool, ToolHost, ToolPointer } from '../tool';

export class PolygonTool implements AnnotationTool {
  static readonly toolName = 'polygon';
  readonly name = 'polygon' as const;
  readonly cursor = 'crosshair';
  #points: [number, number][] = [];

  #show(host: ToolHost, cursor: Pt | null): void {
    host.draft = this.#points.length ? { kind: 'polygon', points: this.#points.slice(), closed: false, cursor, id: null } : null;
  }

  down(host: ToolHost, e: ToolPointer): void {
    const size = host.imageSize;
    if (!size) return;
    if (host.activeClassId === null) return host.notice('Choose a class first (keys 1-9).');
    host.selectedId = null;
    const first = this.#points[0];
    if (this.#points.length >= 3 && (e.detail >= 2 || (first && Math.hypot(first[0] - e.p.x, first[1] - e.p.y) <= e.tol))) {
      this.#finish(host);
      return;
    }
    const p = clampPoint(e.p, size.width, size.height);
    const last = this.#points.at(-1);
    if (!last || last[0] !== p[0] || last[1] !== p[1]) this.#points.push(p);
    this.#show(host, null);
  }

  move(host: ToolHost, e: ToolPointer): void {
    if (this.#points.length) this.#show(host, e.p);
  }

  up(): void {}

  #finish(host: ToolHost): void {
    const points = this.#points;
    this.#points = [];
    host.draft = null;
    if (points.length >= 3) host.createShape('polygon', { points }, 'Draw polygon');
  }

  key(host: ToolHost, key: string): boolean {
    if (!this.#points.length) return false;
    if (key === 'Enter') this.#finish(host);
    else if (key === 'Escape') this.cancel(host);
    else if (key === 'Backspace') {
      this.#points.pop();
      this.#show(host, null);
    } else return false;
    return true;
  }

  cancel(host: ToolHost): void {
    this.#points = [];
    host.draft = null;
  }
}
