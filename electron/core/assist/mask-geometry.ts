/**
 * Small geometry of binary masks (row-major, 1 = on) that model help needs: bounding box, the most
 * interior pixel (where a person would click to mean "this object"), overlap. Pure.
 */
import { distanceTransform } from '../../contract/distance-transform';

export interface PixelBounds {
  /** Inclusive pixel columns and rows. */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export function maskBounds(mask: ArrayLike<number>, width: number, height: number): PixelBounds | null {
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return x1 < 0 ? null : { x0, y0, x1, y1 };
}

export function maskArea(mask: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) n++;
  return n;
}

/**
 * The pixel farthest from the mask's outside (the centre of the largest inscribed disc), as a
 * continuous point at the pixel's centre; ties go to the first in row-major order. Null for an
 * empty mask. A pixel on the image border counts the border as outside.
 */
export function mostInteriorPoint(mask: ArrayLike<number>, width: number, height: number): { x: number; y: number; depth: number } | null {
  // Pad by one pixel of background so that the image border is "outside".
  const W = width + 2;
  const H = height + 2;
  const d = distanceTransform(W, H, (i) => {
    const x = (i % W) - 1;
    const y = Math.floor(i / W) - 1;
    return x < 0 || y < 0 || x >= width || y >= height || !mask[y * width + x];
  });
  let best = -1;
  let bestD = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = d[(y + 1) * W + x + 1] as number;
      if (v > bestD) {
        bestD = v;
        best = y * width + x;
      }
    }
  }
  return best < 0 ? null : { x: (best % width) + 0.5, y: Math.floor(best / width) + 0.5, depth: bestD };
}

/** |a AND b|, |a|, |b|, IoU. */
export function overlap(a: ArrayLike<number>, b: ArrayLike<number>): { intersection: number; a: number; b: number; iou: number } {
  let inter = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ? 1 : 0;
    const y = b[i] ? 1 : 0;
    na += x;
    nb += y;
    inter += x & y;
  }
  const union = na + nb - inter;
  return { intersection: inter, a: na, b: nb, iou: union > 0 ? inter / union : 1 };
}

/** Mean luminance (mean of R, G, B) of an RGB image's pixels where `mask` is on; NaN when none is. */
export function meanLuminance(rgb: { data: Uint8Array }, mask: ArrayLike<number>): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    sum += ((rgb.data[i * 3] as number) + (rgb.data[i * 3 + 1] as number) + (rgb.data[i * 3 + 2] as number)) / 3;
    n++;
  }
  return n ? sum / n : NaN;
}

/** The pixels within `width` pixels outside a mask (its surroundings). */
export function ringAround(mask: ArrayLike<number>, w: number, h: number, width: number): Uint8Array {
  const d = distanceTransform(w, h, (i) => mask[i] !== 0 && mask[i] !== undefined);
  const ring = new Uint8Array(w * h);
  for (let i = 0; i < ring.length; i++) ring[i] = !mask[i] && (d[i] as number) <= width ? 1 : 0;
  return ring;
}
