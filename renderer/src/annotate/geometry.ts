/**
 * Shape geometry in image pixels: normalising and clamping drawn boxes,
 * hit-testing for selection and handles (tolerances in image pixels, i.e.
 * screen pixels divided by the zoom), moving, resizing, and polygon vertex
 * insertion and deletion. Pure functions: unit-tested in Node.
 */
import type { BoxGeometry, PolygonGeometry } from '../../../electron/contract/domain';

export interface Pt {
  x: number;
  y: number;
}

/** Round to 1/100 pixel: exact enough for any display, and stable in JSON. */
export function r2(v: number): number {
  return Math.round(v * 100) / 100;
}

export function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

/** The box spanned by two corners, clamped to a width x height image; null when degenerate. */
export function boxFromCorners(a: Pt, b: Pt, width: number, height: number): BoxGeometry | null {
  const x0 = clamp(Math.min(a.x, b.x), 0, width);
  const x1 = clamp(Math.max(a.x, b.x), 0, width);
  const y0 = clamp(Math.min(a.y, b.y), 0, height);
  const y1 = clamp(Math.max(a.y, b.y), 0, height);
  if (x1 - x0 < 0.5 || y1 - y0 < 0.5) return null;
  return { x: r2(x0), y: r2(y0), width: r2(x1 - x0), height: r2(y1 - y0) };
}

export function moveBox(b: BoxGeometry, dx: number, dy: number, width: number, height: number): BoxGeometry {
  return { x: r2(clamp(b.x + dx, 0, width - b.width)), y: r2(clamp(b.y + dy, 0, height - b.height)), width: b.width, height: b.height };
}

/** Box handles: corners and edge midpoints, named by compass direction. */
export type Handle = 'nw' | 'n' | 'ne' | 'e' | 'se' | 's' | 'sw' | 'w';
export const HANDLES: readonly Handle[] = ['nw', 'n', 'ne', 'e', 'se', 's', 'sw', 'w'];

export function handlePoint(b: BoxGeometry, h: Handle): Pt {
  const x = h.includes('w') ? b.x : h.includes('e') ? b.x + b.width : b.x + b.width / 2;
  const y = h.includes('n') ? b.y : h.includes('s') ? b.y + b.height : b.y + b.height / 2;
  return { x, y };
}

/** Drag one handle of a box to p (image pixels); the opposite side stays. */
export function resizeBox(b: BoxGeometry, h: Handle, p: Pt, width: number, height: number): BoxGeometry | null {
  let x0 = b.x;
  let y0 = b.y;
  let x1 = b.x + b.width;
  let y1 = b.y + b.height;
  if (h.includes('w')) x0 = p.x;
  if (h.includes('e')) x1 = p.x;
  if (h.includes('n')) y0 = p.y;
  if (h.includes('s')) y1 = p.y;
  return boxFromCorners({ x: x0, y: y0 }, { x: x1, y: y1 }, width, height);
}

export function hitHandle(b: BoxGeometry, p: Pt, tol: number): Handle | null {
  for (const h of HANDLES) {
    const q = handlePoint(b, h);
    if (Math.abs(q.x - p.x) <= tol && Math.abs(q.y - p.y) <= tol) return h;
  }
  return null;
}

export function insideBox(b: BoxGeometry, p: Pt, tol = 0): boolean {
  return p.x >= b.x - tol && p.x <= b.x + b.width + tol && p.y >= b.y - tol && p.y <= b.y + b.height + tol;
}

/** Even-odd point-in-polygon. */
export function insidePolygon(points: readonly (readonly [number, number])[], p: Pt): boolean {
  let inside = false;
  for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
    const [xi, yi] = points[i] as [number, number];
    const [xj, yj] = points[j] as [number, number];
    if (yi > p.y !== yj > p.y && p.x < ((xj - xi) * (p.y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export function hitVertex(points: readonly (readonly [number, number])[], p: Pt, tol: number): number {
  let best = -1;
  let bestD = tol;
  points.forEach(([x, y], i) => {
    const d = Math.hypot(x - p.x, y - p.y);
    if (d <= bestD) {
      best = i;
      bestD = d;
    }
  });
  return best;
}

/** The closest point on segment a-b to p, and its distance. */
export function nearestOnSegment(a: readonly [number, number], b: readonly [number, number], p: Pt): { x: number; y: number; d: number } {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : clamp(((p.x - a[0]) * dx + (p.y - a[1]) * dy) / len2, 0, 1);
  const x = a[0] + t * dx;
  const y = a[1] + t * dy;
  return { x, y, d: Math.hypot(x - p.x, y - p.y) };
}

/** The edge (index of its first vertex) within tol of p, with the point on it; or null. */
export function hitEdge(points: readonly (readonly [number, number])[], p: Pt, tol: number): { index: number; x: number; y: number } | null {
  let best: { index: number; x: number; y: number } | null = null;
  let bestD = tol;
  for (let i = 0; i < points.length; i++) {
    const n = nearestOnSegment(points[i] as [number, number], points[(i + 1) % points.length] as [number, number], p);
    if (n.d <= bestD) {
      bestD = n.d;
      best = { index: i, x: n.x, y: n.y };
    }
  }
  return best;
}

/** A new polygon with a vertex inserted after `edge` (between it and the next). */
export function insertVertex(g: PolygonGeometry, edge: number, p: Pt): PolygonGeometry {
  const points = g.points.slice();
  points.splice(edge + 1, 0, [r2(p.x), r2(p.y)]);
  return { points };
}

/** A new polygon without vertex i; null when that would leave fewer than 3. */
export function deleteVertex(g: PolygonGeometry, i: number): PolygonGeometry | null {
  if (g.points.length <= 3) return null;
  return { points: g.points.filter((_, k) => k !== i) };
}

export function moveVertex(g: PolygonGeometry, i: number, p: Pt, width: number, height: number): PolygonGeometry {
  const points = g.points.slice();
  points[i] = [r2(clamp(p.x, 0, width)), r2(clamp(p.y, 0, height))];
  return { points };
}

export function movePolygon(g: PolygonGeometry, dx: number, dy: number, width: number, height: number): PolygonGeometry {
  const xs = g.points.map(([x]) => x);
  const ys = g.points.map(([, y]) => y);
  const ddx = clamp(dx, -Math.min(...xs), width - Math.max(...xs));
  const ddy = clamp(dy, -Math.min(...ys), height - Math.max(...ys));
  return { points: g.points.map(([x, y]) => [r2(x + ddx), r2(y + ddy)]) };
}

export function clampPoint(p: Pt, width: number, height: number): [number, number] {
  return [r2(clamp(p.x, 0, width)), r2(clamp(p.y, 0, height))];
}
