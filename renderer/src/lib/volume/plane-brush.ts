/**
 * The MPR brush: round in millimetres on pictures whose pixels need not be square (a coronal
 * picture of 0.8 mm columns and 2.5 mm rows), so a stamp is an ellipse in pixels. A stroke is
 * collected as the picture's painted pixels (annotate/mask.ts's Mask) and sent once, on release,
 * as COCO RLE; the core maps those pixels to voxels. Pure: unit-tested in Node.
 */
import type { Dirty, Mask } from '../../annotate/mask';

/**
 * Paint (1) or erase (0) every pixel whose centre lies within `diameterMm` / 2 of (cx, cy)
 * (continuous picture coordinates), with pixel spacing [between rows, between columns] in mm.
 * At least the pixel under the centre is painted. Returns the touched rectangle, or null.
 */
export function stampEllipse(m: Mask, cx: number, cy: number, diameterMm: number, spacing: readonly [number, number], value: 0 | 1): Dirty | null {
  const r = diameterMm / 2;
  const rx = r / spacing[1];
  const ry = r / spacing[0];
  const x0 = Math.max(0, Math.floor(cx - rx));
  const x1 = Math.min(m.width - 1, Math.ceil(cx + rx));
  const y0 = Math.max(0, Math.floor(cy - ry));
  const y1 = Math.min(m.height - 1, Math.ceil(cy + ry));
  let dirty: Dirty | null = null;
  for (let y = y0; y <= y1; y++) {
    const dy = (y + 0.5 - cy) * spacing[0];
    for (let x = x0; x <= x1; x++) {
      const dx = (x + 0.5 - cx) * spacing[1];
      if (dx * dx + dy * dy <= r * r) {
        m.data[y * m.width + x] = value;
        dirty = grow(dirty, x, y);
      }
    }
  }
  const px = Math.floor(cx);
  const py = Math.floor(cy);
  if (px >= 0 && py >= 0 && px < m.width && py < m.height) {
    m.data[py * m.width + px] = value;
    dirty = grow(dirty, px, py);
  }
  return dirty;
}

function grow(d: Dirty | null, x: number, y: number): Dirty {
  return d ? { x0: Math.min(d.x0, x), y0: Math.min(d.y0, y), x1: Math.max(d.x1, x), y1: Math.max(d.y1, y) } : { x0: x, y0: y, x1: x, y1: y };
}

/** A stroke segment from a to b: stamps every quarter of the brush's smaller pixel extent, so no gaps. */
export function stampStroke(m: Mask, ax: number, ay: number, bx: number, by: number, diameterMm: number, spacing: readonly [number, number]): void {
  const len = Math.hypot((bx - ax) * spacing[1], (by - ay) * spacing[0]);
  const step = Math.max(diameterMm / 4, Math.min(spacing[0], spacing[1]) / 2);
  const n = Math.max(1, Math.ceil(len / step));
  for (let i = 0; i <= n; i++) stampEllipse(m, ax + ((bx - ax) * i) / n, ay + ((by - ay) * i) / n, diameterMm, spacing, 1);
}
