/**
 * COCO RLE utilities. pycocotools is not installable here, so compatibility
 * is checked with cases worked out by hand from maskApi.c's rules (written
 * next to each) and with round trips over seeded random masks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FoveaException } from '../../../../electron/contract/result';
import {
  boxToRle,
  decodeRle,
  encodeMask,
  mergeRles,
  polygonsToRle,
  polygonToRle,
  rleArea,
  rleFromString,
  rleProblem,
  rlesFromLabelMap,
  rleToBbox,
  rleToString,
} from '../../../../electron/core/labels/rle';
import { rng } from './label-fixtures';

function randomMask(h: number, w: number, rand: () => number, density = 0.3): Uint8Array {
  const m = new Uint8Array(h * w);
  // Blobs, not noise: runs of several pixels like real masks.
  for (let i = 0; i < m.length; i++) m[i] = rand() < (i > 0 && m[i - 1] ? 0.85 : density) ? 1 : 0;
  return m;
}

function directBbox(m: Uint8Array, h: number, w: number): [number, number, number, number] {
  let x0 = w;
  let y0 = h;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      if (m[y * w + x]) {
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x);
        y1 = Math.max(y1, y);
      }
  return x1 < 0 ? [0, 0, 0, 0] : [x0, y0, x1 - x0 + 1, y1 - y0 + 1];
}

/** Pixels whose centre lies inside the polygon (even-odd rule). */
function centreSample(pts: [number, number][], h: number, w: number): Uint8Array {
  const m = new Uint8Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const px = x + 0.5;
      const py = y + 0.5;
      let inside = false;
      for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
        const [xi, yi] = pts[i] as [number, number];
        const [xj, yj] = pts[j] as [number, number];
        if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
      }
      m[y * w + x] = inside ? 1 : 0;
    }
  return m;
}

function iou(a: Uint8Array, b: Uint8Array): number {
  let i = 0;
  let u = 0;
  for (let k = 0; k < a.length; k++) {
    if (a[k] && b[k]) i++;
    if (a[k] || b[k]) u++;
  }
  return u === 0 ? 1 : i / u;
}

describe('COCO RLE', () => {
  it('encodes column-major with a leading zero run, as pycocotools', () => {
    // [[0,1],[1,1]] read down columns: 0,1 | 1,1 -> one zero, three ones.
    assert.deepEqual(encodeMask([0, 1, 1, 1], 2, 2), { size: [2, 2], counts: [1, 3] });
    // [[1,0,0],[0,0,0]]: starts with a one, so counts start with a 0 run.
    assert.deepEqual(encodeMask([1, 0, 0, 0, 0, 0], 2, 3).counts, [0, 1, 5]);
    assert.deepEqual(encodeMask([0, 0, 0, 0], 2, 2).counts, [4]);
    // Values other than 0/1 count as on.
    assert.deepEqual(encodeMask([0, 255, 7, 1], 2, 2).counts, [1, 3]);
  });

  it('gives pycocotools toBbox answers (cases from its test suite)', () => {
    assert.deepEqual(rleToBbox(encodeMask([0, 1, 1, 1], 2, 2)), [0, 0, 2, 2]);
    const m = new Uint8Array(100);
    for (let y = 2; y < 4; y++) for (let x = 3; x < 6; x++) m[y * 10 + x] = 1;
    assert.deepEqual(rleToBbox(encodeMask(m, 10, 10)), [3, 2, 3, 2]);
    assert.deepEqual(rleToBbox({ size: [5, 5], counts: [25] }), [0, 0, 0, 0]);
    // Zero-length on-runs cover nothing.
    assert.deepEqual(rleToBbox({ size: [4, 4], counts: [3, 0, 2, 1, 10] }), [1, 1, 1, 1]);
  });

  it('round-trips random masks through encode/decode, string and back, with area and bbox', () => {
    const rand = rng(7);
    for (const [h, w] of [
      [1, 1],
      [1, 17],
      [23, 1],
      [31, 47],
      [64, 64],
      [3, 200],
    ] as [number, number][]) {
      for (const density of [0, 0.05, 0.5, 1]) {
        const m = randomMask(h, w, rand, density);
        const rle = encodeMask(m, h, w);
        assert.equal(rleProblem(rle), null);
        assert.deepEqual(decodeRle(rle), Uint8Array.from(m, (v) => (v ? 1 : 0)));
        assert.equal(rleArea(rle), m.reduce((s, v) => s + v, 0));
        assert.deepEqual(rleToBbox(rle), directBbox(m, h, w));
        const s = rleToString(rle);
        assert.match(s, /^[0-o]*$/, 'only characters 48..111');
        assert.deepEqual(rleFromString(s, h, w), rle);
      }
    }
  });

  it('packs counts into pycocotools strings (worked by hand from rleToString)', () => {
    // [0,1024]: 0 -> '0'; 1024 = 0 + 0*32 + 1*1024 -> groups 0,0,1 with the
    // continuation bit 0x20 on all but the last -> chars 80,80,49 = 'PP1'.
    assert.equal(rleToString({ size: [32, 32], counts: [0, 1024] }), '0PP1');
    // The 4th count is stored as a difference to the 2nd: 3 - 6 = -3 ->
    // 5-bit two's complement 29 (sign bit 0x10 set, so no more groups) -> 'M'.
    assert.equal(rleToString({ size: [10, 1], counts: [0, 6, 1, 3] }), '061M');
    assert.equal(rleToString({ size: [8, 1], counts: [0, 6, 1, 1] }), '061K');
    assert.equal(rleToString({ size: [13, 1], counts: [0, 6, 1, 6] }), '0610');
    // Differences start at the 4th count (i > 2), not the 3rd.
    assert.equal(rleToString({ size: [14, 1], counts: [0, 1, 1, 2, 1, 3, 1, 4, 1] }), '011101010');
    assert.deepEqual(rleFromString('011101010', 14, 1).counts, [0, 1, 1, 2, 1, 3, 1, 4, 1]);
    assert.deepEqual(rleFromString('061M', 10, 1).counts, [0, 6, 1, 3]);
    assert.deepEqual(rleFromString('0PP1', 32, 32).counts, [0, 1024]);
  });

  it('refuses broken compressed strings and counts with a clear BAD_INPUT', () => {
    const bad = (f: () => unknown, re: RegExp): void =>
      assert.throws(f, (e: unknown) => e instanceof FoveaException && e.code === 'BAD_INPUT' && re.test(e.message));
    bad(() => rleFromString('0PP', 32, 32), /middle of a number/);
    bad(() => rleFromString('0~', 32, 32), /not a counts character/);
    bad(() => rleFromString('04', 3, 3), /add up to 4 pixels, the size says 9/);
    bad(() => rleFromString('0;', 2, 2), /negative run|add up/);
    bad(() => rleFromString('ooooooooooo1', 2, 2), /too large/);
    bad(() => decodeRle({ size: [2, 2], counts: [1, 1.5, 1.5] }), /whole number/);
    assert.throws(() => decodeRle({ size: [100000, 100000], counts: [1e10] }), (e: unknown) => e instanceof FoveaException && e.code === 'BAD_INPUT');
    assert.throws(() => encodeMask(new Uint8Array(4), 1 << 15, 1 << 15), (e: unknown) => e instanceof FoveaException && e.code === 'TOO_LARGE');
  });

  it('rasterises polygons at pixel centres as pycocotools does', () => {
    // Corners (0,0)-(9,9): pycocotools fills columns/rows 0..8 (centres
    // 0.5..8.5), the "off by one" against cv2.fillPoly reported in cocoapi #659.
    const sq = polygonToRle([0, 0, 0, 9, 9, 9, 9, 0], 100, 100);
    assert.equal(rleArea(sq), 81);
    assert.deepEqual(rleToBbox(sq), [0, 0, 9, 9]);
    // Point-list form and flat form agree.
    assert.deepEqual(polygonToRle([[0, 0], [0, 9], [9, 9], [9, 0]], 100, 100), sq);
    // A box as a polygon (frBbox).
    const b = boxToRle({ x: 2, y: 3, width: 4, height: 5 }, 20, 20);
    assert.equal(rleArea(b), 20);
    assert.deepEqual(rleToBbox(b), [2, 3, 4, 5]);
    // Sub-pixel polygons match centre sampling up to the 1/5-pixel grid.
    const rand = rng(11);
    for (let k = 0; k < 5; k++) {
      const pts: [number, number][] = [];
      const n = 5 + Math.floor(rand() * 20);
      for (let i = 0; i < n; i++) {
        const a = (i / n) * 2 * Math.PI;
        const r = 8 + rand() * 20;
        pts.push([32 + r * Math.cos(a), 32 + r * Math.sin(a)]);
      }
      const rle = polygonToRle(pts, 64, 64);
      assert.equal(rleProblem(rle), null);
      assert.ok(iou(decodeRle(rle), centreSample(pts, 64, 64)) > 0.95);
    }
    // Fewer than 3 points: empty.
    assert.equal(rleArea(polygonToRle([1, 1, 5, 5], 10, 10)), 0);
  });

  it('keeps polygons reaching outside the image inside it, and never hangs on absurd coordinates', () => {
    const out = polygonToRle([-5, -5, 15, -5, 15, 15, -5, 15], 10, 10);
    assert.equal(rleArea(out), 100);
    const t0 = Date.now();
    // cocoapi #380: coordinates near 1e8 crash pycocotools; here they are clipped first.
    const huge = polygonToRle([-164.1, -221.8, 2.08e8, 3.52e8, 226, 236.6, 272, 384.3], 28, 28);
    assert.equal(rleProblem(huge), null);
    const huger = polygonToRle([0, 0, 1e9, 0, 1e9, 1e9], 50, 50);
    // The half of the image above the diagonal (y < x), give or take the diagonal itself.
    assert.ok(rleArea(huger) >= 1225 && rleArea(huger) <= 1275, String(rleArea(huger)));
    assert.throws(() => polygonToRle([0, 0, 1e300, 0, 1e300, 1e300], 5, 5), (e: unknown) => e instanceof FoveaException && e.code === 'BAD_INPUT');
    assert.ok(Date.now() - t0 < 2000);
    // A zig-zag whose outline inside the image is astronomically long is refused, not ground through.
    const zig: number[] = [];
    for (let i = 0; i < 100_000; i++) zig.push(i % 2 ? 0 : 4000, i / 25);
    assert.throws(() => polygonToRle(zig, 4000, 4000), (e: unknown) => e instanceof FoveaException && e.code === 'TOO_LARGE');
    assert.throws(() => polygonToRle([0, 0, NaN, 1, 2, 2], 5, 5), (e: unknown) => e instanceof FoveaException && e.code === 'BAD_INPUT');
  });

  it('unions several polygons of one object and merges/intersects masks', () => {
    const a = [0, 0, 0, 10, 10, 10, 10, 0];
    const b = [5, 5, 5, 15, 15, 15, 15, 5];
    const u = polygonsToRle([a, b], 20, 20);
    assert.equal(rleArea(u), 100 + 100 - 25);
    const ra = polygonToRle(a, 20, 20);
    const rb = polygonToRle(b, 20, 20);
    assert.equal(rleArea(mergeRles([ra, rb], true)), 25);
    assert.deepEqual(mergeRles([ra]), ra);
    // The union equals OR-ing the decoded masks.
    const da = decodeRle(ra);
    const db = decodeRle(rb);
    assert.deepEqual(decodeRle(u), da.map((v, i) => v | (db[i] as number)));
    assert.throws(() => mergeRles([ra, polygonToRle(a, 21, 20)]), FoveaException);
  });

  it('splits a label map into one RLE per value in one pass', () => {
    const rand = rng(3);
    const h = 37;
    const w = 53;
    const values = new Uint8Array(h * w);
    for (let i = 0; i < values.length; i++) values[i] = i > 0 && rand() < 0.8 ? (values[i - 1] as number) : Math.floor(rand() * 5);
    const maps = rlesFromLabelMap(values, h, w, (v) => v === 0);
    assert.ok(!maps.has(0));
    for (const [v, { rle, pixels }] of maps) {
      const direct = encodeMask(values.map((x) => (x === v ? 1 : 0)), h, w);
      assert.deepEqual(rle, direct, `value ${v}`);
      assert.equal(pixels, rleArea(direct));
    }
    const u16 = new Uint16Array([0, 65535, 65535, 300]);
    assert.deepEqual([...rlesFromLabelMap(u16, 2, 2).keys()], [0, 300, 65535]);
  });
});
