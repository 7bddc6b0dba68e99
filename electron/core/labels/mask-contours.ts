/**
 * Binary mask → polygons, for formats whose objects are polygons (YOLO segment).
 *
 * One polygon per connected component of the mask's on pixels (8-connectivity: pixels touching
 * only at a corner belong together). The outline is traced on pixel CORNERS, along the edges
 * between on and off pixels, so the unsimplified polygon is rectilinear with whole-number vertices
 * and encloses exactly the component's pixels: rasterised by polygonToRle (pycocotools' rule,
 * a pixel is in when its centre is) it gives the component back pixel for pixel. Where two pixels
 * of a component touch only at a corner the outline passes that corner twice (it touches itself
 * there, never crosses).
 *
 * Holes (background enclosed by a component, 4-connected as the dual of 8-connected foreground):
 * a YOLO segment line is a single ring, so with `holes: 'cut'` (the default) each hole of at
 * least `minPixels` pixels is traced too and spliced into its component's ring through a
 * zero-width bridge (there and back along one segment, see withHoles): an even-odd fill
 * (pycocotools, OpenCV's fillPoly as Ultralytics uses it) leaves the hole empty, and the hole runs
 * the other way round so a non-zero fill does too. Smaller holes, and every hole with
 * `holes: 'fill'`, are filled: their number and pixels come back so the caller can say so.
 *
 * Simplification: Douglas–Peucker on each closed ring at `tolerance` pixels (default 1), never
 * below 3 vertices. The result is checked by rasterising it: when its IoU with the exact ring's
 * raster falls below `minIoU` (default 0.99) smaller tolerances are tried (¾, ½) and at worst
 * the exact ring is kept, so simplification never costs more than that IoU per component.
 *
 * Specks: components of fewer than `minPixels` pixels (default 4) are dropped and counted,
 * except the largest component of the mask, which is always kept so that no object disappears.
 *
 * Pure: no I/O. Work and memory are linear in the mask's pixels (plus the components' boxes for
 * the simplification check).
 */
import type { CocoRle } from './label-types';
import { decodeRle, polygonToRle } from './rle';

export type Point = [number, number];

export interface MaskContourOptions {
  /** Douglas–Peucker tolerance in pixels (0: exact rectilinear outlines). Default 1. */
  tolerance?: number;
  /** Components with fewer pixels are dropped (the largest is always kept). Default 4. */
  minPixels?: number;
  /** Lowest IoU (simplified vs exact outline, rasterised) accepted per component. Default 0.99. */
  minIoU?: number;
  /**
   * 'cut' (default): holes of at least minPixels pixels are cut out of their component's polygon
   * through a bridge (see withHoles), smaller ones filled; 'fill': every hole is filled.
   */
  holes?: 'cut' | 'fill';
}

export interface MaskContours {
  /** One closed ring per kept component, image pixel coordinates (corners), largest component first. */
  polygons: Point[][];
  /** Connected components found (8-connectivity). */
  components: number;
  /** Components dropped as specks, and their pixels. */
  droppedComponents: number;
  droppedPixels: number;
  /** Holes (enclosed background regions) of kept components that their polygons FILL, and their pixels. */
  holes: number;
  holePixels: number;
  /** Holes cut out of their polygons (holes: 'cut'). */
  cutHoles: number;
}

const DX = [1, 0, -1, 0]; // E S W N (y grows downwards)
const DY = [0, 1, 0, -1];

/** Polygons of a COCO RLE mask (see maskToPolygons). */
export function rleToPolygons(rle: CocoRle, options: MaskContourOptions = {}): MaskContours {
  return maskToPolygons(decodeRle(rle), rle.size[0], rle.size[1], options);
}

/** Polygons of a row-major H x W mask (any non-zero byte is on). */
export function maskToPolygons(mask: ArrayLike<number>, height: number, width: number, options: MaskContourOptions = {}): MaskContours {
  const tolerance = Math.max(0, options.tolerance ?? 1);
  const minPixels = Math.max(1, options.minPixels ?? 4);
  const minIoU = Math.min(1, Math.max(0, options.minIoU ?? 0.99));
  const holeMode = options.holes ?? 'cut';
  if (mask.length !== height * width) throw new RangeError(`A ${width}x${height} mask needs ${height * width} values, got ${mask.length}.`);
  const empty: MaskContours = { polygons: [], components: 0, droppedComponents: 0, droppedPixels: 0, holes: 0, holePixels: 0, cutHoles: 0 };
  if (height === 0 || width === 0) return empty;

  // 1. Label 8-connected components of the on pixels (raster order: each component's first pixel
  //    is its topmost, leftmost one).
  const label = new Int32Array(height * width); // 0 off, k > 0 component k
  const firstPixel: number[] = [0];
  const size: number[] = [0];
  const box: [number, number, number, number][] = [[0, 0, 0, 0]]; // x0 y0 x1 y1 (inclusive)
  const stack: number[] = [];
  for (let p = 0; p < label.length; p++) {
    if (!mask[p] || label[p] !== 0) continue;
    const id = firstPixel.length;
    firstPixel.push(p);
    let n = 0;
    const b: [number, number, number, number] = [width, height, -1, -1];
    label[p] = id;
    stack.push(p);
    while (stack.length) {
      const q = stack.pop() as number;
      n++;
      const qx = q % width;
      const qy = (q - qx) / width;
      if (qx < b[0]) b[0] = qx;
      if (qy < b[1]) b[1] = qy;
      if (qx > b[2]) b[2] = qx;
      if (qy > b[3]) b[3] = qy;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = qy + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = qx + dx;
          if (nx < 0 || nx >= width || (dx === 0 && dy === 0)) continue;
          const r = ny * width + nx;
          if (mask[r] && label[r] === 0) {
            label[r] = id;
            stack.push(r);
          }
        }
      }
    }
    size.push(n);
    box.push(b);
  }
  const components = firstPixel.length - 1;
  if (components === 0) return empty;

  // 2. Which components to keep: specks go, the largest stays.
  let largest = 1;
  for (let k = 2; k <= components; k++) if ((size[k] as number) > (size[largest] as number)) largest = k;
  const keep = new Uint8Array(components + 1);
  let droppedComponents = 0;
  let droppedPixels = 0;
  for (let k = 1; k <= components; k++) {
    if (k === largest || (size[k] as number) >= minPixels) keep[k] = 1;
    else {
      droppedComponents++;
      droppedPixels += size[k] as number;
    }
  }

  // 3. Holes: 4-connected off regions that do not reach the image border. The pixel above a
  //    hole's first (topmost) pixel is on and belongs to the component enclosing it.
  const region = new Int32Array(height * width); // off pixels: -1 outside, h > 0 hole h
  const flood = (start: number, id: number): number => {
    let n = 0;
    region[start] = id;
    stack.push(start);
    while (stack.length) {
      const q = stack.pop() as number;
      n++;
      const qx = q % width;
      if (qx > 0) visit(q - 1);
      if (qx < width - 1) visit(q + 1);
      if (q >= width) visit(q - width);
      if (q + width < label.length) visit(q + width);
    }
    return n;
    function visit(r: number): void {
      if (region[r] !== 0 || label[r] !== 0) return;
      region[r] = id;
      stack.push(r);
    }
  };
  for (let x = 0; x < width; x++) {
    for (const p of [x, (height - 1) * width + x]) if (label[p] === 0 && region[p] === 0) flood(p, -1);
  }
  for (let y = 0; y < height; y++) {
    for (const p of [y * width, y * width + width - 1]) if (label[p] === 0 && region[p] === 0) flood(p, -1);
  }
  const holesOf = new Map<number, { id: number; first: number }[]>();
  let holes = 0;
  let holePixels = 0;
  let holeId = 0;
  for (let p = 0; p < label.length; p++) {
    if (label[p] !== 0 || region[p] !== 0) continue;
    const id = ++holeId;
    const n = flood(p, id);
    const owner = label[p - width] as number;
    if (!keep[owner]) continue;
    if (holeMode === 'cut' && n >= minPixels) {
      const l = holesOf.get(owner) ?? [];
      l.push({ id, first: p });
      holesOf.set(owner, l);
    } else {
      holes++;
      holePixels += n;
    }
  }

  // 4. Trace and simplify each kept component, largest first.
  const order: number[] = [];
  for (let k = 1; k <= components; k++) if (keep[k]) order.push(k);
  order.sort((a, b) => (size[b] as number) - (size[a] as number) || a - b);
  const on = (x: number, y: number): boolean => x >= 0 && y >= 0 && x < width && y < height && mask[y * width + x] !== 0;
  const polygons: Point[][] = [];
  let cutHoles = 0;
  for (const k of order) {
    const outer = traceOuter(on, firstPixel[k] as number, width);
    const inner = (holesOf.get(k) ?? []).map(({ id, first }) => traceHole((x, y) => x >= 0 && y >= 0 && x < width && y < height && region[y * width + x] === id, first, width));
    cutHoles += inner.length;
    const exact = withHoles(outer, inner);
    polygons.push(tolerance > 0 ? simplifyChecked(outer, inner, exact, tolerance, minIoU, box[k] as [number, number, number, number]) : exact);
  }
  return { polygons, components, droppedComponents, droppedPixels, holes, holePixels, cutHoles };
}

/**
 * One ring from an outer ring and hole rings: each hole is spliced in at the outer vertex nearest
 * to its first vertex, by a "bridge" there and back (outer[j], hole..., hole[0], outer[j]). The
 * bridge's two traversals are the same segment, so they cancel in an even-odd fill (pycocotools,
 * OpenCV fillPoly) and the holes are reversed, so a non-zero fill leaves them empty too.
 */
export function withHoles(outer: readonly Point[], holes: readonly (readonly Point[])[]): Point[] {
  let ring: Point[] = outer.map((p) => [p[0], p[1]]);
  for (const hole of holes) {
    const h0 = hole[0] as Point;
    let best = 0;
    let bestD = Infinity;
    for (let i = 0; i < ring.length; i++) {
      const p = ring[i] as Point;
      const dd = (p[0] - h0[0]) ** 2 + (p[1] - h0[1]) ** 2;
      if (dd < bestD) {
        bestD = dd;
        best = i;
      }
    }
    // The hole reversed (counter-clockwise on screen), starting and ending at its first vertex.
    const rev: Point[] = [[h0[0], h0[1]]];
    for (let i = hole.length - 1; i >= 0; i--) rev.push([(hole[i] as Point)[0], (hole[i] as Point)[1]]);
    const at = ring[best] as Point;
    ring = [...ring.slice(0, best + 1), ...rev, [at[0], at[1]], ...ring.slice(best + 1)];
  }
  return ring;
}

/**
 * The outer outline of the component whose topmost, leftmost pixel is `start`, on pixel corners,
 * clockwise on screen (the component on the right), vertices only where the direction changes.
 * Any on pixel around a corner of the outline belongs to the component (it is 8-adjacent to one
 * of its pixels), so `on` need not know components.
 */
export function traceOuter(on: (x: number, y: number) => boolean, start: number, width: number): Point[] {
  const sx = start % width;
  const sy = (start - sx) / width;
  const out: Point[] = [[sx, sy]];
  let x = sx;
  let y = sy;
  let d = 0; // east, along the top edge of the start pixel (the pixel above is off)
  for (;;) {
    x += DX[d] as number;
    y += DY[d] as number;
    if (x === sx && y === sy) break;
    const [al, ar] = ahead(on, x, y, d);
    // 8-connectivity: an on pixel ahead-left joins the component (turn left), even when the one
    // ahead-right is off; otherwise go on along an on pixel or turn right around the corner.
    const nd = al ? (d + 3) % 4 : ar ? d : (d + 1) % 4;
    if (nd !== d) out.push([x, y]);
    d = nd;
  }
  return out;
}

/**
 * The outline of a hole (4-connected off pixels) whose topmost, leftmost pixel is `start`, on
 * pixel corners, clockwise on screen (the hole on the right). `inside` answers for the hole's
 * own pixels only.
 */
export function traceHole(inside: (x: number, y: number) => boolean, start: number, width: number): Point[] {
  const sx = start % width;
  const sy = (start - sx) / width;
  const out: Point[] = [[sx, sy]];
  let x = sx;
  let y = sy;
  let d = 0;
  for (;;) {
    x += DX[d] as number;
    y += DY[d] as number;
    if (x === sx && y === sy) break;
    const [al, ar] = ahead(inside, x, y, d);
    // 4-connectivity: pixels ahead-left join only through the one ahead-right.
    const nd = ar ? (al ? (d + 3) % 4 : d) : (d + 1) % 4;
    if (nd !== d) out.push([x, y]);
    d = nd;
  }
  return out;
}

/** The pixels ahead of corner (x, y) heading d, to the left and to the right of the heading. */
function ahead(on: (x: number, y: number) => boolean, x: number, y: number, d: number): [boolean, boolean] {
  if (d === 0) return [on(x, y - 1), on(x, y)];
  if (d === 1) return [on(x, y), on(x - 1, y)];
  if (d === 2) return [on(x - 1, y), on(x - 1, y - 1)];
  return [on(x - 1, y - 1), on(x, y - 1)];
}

/** Squared distance from p to the segment a–b. */
function segDist2(p: Point, a: Point, b: Point): number {
  const vx = b[0] - a[0];
  const vy = b[1] - a[1];
  const wx = p[0] - a[0];
  const wy = p[1] - a[1];
  const l2 = vx * vx + vy * vy;
  const t = l2 === 0 ? 0 : Math.max(0, Math.min(1, (wx * vx + wy * vy) / l2));
  const dx = wx - t * vx;
  const dy = wy - t * vy;
  return dx * dx + dy * dy;
}

/** Douglas–Peucker on an open chain (iterative; keeps both ends). */
function dpChain(pts: readonly Point[], tol2: number, keepMask: Uint8Array, offset: number): void {
  const ranges: [number, number][] = [[0, pts.length - 1]];
  keepMask[offset] = 1;
  keepMask[offset + pts.length - 1] = 1;
  while (ranges.length) {
    const [i, j] = ranges.pop() as [number, number];
    if (j - i < 2) continue;
    let best = -1;
    let bestD = -1;
    for (let m = i + 1; m < j; m++) {
      const dd = segDist2(pts[m] as Point, pts[i] as Point, pts[j] as Point);
      if (dd > bestD) {
        bestD = dd;
        best = m;
      }
    }
    if (bestD > tol2) {
      keepMask[offset + best] = 1;
      ranges.push([i, best], [best, j]);
    }
  }
}

/**
 * Douglas–Peucker on a closed ring: split at the first vertex and the vertex farthest from it,
 * simplify both chains. Never fewer than 3 vertices (the ring comes back unchanged then).
 */
export function simplifyRing(ring: readonly Point[], tolerance: number): Point[] {
  const n = ring.length;
  if (n <= 3 || tolerance <= 0) return ring.map((p) => [p[0], p[1]]);
  const a = ring[0] as Point;
  let far = 1;
  let farD = -1;
  for (let i = 1; i < n; i++) {
    const p = ring[i] as Point;
    const dd = (p[0] - a[0]) ** 2 + (p[1] - a[1]) ** 2;
    if (dd > farD) {
      farD = dd;
      far = i;
    }
  }
  const keep = new Uint8Array(n + 1);
  const tol2 = tolerance * tolerance;
  dpChain(ring.slice(0, far + 1), tol2, keep, 0);
  dpChain([...ring.slice(far), a], tol2, keep, far);
  const out: Point[] = [];
  for (let i = 0; i < n; i++) if (keep[i]) out.push([(ring[i] as Point)[0], (ring[i] as Point)[1]]);
  if (out.length < 3) {
    // Both chains collapsed to their ends: keep the vertex farthest from the a–far line too.
    let best = -1;
    let bestD = -1;
    for (let i = 1; i < n; i++) {
      if (i === far) continue;
      const dd = segDist2(ring[i] as Point, a, ring[far] as Point);
      if (dd > bestD) {
        bestD = dd;
        best = i;
      }
    }
    if (best < 0 || bestD === 0) return ring.map((p) => [p[0], p[1]]);
    const idx = [0, far, best].sort((p, q) => p - q);
    return idx.map((i) => [(ring[i] as Point)[0], (ring[i] as Point)[1]]);
  }
  return out;
}

/** Rasterised pixels of a ring inside a local box (offset ox, oy; bw x bh), as pycocotools fills it. */
function rasterLocal(ring: readonly Point[], ox: number, oy: number, bw: number, bh: number): Uint8Array {
  return decodeRle(polygonToRle(ring.map(([x, y]) => [x - ox, y - oy] as Point), bh, bw));
}

/**
 * Simplify the outer ring and each hole ring (each keeps its first vertex, where the bridges
 * attach) at `tolerance`, then at smaller tolerances while the result's raster has IoU < minIoU
 * with the exact ring's raster; the exact ring when nothing coarser passes.
 */
function simplifyChecked(outer: Point[], inner: Point[][], exact: Point[], tolerance: number, minIoU: number, b: [number, number, number, number]): Point[] {
  if (outer.length <= 4 && inner.every((h) => h.length <= 4)) return exact; // rectangles: nothing to simplify
  // Integer offsets keep pycocotools' rounding identical. Simplified vertices are some of the
  // exact ones, so they stay inside the component's box.
  const ox = b[0];
  const oy = b[1];
  const bw = b[2] - b[0] + 1;
  const bh = b[3] - b[1] + 1;
  let want: Uint8Array | null = null;
  for (const tol of [tolerance, tolerance * 0.75, tolerance * 0.5]) {
    const simple = withHoles(simplifyRing(outer, tol), inner.map((h) => simplifyRing(h, tol)));
    if (simple.length >= exact.length) return exact;
    want ??= rasterLocal(exact, ox, oy, bw, bh);
    const got = rasterLocal(simple, ox, oy, bw, bh);
    let inter = 0;
    let union = 0;
    for (let i = 0; i < want.length; i++) {
      const w = want[i] as number;
      const g = got[i] as number;
      inter += w & g;
      union += w | g;
    }
    if (union === 0 || inter / union >= minIoU) return simple;
  }
  return exact;
}

/** Area enclosed by a ring (shoelace; positive when clockwise on screen). */
export function ringArea(ring: readonly Point[]): number {
  let s = 0;
  for (let i = 0; i < ring.length; i++) {
    const [x0, y0] = ring[i] as Point;
    const [x1, y1] = ring[(i + 1) % ring.length] as Point;
    s += x0 * y1 - x1 * y0;
  }
  return s / 2;
}
