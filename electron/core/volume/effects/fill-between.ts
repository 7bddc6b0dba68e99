/**
 * Fill between slices: the empty acquired slices between two labelled ones are filled by
 * morphological contour interpolation (after Albu, Beugeling & Laidlaw, "A morphology-based
 * approach for interslice interpolation of anatomical slices from volumetric images", IEEE TBME
 * 2008): the slice halfway between labelled slices A and B gets their morphological median
 * (Beucher)
 *     M(A, B) = union over r >= 0 of ( dilate(A and B, r)  intersect  erode(A or B, r) )
 *             = { p : d(p, A and B) < d(p, not (A or B)) }      (Euclidean, in mm)
 * which grows the overlap of the two shapes until it meets the shrinking union; then the halves
 * are filled the same way, recursively. Shapes that do not overlap are first aligned on their
 * centroids and the median moved back half-way. Interpolation runs along the acquisition's slice
 * axis, and each slice is treated as one shape (no matching of several separate regions).
 */
import { squaredDistance } from './morphology';

/** The morphological median of two row-major masks of the same size (spacing [column, row] in mm). */
export function morphologicalMedian(a: Uint8Array, b: Uint8Array, columns: number, rows: number, spacing: readonly [number, number]): Uint8Array {
  const n = columns * rows;
  let overlap = false;
  for (let i = 0; i < n && !overlap; i++) overlap = a[i] !== 0 && b[i] !== 0;
  if (!overlap) {
    const ca = centroid(a, columns, rows);
    const cb = centroid(b, columns, rows);
    if (!ca || !cb) return new Uint8Array(n);
    const dx = Math.round(ca[0] - cb[0]);
    const dy = Math.round(ca[1] - cb[1]);
    const moved = shift(b, columns, rows, dx, dy);
    let again = false;
    for (let i = 0; i < n && !again; i++) again = a[i] !== 0 && moved[i] !== 0;
    // Still apart after alignment (very different shapes): the nearer slice's shape, halfway.
    if (!again) return shift(a, columns, rows, -Math.round(dx / 2), -Math.round(dy / 2));
    const m = medianOverlapping(a, moved, columns, rows, spacing);
    return shift(m, columns, rows, -Math.round(dx / 2), -Math.round(dy / 2));
  }
  return medianOverlapping(a, b, columns, rows, spacing);
}

function medianOverlapping(a: Uint8Array, b: Uint8Array, columns: number, rows: number, spacing: readonly [number, number]): Uint8Array {
  // One voxel of background around the slice: outside the image is outside the union.
  const pc = columns + 2;
  const pr = rows + 2;
  const at = (i: number): number => {
    const x = (i % pc) - 1;
    const y = Math.floor(i / pc) - 1;
    return x < 0 || y < 0 || x >= columns || y >= rows ? -1 : y * columns + x;
  };
  const dims: [number, number, number] = [pc, pr, 1];
  const sp: [number, number, number] = [spacing[0], spacing[1], 1];
  const inter = new Uint8Array(pc * pr);
  const union = new Uint8Array(pc * pr);
  for (let i = 0; i < inter.length; i++) {
    const j = at(i);
    if (j < 0) continue;
    inter[i] = a[j] !== 0 && b[j] !== 0 ? 1 : 0;
    union[i] = a[j] !== 0 || b[j] !== 0 ? 1 : 0;
  }
  const dInter = squaredDistance(dims, sp, inter, true);
  const dOutside = squaredDistance(dims, sp, union, false);
  const out = new Uint8Array(columns * rows);
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < columns; x++) {
      const i = (y + 1) * pc + x + 1;
      out[y * columns + x] = (dInter[i] as number) < (dOutside[i] as number) ? 1 : 0;
    }
  }
  return out;
}

function centroid(m: Uint8Array, columns: number, rows: number): [number, number] | null {
  let sx = 0;
  let sy = 0;
  let n = 0;
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < columns; x++) {
      if (m[y * columns + x]) {
        sx += x;
        sy += y;
        n++;
      }
    }
  }
  return n ? [sx / n, sy / n] : null;
}

function shift(m: Uint8Array, columns: number, rows: number, dx: number, dy: number): Uint8Array {
  const out = new Uint8Array(columns * rows);
  for (let y = 0; y < rows; y++) {
    const ty = y + dy;
    if (ty < 0 || ty >= rows) continue;
    for (let x = 0; x < columns; x++) {
      const tx = x + dx;
      if (tx >= 0 && tx < columns && m[y * columns + x]) out[ty * columns + tx] = 1;
    }
  }
  return out;
}

/**
 * Masks for the empty slices strictly between labelled slices a and b (masks ma and mb):
 * slice index -> mask, by recursive medians.
 */
export function interpolateGap(a: number, ma: Uint8Array, b: number, mb: Uint8Array, columns: number, rows: number, spacing: readonly [number, number], out: Map<number, Uint8Array>): void {
  if (b - a <= 1) return;
  const m = (a + b) >> 1;
  const mid = morphologicalMedian(ma, mb, columns, rows, spacing);
  out.set(m, mid);
  interpolateGap(a, ma, m, mid, columns, rows, spacing, out);
  interpolateGap(m, mid, b, mb, columns, rows, spacing, out);
}
