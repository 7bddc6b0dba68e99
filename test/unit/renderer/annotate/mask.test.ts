/**
 * The renderer's mask logic against the core's COCO RLE (electron/core/labels/rle.ts, a port
 * of pycocotools): the same RLE for the same pixels, brush discs paint exactly the pixels whose
 * centres are within the radius, strokes leave no gaps, and the distance transform is exact.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeRle, encodeMask, rleToBbox } from '../../../../electron/core/labels/rle';
import { distanceTransform, emptyMask, maskArea, maskBounds, maskToRle, rleToMask, stampDisc, stampSegment } from '../../../../renderer/src/annotate/mask';
import { createRandom } from '../../../../electron/core/samples/seeded-random';

describe('renderer masks', () => {
  test('RLE round trip equals the core encoder on random masks (column-major, zeros first)', () => {
    const rnd = createRandom('mask-rle');
    for (let n = 0; n < 30; n++) {
      const w = 1 + Math.floor(rnd.next() * 40);
      const h = 1 + Math.floor(rnd.next() * 40);
      const m = emptyMask(w, h);
      for (let i = 0; i < m.data.length; i++) m.data[i] = rnd.next() < 0.3 ? 1 : 0;
      const ours = maskToRle(m);
      assert.deepEqual(ours, encodeMask(m.data, h, w));
      assert.deepEqual(decodeRle(ours), m.data);
      assert.deepEqual(rleToMask(ours).data, m.data);
    }
    assert.throws(() => rleToMask({ size: [2, 2], counts: [1, 1] }), /add up/);
  });

  test('a brush disc paints the pixels whose centres lie within its radius', () => {
    const m = emptyMask(20, 20);
    stampDisc(m, 10, 10, 6, 1);
    let expected = 0;
    for (let y = 0; y < 20; y++) for (let x = 0; x < 20; x++) {
      const inside = (x + 0.5 - 10) ** 2 + (y + 0.5 - 10) ** 2 <= 9;
      assert.equal(m.data[y * 20 + x], inside ? 1 : 0, `pixel ${x},${y}`);
      expected += inside ? 1 : 0;
    }
    assert.equal(maskArea(m), expected);
    assert.deepEqual(maskBounds(m), { x: 7, y: 7, width: 6, height: 6 });
    // The eraser takes them away again; a 1-pixel brush paints the pixel under it.
    stampDisc(m, 10, 10, 6, 0);
    assert.equal(maskArea(m), 0);
    stampDisc(m, 3.2, 4.9, 1, 1);
    assert.deepEqual(maskBounds(m), { x: 3, y: 4, width: 1, height: 1 });
  });

  test('a fast stroke leaves no gaps, and its bounds are the stroke extent plus the radius', () => {
    const m = emptyMask(200, 100);
    const dirty = stampSegment(m, 20, 50, 180, 50, 10, 1);
    assert.deepEqual(dirty, { x0: 15, y0: 45, x1: 185, y1: 55 });
    for (let x = 20; x < 180; x++) assert.equal(m.data[50 * 200 + x], 1, `gap at x=${x}`);
    const b = maskBounds(m)!;
    assert.ok(Math.abs(b.x - 15) <= 1 && Math.abs(b.x + b.width - 185) <= 1, JSON.stringify(b));
    assert.deepEqual(rleToBbox(maskToRle(m)), [b.x, b.y, b.width, b.height]);
  });

  test('the distance transform equals brute force', () => {
    const rnd = createRandom('edt');
    const w = 23;
    const h = 17;
    const seeds = Array.from({ length: 5 }, () => Math.floor(rnd.next() * w * h));
    const d = distanceTransform(w, h, (i) => seeds.includes(i));
    for (let i = 0; i < w * h; i++) {
      const x = i % w;
      const y = Math.floor(i / w);
      const want = Math.min(...seeds.map((s) => Math.hypot((s % w) - x, Math.floor(s / w) - y)));
      assert.ok(Math.abs((d[i] as number) - want) < 1e-9, `${x},${y}: ${d[i]} vs ${want}`);
    }
  });
});
