/**
 * Data-parallel training (native-models/train/data-parallel.ts): 2 threads (the leader and one
 * replica worker thread) give the whole batch's gradient without batch norm, the documented
 * per-shard gradient with it; a short run is reproducible and learns; a replica that throws or
 * dies ends the run with an error and no thread left; `--threads 1` starts no replica.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { Batch, TrainConfig, TrainOutcome } from '../../../electron/contract/ml';
import { dataParallelThreads } from '../../../native-models/backends/threads';
import { initWasmBackend } from '../../../native-models/backends/wasm-setup';
import { createModel, taskHooks } from '../../../native-models/models/index';
import { loadCheckpointModel } from '../../../native-models/train/checkpoint-io';
import { DataParallel, liveReplicaThreads, setShardDropoutSeeds, shardGradients, shardSizes, sliceBatch, type DataParallelOptions } from '../../../native-models/train/data-parallel';
import { runTraining } from '../../../native-models/train/trainer';
import { discs, makeBatch, rng, squares, SyntheticProvider, testConfig } from './synthetic';

const root = mkdtempSync(join(tmpdir(), 'fovea-dp-'));
let dirs = 0;
const newDir = (): string => join(root, `run${++dirs}`);

before(async () => {
  await initWasmBackend();
});
afterEach(() => {
  delete process.env['FOVEA_THREADS'];
  delete process.env['FOVEA_DATA_PARALLEL'];
});
after(() => rmSync(root, { recursive: true, force: true }));

const at = { epoch: 1, index: 0 };

function fixedBatch(config: TrainConfig, n: number): Batch {
  const r = rng(99);
  const gen = config.task === 'segmentation' ? discs : squares;
  return makeBatch(config.task, Array.from({ length: n }, () => gen(r, config.inputSize, config.channels)), config.inputSize, config.channels, config.classNames.length);
}

function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((x, i) => x.forEach((v, j) => (m = Math.max(m, Math.abs(v - ((b[i] as Float32Array)[j] as number))))));
  return m;
}

test('shards: as even as possible, contiguous, targets with their images', () => {
  assert.deepEqual(shardSizes(8, 2), [4, 4]);
  assert.deepEqual(shardSizes(7, 3), [3, 2, 2]);
  assert.deepEqual(shardSizes(1, 4), [1]);
  const config = testConfig('segmentation', { inputSize: 16 });
  const b = fixedBatch(config, 3);
  const s = sliceBatch(b, 1, 2, 16);
  assert.equal(s.n, 2);
  assert.deepEqual(s.x, b.x.slice(16 * 16, 3 * 16 * 16));
  assert.ok(s.targets.task === 'segmentation' && b.targets.task === 'segmentation');
  assert.deepEqual(s.targets.masks, b.targets.masks.slice(16 * 16));
  assert.deepEqual(s.itemIds, [1, 2]);
});

test('2 threads, no batch norm: the averaged shard gradients are the whole batch gradient (1e-5)', async () => {
  const config = testConfig('classification', { inputSize: 16 });
  const model = tf.sequential({
    layers: [tf.layers.conv2d({ inputShape: [16, 16, 1], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }), tf.layers.flatten(), tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) })],
  });
  const hooks = taskHooks(config);
  const varList = model.trainableWeights.map((w) => w.read() as tf.Variable);
  // 7 images: unequal shards (4 + 3) test the weighting by shard size.
  const batch = fixedBatch(config, 7);
  const whole = shardGradients(model, hooks, varList, batch, config.inputSize, config.channels);
  const dp = new DataParallel(config, model, 2);
  try {
    const r = await dp.gradients(model, hooks, varList, batch, config, at);
    assert.equal(r.grads.length, varList.length);
    const d = maxAbsDiff(r.grads, whole.grads);
    assert.ok(d <= 1e-5, `max |difference| ${d}`);
    assert.ok(Math.abs(r.loss - whole.loss) <= 1e-5, `loss ${r.loss} vs ${whole.loss}`);
    // Statistics are counts: summed over shards, they are the whole batch's.
    assert.deepEqual(r.stats, whole.stats);
  } finally {
    await dp.close();
    model.dispose();
  }
  assert.equal(liveReplicaThreads(), 0);
});

test('2 threads, batch norm: each shard normalised by its own statistics (as DDP without SyncBN), not the whole batch gradient', async () => {
  const config = testConfig('classification', { inputSize: 32 });
  const model = createModel(config);
  const hooks = taskHooks(config);
  const varList = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const batch = fixedBatch(config, 8);
  const initial = model.weights.map((w) => w.read().clone());
  const restore = (): void => model.weights.forEach((w, i) => w.write(initial[i] as tf.Tensor));
  setShardDropoutSeeds(model, { seed: config.seed, ...at, shard: 0 });
  const whole = shardGradients(model, hooks, varList, batch, config.inputSize, config.channels);
  const shards = [0, 1].map((k) => {
    restore();
    setShardDropoutSeeds(model, { seed: config.seed, ...at, shard: k });
    return shardGradients(model, hooks, varList, sliceBatch(batch, 4 * k, 4, config.inputSize), config.inputSize, config.channels);
  });
  restore();
  const expected = shards[0]!.grads.map((g, i) => g.map((v, j) => (v + (shards[1]!.grads[i]![j] as number)) / 2));
  const dp = new DataParallel(config, model, 2);
  try {
    const r = await dp.gradients(model, hooks, varList, batch, config, at);
    const d = maxAbsDiff(r.grads, expected);
    assert.ok(d <= 1e-5, `the mean of the per-shard gradients: max |difference| ${d}`);
    assert.ok(maxAbsDiff(r.grads, whole.grads) > 1e-4, 'batch norm over shards differs from batch norm over the batch');
  } finally {
    await dp.close();
    tf.dispose(initial);
    model.dispose();
  }
});

async function train(config: TrainConfig, threads: number, opts: { dp?: DataParallelOptions; trainBatches?: number; onBatch?: () => void; resume?: { dir: string; after: number } } = {}): Promise<{ outcome: TrainOutcome; dir: string; losses: number[] }> {
  process.env['FOVEA_THREADS'] = String(threads);
  process.env['FOVEA_DATA_PARALLEL'] = '1';
  const dir = opts.resume?.dir ?? newDir();
  const losses: number[] = [];
  const gen = config.task === 'segmentation' ? discs : squares;
  const outcome = await runTraining(
    config,
    { batchesPerEpoch: { train: opts.trainBatches ?? 4, val: 1 }, batch: (s, e, i) => new SyntheticProvider(config, gen, { trainBatches: opts.trainBatches ?? 4, valBatches: 1 }).batch(s, e, i) },
    { checkpointDir: dir, ...(opts.resume ? { resumeAfterEpoch: opts.resume.after } : {}) },
    { isCancelled: () => false, onEpoch: (r) => losses.push(r.trainLoss), onBatch: () => opts.onBatch?.() },
    { recoverWasmAfterAbort: true, ...(opts.dp ? { dataParallel: opts.dp } : {}) },
  );
  return { outcome, dir, losses };
}

async function lastWeights(dir: string): Promise<Float32Array[]> {
  const m = await loadCheckpointModel(join(dir, 'last'));
  const w = m.weights.map((v) => Float32Array.from(v.read().dataSync() as Float32Array));
  m.dispose();
  return w;
}

test('a 2-thread data-parallel run: the same seed twice gives the same weights bit for bit, and its loss falls', async () => {
  const config = testConfig('classification', { epochs: 3, batchSize: 8 });
  const replicasSeen = new Set<number>();
  const a = await train(config, 2, { onBatch: () => replicasSeen.add(liveReplicaThreads()) });
  assert.equal(a.outcome.status, 'done', JSON.stringify(a.outcome));
  assert.deepEqual([...replicasSeen], [1], 'one replica thread while training');
  assert.equal(liveReplicaThreads(), 0, 'no replica thread after the run');
  assert.ok((a.losses[2] as number) < (a.losses[0] as number), `training loss per epoch: ${a.losses.join(', ')}`);
  const b = await train(config, 2);
  assert.deepEqual(b.losses, a.losses);
  assert.deepEqual(await lastWeights(b.dir), await lastWeights(a.dir));
});

test('segmentation trains data-parallel (its masks split with the images)', async () => {
  const config = testConfig('segmentation', { epochs: 1, batchSize: 4, inputSize: 32 });
  const r = await train(config, 2, { trainBatches: 2 });
  assert.equal(r.outcome.status, 'done', JSON.stringify(r.outcome));
  assert.ok(Number.isFinite(r.losses[0]));
});

test('a replica that throws, or whose thread dies, ends the run with an error, an intact checkpoint and no thread left; resume goes on', async () => {
  const config = testConfig('classification', { epochs: 3, batchSize: 8 });
  for (const kind of ['throw', 'exit'] as const) {
    // Step 6: batch 2 of epoch 2 (4 batches per epoch).
    const r = await train(config, 2, { dp: { fault: { rank: 1, atStep: 6, kind } } });
    assert.equal(r.outcome.status, 'failed', kind);
    assert.equal(r.outcome.error?.code, 'INTERNAL');
    assert.match(r.outcome.error?.message ?? '', kind === 'throw' ? /replica 1 .*failed: injected fault at step 6 \(epoch 2, batch 2\)/ : /replica 1 .*failed: its thread exited \(code 3\)/);
    assert.match(r.outcome.error?.message ?? '', /checkpoint of epoch 1 is intact/);
    assert.equal(r.outcome.epochsCompleted, 1);
    assert.ok(existsSync(join(r.dir, 'epoch-1', 'model.json')) && existsSync(join(r.dir, 'last', 'model.json')));
    assert.equal(liveReplicaThreads(), 0, `${kind}: no replica thread left`);
    if (kind === 'throw') {
      // --resume from the intact checkpoint, data-parallel again (the replicas rebuild the loaded model).
      const resumed = await train(config, 2, { resume: { dir: r.dir, after: 1 } });
      assert.equal(resumed.outcome.status, 'done', JSON.stringify(resumed.outcome));
      assert.equal(resumed.outcome.epochsCompleted, 3);
    }
  }
});

test('--threads 1 trains without replicas', async () => {
  assert.equal(dataParallelThreads('wasm', 'classification', { FOVEA_THREADS: '1', FOVEA_DATA_PARALLEL: '1' }), 1);
  assert.equal(dataParallelThreads('wasm', 'classification', { FOVEA_THREADS: '2', FOVEA_DATA_PARALLEL: '1' }), 2);
  assert.equal(dataParallelThreads('wasm', 'detection', { FOVEA_THREADS: '2', FOVEA_DATA_PARALLEL: '1' }), 1);
  assert.equal(dataParallelThreads('webgpu', 'classification', { FOVEA_THREADS: '2', FOVEA_DATA_PARALLEL: '1' }), 1);
  assert.equal(dataParallelThreads('wasm', 'classification', { FOVEA_THREADS: '2', FOVEA_DATA_PARALLEL: '0' }), 1);
  const seen = new Set<number>();
  const r = await train(testConfig('classification', { epochs: 1, batchSize: 8 }), 1, { trainBatches: 2, onBatch: () => seen.add(liveReplicaThreads()) });
  assert.equal(r.outcome.status, 'done', JSON.stringify(r.outcome));
  assert.deepEqual([...seen], [0]);
});
