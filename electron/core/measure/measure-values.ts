/**
 * The values of a measurement, computed from one frame's modality values (HU for CT). Pure: the
 * service hands in the values (stored * slope + intercept, or the modality LUT, as the one decoder
 * gives them) and the pixel spacing. See contract/measure.ts for the conventions:
 *
 * - Coordinates: pixel (column c, row r) covers [c, c+1) x [r, r+1); its centre is (c+0.5, r+0.5).
 * - Inclusion: a pixel is in a region when its centre lies inside the shape. Rectangle and ellipse
 *   count a centre on the boundary as inside; the freehand polygon uses the even-odd rule with
 *   half-open edges (an edge from (x1,y1) to (x2,y2) is crossed by the ray from (px,py) to +x when
 *   (y1 > py) != (y2 > py) and px < x1 + (py - y1) * (x2 - x1) / (y2 - y1)), as
 *   test/reference/measure_check.py does with numpy.
 * - Lengths and angles are measured in physical space where there is a pixel spacing:
 *   dx * column spacing, dy * row spacing (PixelSpacing is [row, column]).
 * - Area is the shape's geometric area (shoelace for freehand, w*h, pi*a*b), in mm² or px².
 * - SD is the sample standard deviation (n - 1); mean and SD use a two-pass sum in float64.
 */
import type { MeasurementKind, MeasurementValues } from '../../contract/measure';

export interface FrameValues {
  rows: number;
  columns: number;
  /** Modality values row by row, or null for colour frames (no statistics then). */
  values: ArrayLike<number> | null;
  /** [row spacing, column spacing] in mm, or null. */
  pixelSpacing: readonly [number, number] | null;
  /** Which attribute gave the spacing (default PixelSpacing). */
  spacingSource?: 'PixelSpacing' | 'ImagerPixelSpacing' | null;
  valueUnit: string | null;
}

type Pt = readonly [number, number];

/** Whether pixel centres are inside: a predicate over a bounding box of candidate pixels. */
interface Region {
  /** Candidate pixel range (inclusive), clipped to the image by the caller. */
  c0: number;
  c1: number;
  r0: number;
  r1: number;
  inside(cx: number, cy: number): boolean;
  area: number;
}

function regionOf(kind: 'rectangle' | 'ellipse' | 'freehand', points: readonly Pt[]): Region {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const y0 = Math.min(...ys);
  const y1 = Math.max(...ys);
  const box = { c0: Math.floor(x0 - 0.5), c1: Math.ceil(x1 - 0.5), r0: Math.floor(y0 - 0.5), r1: Math.ceil(y1 - 0.5) };
  if (kind === 'rectangle') {
    return { ...box, area: (x1 - x0) * (y1 - y0), inside: (cx, cy) => cx >= x0 && cx <= x1 && cy >= y0 && cy <= y1 };
  }
  if (kind === 'ellipse') {
    const ex = (x0 + x1) / 2;
    const ey = (y0 + y1) / 2;
    const a = (x1 - x0) / 2;
    const b = (y1 - y0) / 2;
    return {
      ...box,
      area: Math.PI * a * b,
      inside: (cx, cy) => a > 0 && b > 0 && ((cx - ex) / a) ** 2 + ((cy - ey) / b) ** 2 <= 1,
    };
  }
  let twice = 0;
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as Pt;
    const q = points[(i + 1) % points.length] as Pt;
    twice += p[0] * q[1] - q[0] * p[1];
  }
  return {
    ...box,
    area: Math.abs(twice) / 2,
    inside: (px, py) => {
      let inside = false;
      for (let i = 0, j = points.length - 1; i < points.length; j = i++) {
        const [xi, yi] = points[i] as Pt;
        const [xj, yj] = points[j] as Pt;
        if (yi > py !== yj > py && px < xi + ((py - yi) * (xj - xi)) / (yj - yi)) inside = !inside;
      }
      return inside;
    },
  };
}

const EMPTY = { length: null, angle: null, area: null, pixels: null, mean: null, sd: null, min: null, max: null } as const;

/** The values of a measurement of `kind` with these points on this frame. */
export function measurementValues(kind: MeasurementKind, points: readonly Pt[], frame: FrameValues): MeasurementValues {
  const s = frame.pixelSpacing && frame.pixelSpacing[0] > 0 && frame.pixelSpacing[1] > 0 ? frame.pixelSpacing : null;
  const unit = s ? 'mm' : 'px';
  const sx = s ? s[1] : 1;
  const sy = s ? s[0] : 1;
  const base: MeasurementValues = { ...EMPTY, unit, spacingSource: s ? (frame.spacingSource ?? 'PixelSpacing') : null, valueUnit: null };
  if (kind === 'length') {
    const [a, b] = points as [Pt, Pt];
    return { ...base, length: Math.hypot((b[0] - a[0]) * sx, (b[1] - a[1]) * sy) };
  }
  if (kind === 'angle') {
    const [a, o, b] = points as [Pt, Pt, Pt];
    const ux = (a[0] - o[0]) * sx;
    const uy = (a[1] - o[1]) * sy;
    const vx = (b[0] - o[0]) * sx;
    const vy = (b[1] - o[1]) * sy;
    // atan2 of cross and dot: accurate at 0 and 180 degrees where acos is not.
    const deg = Math.hypot(ux, uy) === 0 || Math.hypot(vx, vy) === 0 ? null : (Math.abs(Math.atan2(ux * vy - uy * vx, ux * vx + uy * vy)) * 180) / Math.PI;
    return { ...base, angle: deg };
  }
  const region = regionOf(kind, points);
  const c0 = Math.max(region.c0, 0);
  const c1 = Math.min(region.c1, frame.columns - 1);
  const r0 = Math.max(region.r0, 0);
  const r1 = Math.min(region.r1, frame.rows - 1);
  const inside: number[] = [];
  for (let r = r0; r <= r1; r++) {
    for (let c = c0; c <= c1; c++) if (region.inside(c + 0.5, r + 0.5)) inside.push(r * frame.columns + c);
  }
  const out: MeasurementValues = { ...base, area: region.area * sx * sy, pixels: inside.length };
  const values = frame.values;
  if (!values || inside.length === 0) return out;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const i of inside) {
    const v = values[i] as number;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / inside.length;
  let sq = 0;
  for (const i of inside) sq += ((values[i] as number) - mean) ** 2;
  return { ...out, mean, sd: inside.length > 1 ? Math.sqrt(sq / (inside.length - 1)) : null, min, max, valueUnit: frame.valueUnit };
}
