/**
 * The library-backed BatchProvider over ~200 imported images: deterministic
 * batches for a seed, a new order every epoch, val in fixed order, the
 * decoded-image cache never above its budget, TrainConfig shapes for every
 * task, the test split for evaluation, and class weights.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import type { Batch, TrainConfig } from '../../../../electron/contract/ml';
import { encodeMask } from '../../../../electron/core/labels/rle';
import { computeClassWeights, createLibraryBatchProvider } from '../../../../electron/core/training/library-batch-provider';
import { labelStratifier, SplitService } from '../../../../electron/core/training/splits';
import { collectSamples } from '../../../../electron/core/training/training-samples';
import { tempCore } from '../../../helpers/temp-library';


function config(over: Partial<TrainConfig>): TrainConfig {
  return {
    task: 'classification',
    inputSize: 16,
    channels: 1,
    classNames: ['a', 'b'],
    multiLabel: false,
    epochs: 3,
    batchSize: 8,
    learningRate: 1e-3,
    seed: 11,
    backend: 'cpu',
    earlyStoppingPatience: 0,
    augment: { flipHorizontal: true, flipVertical: false, rotateDegrees: 10, scale: 0.1, intensity: 0.1 },
    classWeights: null,
    normalization: { kind: 'unit' },
    ...over,
  };
}

async function allBatches(p: ReturnType<typeof createLibraryBatchProvider>, split: 'train' | 'val', epoch: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for (let i = 0; i < p.batchesPerEpoch(split); i++) out.push(await p.batch(split, epoch, i));
  return out;
}

test('classification batches: deterministic per seed, reshuffled per epoch, bounded cache, contract shapes', async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const imgDir = join(dir, 'img');
  mkdirSync(imgDir);
  const N = 200;
  const names: string[] = [];
  await Promise.all(
    Array.from({ length: N }, (_, k) => {
      const name = `${k < 120 ? 'a' : 'b'}_${String(k).padStart(3, '0')}.png`;
      names.push(name);
      const raw = new Uint8Array(32 * 32);
      for (let i = 0; i < raw.length; i++) raw[i] = (i * 7 + k * 13) & 0xff;
      return sharp(raw, { raw: { width: 32, height: 32, channels: 1 } }).png().toFile(join(imgDir, name));
    }),
  );
  const ds = core.datasets.create('many', '');
  const imp = await core.importFiles({ datasetId: ds.id, paths: [imgDir] });
  assert.equal(imp.counts.imported, N);
  writeFileSync(join(dir, 'labels.csv'), ['filename,label', ...names.map((n) => `${n},${n[0]}`)].join('\n'));
  await core.importLabels(ds.id, join(dir, 'labels.csv'), 'csv', 'tester');
  const splits = new SplitService(core.db);
  splits.ensureSplits(ds.id, { seed: 5, stratifyBy: labelStratifier(core.db, ds.id) });
  const collected = collectSamples(core.db, ds.id, 'classification');
  assert.deepEqual(collected.classNames, ['a', 'b']);
  assert.equal(collected.samples.length, N);
  const splitMap = splits.splitMap(ds.id);

  // 32x32 for a 16 input is reduced 2x: each cached entry is 16*16 floats = 1 KiB. Budget: 20 entries.
  const budget = 20 * 1024;
  const cfg = config({});
  const a = createLibraryBatchProvider(core, { samples: collected.samples, splits: splitMap, config: cfg, cacheBytes: budget });
  const b = createLibraryBatchProvider(core, { samples: collected.samples, splits: splitMap, config: cfg, cacheBytes: budget, prefetchBatches: 0 });
  assert.equal(a.sampleCounts.train + a.sampleCounts.val + a.sampleCounts.test, N);
  assert.equal(a.batchesPerEpoch('train'), Math.ceil(a.sampleCounts.train / 8));

  const trainIds = new Set(collected.samples.filter((s) => splitMap.get(s.itemId) === 'train').map((s) => s.itemId));
  const epochs: Batch[][] = [];
  for (let epoch = 0; epoch < 2; epoch++) {
    const batches: Batch[] = [];
    for (let i = 0; i < a.batchesPerEpoch('train'); i++) {
      const ba = await a.batch('train', epoch, i);
      const bb = await b.batch('train', epoch, i);
      assert.deepEqual(ba.itemIds, bb.itemIds, 'same seed, same order');
      assert.ok(Buffer.from(ba.x.buffer).equals(Buffer.from(bb.x.buffer)), 'same seed, same pixels (augmentation included)');
      // TrainConfig shapes.
      assert.ok(ba.n >= 1 && ba.n <= cfg.batchSize);
      assert.equal(ba.x.length, ba.n * cfg.inputSize * cfg.inputSize * cfg.channels);
      assert.equal(ba.itemIds.length, ba.n);
      const targets = ba.targets;
      assert.ok(targets.task === 'classification');
      const labels: Float32Array = targets.labels;
      assert.equal(labels.length, ba.n * 2);
      for (let j = 0; j < ba.n; j++) {
        const row = [...labels.subarray(j * 2, j * 2 + 2)];
        const truth = collected.samples.find((s) => s.itemId === ba.itemIds[j])?.target;
        assert.ok(truth?.task === 'classification');
        assert.deepEqual(row, truth.classIndices[0] === 0 ? [1, 0] : [0, 1], 'one-hot of the label');
      }
      for (const p of [a, b]) {
        const st = p.stats();
        assert.ok(st.cacheBytes <= budget, `cache ${st.cacheBytes} within ${budget}`);
      }
      batches.push(ba);
    }
    const seen = batches.flatMap((x) => x.itemIds);
    assert.equal(seen.length, trainIds.size, 'an epoch is every train sample once');
    assert.deepEqual(new Set(seen), trainIds);
    epochs.push(batches);
  }
  const order0 = (epochs[0] as Batch[]).flatMap((x) => x.itemIds);
  const order1 = (epochs[1] as Batch[]).flatMap((x) => x.itemIds);
  assert.notDeepEqual(order0, order1, 'a new order each epoch');

  // Val: fixed order (item id), no augmentation: identical in every epoch.
  const val0 = await allBatches(a, 'val', 0);
  const val2 = await allBatches(a, 'val', 2);
  const valIds = val0.flatMap((x) => x.itemIds);
  assert.deepEqual(valIds, [...valIds].sort((p, q) => p - q));
  assert.deepEqual(valIds, val2.flatMap((x) => x.itemIds));
  val0.forEach((v, i) => assert.ok(Buffer.from(v.x.buffer).equals(Buffer.from((val2[i] as Batch).x.buffer))));

  const st = a.stats();
  assert.ok(st.peakCacheBytes <= budget && st.peakCacheBytes > budget / 2, `peak ${st.peakCacheBytes}`);
  assert.ok(st.cacheEntries <= 20);
  assert.ok(st.evictions > 0 && st.decodes > N, `a small cache decodes again (${st.decodes} decodes, ${st.evictions} evictions)`);
  assert.deepEqual(st.failures, []);
  assert.ok(st.prefetchedBatches <= 1);

  // With room for everything, later epochs come from the cache.
  const roomy = createLibraryBatchProvider(core, { samples: collected.samples, splits: splitMap, config: cfg, prefetchBatches: 0 });
  await allBatches(roomy, 'train', 0);
  const decoded = roomy.stats().decodes;
  assert.equal(decoded, trainIds.size);
  await allBatches(roomy, 'train', 1);
  assert.equal(roomy.stats().decodes, decoded, 'epoch 1 decodes nothing');

  // The test split, once, in order.
  const testIds: number[] = [];
  for await (const batch of a.testBatches()) testIds.push(...batch.itemIds);
  assert.equal(testIds.length, a.sampleCounts.test);
  assert.ok(testIds.every((id) => splitMap.get(id) === 'test'));

  // Inverse-frequency weights from the train split: N / (K * n_k).
  const train = collected.samples.filter((s) => splitMap.get(s.itemId) === 'train');
  const nA = train.filter((s) => s.target.task === 'classification' && s.target.classIndices[0] === 0).length;
  const nB = train.length - nA;
  const w = a.classWeights() as number[];
  assert.ok(Math.abs((w[0] as number) - train.length / (2 * nA)) < 1e-12);
  assert.ok(Math.abs((w[1] as number) - train.length / (2 * nB)) < 1e-12);
  assert.ok((w[1] as number) > (w[0] as number), 'the rarer class weighs more');
  for (const p of [a, b, roomy]) p.dispose();
});

test('detection and segmentation batches have the contract shapes; boxes and masks come along', async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const imgDir = join(dir, 'img');
  mkdirSync(imgDir);
  const W = 40;
  const H = 30;
  await Promise.all(
    Array.from({ length: 6 }, (_, k) => {
      const raw = new Uint8Array(W * H * 3);
      for (let y = 5; y < 15; y++) for (let x = 5 + k; x < 20 + k; x++) raw.fill(200, (y * W + x) * 3, (y * W + x) * 3 + 3);
      raw[0] = k;
      return sharp(raw, { raw: { width: W, height: H, channels: 3 } }).png().toFile(join(imgDir, `s${k}.png`));
    }),
  );
  const ds = core.datasets.create('geo', '');
  await core.importFiles({ datasetId: ds.id, paths: [imgDir] });
  const items = core.db.prepare('SELECT id, source_name AS name FROM items WHERE dataset_id = ? ORDER BY id').all(ds.id) as { id: number; name: string }[];
  const car = core.annotations.ensureClass(ds.id, 'car');
  const road = core.annotations.ensureClass(ds.id, 'road');
  for (const it of items) {
    const k = Number(it.name.match(/s(\d)/)?.[1]);
    core.annotations.create({ datasetId: ds.id, itemId: it.id, classId: car, kind: 'box', geometry: { x: 5 + k, y: 5, width: 15, height: 10 }, source: 'human', author: 't' });
    const m = new Uint8Array(W * H);
    for (let y = 20; y < 30; y++) m.fill(1, y * W, y * W + W);
    core.annotations.create({ datasetId: ds.id, itemId: it.id, classId: road, kind: 'mask', geometry: { rle: encodeMask(m, H, W) }, source: 'imported', author: 't' });
    // A polygon over the car, later than the mask: it wins where they overlap (they do not here).
    core.annotations.create({ datasetId: ds.id, itemId: it.id, classId: car, kind: 'polygon', geometry: { points: [[5 + k, 5], [20 + k, 5], [20 + k, 15], [5 + k, 15]] }, source: 'human', author: 't' });
  }
  const splits = new SplitService(core.db);
  splits.setSplit(ds.id, items.map((i) => i.id), 'train');
  const splitMap = splits.splitMap(ds.id);

  const det = collectSamples(core.db, ds.id, 'detection');
  assert.deepEqual(det.classNames, ['car', 'road']);
  assert.equal(det.channels, 3);
  assert.equal(det.samples[0]?.target.task === 'detection' && det.samples[0].target.boxes.length, 3, 'box, mask bbox, polygon bbox');
  const dcfg = config({ task: 'detection', classNames: det.classNames, channels: 3, inputSize: 32, batchSize: 4, augment: { flipHorizontal: false, flipVertical: false, rotateDegrees: 0, scale: 0, intensity: 0 } });
  const dp = createLibraryBatchProvider(core, { samples: det.samples, splits: splitMap, config: dcfg });
  assert.equal(dp.batchesPerEpoch('train'), 2);
  assert.equal(dp.batchesPerEpoch('val'), 0);
  const db0 = await dp.batch('train', 0, 0);
  assert.equal(db0.n, 4);
  assert.equal(db0.x.length, 4 * 32 * 32 * 3);
  assert.ok(db0.targets.task === 'detection');
  assert.equal(db0.targets.boxes.length, 4);
  for (const boxes of db0.targets.boxes) {
    assert.equal(boxes.length, 3);
    for (const bx of boxes) assert.equal(bx.length, 5);
  }
  // The road mask's bbox: rows 20..30 of a 40x30 image at scale 0.8, padded 4 on top and bottom.
  const roadBox = db0.targets.boxes[0]?.find((bx) => bx[4] === 1) as number[];
  assert.deepEqual(roadBox.map((v) => Math.round(v * 1000) / 1000), [0, 20, 32, 8, 1]);
  assert.equal((await dp.batch('train', 0, 1)).n, 2, 'the last batch is short');

  const seg = collectSamples(core.db, ds.id, 'segmentation');
  assert.deepEqual(seg.classNames, ['background', 'car', 'road']);
  const scfg = config({ task: 'segmentation', classNames: seg.classNames, channels: 1, inputSize: 40, batchSize: 3, augment: dcfg.augment });
  const segProvider = createLibraryBatchProvider(core, { samples: seg.samples, splits: splitMap, config: scfg });
  const sb = await segProvider.batch('train', 0, 0);
  assert.equal(sb.x.length, 3 * 40 * 40);
  assert.ok(sb.targets.task === 'segmentation');
  assert.equal(sb.targets.masks.length, 3 * 40 * 40);
  const first = sb.targets.masks.subarray(0, 40 * 40);
  const count = (v: number) => first.reduce((n, x) => n + (x === v ? 1 : 0), 0);
  // 40x30 into 40x40: 5 rows of padding top and bottom (255); road rows 20..29; the car 15x10.
  assert.equal(count(255), 2 * 5 * 40);
  assert.equal(count(2), 10 * 40);
  assert.equal(count(1), 15 * 10);
  assert.equal(segProvider.stats().missingMasks, 0);
  const weights = computeClassWeights(seg.samples, 3, 'segmentation', (id, v) => {
    const row = core.db.prepare('SELECT geometry FROM annotations WHERE id = ? AND version = ?').get(id, v) as { geometry: string };
    return (JSON.parse(row.geometry) as { rle: { size: [number, number]; counts: number[] } }).rle;
  });
  // Per image: car 150 px, road 400 px, background 1200 - 550 = 650 px.
  assert.deepEqual(weights?.map((x) => Math.round(x * 1e6) / 1e6), [1200 / (3 * 650), 1200 / (3 * 150), 1200 / (3 * 400)].map((x) => Math.round(x * 1e6) / 1e6));
  for (const p of [dp, segProvider]) p.dispose();
});
