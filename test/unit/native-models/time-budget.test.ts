/**
 * Time budgets: the clock's decisions on an injected clock, and real
 * training runs with a tiny budget that stop in time with a best
 * checkpoint, reporting the budget left as they go: one whose first epoch
 * is far longer than the budget (cut short, validated and saved) and one
 * whose epochs are short (as many whole epochs as fit).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { BatchProgress } from '../../../electron/contract/ml';
import { initWasmBackend } from '../../../native-models/backends/wasm-setup';
import { createMlEngine } from '../../../native-models/engine';
import { checkpointExists } from '../../../native-models/train/checkpoint-io';
import { SAVE_RESERVE_SECONDS, TrainingBudget } from '../../../native-models/train/time-budget';
import { discs, SyntheticProvider, testConfig } from './synthetic';

const engine = createMlEngine({ workerless: true });
const dirs: string[] = [];
before(async () => {
  await initWasmBackend();
});
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('the budget clock: the first epoch and batch always run; later ones only while two batches and the reserve fit', () => {
  let ms = 0;
  const b = new TrainingBudget(60, () => ms);
  assert.equal(b.nextEpochFits(100, 100), true);
  assert.equal(b.takeBatch(0, 100, 100), true, 'an epoch never ends before its first batch');
  ms = 40_000;
  assert.equal(b.takeBatch(5, 1, 10), true);
  assert.equal(b.takeBatch(5, 1, 60 - 40 - 1 - SAVE_RESERVE_SECONDS + 0.5), false);
  assert.equal(b.exhausted, true);
  const c = new TrainingBudget(60, () => ms);
  ms += 40_000;
  c.epochDone();
  assert.equal(c.nextEpochFits(5, 5), true, '40 s used + 2 x 5 s + 5 s + saving <= 60 s, though a 40 s epoch would not fit');
  ms += 10_000;
  assert.equal(c.nextEpochFits(5, 5), false, '50 s used + 2 x 5 s + 5 s > 60 s');
  assert.equal(Math.round(c.left()), 10);
  assert.throws(() => new TrainingBudget(0), RangeError);
});

for (const { name, trainBatches, budget } of [
  { name: 'an epoch longer than the budget is cut short, validated and saved', trainBatches: 100_000, budget: 8 },
  { name: 'short epochs: epochs until the budget ends', trainBatches: 2, budget: 6 },
]) {
  test(`a tiny time budget: ${name}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fovea-budget-'));
    dirs.push(dir);
    const config = testConfig('segmentation', { epochs: 10_000, batchSize: 4, timeBudgetSeconds: budget });
    const provider = new SyntheticProvider(config, discs, { trainBatches, valBatches: 2 });
    const progress: BatchProgress[] = [];
    const t0 = performance.now();
    const outcome = await engine.train(config, provider, { checkpointDir: dir, onBatch: (p) => progress.push(p) });
    const seconds = (performance.now() - t0) / 1000;
    assert.equal(outcome.status, 'done', JSON.stringify(outcome.error));
    assert.ok(outcome.epochsCompleted >= 1 && outcome.epochsCompleted < config.epochs, String(outcome.epochsCompleted));
    if (trainBatches > 1000) assert.equal(outcome.epochsCompleted, 1);
    else assert.ok(outcome.epochsCompleted >= 2, `several short epochs fit (${outcome.epochsCompleted})`);
    assert.ok(checkpointExists(join(dir, 'best')), 'the best checkpoint is kept');
    assert.ok(outcome.bestEpoch !== null);
    // Start-up (backend, model) is not charged to the budget; the training itself ends in time.
    assert.ok(seconds < budget + 5, `ended after ${seconds.toFixed(1)} s for a ${budget} s budget`);
    const left = progress.map((p) => p.budgetLeftSeconds);
    assert.ok(left.every((v) => v !== undefined && v >= 0 && v <= budget), 'every progress report carries the budget left');
    assert.ok(progress.length >= 2 && (left.at(-1) as number) < (left[0] as number), 'the budget left falls');
  });
}
