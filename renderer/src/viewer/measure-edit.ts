/**
 * Moving a kept measurement (issue 19 leftovers): what a press hits, and the points after a drag.
 * Image pixel coordinates throughout (contract/measure.ts). Pure: the page sends the new points
 * with measurements.update and the core computes the values again.
 *
 *   a press within `tol` of one of a measurement's points   moves that point (a corner of a
 *                                                            rectangle or ellipse reshapes it)
 *   a press on its outline, or inside a region               moves the whole measurement
 * Points stay inside the image: a whole move stops at the edge (the shape keeps its form), a
 * single point is kept inside.
 */
import type { MeasurementKind } from '../../../electron/contract/measure';

export type Pt = [number, number];

export interface MeasureGrab {
  id: number;
  /** The point moved, or null: the whole measurement. */
  point: number | null;
  /** Where the press was, and the points then. */
  from: Pt;
  points: Pt[];
}

interface Shape {
  id: number;
  kind: MeasurementKind;
  points: Pt[];
}

function segmentDistance(p: Pt, a: Pt, b: Pt): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  const t = len2 > 0 ? Math.min(1, Math.max(0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2)) : 0;
  return Math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy));
}

function insidePolygon(p: Pt, poly: readonly Pt[]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i] as Pt;
    const [xj, yj] = poly[j] as Pt;
    if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Whether a press at p (tolerance tol) lies on the shape's outline or inside its region. */
function onBody(s: Shape, p: Pt, tol: number): boolean {
  const pts = s.points;
  if (s.kind === 'length' || s.kind === 'angle') {
    for (let i = 1; i < pts.length; i++) if (segmentDistance(p, pts[i - 1] as Pt, pts[i] as Pt) <= tol) return true;
    return false;
  }
  if (s.kind === 'freehand') {
    if (insidePolygon(p, pts)) return true;
    for (let i = 0; i < pts.length; i++) if (segmentDistance(p, pts[i] as Pt, pts[(i + 1) % pts.length] as Pt) <= tol) return true;
    return false;
  }
  const [a, b] = pts as [Pt, Pt];
  const x0 = Math.min(a[0], b[0]) - tol;
  const x1 = Math.max(a[0], b[0]) + tol;
  const y0 = Math.min(a[1], b[1]) - tol;
  const y1 = Math.max(a[1], b[1]) + tol;
  if (s.kind === 'rectangle') return p[0] >= x0 && p[0] <= x1 && p[1] >= y0 && p[1] <= y1;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const rx = Math.max((x1 - x0) / 2, 1e-9);
  const ry = Math.max((y1 - y0) / 2, 1e-9);
  return ((p[0] - cx) / rx) ** 2 + ((p[1] - cy) / ry) ** 2 <= 1;
}

/**
 * What a press at p hits among the shapes (the selected one first, then the newest): a point
 * before a body, so a handle wins over the shape under it. Null: nothing, draw a new one.
 */
export function hitMeasurement(shapes: readonly Shape[], p: Pt, tol: number, selectedId: number | null = null): MeasureGrab | null {
  const order = [...shapes].sort((a, b) => (a.id === selectedId ? -1 : b.id === selectedId ? 1 : b.id - a.id));
  // Freehand outlines have many points: only their body moves (a point drag would make a spike).
  for (const s of order) {
    if (s.kind === 'freehand') continue;
    let best = -1;
    let bestD = tol;
    s.points.forEach((q, i) => {
      const d = Math.hypot(q[0] - p[0], q[1] - p[1]);
      if (d <= bestD) {
        best = i;
        bestD = d;
      }
    });
    if (best >= 0) return { id: s.id, point: best, from: p, points: s.points.map((q): Pt => [q[0], q[1]]) };
  }
  for (const s of order) if (onBody(s, p, tol)) return { id: s.id, point: null, from: p, points: s.points.map((q): Pt => [q[0], q[1]]) };
  return null;
}

/** The points after dragging to p, kept inside an image of columns x rows. */
export function dragPoints(g: MeasureGrab, p: Pt, columns: number, rows: number): Pt[] {
  const clamp = (v: number, hi: number): number => Math.min(Math.max(v, 0), hi);
  if (g.point !== null) return g.points.map((q, i): Pt => (i === g.point ? [clamp(p[0], columns), clamp(p[1], rows)] : [q[0], q[1]]));
  let dx = p[0] - g.from[0];
  let dy = p[1] - g.from[1];
  const xs = g.points.map((q) => q[0]);
  const ys = g.points.map((q) => q[1]);
  dx = Math.min(Math.max(dx, -Math.min(...xs)), columns - Math.max(...xs));
  dy = Math.min(Math.max(dy, -Math.min(...ys)), rows - Math.max(...ys));
  return g.points.map((q): Pt => [q[0] + dx, q[1] + dy]);
}
