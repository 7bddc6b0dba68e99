/**
 * Dense working copies of segments for the 3-D effects: a box of the acquisition grid (exclusive
 * ends, possibly reaching one voxel beyond the volume so that "outside" can be background), one
 * byte a voxel, x fastest. Effects work on the smallest box that holds what they need, so their
 * scratch memory follows the segment's size, not the volume's.
 */
import type { LabelVolume } from '../label-volume';

export interface Box {
  x0: number;
  y0: number;
  z0: number;
  /** Exclusive. */
  x1: number;
  y1: number;
  z1: number;
}

export function boxDims(b: Box): [number, number, number] {
  return [b.x1 - b.x0, b.y1 - b.y0, b.z1 - b.z0];
}

export function boxVoxels(b: Box): number {
  const [a, c, d] = boxDims(b);
  return a * c * d;
}

/** The tight box around a segment's voxels, or null when it has none. */
export function segmentBox(labels: LabelVolume, classId: number): Box | null {
  const cols = labels.columns;
  let box: Box | null = null;
  for (const s of labels.slicesOf(classId)) {
    const m = labels.mask(classId, s) as Uint8Array;
    let x0 = cols;
    let x1 = -1;
    let y0 = labels.rows;
    let y1 = -1;
    for (let r = 0; r < labels.rows; r++) {
      const o = r * cols;
      for (let c = 0; c < cols; c++) {
        if (m[o + c]) {
          if (c < x0) x0 = c;
          if (c > x1) x1 = c;
          if (r < y0) y0 = r;
          y1 = r;
        }
      }
    }
    if (x1 < 0) continue;
    box = box
      ? { x0: Math.min(box.x0, x0), y0: Math.min(box.y0, y0), z0: Math.min(box.z0, s), x1: Math.max(box.x1, x1 + 1), y1: Math.max(box.y1, y1 + 1), z1: Math.max(box.z1, s + 1) }
      : { x0, y0, z0: s, x1: x1 + 1, y1: y1 + 1, z1: s + 1 };
  }
  return box;
}

export function unionBox(a: Box | null, b: Box | null): Box | null {
  if (!a) return b;
  if (!b) return a;
  return { x0: Math.min(a.x0, b.x0), y0: Math.min(a.y0, b.y0), z0: Math.min(a.z0, b.z0), x1: Math.max(a.x1, b.x1), y1: Math.max(a.y1, b.y1), z1: Math.max(a.z1, b.z1) };
}

/** Grow a box by [gx, gy, gz] voxels; `clip` keeps it inside the volume, else it may reach beyond. */
export function growBox(b: Box, g: [number, number, number], labels: { columns: number; rows: number; slices: number }, clip = true): Box {
  const out = { x0: b.x0 - g[0], y0: b.y0 - g[1], z0: b.z0 - g[2], x1: b.x1 + g[0], y1: b.y1 + g[1], z1: b.z1 + g[2] };
  if (!clip) return out;
  return { x0: Math.max(0, out.x0), y0: Math.max(0, out.y0), z0: Math.max(0, out.z0), x1: Math.min(labels.columns, out.x1), y1: Math.min(labels.rows, out.y1), z1: Math.min(labels.slices, out.z1) };
}

/** The segment's voxels in the box (0 outside the volume). */
export function denseOf(labels: LabelVolume, classId: number, b: Box): Uint8Array {
  const [nx, ny, nz] = boxDims(b);
  const out = new Uint8Array(nx * ny * nz);
  const cols = labels.columns;
  for (let z = Math.max(b.z0, 0); z < Math.min(b.z1, labels.slices); z++) {
    const m = labels.mask(classId, z);
    if (!m) continue;
    const zo = (z - b.z0) * nx * ny;
    for (let y = Math.max(b.y0, 0); y < Math.min(b.y1, labels.rows); y++) {
      const yo = zo + (y - b.y0) * nx;
      const src = y * cols;
      for (let x = Math.max(b.x0, 0); x < Math.min(b.x1, cols); x++) out[yo + x - b.x0] = m[src + x] as number;
    }
  }
  return out;
}

/**
 * The new slice masks of a segment whose voxels inside `b` become `dense` (voxels outside the box
 * keep their value). Only slices that change are returned.
 */
export function slicesFromDense(labels: LabelVolume, classId: number, b: Box, dense: Uint8Array): Map<number, Uint8Array | null> {
  const [nx, ny] = boxDims(b);
  const cols = labels.columns;
  const out = new Map<number, Uint8Array | null>();
  for (let z = Math.max(b.z0, 0); z < Math.min(b.z1, labels.slices); z++) {
    const before = labels.mask(classId, z);
    const zo = (z - b.z0) * nx * ny;
    let next: Uint8Array | null = null;
    let changed = false;
    for (let y = Math.max(b.y0, 0); y < Math.min(b.y1, labels.rows); y++) {
      const yo = zo + (y - b.y0) * nx;
      for (let x = Math.max(b.x0, 0); x < Math.min(b.x1, cols); x++) {
        const v = dense[yo + x - b.x0] ? 1 : 0;
        const i = y * cols + x;
        const old = before ? (before[i] ? 1 : 0) : 0;
        if (v !== old) {
          next ??= before ? before.slice() : new Uint8Array(labels.sliceSize);
          next[i] = v;
          changed = true;
        }
      }
    }
    if (changed) out.set(z, next && anyOn(next) ? next : null);
  }
  return out;
}

export function anyOn(m: Uint8Array): boolean {
  for (let i = 0; i < m.length; i++) if (m[i] !== 0) return true;
  return false;
}
