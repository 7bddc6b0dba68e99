/**
 * Masks in the renderer: a row-major Uint8Array (0/1) of the image's size,
 * painted by the brush and eraser, converted to and from the store's COCO
 * RLE (uncompressed counts, COLUMN-MAJOR, zeros first, size [height, width])
 * with the contract's codec (electron/contract/rle.ts, shared with the core).
 * Pure functions: unit-tested in Node.
 */
import type { MaskGeometry } from '../../../electron/contract/domain';
import { distanceTransform } from '../../../electron/contract/distance-transform';
import { paintRleCounts, rleCounts } from '../../../electron/contract/rle';

export { distanceTransform };

export type Rle = MaskGeometry['rle'];

export interface Mask {
  width: number;
  height: number;
  /** Row-major, 1 = on. */
  data: Uint8Array;
}

export function emptyMask(width: number, height: number): Mask {
  return { width, height, data: new Uint8Array(width * height) };
}

/** COCO RLE of a mask (column-major runs, zeros first). */
export function maskToRle(m: Mask): Rle {
  return { size: [m.height, m.width], counts: rleCounts(m.data, m.height, m.width) };
}

/** The mask an RLE describes. Throws on counts that do not add up to its size. */
export function rleToMask(rle: Rle): Mask {
  const [h, w] = rle.size;
  const out = emptyMask(w, h);
  const pos = paintRleCounts(rle.counts, h, w, out.data);
  if (pos !== w * h) throw new Error(`RLE counts add up to ${pos}, not ${w * h}.`);
  return out;
}

export function maskArea(m: Mask): number {
  let n = 0;
  for (const v of m.data) n += v;
  return n;
}

/** Tight box [x, y, width, height] in pixels around the on pixels, or null when empty. */
export function maskBounds(m: Mask): { x: number; y: number; width: number; height: number } | null {
  let x0 = m.width;
  let y0 = m.height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < m.height; y++) {
    const row = y * m.width;
    for (let x = 0; x < m.width; x++) {
      if (m.data[row + x]) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        y1 = y;
      }
    }
  }
  return x1 < 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/** A changed rectangle of pixels (for redrawing only what a stroke touched). */
export interface Dirty {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * Paint (value 1) or erase (value 0) a disc of `diameter` image pixels centred at (cx, cy)
 * (continuous image coordinates): every pixel whose centre lies within the disc. Returns the
 * touched rectangle, or null when the disc misses the image.
 */
export function stampDisc(m: Mask, cx: number, cy: number, diameter: number, value: 0 | 1): Dirty | null {
  if (diameter <= 1) {
    // A one-pixel brush paints exactly the pixel under it.
    const x = Math.floor(cx);
    const y = Math.floor(cy);
    if (x < 0 || y < 0 || x >= m.width || y >= m.height) return null;
    m.data[y * m.width + x] = value;
    return { x0: x, y0: y, x1: x, y1: y };
  }
  const r = diameter / 2;
  const x0 = Math.max(0, Math.floor(cx - r));
  const x1 = Math.min(m.width - 1, Math.ceil(cx + r));
  const y0 = Math.max(0, Math.floor(cy - r));
  const y1 = Math.min(m.height - 1, Math.ceil(cy + r));
  if (x0 > x1 || y0 > y1) return null;
  const r2 = r * r;
  for (let y = y0; y <= y1; y++) {
    const dy = y + 0.5 - cy;
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - cx;
      if (dx * dx + dy * dy <= r2) m.data[y * m.width + x] = value;
    }
  }
  return { x0, y0, x1, y1 };
}

/** Paint a stroke segment from a to b: discs every quarter diameter, so no gaps at any speed. */
export function stampSegment(m: Mask, ax: number, ay: number, bx: number, by: number, diameter: number, value: 0 | 1): Dirty | null {
  const len = Math.hypot(bx - ax, by - ay);
  const step = Math.max(Math.max(diameter, 1) / 4, 0.5);
  const n = Math.max(1, Math.ceil(len / step));
  let dirty: Dirty | null = null;
  for (let i = 0; i <= n; i++) {
    const t = i / n;
    dirty = union(dirty, stampDisc(m, ax + (bx - ax) * t, ay + (by - ay) * t, diameter, value));
  }
  return dirty;
}

export function union(a: Dirty | null, b: Dirty | null): Dirty | null {
  if (!a) return b;
  if (!b) return a;
  return { x0: Math.min(a.x0, b.x0), y0: Math.min(a.y0, b.y0), x1: Math.max(a.x1, b.x1), y1: Math.max(a.y1, b.y1) };
}

/** Signed distance: negative inside the mask, positive outside (pixel centres). */
export function signedDistance(m: Mask): Float64Array {
  const outside = distanceTransform(m.width, m.height, (i) => m.data[i] === 1);
  const inside = distanceTransform(m.width, m.height, (i) => m.data[i] === 0);
  const out = new Float64Array(m.data.length);
  for (let i = 0; i < out.length; i++) out[i] = m.data[i] ? -(inside[i] as number) + 0.5 : (outside[i] as number) - 0.5;
  return out;
}
