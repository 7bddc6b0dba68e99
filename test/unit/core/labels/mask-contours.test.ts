/**
 * Mask → polygon contours (YOLO segment export): exact rectilinear outlines that rasterise back
 * to the same pixels, simplification that keeps IoU ≥ 0.97 on real masks (Penn-Fudan instance
 * masks, Fovea's CT lesion masks), components, holes, diagonal lines, masks at the border.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { CocoRle } from '../../../../electron/core/labels/label-types';
import { maskToPolygons, ringArea, rleToPolygons, simplifyRing, type Point } from '../../../../electron/core/labels/mask-contours';
import { parseMasks } from '../../../../electron/core/labels/parse-masks';
import { decodeRle, encodeMask, polygonsToRle, polygonToRle } from '../../../../electron/core/labels/rle';
import { writeSampleData } from '../../../../electron/core/samples';
import { rng, TESTDATA } from './label-fixtures';

/** '#' on, anything else off; rows of equal length. */
function grid(s: string): { mask: Uint8Array; h: number; w: number } {
  const rows = s.trim().split('\n').map((r) => r.trim());
  const h = rows.length;
  const w = (rows[0] as string).length;
  const mask = new Uint8Array(h * w);
  rows.forEach((r, y) => [...r].forEach((c, x) => (mask[y * w + x] = c === '#' ? 1 : 0)));
  return { mask, h, w };
}

function raster(polygons: Point[][], h: number, w: number): Uint8Array {
  return decodeRle(polygonsToRle(polygons, h, w));
}

function iou(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let i = 0;
  let u = 0;
  for (let k = 0; k < a.length; k++) {
    const x = a[k] ? 1 : 0;
    const y = b[k] ? 1 : 0;
    i += x & y;
    u += x | y;
  }
  return u === 0 ? 1 : i / u;
}

describe('mask contours: exact outlines', () => {
  it('a rectangle is its 4 corners and rasterises back exactly', () => {
    const h = 20;
    const w = 30;
    const mask = new Uint8Array(h * w);
    for (let y = 3; y < 11; y++) for (let x = 5; x < 22; x++) mask[y * w + x] = 1;
    for (const tolerance of [0, 0.5, 1]) {
      const r = maskToPolygons(mask, h, w, { tolerance });
      assert.deepEqual(r.polygons, [[[5, 3], [22, 3], [22, 11], [5, 11]]]);
      assert.deepEqual(raster(r.polygons, h, w), mask);
    }
  });

  it('without simplification every random blob rasterises back to exactly its pixels (holes cut or filled)', () => {
    const rand = rng(7);
    for (let trial = 0; trial < 40; trial++) {
      const h = 5 + Math.floor(rand() * 30);
      const w = 5 + Math.floor(rand() * 30);
      const mask = new Uint8Array(h * w);
      const p = 0.3 + rand() * 0.4;
      for (let i = 0; i < mask.length; i++) mask[i] = rand() < p ? 1 : 0;
      const cut = maskToPolygons(mask, h, w, { tolerance: 0, minPixels: 1 });
      assert.deepEqual(raster(cut.polygons, h, w), mask, `trial ${trial}: every hole cut out`);
      assert.equal(cut.holes, 0);
      const r = maskToPolygons(mask, h, w, { tolerance: 0, minPixels: 1, holes: 'fill' });
      assert.equal(r.holes, cut.cutHoles);
      const back = raster(r.polygons, h, w);
      // Every on pixel is covered; an off pixel is covered only when it is a filled hole.
      let extra = 0;
      for (let i = 0; i < mask.length; i++) {
        if (mask[i]) assert.equal(back[i], 1, `trial ${trial}: on pixel ${i} lost`);
        else if (back[i]) extra++;
      }
      assert.equal(extra, r.holePixels, `trial ${trial}: only holes are filled`);
      for (const ring of r.polygons) {
        assert.ok(ring.length >= 4);
        assert.ok(ring.every(([x, y]) => Number.isInteger(x) && Number.isInteger(y) && x >= 0 && y >= 0 && x <= w && y <= h));
        assert.ok(ringArea(ring) > 0, 'clockwise on screen');
      }
    }
  });

  it('several components give several polygons, largest first', () => {
    const { mask, h, w } = grid(`
      ##.......
      ##...###.
      .....###.
      .....###.
      #........`);
    const r = maskToPolygons(mask, h, w, { tolerance: 0, minPixels: 1 });
    assert.equal(r.components, 3);
    assert.deepEqual(r.polygons, [
      [[5, 1], [8, 1], [8, 4], [5, 4]],
      [[0, 0], [2, 0], [2, 2], [0, 2]],
      [[0, 4], [1, 4], [1, 5], [0, 5]],
    ]);
    assert.deepEqual(raster(r.polygons, h, w), mask);
  });

  it('specks below minPixels are dropped and counted, but the largest component always stays', () => {
    const { mask, h, w } = grid(`
      ###...#
      ###....
      ###..#.`);
    const r = maskToPolygons(mask, h, w);
    assert.equal(r.components, 3);
    assert.equal(r.droppedComponents, 2);
    assert.equal(r.droppedPixels, 2);
    assert.equal(r.polygons.length, 1);
    const one = grid(`
      ...
      .#.
      ...`);
    const single = maskToPolygons(one.mask, one.h, one.w);
    assert.deepEqual(single.polygons, [[[1, 1], [2, 1], [2, 2], [1, 2]]]);
    assert.equal(single.droppedComponents, 0);
  });

  it('a ring: with holes filled, one outer polygon and the hole counted; cut (default), exact pixels', () => {
    const { mask, h, w } = grid(`
      .......
      .#####.
      .#...#.
      .#...#.
      .#####.
      .......`);
    const r = maskToPolygons(mask, h, w, { holes: 'fill' });
    assert.deepEqual(r.polygons, [[[1, 1], [6, 1], [6, 5], [1, 5]]]);
    assert.equal(r.holes, 1);
    assert.equal(r.holePixels, 6);
    assert.equal(r.cutHoles, 0);
    const filled = raster(r.polygons, h, w);
    assert.equal(filled.reduce((s, v) => s + v, 0), 20);

    const c = maskToPolygons(mask, h, w);
    assert.equal(c.holes, 0);
    assert.equal(c.cutHoles, 1);
    assert.equal(c.polygons.length, 1, 'still one line: the hole is bridged into the outer ring');
    // outer (clockwise), bridge to the hole, the hole (counter-clockwise), bridge back.
    assert.deepEqual(c.polygons[0], [[1, 1], [2, 2], [2, 4], [5, 4], [5, 2], [2, 2], [1, 1], [6, 1], [6, 5], [1, 5]]);
    assert.deepEqual(raster(c.polygons, h, w), mask);
    // A hole smaller than minPixels is filled and counted.
    const dot = grid(`
      #####
      ##.##
      #####`);
    const d = maskToPolygons(dot.mask, dot.h, dot.w);
    assert.equal(d.holes, 1);
    assert.equal(d.holePixels, 1);
    assert.deepEqual(d.polygons, [[[0, 0], [5, 0], [5, 3], [0, 3]]]);
  });

  it('an island inside a hole is its own polygon; a hole open to the border through a 4-gap is no hole', () => {
    const { mask, h, w } = grid(`
      #######
      #.....#
      #.###.#
      #.#.#.#
      #.###.#
      #.....#
      ###.###`);
    const r = maskToPolygons(mask, h, w, { tolerance: 0 });
    assert.equal(r.components, 2);
    assert.equal(r.holes, 1, 'the inner ring encloses one pixel; the outer ring is open at the bottom');
    assert.equal(r.holePixels, 1);
    assert.equal(r.polygons.length, 2);
    // Diagonal gap only: 8-connected foreground closes it, so the background inside is a hole.
    const d = grid(`
      .#.
      #.#
      .#.`);
    const dr = maskToPolygons(d.mask, d.h, d.w, { tolerance: 0 });
    assert.equal(dr.components, 1);
    assert.equal(dr.holes, 1);
    assert.equal(raster(dr.polygons, d.h, d.w).reduce((s, v) => s + v, 0), 5);
  });

  it('a one-pixel-wide diagonal line is one component that rasterises back exactly', () => {
    const n = 40;
    const mask = new Uint8Array(n * n);
    for (let i = 0; i < n; i++) mask[i * n + i] = 1;
    for (const tolerance of [0, 0.5]) {
      const r = maskToPolygons(mask, n, n, { tolerance });
      assert.equal(r.components, 1);
      assert.equal(r.polygons.length, 1);
      const back = raster(r.polygons, n, n);
      assert.ok(iou(back, mask) >= 0.97, `tolerance ${tolerance}: IoU ${iou(back, mask)}`);
      if (tolerance === 0) assert.deepEqual(back, mask);
    }
    // The anti-diagonal too (the outline turns the other way at each corner).
    const anti = new Uint8Array(n * n);
    for (let i = 0; i < n; i++) anti[i * n + (n - 1 - i)] = 1;
    const ra = maskToPolygons(anti, n, n, { tolerance: 0 });
    assert.equal(ra.components, 1);
    assert.deepEqual(raster(ra.polygons, n, n), anti);
  });

  it('masks touching the image border: corners on the border, nothing outside the image', () => {
    const { mask, h, w } = grid(`
      ####
      #..#
      #..#
      ####`);
    const r = maskToPolygons(mask, h, w, { tolerance: 0, holes: 'fill' });
    assert.deepEqual(r.polygons, [[[0, 0], [4, 0], [4, 4], [0, 4]]]);
    assert.equal(r.holes, 1);
    assert.deepEqual(raster(maskToPolygons(mask, h, w).polygons, h, w), mask);
    const full = maskToPolygons(new Uint8Array(12).fill(1), 3, 4);
    assert.deepEqual(full.polygons, [[[0, 0], [4, 0], [4, 3], [0, 3]]]);
    const edge = grid(`
      ..#
      .##
      ###`);
    const e = maskToPolygons(edge.mask, edge.h, edge.w, { tolerance: 0 });
    assert.deepEqual(raster(e.polygons, edge.h, edge.w), edge.mask);
    assert.ok(e.polygons.flat().every(([x, y]) => x >= 0 && x <= 3 && y >= 0 && y <= 3));
  });

  it('an empty mask gives no polygon; so does an empty size', () => {
    const r = maskToPolygons(new Uint8Array(100), 10, 10);
    assert.deepEqual(r.polygons, []);
    assert.equal(r.components, 0);
    assert.deepEqual(rleToPolygons({ size: [0, 0], counts: [] }).polygons, []);
    assert.deepEqual(rleToPolygons({ size: [4, 5], counts: [20] }).polygons, []);
  });

  it('simplifyRing never goes below 3 vertices and keeps the corners of a rectangle', () => {
    const sq: Point[] = [[0, 0], [1, 0], [1, 1], [0, 1]];
    assert.deepEqual(simplifyRing(sq, 0.5), sq);
    assert.equal(simplifyRing(sq, 5).length, 3);
    const stair: Point[] = [[0, 0], [1, 0], [1, 1], [2, 1], [2, 2], [0, 2]];
    const s = simplifyRing(stair, 10);
    assert.ok(s.length >= 3);
  });
});

describe('mask contours: real masks, simplified, rasterised back with IoU ≥ 0.97', () => {
  async function check(rles: CocoRle[], what: string): Promise<{ worst: number; vertices: number; exactVertices: number }> {
    let worst = 1;
    let vertices = 0;
    let exactVertices = 0;
    for (const rle of rles) {
      const [h, w] = rle.size;
      const mask = decodeRle(rle);
      const r = rleToPolygons(rle);
      const exact = rleToPolygons(rle, { tolerance: 0 });
      assert.ok(r.polygons.length >= 1, `${what}: a polygon`);
      const back = raster(r.polygons, h, w);
      const score = iou(back, mask);
      worst = Math.min(worst, score);
      vertices += r.polygons.reduce((s, p) => s + p.length, 0);
      exactVertices += exact.polygons.reduce((s, p) => s + p.length, 0);
      assert.ok(score >= 0.97, `${what}: IoU ${score.toFixed(4)}`);
      // The exact outlines give back the mask pixel for pixel, but for holes below minPixels.
      const exactBack = raster(exact.polygons, h, w);
      let extra = 0;
      for (let i = 0; i < mask.length; i++) {
        if (mask[i]) assert.equal(exactBack[i], 1);
        else if (exactBack[i]) extra++;
      }
      assert.equal(extra, exact.holePixels, `${what}: only holes below minPixels filled`);
    }
    return { worst, vertices, exactVertices };
  }

  it('Penn-Fudan instance masks (real pedestrians)', async () => {
    const parsed = await parseMasks(join(TESTDATA, 'train/pennfudan_ped/PedMasks'), { maskMode: 'instance', instanceClass: 'pedestrian' });
    const rles = parsed.images.slice(0, 40).flatMap((i) => i.labels.map((l) => (l.geometry as { kind: 'mask'; rle: CocoRle }).rle));
    assert.ok(rles.length >= 60, `${rles.length} instances`);
    const r = await check(rles, 'Penn-Fudan');
    // Simplification earns its keep: far fewer vertices than the pixel staircase.
    assert.ok(r.vertices < r.exactVertices * 0.6, `${r.vertices} vs ${r.exactVertices} vertices`);
    assert.ok(r.worst >= 0.97);
    // Pedestrians have holes (between arm and body): filling them would cost up to 8 % IoU.
    const filled = rles.map((rle) => iou(raster(rleToPolygons(rle, { holes: 'fill' }).polygons, rle.size[0], rle.size[1]), decodeRle(rle)));
    assert.ok(Math.min(...filled) < r.worst);
    console.log(`Penn-Fudan: ${rles.length} instances, worst IoU ${r.worst.toFixed(4)}, ${r.vertices} vertices (exact ${r.exactVertices}); holes filled: worst IoU ${Math.min(...filled).toFixed(4)}`);
  });

  it("Fovea's sample CT lesion masks", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'fovea-contours-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const m = await writeSampleData(dir, { size: 'tiny' });
    const parsed = await parseMasks(join(dir, m.ctDir), { classes: ['background', 'lesion'] });
    const rles = parsed.images.flatMap((i) => i.labels.map((l) => (l.geometry as { kind: 'mask'; rle: CocoRle }).rle));
    assert.ok(rles.length >= 3, `${rles.length} lesion masks`);
    await check(rles, 'CT lesion');
  });

  it('a polygon rasterised to a mask comes back as a polygon with IoU ≥ 0.97', () => {
    const h = 200;
    const w = 300;
    const poly: Point[] = [];
    for (let k = 0; k < 64; k++) {
      const a = (k / 64) * 2 * Math.PI;
      const r = 60 + 25 * Math.sin(5 * a);
      poly.push([150 + r * Math.cos(a), 100 + r * Math.sin(a) * 0.8]);
    }
    const mask = decodeRle(polygonToRle(poly, h, w));
    const r = maskToPolygons(mask, h, w);
    assert.equal(r.polygons.length, 1);
    assert.ok(iou(raster(r.polygons, h, w), mask) >= 0.97);
    assert.deepEqual(encodeMask(raster(maskToPolygons(mask, h, w, { tolerance: 0 }).polygons, h, w), h, w), encodeMask(mask, h, w));
  });
});
