/**
 * The engine in its default mode: training in a worker thread that asks
 * this thread for batches. Messages arrive in order, this thread stays
 * responsive, cancel stops at a batch boundary and the run resumes, and
 * failures come back as outcomes with this process alive.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { BatchProgress, EpochResult } from '../../../electron/contract/ml';
import { createMlEngine, defaultWorkerUrl, TRAIN_WORKER_BUNDLE } from '../../../native-models/engine';
import { makeBatch, rng, squares, SyntheticProvider, testConfig } from './synthetic';

const root = mkdtempSync(join(tmpdir(), 'fovea-worker-'));
after(() => rmSync(root, { recursive: true, force: true }));
const engine = createMlEngine();

test('the worker entry resolves to the .ts source under tsx and to the bundled name otherwise', () => {
  assert.match(defaultWorkerUrl().pathname, /native-models\/train\/worker\.ts$/);
  assert.equal(defaultWorkerUrl('file:///app/dist/electron/main.mjs').href, `file:///app/dist/electron/${TRAIN_WORKER_BUNDLE}`);
});

test('worker mode end to end: progress, epoch and done; batches come from this thread; it stays responsive', async () => {
  const config = testConfig('classification', { epochs: 2, batchSize: 8 });
  const provider = new SyntheticProvider(config, squares, { trainBatches: 4, valBatches: 1 });
  const progress: BatchProgress[] = [];
  const epochs: EpochResult[] = [];
  const checkpointDir = join(root, 'e2e');
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const t0 = performance.now();
  const outcome = await engine.train(config, provider, { checkpointDir, onBatch: (p) => progress.push(p), onEpoch: (r) => epochs.push(r) });
  const ms = performance.now() - t0;
  clearInterval(timer);
  assert.equal(outcome.status, 'done', JSON.stringify(outcome));
  assert.equal(outcome.backend, 'wasm');
  assert.equal(outcome.epochsCompleted, 2);
  assert.deepEqual(
    progress.map((p) => `${p.epoch}.${p.batch}`),
    ['1.1', '1.2', '1.3', '1.4', '2.1', '2.2', '2.3', '2.4'],
  );
  assert.deepEqual(
    epochs.map((e) => e.epoch),
    [1, 2],
  );
  assert.ok(epochs.every((e) => Number.isFinite(e.valLoss) && e.valMetrics['accuracy'] != null));
  assert.deepEqual(
    provider.requests.filter((r) => r.split === 'train').map((r) => `${r.epoch}.${r.index}`),
    ['1.0', '1.1', '1.2', '1.3', '2.0', '2.1', '2.2', '2.3'],
  );
  assert.equal(provider.requests.filter((r) => r.split === 'val').length, 2);
  assert.ok(existsSync(join(checkpointDir, 'best', 'model.json')));
  // The timer kept firing while the worker trained (5 ms period; a blocked thread would starve it).
  assert.ok(ticks > ms / 5 / 4, `${ticks} ticks in ${ms.toFixed(0)} ms`);
});

test('worker mode: cancel stops at the next batch boundary; resume finishes the run', async () => {
  const config = testConfig('classification', { epochs: 2, batchSize: 8 });
  const checkpointDir = join(root, 'cancel');
  const ac = new AbortController();
  const epochs: number[] = [];
  const cancelled = await engine.train(config, new SyntheticProvider(config, squares, { trainBatches: 4, valBatches: 1 }), {
    checkpointDir,
    signal: ac.signal,
    onEpoch: (r) => {
      epochs.push(r.epoch);
      ac.abort();
    },
  });
  assert.equal(cancelled.status, 'cancelled', JSON.stringify(cancelled));
  assert.equal(cancelled.epochsCompleted, 1);
  assert.equal(cancelled.bestEpoch, 1);
  const resumed = await engine.train(config, new SyntheticProvider(config, squares, { trainBatches: 4, valBatches: 1 }), { checkpointDir, resumeAfterEpoch: 1, onEpoch: (r) => epochs.push(r.epoch) });
  assert.equal(resumed.status, 'done', JSON.stringify(resumed));
  assert.equal(resumed.epochsCompleted, 2);
  assert.deepEqual(epochs, [1, 2]);

  // Already aborted before it starts: cancelled without a single step.
  const early = new AbortController();
  early.abort();
  const provider = new SyntheticProvider(config, squares, { trainBatches: 4, valBatches: 1 });
  const none = await engine.train(config, provider, { checkpointDir: join(root, 'aborted'), signal: early.signal });
  assert.equal(none.status, 'cancelled');
  assert.equal(none.epochsCompleted, 0);
});

test('worker mode: out of memory, an unavailable backend and a failing data pipeline come back as outcomes; this process lives on', async () => {
  const big = testConfig('classification', { inputSize: 2048, batchSize: 16 });
  const oom = await engine.train(big, new SyntheticProvider(big, squares, { trainBatches: 1, valBatches: 0 }), { checkpointDir: join(root, 'oom') });
  assert.equal(oom.status, 'failed');
  assert.equal(oom.error?.code, 'OUT_OF_MEMORY');
  assert.match(oom.error?.message ?? '', /smaller batch size \(e\.g\. 8\) or a smaller input size \(e\.g\. 1024\)/);

  const tfConfig = testConfig('classification', { backend: 'tensorflow' });
  const pf = await engine.preflight();
  if (!pf.backends.some((b) => b.name.startsWith('tensorflow') && b.available)) {
    const unavailable = await engine.train(tfConfig, new SyntheticProvider(tfConfig, squares, { trainBatches: 1, valBatches: 0 }), { checkpointDir: join(root, 'tf') });
    assert.equal(unavailable.error?.code, 'BACKEND_UNAVAILABLE');
    assert.match(unavailable.error?.message ?? '', /tfjs-node-gpu/);
  }

  const config = testConfig('classification', { epochs: 1, batchSize: 4 });
  const broken = new SyntheticProvider(config, squares, { trainBatches: 3, valBatches: 0 });
  // Throws synchronously (not a rejected promise): still an outcome, not a crash of this thread.
  broken.batch = (_s, _e, index) => {
    if (index === 1) throw new Error('cannot decode item 17');
    return SyntheticProvider.prototype.batch.call(broken, 'train', 1, index);
  };
  const failed = await engine.train(config, broken, { checkpointDir: join(root, 'broken') });
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error?.code, 'INTERNAL');
  assert.match(failed.error?.message ?? '', /cannot decode item 17/);
});

test('predict runs in the inference worker: the same predictions as in this thread, this thread stays free, and a new worker after dispose', async () => {
  const config = testConfig('classification', { epochs: 1, batchSize: 8 });
  const checkpointDir = join(root, 'predict');
  const trained = await engine.train(config, new SyntheticProvider(config, squares, { trainBatches: 2, valBatches: 1 }), { checkpointDir });
  assert.equal(trained.status, 'done', JSON.stringify(trained));
  const samples = Array.from({ length: 64 }, (_, i) => squares(rng(500 + i), config.inputSize, config.channels));
  const batch = () => makeBatch('classification', samples, config.inputSize, config.channels, 2);
  const inThread = createMlEngine({ workerless: true });
  const expected = await inThread.predict(join(checkpointDir, 'best'), config, batch());
  inThread.dispose();

  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const t0 = performance.now();
  const runs = await Promise.all([1, 2, 3].map(() => engine.predict(join(checkpointDir, 'best'), config, batch())));
  const ms = performance.now() - t0;
  clearInterval(timer);
  for (const got of runs) assert.deepEqual(got, expected);
  assert.ok(ticks > ms / 5 / 4, `${ticks} ticks in ${ms.toFixed(0)} ms: this thread was blocked`);

  // The caller's batch is intact afterwards (its pixels were copied, not transferred away).
  const kept = batch();
  await engine.predict(join(checkpointDir, 'best'), config, kept);
  assert.equal(kept.x.length, 64 * config.inputSize * config.inputSize * config.channels);
  assert.ok(kept.targets.task === 'classification' && kept.targets.labels.length === 64 * 2);

  engine.dispose();
  assert.deepEqual(await engine.predict(join(checkpointDir, 'best'), config, batch()), expected, 'a fresh worker after dispose');
  await assert.rejects(engine.predict(join(root, 'no-such-checkpoint'), config, batch()), /no-such-checkpoint|ENOENT|not found/i);
  assert.deepEqual(await engine.predict(join(checkpointDir, 'best'), config, batch()), expected, 'a failed request does not break the worker');
  engine.dispose();
});
