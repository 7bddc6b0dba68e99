/**
 * Select and edit: click a shape to select it (topmost first); drag it to move; drag a box's
 * corner or edge handle to resize; drag a polygon's vertex to move it, drag on an edge to
 * insert a vertex there, Alt+click a vertex to delete it. Each drag is one history entry.
 */
import type { Annotation, BoxGeometry, PolygonGeometry } from '../../../../electron/contract/domain';
import { deleteVertex, hitEdge, hitHandle, hitVertex, insertVertex, insideBox, insidePolygon, moveBox, movePolygon, moveVertex, resizeBox, type Handle, type Pt } from '../geometry';
import { pickable, type AnnotationTool, type ToolHost, type ToolPointer } from '../tool';

type Drag =
  | { mode: 'move-box'; a: Annotation; from: BoxGeometry; start: Pt }
  | { mode: 'resize'; a: Annotation; from: BoxGeometry; handle: Handle }
  | { mode: 'move-polygon'; a: Annotation; from: PolygonGeometry; start: Pt }
  | { mode: 'vertex'; a: Annotation; from: PolygonGeometry; index: number; label: string };

export function hitShape(a: Annotation, p: Pt, tol: number): boolean {
  const g = a.geometry;
  if (!g) return false;
  if ('width' in g) return insideBox(g, p, tol);
  if ('points' in g) return insidePolygon(g.points, p) || hitEdge(g.points, p, tol) !== null;
  const [h, w] = g.rle.size;
  const x = Math.floor(p.x);
  const y = Math.floor(p.y);
  if (x < 0 || y < 0 || x >= w || y >= h) return false;
  // Column-major runs: walk to pixel (x, y).
  const target = x * h + y;
  let pos = 0;
  for (let j = 0; j < g.rle.counts.length; j++) {
    const c = g.rle.counts[j] ?? 0;
    if (target < pos + c) return j % 2 === 1;
    pos += c;
  }
  return false;
}

export class SelectTool implements AnnotationTool {
  static readonly toolName = 'select';
  readonly name = 'select' as const;
  readonly cursor = 'default';
  #drag: Drag | null = null;
  #moved = false;

  down(host: ToolHost, e: ToolPointer): void {
    this.#moved = false;
    const selected = host.annotations.find((a) => a.id === host.selectedId) ?? null;
    const g = selected?.geometry ?? null;
    if (selected && g && 'width' in g) {
      const handle = hitHandle(g, e.p, e.tol);
      if (handle) {
        this.#drag = { mode: 'resize', a: selected, from: g, handle };
        return;
      }
    }
    if (selected && g && 'points' in g) {
      const v = hitVertex(g.points, e.p, e.tol);
      if (v >= 0) {
        if (e.alt) {
          const next = deleteVertex(g, v);
          if (next) host.changeGeometry(selected, next, 'Delete vertex');
          else host.notice('A polygon keeps at least 3 vertices.');
          return;
        }
        this.#drag = { mode: 'vertex', a: selected, from: g, index: v, label: 'Move vertex' };
        return;
      }
      const edge = hitEdge(g.points, e.p, e.tol);
      if (edge) {
        const inserted = insertVertex(g, edge.index, edge);
        this.#drag = { mode: 'vertex', a: selected, from: g, index: edge.index + 1, label: 'Insert vertex' };
        host.draft = { kind: 'polygon', points: inserted.points, closed: true, cursor: null, id: selected.id };
        this.#moved = true;
        return;
      }
    }
    const hit = pickable(host).find((a) => hitShape(a, e.p, e.tol)) ?? null;
    host.selectedId = hit?.id ?? null;
    if (!hit || !hit.geometry) return;
    if ('width' in hit.geometry) this.#drag = { mode: 'move-box', a: hit, from: hit.geometry, start: e.p };
    else if ('points' in hit.geometry) this.#drag = { mode: 'move-polygon', a: hit, from: hit.geometry, start: e.p };
  }

  move(host: ToolHost, e: ToolPointer): void {
    const d = this.#drag;
    const size = host.imageSize;
    if (!d || !size) return;
    this.#moved = true;
    if (d.mode === 'move-box') host.draft = { kind: 'box', box: moveBox(d.from, e.p.x - d.start.x, e.p.y - d.start.y, size.width, size.height), id: d.a.id };
    else if (d.mode === 'resize') {
      const box = resizeBox(d.from, d.handle, e.p, size.width, size.height);
      if (box) host.draft = { kind: 'box', box, id: d.a.id };
    } else if (d.mode === 'move-polygon') {
      host.draft = { kind: 'polygon', points: movePolygon(d.from, e.p.x - d.start.x, e.p.y - d.start.y, size.width, size.height).points, closed: true, cursor: null, id: d.a.id };
    } else {
      const base = d.label === 'Insert vertex' ? insertVertex(d.from, d.index - 1, e.p) : d.from;
      host.draft = { kind: 'polygon', points: moveVertex(base, d.index, e.p, size.width, size.height).points, closed: true, cursor: null, id: d.a.id };
    }
  }

  up(host: ToolHost): void {
    const d = this.#drag;
    const draft = host.draft;
    this.#drag = null;
    if (!d || !this.#moved || !draft) {
      host.draft = null;
      return;
    }
    if (draft.kind === 'box' && (d.mode === 'move-box' || d.mode === 'resize')) {
      if (JSON.stringify(draft.box) !== JSON.stringify(d.from)) host.changeGeometry(d.a, draft.box, d.mode === 'resize' ? 'Resize box' : 'Move box');
    } else if (draft.kind === 'polygon' && (d.mode === 'move-polygon' || d.mode === 'vertex')) {
      if (JSON.stringify(draft.points) !== JSON.stringify(d.from.points)) host.changeGeometry(d.a, { points: draft.points }, d.mode === 'move-polygon' ? 'Move polygon' : d.label);
    } else host.draft = null;
    // The draft stays until the state has applied the new geometry (no flicker back).
  }

  key(host: ToolHost, key: string): boolean {
    if (key === 'Escape' && (this.#drag || host.selectedId !== null)) {
      this.cancel(host);
      host.selectedId = null;
      return true;
    }
    return false;
  }

  cancel(host: ToolHost): void {
    this.#drag = null;
    host.draft = null;
  }
}

