/**
 * Progress that moves with the work (issue 19 item 10), at the core, against the real engine:
 * - the sample library reports a weighted fraction that only goes forward, phase by phase;
 * - a training run names what it does between Start and its first batch (collecting, loading the
 *   backend, building the model, decoding the first batch, the first step), in that order;
 * - an evaluation counts images, one by one, after a 'Loading the model' step, and ends with the metrics.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { evaluateRun } from '../../../../electron/core/evaluation/evaluate-run';
import { createSampleLibrary, SAMPLE_PHASES, type SampleLibraryStep } from '../../../../electron/core/samples/sample-library';
import type { StartPhase } from '../../../../electron/core/training/start-phases';
import { tempCore } from '../../../helpers/temp-library';

test('the sample library reports a weighted fraction that only goes forward, through every phase in order', { timeout: 120_000 }, async (t) => {
  const { core, cleanup } = tempCore();
  t.after(cleanup);
  const steps: SampleLibraryStep[] = [];
  await createSampleLibrary(core, { size: 'tiny', onProgress: (s) => steps.push(s) });
  for (let i = 1; i < steps.length; i++) assert.ok((steps[i]?.fraction ?? 0) >= (steps[i - 1]?.fraction ?? 0), `step ${i} went back`);
  assert.equal(steps[0]?.fraction, 0);
  assert.equal(steps.at(-1)?.fraction, 1);
  assert.deepEqual([...new Set(steps.map((s) => s.phase))], SAMPLE_PHASES.map((p) => p.label));
  // Each phase starts once; generating moves slice by slice and scene by scene, not only at its ends
  // (imports report every few files: 'tiny' is too small to see it).
  assert.equal(steps.filter((s) => s.phaseStart).length, SAMPLE_PHASES.length);
  for (const label of ['Generating synthetic CT studies', 'Generating road scenes']) {
    assert.ok(new Set(steps.filter((s) => s.phase === label).map((s) => s.fraction)).size >= 3, label);
  }
});

test('training names its phases before the first batch; evaluation counts images one by one', { timeout: 180_000 }, async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const imgs = join(dir, 'imgs');
  mkdirSync(imgs, { recursive: true });
  const rows = ['filename,label'];
  for (let i = 0; i < 40; i++) {
    const name = `img_${String(i).padStart(3, '0')}.png`;
    writeFileSync(join(imgs, name), await sharp(Buffer.alloc(12 * 12, i % 2 ? 140 + i : 20 + i), { raw: { width: 12, height: 12, channels: 1 } }).png().toBuffer());
    rows.push(`${name},${i % 2 ? 'bright' : 'dark'}`);
  }
  writeFileSync(join(dir, 'labels.csv'), `${rows.join('\n')}\n`);
  const ds = core.datasets.create('Shades', '');
  await core.importFiles({ datasetId: ds.id, paths: [imgs] });
  await core.importLabels(ds.id, join(dir, 'labels.csv'), 'csv', 'test');

  const seen: (StartPhase | 'batch')[] = [];
  const { runId, outcome } = await core.training.train(ds.id, 'classification', { epochs: 1, inputSize: 16, batchSize: 8, backend: 'wasm', seed: 3 }, {
    onPhase: (p) => seen.push(p),
    onBatch: () => seen.push('batch'),
  });
  assert.ok(outcome.status === 'done' || outcome.status === 'stopped-early', JSON.stringify(outcome));
  const firstBatch = seen.indexOf('batch');
  assert.ok(firstBatch > 0);
  const before = seen.slice(0, firstBatch) as StartPhase[];
  assert.ok(seen.slice(firstBatch).every((s) => s === 'batch'), 'no phase after the first batch');
  const changes = before.filter((p) => p.changed).map((p) => p.phase.replace(/\d+\/\d+/, 'n/m'));
  assert.deepEqual(changes, [
    'Preparing data: collecting the labelled images',
    'Loading the wasm backend',
    'Building the model',
    'Preparing data: decoding n/m images of the first batch',
    'First epoch: training the first batch',
  ]);
  // Decoding counts up to the first batch's images.
  const decoding = before.filter((p) => p.total !== null);
  assert.ok(decoding.length >= 2);
  assert.equal(decoding[0]?.done, 0);
  assert.equal(decoding.at(-1)?.done, 8);
  assert.ok(decoding.every((p) => p.total === 8));

  const progress: { done: number; total: number; phase: string }[] = [];
  const report = await evaluateRun(core, runId, { split: 'all', store: false, onProgress: (done, total, phase) => progress.push({ done, total, phase }) });
  assert.equal(report.n, 40);
  assert.deepEqual(progress[0], { done: 0, total: 40, phase: 'Loading the model' });
  assert.deepEqual(progress.filter((p) => p.phase === 'Predicting').map((p) => p.done), Array.from({ length: 40 }, (_, i) => i + 1));
  assert.deepEqual(progress.at(-1), { done: 40, total: 40, phase: 'Computing metrics' });
});
