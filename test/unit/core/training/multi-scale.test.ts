/**
 * Detection multi-scale training (issue 13 item 4): the sides a run trains at, drawn per batch
 * from the seed; the library provider builds each training batch at its side with the boxes on
 * their drawn rectangles, and keeps validation at the input size.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import type { TrainConfig } from '../../../../electron/contract/ml';
import { createLibraryBatchProvider } from '../../../../electron/core/training/library-batch-provider';
import { multiScaleSides, trainBatchSide } from '../../../../electron/core/training/multi-scale';
import { collectSamples } from '../../../../electron/core/training/training-samples';
import { tempCore } from '../../../helpers/temp-library';

const NO_AUGMENT = { flipHorizontal: false, flipVertical: false, rotateDegrees: 0, scale: 0, intensity: 0 };

function config(over: Partial<TrainConfig>): TrainConfig {
  return {
    task: 'detection',
    inputSize: 64,
    channels: 1,
    classNames: ['target'],
    multiLabel: false,
    epochs: 2,
    batchSize: 2,
    learningRate: 1e-3,
    seed: 3,
    backend: 'cpu',
    earlyStoppingPatience: 0,
    augment: { ...NO_AUGMENT, multiScale: 0.5 },
    classWeights: null,
    normalization: { kind: 'unit' },
    ...over,
  };
}

test('the sides: multiples of 32 within inputSize ± m, detection only, drawn per batch from the seed', () => {
  assert.deepEqual(multiScaleSides(config({ inputSize: 128, augment: { ...NO_AUGMENT, multiScale: 0.25 } })), [96, 128, 160]);
  assert.deepEqual(multiScaleSides(config({ inputSize: 256, augment: { ...NO_AUGMENT, multiScale: 0.25 } })), [192, 224, 256, 288, 320]);
  assert.deepEqual(multiScaleSides(config({ inputSize: 64 })), [32, 64, 96]);
  assert.deepEqual(multiScaleSides(config({ augment: NO_AUGMENT })), [64]);
  assert.deepEqual(multiScaleSides(config({ task: 'segmentation' })), [64]);
  const c = config({});
  const drawn = Array.from({ length: 30 }, (_, i) => trainBatchSide(c, 1, i));
  assert.deepEqual(new Set(drawn), new Set([32, 64, 96]), 'every side comes up');
  assert.deepEqual(Array.from({ length: 30 }, (_, i) => trainBatchSide(c, 1, i)), drawn, 'the same for the same seed, epoch and batch');
  assert.notDeepEqual(Array.from({ length: 30 }, (_, i) => trainBatchSide(c, 2, i)), drawn, 'another epoch draws again');
});

test('the provider builds each training batch at its side, boxes on their rectangles; validation stays at the input size', async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const imgDir = join(dir, 'img');
  mkdirSync(imgDir);
  const W = 120;
  const H = 80;
  const rects = Array.from({ length: 8 }, (_, i) => ({ x: 10 + i * 8, y: 10 + i * 4, width: 30, height: 24 }));
  for (const [i, r] of rects.entries()) {
    const px = Buffer.alloc(W * H);
    for (let y = r.y; y < r.y + r.height; y++) for (let x = r.x; x < r.x + r.width; x++) px[y * W + x] = 255;
    await sharp(px, { raw: { width: W, height: H, channels: 1 } }).png().toFile(join(imgDir, `r${i}.png`));
  }
  const ds = core.datasets.create('rects', '');
  await core.importFiles({ datasetId: ds.id, paths: [imgDir] });
  const items = core.db.prepare('SELECT id, source_name FROM items WHERE dataset_id = ? ORDER BY source_name').all(ds.id) as { id: number; source_name: string }[];
  const cls = core.annotations.ensureClass(ds.id, 'target');
  items.forEach((it, i) => core.annotations.create({ datasetId: ds.id, itemId: it.id, classId: cls, kind: 'box', geometry: rects[i] as (typeof rects)[number], source: 'human', author: 't' }));
  core.splits.setSplit(ds.id, items.slice(0, 6).map((i) => i.id), 'train');
  core.splits.setSplit(ds.id, items.slice(6).map((i) => i.id), 'val');
  const { samples } = collectSamples(core.db, ds.id, 'detection');
  const c = config({});
  const provider = createLibraryBatchProvider({ blobs: core.blobs, db: core.db }, { samples, splits: core.splits.splitMap(ds.id), config: c, prefetchBatches: 0 });
  t.after(() => provider.dispose());
  const seen = new Set<number>();
  for (const epoch of [1, 2]) {
    for (let i = 0; i < provider.batchesPerEpoch('train'); i++) {
      const b = await provider.batch('train', epoch, i);
      const side = trainBatchSide(c, epoch, i);
      seen.add(side);
      assert.equal(b.inputSize, side === 64 ? undefined : side, 'the side travels with the batch when it is not the input size');
      assert.equal(b.x.length, b.n * side * side);
      assert.ok(b.targets.task === 'detection');
      b.targets.boxes.forEach((boxes, k) => {
        assert.equal(boxes.length, 1);
        const [bx = 0, by = 0, bw = 0, bh = 0] = boxes[0] as number[];
        // The letterbox scale of this side: the bright pixels lie in the box, and fill it to a pixel.
        let x0 = Infinity;
        let y0 = Infinity;
        let x1 = -Infinity;
        let y1 = -Infinity;
        for (let v = 0; v < side; v++) {
          for (let u = 0; u < side; u++) {
            if ((b.x[k * side * side + v * side + u] as number) <= 0.5) continue;
            x0 = Math.min(x0, u);
            y0 = Math.min(y0, v);
            x1 = Math.max(x1, u + 1);
            y1 = Math.max(y1, v + 1);
          }
        }
        for (const [a, e] of [[x0, bx], [y0, by], [x1, bx + bw], [y1, by + bh]] as const) assert.ok(Math.abs(a - e) <= 1, `side ${side}: bright ${[x0, y0, x1, y1]} vs box ${[bx, by, bx + bw, by + bh]}`);
        assert.ok(Math.abs(bw - (30 * side) / W) < 1e-9, 'the box is scaled with the image');
      });
    }
  }
  assert.ok(seen.size >= 2, `two epochs trained at several sides (${[...seen].join(', ')})`);
  for (let i = 0; i < provider.batchesPerEpoch('val'); i++) {
    const v = await provider.batch('val', 1, i);
    assert.equal(v.inputSize, undefined);
    assert.equal(v.x.length, v.n * 64 * 64);
  }
});
