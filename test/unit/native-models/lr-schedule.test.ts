/**
 * The learning-rate schedule (native-models/train/lr-schedule.ts): the cosine's values, the rate
 * Adam then steps with, and real training runs that record the rate of each epoch, over the
 * epochs and over a time budget.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { type EpochResult, LR_COSINE_FLOOR } from '../../../electron/contract/ml';
import { initWasmBackend } from '../../../native-models/backends/wasm-setup';
import { createMlEngine } from '../../../native-models/engine';
import { adam } from '../../../native-models/train/fused-adam';
import { scheduledLearningRate, scheduleProgress } from '../../../native-models/train/lr-schedule';
import { discs, squares, SyntheticProvider, testConfig } from './synthetic';

const engine = createMlEngine({ workerless: true });
const dirs: string[] = [];
before(async () => {
  await initWasmBackend();
});
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const close = (a: number, b: number, tol = 1e-9): boolean => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

test('the cosine: the base rate at the start, the floor at the end, half-way at the middle; constant stays', () => {
  assert.equal(scheduledLearningRate('cosine', 1e-3, 0), 1e-3);
  assert.ok(close(scheduledLearningRate('cosine', 1e-3, 1), 1e-3 * LR_COSINE_FLOOR));
  assert.ok(close(scheduledLearningRate('cosine', 1e-3, 0.5), 1e-3 * (LR_COSINE_FLOOR + (1 - LR_COSINE_FLOOR) / 2)));
  assert.ok(close(scheduledLearningRate('cosine', 1e-3, 2), 1e-3 * LR_COSINE_FLOOR), 'past the end: the floor');
  assert.equal(scheduledLearningRate('cosine', 1e-3, -1), 1e-3);
  assert.equal(scheduledLearningRate('cosine', 1e-3, Number.NaN), 1e-3);
  const rates = Array.from({ length: 11 }, (_, i) => scheduledLearningRate('cosine', 1, i / 10));
  assert.ok(rates.every((r, i) => i === 0 || r < (rates[i - 1] as number)), 'falls at every step');
  assert.equal(scheduledLearningRate('constant', 1e-3, 0.7), 1e-3);
  assert.equal(scheduledLearningRate(undefined, 1e-3, 0.7), 1e-3);
  assert.equal(scheduleProgress({ budgetSeconds: 600, elapsedSeconds: 150, epoch: 9, batch: 3, batchesPerEpoch: 4, epochs: 1000 }), 0.25, 'a budget: the time elapsed');
  assert.equal(scheduleProgress({ budgetSeconds: null, elapsedSeconds: 150, epoch: 2, batch: 2, batchesPerEpoch: 4, epochs: 5 }), 0.3, 'else the epochs: (1 + 2/4) / 5');
});

test("Adam steps with the rate set last: a first step moves each weight by the rate (Adam's bias-corrected m/sqrt(v) is the gradient's sign)", () => {
  const prev = tf.getBackend();
  for (const backend of ['wasm', 'cpu']) {
    tf.setBackend(backend);
    const w = tf.variable(tf.tensor1d([1, 2, 3, 4]), true, `lr-w-${backend}`);
    const g = tf.tensor1d([0.5, -2, 3, -0.1]);
    const opt = adam(0.1);
    opt.setLearningRate(0.004);
    opt.applyGradients([{ name: w.name, tensor: g }]);
    const delta = Array.from(w.dataSync()).map((v, i) => v - (i + 1));
    assert.ok(
      delta.every((d, i) => Math.abs(Math.abs(d) - 0.004) < 1e-5 && Math.sign(d) === -Math.sign(g.dataSync()[i] as number)),
      `${backend}: ${delta.join(', ')}`,
    );
    opt.dispose();
    w.dispose();
    g.dispose();
  }
  tf.setBackend(prev);
});

test('a cosine run over its epochs records the rate of each epoch, falling to the schedule', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fovea-lr-'));
  dirs.push(dir);
  const config = testConfig('classification', { epochs: 3, batchSize: 8, learningRate: 2e-3, lrSchedule: 'cosine' });
  const provider = new SyntheticProvider(config, squares, { trainBatches: 2, valBatches: 1 });
  const history: EpochResult[] = [];
  const outcome = await engine.train(config, provider, { checkpointDir: dir, onEpoch: (e) => history.push(e) });
  assert.equal(outcome.status, 'done', JSON.stringify(outcome.error));
  const rates = history.map((e) => e.learningRate);
  // The last step of epoch e is its batch 1 of 2: progress (e - 1 + 1/2) / 3.
  const expected = [1, 2, 3].map((e) => scheduledLearningRate('cosine', 2e-3, (e - 1 + 0.5) / 3));
  assert.deepEqual(rates.length, 3);
  rates.forEach((r, i) => assert.ok(r !== undefined && close(r, expected[i] as number), `epoch ${i + 1}: ${r} vs ${expected[i]}`));

  // A constant run records none (its rate is the config's).
  const constantDir = mkdtempSync(join(tmpdir(), 'fovea-lr-'));
  dirs.push(constantDir);
  const constant: EpochResult[] = [];
  await engine.train({ ...config, lrSchedule: 'constant', epochs: 1 }, provider, { checkpointDir: constantDir, onEpoch: (e) => constant.push(e) });
  assert.equal(constant.length, 1);
  assert.equal(constant[0]?.learningRate, undefined);
});

test('under a time budget the rate follows the clock: it falls epoch by epoch and ends low', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fovea-lr-budget-'));
  dirs.push(dir);
  const budget = 10;
  const config = testConfig('segmentation', { epochs: 10_000, batchSize: 4, learningRate: 1e-3, lrSchedule: 'cosine', timeBudgetSeconds: budget });
  const provider = new SyntheticProvider(config, discs, { trainBatches: 2, valBatches: 1 });
  const history: EpochResult[] = [];
  const outcome = await engine.train(config, provider, { checkpointDir: dir, onEpoch: (e) => history.push(e) });
  assert.equal(outcome.status, 'done', JSON.stringify(outcome.error));
  const rates = history.map((e) => e.learningRate as number);
  assert.ok(rates.length >= 3, `several epochs fit (${rates.length})`);
  assert.ok(rates.every((r, i) => i === 0 || r < (rates[i - 1] as number)), `falls: ${rates.map((r) => r.toExponential(2)).join(' ')}`);
  // Training stops before the reserve for validation and saving, so the last step is past half the budget, not at its end.
  assert.ok((rates.at(-1) as number) < 0.5 * config.learningRate, `ends low (${rates.at(-1)})`);
});
