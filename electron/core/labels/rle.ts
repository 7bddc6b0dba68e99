/**
 * COCO run-length encoding, compatible with pycocotools (maskApi.c).
 *
 * A mask is H x W, 0/1. COCO walks it COLUMN-MAJOR (down each column, then
 * the next column) and stores alternating run lengths starting with zeros:
 * counts[0] zeros, counts[1] ones, ... (counts[0] may be 0). The
 * "compressed" form pycocotools writes to JSON packs those counts into a
 * string, 5 bits per character, each count after the second stored as the
 * difference to the count two places earlier.
 *
 * Our masks (Fovea's own buffers, sharp / PNG pixels) are ROW-MAJOR: the
 * encode/decode functions here take and give row-major Uint8Arrays and do
 * the transposition, so no caller has to think about it.
 *
 * Polygon rasterisation is a line-for-line port of pycocotools' rleFrPoly
 * (the same integer and double arithmetic, so the same pixels), with one
 * guard added: a polygon whose boundary would take more than
 * MAX_RASTER_STEPS steps (absurd coordinates, hostile input) is first
 * clipped to a rectangle one pixel larger than the image, which leaves every
 * pixel inside the image as pycocotools has it except possibly where a
 * clipped edge's slope is re-rounded to the 1/5-pixel grid; if it is still
 * too long the call throws TOO_LARGE instead of hanging. Coordinates beyond
 * ±LABEL_LIMITS.maxCoordinate are refused (BAD_INPUT): pycocotools overflows
 * its ints there (cocoapi #380 is a crash on such input).
 */
import { FoveaException } from '../../contract/result';
import { paintRleCounts, rleCounts } from '../../contract/rle';
import { clipPolygonToRect, LABEL_LIMITS, type CocoRle } from './label-types';

/** Boundary steps (1/5 pixel each) one polygon may take; ~0.5 s of work. */
export const MAX_RASTER_STEPS = 50_000_000;

function checkSize(height: number, width: number): void {
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 0 || width < 0) {
    throw new FoveaException('BAD_INPUT', `A mask size must be two whole numbers ≥ 0, not [${height}, ${width}].`);
  }
  if (height * width > LABEL_LIMITS.maxMaskPixels) {
    throw new FoveaException('TOO_LARGE', `A ${width}x${height} mask is larger than Fovea handles (${LABEL_LIMITS.maxMaskPixels} pixels).`);
  }
}

/**
 * Why an RLE is not valid for its size (null when it is): counts must be
 * whole numbers ≥ 0 summing to height*width.
 */
export function rleProblem(rle: CocoRle): string | null {
  const [h, w] = rle.size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 0 || w < 0) return `size [${h}, ${w}] is not two whole numbers ≥ 0`;
  if (h * w > LABEL_LIMITS.maxMaskPixels) return `size ${w}x${h} is larger than Fovea handles`;
  let sum = 0;
  for (const c of rle.counts) {
    if (!Number.isInteger(c) || c < 0) return `count ${String(c)} is not a whole number ≥ 0`;
    sum += c;
  }
  if (sum !== h * w) return `counts add up to ${sum} pixels, the size says ${h * w}`;
  return null;
}

/** Encodes a row-major H x W mask (any non-zero byte is "on"). */
export function encodeMask(mask: ArrayLike<number>, height: number, width: number): CocoRle {
  checkSize(height, width);
  if (mask.length !== height * width) {
    throw new FoveaException('BAD_INPUT', `A ${width}x${height} mask needs ${height * width} values, got ${mask.length}.`);
  }
  return { size: [height, width], counts: rleCounts(mask, height, width) };
}

/** Decodes to a row-major H x W mask of 0/1 bytes. Throws BAD_INPUT on an invalid RLE. */
export function decodeRle(rle: CocoRle): Uint8Array {
  const problem = rleProblem(rle);
  if (problem) throw new FoveaException('BAD_INPUT', `Invalid RLE mask: ${problem}.`);
  const [h, w] = rle.size;
  const out = new Uint8Array(h * w);
  paintRleCounts(rle.counts, h, w, out);
  return out;
}

/** Pixels that are on. */
export function rleArea(rle: CocoRle): number {
  let a = 0;
  for (let j = 1; j < rle.counts.length; j += 2) a += rle.counts[j] as number;
  return a;
}

/**
 * The tight box [x, y, width, height] around the on pixels, in image pixels
 * ([0,0,0,0] for an empty mask), as pycocotools' toBbox.
 */
export function rleToBbox(rle: CocoRle): [number, number, number, number] {
  const [h, w] = rle.size;
  let xs = w;
  let ys = h;
  let xe = -1;
  let ye = -1;
  let pos = 0;
  for (let j = 0; j < rle.counts.length; j++) {
    const c = rle.counts[j] as number;
    // Zero-length on-runs (legal in hand-written RLE) cover no pixel; skip
    // them rather than reading the pixel before them as pycocotools does.
    if (j % 2 === 1 && c > 0) {
      const y0 = pos % h;
      const x0 = (pos - y0) / h;
      const last = pos + c - 1;
      const y1 = last % h;
      const x1 = (last - y1) / h;
      xs = Math.min(xs, x0);
      xe = Math.max(xe, x1);
      if (x1 > x0) {
        // The run wraps past the bottom of a column: it touches the top and bottom rows.
        ys = 0;
        ye = h - 1;
      } else {
        ys = Math.min(ys, y0);
        ye = Math.max(ye, y1);
      }
    }
    pos += c;
  }
  if (xe < 0) return [0, 0, 0, 0];
  return [xs, ys, xe - xs + 1, ye - ys + 1];
}

/**
 * Parses pycocotools' compressed counts string. Throws BAD_INPUT on a
 * character outside its alphabet, a count that goes negative, or counts that
 * do not add up to the size.
 */
export function rleFromString(s: string, height: number, width: number): CocoRle {
  checkSize(height, width);
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = true;
    let scale = 1;
    while (more) {
      if (p >= s.length) throw new FoveaException('BAD_INPUT', 'Compressed RLE counts end in the middle of a number.');
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw new FoveaException('BAD_INPUT', `Compressed RLE counts contain ${JSON.stringify(s[p])}, not a counts character.`);
      if (k > 8) throw new FoveaException('BAD_INPUT', 'Compressed RLE counts hold a number too large for any mask.');
      x += (c & 0x1f) * scale;
      scale *= 32;
      more = (c & 0x20) !== 0;
      p++;
      k++;
      // The last 5-bit group's 0x10 bit is the sign: extend it (two's complement).
      if (!more && c & 0x10) x -= scale;
    }
    const m = counts.length;
    if (m > 2) x += counts[m - 2] as number;
    if (x < 0) throw new FoveaException('BAD_INPUT', 'Compressed RLE counts decode to a negative run.');
    counts.push(x);
  }
  const rle: CocoRle = { size: [height, width], counts };
  const problem = rleProblem(rle);
  if (problem) throw new FoveaException('BAD_INPUT', `Invalid compressed RLE: ${problem}.`);
  return rle;
}

/** pycocotools' compressed counts string for an RLE (byte-identical to rleToString). */
export function rleToString(rle: CocoRle): string {
  const out: string[] = [];
  const cnts = rle.counts;
  for (let i = 0; i < cnts.length; i++) {
    let x = cnts[i] as number;
    if (i > 2) x -= cnts[i - 2] as number;
    let more = true;
    while (more) {
      let c = ((x % 32) + 32) % 32;
      x = Math.floor(x / 32);
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      out.push(String.fromCharCode(c + 48));
    }
  }
  return out.join('');
}

/**
 * Union (or intersection) of masks of one size, as pycocotools' merge. The
 * result has no zero-length runs except possibly the first.
 */
export function mergeRles(rles: readonly CocoRle[], intersect = false): CocoRle {
  const first = rles[0];
  if (!first) return { size: [0, 0], counts: [] };
  const [h, w] = first.size;
  let acc = first.counts.slice();
  for (let i = 1; i < rles.length; i++) {
    const b = rles[i] as CocoRle;
    if (b.size[0] !== h || b.size[1] !== w) {
      throw new FoveaException('BAD_INPUT', `Masks of different sizes cannot be merged ([${h}, ${w}] and [${b.size[0]}, ${b.size[1]}]).`);
    }
    acc = mergeTwo(acc, b.counts, intersect);
  }
  return { size: [h, w], counts: acc };
}

function mergeTwo(a: readonly number[], b: readonly number[], intersect: boolean): number[] {
  const out: number[] = [];
  let ia = 0;
  let ib = 0;
  let ra = a[0] ?? 0; // what is left of the current run
  let rb = b[0] ?? 0;
  let va = 0;
  let vb = 0;
  let cur = 0; // value of the run being built
  let run = 0;
  for (;;) {
    // Skip exhausted runs (zero-length runs flip the value without covering pixels).
    while (ra === 0 && ia + 1 < a.length) {
      ia++;
      ra = a[ia] as number;
      va ^= 1;
    }
    while (rb === 0 && ib + 1 < b.length) {
      ib++;
      rb = b[ib] as number;
      vb ^= 1;
    }
    if (ra === 0 || rb === 0) break;
    const c = Math.min(ra, rb);
    const v = intersect ? va & vb : va | vb;
    if (v !== cur) {
      out.push(run);
      run = 0;
      cur = v;
    }
    run += c;
    ra -= c;
    rb -= c;
  }
  out.push(run);
  return out;
}

/** Flattens [[x,y],...] to [x0,y0,x1,y1,...] (COCO's polygon layout). */
function flatten(points: readonly (readonly [number, number])[]): number[] {
  const xy: number[] = [];
  for (const [x, y] of points) xy.push(x, y);
  return xy;
}

function rasterSteps(xy: readonly number[], k: number, scale: number): number {
  let steps = 0;
  const px = (j: number): number => Math.trunc(scale * (xy[(j % k) * 2] as number) + 0.5);
  const py = (j: number): number => Math.trunc(scale * (xy[(j % k) * 2 + 1] as number) + 0.5);
  for (let j = 0; j < k; j++) steps += Math.max(Math.abs(px(j) - px(j + 1)), Math.abs(py(j) - py(j + 1))) + 1;
  return steps;
}

/**
 * Rasterises one polygon ([[x,y],...] or COCO's flat [x0,y0,x1,y1,...], image
 * pixels) to an RLE, as pycocotools' frPyObjects on a polygon. Fewer than 3
 * points give an empty mask (pycocotools needs ≥ 3 too). Non-finite
 * coordinates throw BAD_INPUT.
 */
export function polygonToRle(polygon: readonly (readonly [number, number])[] | readonly number[], height: number, width: number): CocoRle {
  checkSize(height, width);
  let xy: number[] = typeof polygon[0] === 'number' ? (polygon as number[]).slice() : flatten(polygon as [number, number][]);
  if (xy.length % 2 !== 0) throw new FoveaException('BAD_INPUT', 'A polygon needs an even number of coordinates.');
  for (const c of xy) {
    if (!Number.isFinite(c)) throw new FoveaException('BAD_INPUT', 'A polygon coordinate is not a finite number.');
    if (Math.abs(c) > LABEL_LIMITS.maxCoordinate) {
      throw new FoveaException('BAD_INPUT', `A polygon coordinate (${c}) is far outside any image (beyond ±${LABEL_LIMITS.maxCoordinate} pixels).`);
    }
  }
  if (xy.length < 6 || height === 0 || width === 0) return { size: [height, width], counts: height * width > 0 ? [height * width] : [] };
  const scale = 5;
  if (rasterSteps(xy, xy.length / 2, scale) > MAX_RASTER_STEPS) {
    const pts: [number, number][] = [];
    for (let j = 0; j < xy.length; j += 2) pts.push([xy[j] as number, xy[j + 1] as number]);
    const clipped = clipPolygonToRect(pts, -1, -1, width + 1, height + 1);
    if (clipped.length < 3) return { size: [height, width], counts: [height * width] };
    xy = flatten(clipped);
    if (rasterSteps(xy, xy.length / 2, scale) > MAX_RASTER_STEPS) {
      throw new FoveaException('TOO_LARGE', 'A polygon is too long to rasterise (its outline would take over 50 million steps).');
    }
  }
  const k = xy.length / 2;
  const x = new Array<number>(k + 1);
  const y = new Array<number>(k + 1);
  for (let j = 0; j < k; j++) x[j] = Math.trunc(scale * (xy[j * 2] as number) + 0.5);
  for (let j = 0; j < k; j++) y[j] = Math.trunc(scale * (xy[j * 2 + 1] as number) + 0.5);
  x[k] = x[0] as number;
  y[k] = y[0] as number;

  // Walk the boundary densely (1/5 pixel steps) and keep, as we go, the
  // points where it crosses a pixel-centre column: pycocotools keeps the
  // dense u/v arrays; streaming them keeps memory to the crossings.
  const bx: number[] = [];
  const by: number[] = [];
  let first = true;
  let pu = 0;
  let pv = 0;
  const visit = (u: number, v: number): void => {
    if (first) {
      first = false;
    } else if (u !== pu) {
      let xd = u < pu ? u : u - 1;
      xd = (xd + 0.5) / scale - 0.5;
      if (Math.floor(xd) === xd && xd >= 0 && xd <= width - 1) {
        let yd = v < pv ? v : pv;
        yd = (yd + 0.5) / scale - 0.5;
        if (yd < 0) yd = 0;
        else if (yd > height) yd = height;
        bx.push(xd);
        by.push(Math.ceil(yd));
      }
    }
    pu = u;
    pv = v;
  };
  for (let j = 0; j < k; j++) {
    let xs = x[j] as number;
    let xe = x[j + 1] as number;
    let ys = y[j] as number;
    let ye = y[j + 1] as number;
    const dx = Math.abs(xe - xs);
    const dy = Math.abs(ys - ye);
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      [xs, xe] = [xe, xs];
      [ys, ye] = [ye, ys];
    }
    // dx = dy = 0 (a repeated vertex) makes C divide 0/0; the point it then
    // produces never sits next to a column change, so any slope will do.
    const s = dx >= dy ? (dx === 0 ? 0 : (ye - ys) / dx) : (xe - xs) / dy;
    if (dx >= dy) {
      for (let d = 0; d <= dx; d++) {
        const t = flip ? dx - d : d;
        visit(t + xs, Math.trunc(ys + s * t + 0.5));
      }
    } else {
      for (let d = 0; d <= dy; d++) {
        const t = flip ? dy - d : d;
        visit(Math.trunc(xs + s * t + 0.5), t + ys);
      }
    }
  }

  const n = bx.length;
  const a = new Float64Array(n + 1);
  for (let j = 0; j < n; j++) a[j] = (bx[j] as number) * height + (by[j] as number);
  a[n] = height * width;
  a.sort();
  let p = 0;
  for (let j = 0; j <= n; j++) {
    const t = a[j] as number;
    a[j] = t - p;
    p = t;
  }
  // Toggle positions to run lengths; two toggles at one position cancel.
  const counts: number[] = [a[0] as number];
  let j = 1;
  while (j <= n) {
    if ((a[j] as number) > 0) counts.push(a[j++] as number);
    else {
      j++;
      if (j <= n) counts[counts.length - 1] = (counts[counts.length - 1] as number) + (a[j++] as number);
    }
  }
  return { size: [height, width], counts };
}

/**
 * The union of several polygons of one object (COCO's list of polygons), as
 * pycocotools' annToRLE: each is filled on its own and the masks merged, so
 * a polygon inside another does not cut a hole.
 */
export function polygonsToRle(polygons: readonly (readonly (readonly [number, number])[] | readonly number[])[], height: number, width: number): CocoRle {
  if (polygons.length === 0) {
    checkSize(height, width);
    return { size: [height, width], counts: height * width > 0 ? [height * width] : [] };
  }
  return mergeRles(polygons.map((p) => polygonToRle(p, height, width)));
}

/** A box as an RLE, as pycocotools' frBbox (the box's corners rasterised as a polygon). */
export function boxToRle(box: { x: number; y: number; width: number; height: number }, height: number, width: number): CocoRle {
  const xe = box.x + box.width;
  const ye = box.y + box.height;
  return polygonToRle([box.x, box.y, box.x, ye, xe, ye, xe, box.y], height, width);
}

/**
 * One RLE per distinct value of a row-major label map (class or instance
 * indices), in a single column-major pass. Values for which `skip` answers
 * true get none. Pixel counts per value come back with it.
 */
export function rlesFromLabelMap(
  values: Uint8Array | Uint16Array,
  height: number,
  width: number,
  skip: (value: number) => boolean = () => false,
): Map<number, { rle: CocoRle; pixels: number }> {
  checkSize(height, width);
  if (values.length !== height * width) {
    throw new FoveaException('BAD_INPUT', `A ${width}x${height} label map needs ${height * width} values, got ${values.length}.`);
  }
  interface Track {
    counts: number[];
    start: number; // where the current on-run began
    end: number; // where the last on-run ended
    pixels: number;
  }
  const tracks = new Map<number, Track>();
  let cur = -1;
  let curTrack: Track | undefined;
  let pos = 0;
  const switchTo = (v: number, at: number): void => {
    if (curTrack) {
      curTrack.counts.push(at - curTrack.start);
      curTrack.pixels += at - curTrack.start;
      curTrack.end = at;
    }
    cur = v;
    if (skip(v)) {
      curTrack = undefined;
      return;
    }
    let t = tracks.get(v);
    if (!t) {
      t = { counts: [], start: 0, end: 0, pixels: 0 };
      tracks.set(v, t);
    }
    t.counts.push(at - t.end);
    t.start = at;
    curTrack = t;
  };
  for (let x = 0; x < width; x++) {
    for (let i = x; i < values.length; i += width) {
      const v = values[i] as number;
      if (v !== cur) switchTo(v, pos);
      pos++;
    }
  }
  const total = height * width;
  if (curTrack) {
    curTrack.counts.push(total - curTrack.start);
    curTrack.pixels += total - curTrack.start;
    curTrack.end = total;
  }
  const out = new Map<number, { rle: CocoRle; pixels: number }>();
  for (const [v, t] of [...tracks.entries()].sort((p, q) => p[0] - q[0])) {
    if (t.end < total) t.counts.push(total - t.end);
    out.set(v, { rle: { size: [height, width], counts: t.counts }, pixels: t.pixels });
  }
  return out;
}
