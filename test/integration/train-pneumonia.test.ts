/**
 * Real training on real data: PneumoniaMNIST (28x28 chest X-rays, normal vs
 * pneumonia) imported as PNGs with a label CSV and its own train/val/test
 * split, trained through the core's training service on the wasm backend,
 * and scored on the held-out test split with the best checkpoint. The issue's
 * bar: at least 0.85 test accuracy.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLibraryBatchProvider } from '../../electron/core/training/library-batch-provider';
import { collectSamples } from '../../electron/core/training/training-samples';
import { writePneumoniaMnist } from '../helpers/pneumoniamnist';
import { tempCore } from '../helpers/temp-library';

test('a classifier trained on PneumoniaMNIST reaches at least 0.85 accuracy on its test split', { timeout: 600_000 }, async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const files = await writePneumoniaMnist(join(dir, 'pneumonia'));
  const ds = core.datasets.create('PneumoniaMNIST', '');
  const imp = await core.importFiles({ datasetId: ds.id, paths: [files.imagesDir] });
  assert.equal(imp.counts.failed, 0);
  // A few images of the data set are byte-identical copies: imported once, the rest reported as duplicates.
  const duplicates = new Set(imp.notImported.filter((f) => f.outcome === 'duplicate').map((f) => f.path.split('/').pop() ?? ''));
  assert.ok(duplicates.size < 20, `${duplicates.size} duplicates`);
  const labels = await core.importLabels(ds.id, files.labelsCsv, 'csv', 'test');
  assert.deepEqual(new Set(labels.unmatchedImages), duplicates, 'only the duplicate files are unmatched');

  // The dataset's own split, set as the user's (Fovea never redraws it).
  const rows = core.db.prepare('SELECT id, source_name FROM items WHERE dataset_id = ?').all(ds.id) as { id: number; source_name: string }[];
  for (const s of ['train', 'val', 'test'] as const) {
    core.splits.setSplit(ds.id, rows.filter((r) => files.split.get(r.source_name) === s).map((r) => r.id), s);
  }

  const epochs: number[] = [];
  const { runId, outcome } = await core.training.train(ds.id, 'classification', { epochs: 6, inputSize: 32, batchSize: 64, backend: 'wasm', seed: 7 }, {
    onEpoch: (_id, r) => epochs.push(r.valMetrics['accuracy'] ?? NaN),
  });
  assert.equal(outcome.status === 'done' || outcome.status === 'stopped-early', true, JSON.stringify(outcome));
  assert.equal(outcome.backend, 'wasm');
  assert.ok(outcome.bestEpoch !== null);
  const run = core.runs.get(runId);
  assert.equal(run.epochsCompleted, outcome.epochsCompleted);
  assert.equal(core.runs.epochs(runId).length, outcome.epochsCompleted);

  // Score the test split with the best checkpoint.
  const collected = collectSamples(core.db, ds.id, 'classification');
  const provider = createLibraryBatchProvider({ blobs: core.blobs, db: core.db }, { samples: collected.samples, splits: core.splits.splitMap(ds.id), config: run.config });
  let correct = 0;
  let total = 0;
  for await (const batch of provider.testBatches()) {
    if (batch.targets.task !== 'classification') throw new Error('wrong task');
    const labelsArr = batch.targets.labels;
    const preds = await core.ml.predict(join(core.training.checkpointDir(runId), 'best'), run.config, batch);
    preds.forEach((p, i) => {
      if (p.task !== 'classification') return;
      const predicted = p.probabilities.indexOf(Math.max(...p.probabilities));
      const truth = labelsArr[i * 2 + 1] === 1 ? 1 : 0;
      if (predicted === truth) correct++;
      total++;
    });
  }
  provider.dispose();
  const accuracy = correct / total;
  process.stdout.write(`# PneumoniaMNIST: ${total} test images, accuracy ${accuracy.toFixed(4)}, val accuracy per epoch ${epochs.map((a) => a.toFixed(3)).join(' ')}\n`);
  assert.equal(total, files.counts.test - [...duplicates].filter((n) => files.split.get(n) === 'test').length);
  assert.ok(accuracy >= 0.85, `test accuracy ${accuracy}`);
});
