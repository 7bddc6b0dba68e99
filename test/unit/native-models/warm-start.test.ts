/**
 * Warm starts at the model level (native-models/train/warm-start.ts): a checkpoint's weights fill a
 * new model by layer name and shape. Same classes: every layer, equal to the source's; other
 * classes: every layer but the head, which keeps its fresh initial weights; an input size that
 * builds the same layers fits; another architecture or channel count is refused naming the first
 * layer that does not fit. The engine's checkWarmStart says the same without reading weights.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type * as tf from '@tensorflow/tfjs';
import type { TrainConfig } from '../../../electron/contract/ml';
import { initWasmBackend } from '../../../native-models/backends/wasm-setup';
import { createMlEngine } from '../../../native-models/engine';
import { createModel } from '../../../native-models/models/index';
import { loadCheckpointModel, saveCheckpoint } from '../../../native-models/train/checkpoint-io';
import { applyWarmStart, WarmStartMismatch } from '../../../native-models/train/warm-start';
import { testConfig } from './synthetic';

const root = mkdtempSync(join(tmpdir(), 'fovea-warm-'));
const engine = createMlEngine({ workerless: true });
before(async () => {
  await initWasmBackend();
});
after(() => {
  engine.dispose();
  rmSync(root, { recursive: true, force: true });
});

/** A source checkpoint of `config` (weights from its seed), and its folder. */
async function source(name: string, config: TrainConfig): Promise<string> {
  const dir = join(root, name);
  const model = createModel(config);
  await saveCheckpoint(dir, model);
  model.dispose();
  return dir;
}

function weightsOf(model: tf.LayersModel, layer: string): Float32Array[] {
  return model.getLayer(layer).getWeights().map((w) => w.dataSync() as Float32Array);
}

function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((x, i) => x.forEach((v, j) => (m = Math.max(m, Math.abs(v - ((b[i] as Float32Array)[j] as number))))));
  return m;
}

test('same classes: every layer with weights is loaded, equal to the source', async () => {
  const cfg = testConfig('classification', { seed: 1 });
  const dir = await source('same', cfg);
  const src = await loadCheckpointModel(dir);
  const model = createModel({ ...cfg, seed: 99 });
  assert.ok(maxAbsDiff(weightsOf(model, 'block1_conv'), weightsOf(src, 'block1_conv')) > 1e-3, 'another seed starts elsewhere');
  const m = await applyWarmStart(model, { dir, classNames: cfg.classNames, label: 'run 1' }, cfg);
  assert.deepEqual(m.fresh, []);
  assert.deepEqual(m.loaded, model.layers.filter((l) => l.weights.length > 0).map((l) => l.name));
  for (const name of m.loaded) assert.equal(maxAbsDiff(weightsOf(model, name), weightsOf(src, name)), 0, name);
  model.dispose();
  src.dispose();
});

test('new classes: the body is loaded and the head is new; the check says the same without weights', async () => {
  const cfg = testConfig('classification', { seed: 1 });
  const dir = await source('classes', cfg);
  const target = { ...cfg, classNames: ['cat', 'dog'], seed: 5 };
  const fresh = createModel(target);
  const freshHead = weightsOf(fresh, 'probabilities');
  fresh.dispose();
  const ref = await loadCheckpointModel(dir);
  const model = createModel(target);
  const m = await applyWarmStart(model, { dir, classNames: cfg.classNames, label: 'run 1' }, target);
  assert.deepEqual(m.fresh, ['probabilities']);
  assert.ok(m.loaded.includes('block2_conv') && m.loaded.includes('head_conv') && m.loaded.includes('stem_bn'), m.loaded.join(','));
  assert.equal(maxAbsDiff(weightsOf(model, 'block2_conv'), weightsOf(ref, 'block2_conv')), 0, 'a body layer equals the source');
  assert.ok(maxAbsDiff(weightsOf(model, 'probabilities'), weightsOf(ref, 'probabilities')) > 1e-3, 'the head differs from the source');
  assert.equal(maxAbsDiff(weightsOf(model, 'probabilities'), freshHead), 0, 'the head is initialised as usual');
  model.dispose();
  ref.dispose();

  const check = await engine.checkWarmStart({ dir, classNames: cfg.classNames, label: 'run 1' }, target);
  assert.ok(check.ok);
  assert.deepEqual(check.fresh, ['probabilities']);

  // A segmentation head with more classes is new too.
  const seg = testConfig('segmentation');
  const segDir = await source('seg', seg);
  const segCheck = await engine.checkWarmStart({ dir: segDir, classNames: seg.classNames, label: 'run 2' }, { ...seg, classNames: ['background', 'vessel', 'disc'] });
  assert.ok(segCheck.ok, JSON.stringify(segCheck));
  assert.deepEqual(segCheck.fresh, ['probabilities']);
});

test('another input size that builds the same layers fits; another architecture or channel count is refused naming the layer', async () => {
  const cfg = testConfig('classification', { inputSize: 32 });
  const dir = await source('sizes', cfg);
  const ref = { dir, classNames: cfg.classNames, label: 'run 3' };
  const smaller = await engine.checkWarmStart(ref, { ...cfg, inputSize: 28 });
  assert.ok(smaller.ok && smaller.fresh.length === 0, JSON.stringify(smaller));

  const deeper = await engine.checkWarmStart(ref, { ...cfg, inputSize: 64 });
  assert.ok(!deeper.ok);
  assert.equal(deeper.layer, 'block3_conv');
  assert.match(deeper.message, /^layer "block3_conv" of the new model has no weights in run 3 \(no block3_conv\/kernel\)/);

  const colour = await engine.checkWarmStart(ref, { ...cfg, channels: 3 });
  assert.ok(!colour.ok);
  assert.equal(colour.layer, 'stem_conv');
  assert.match(colour.message, /layer "stem_conv" does not fit: stem_conv\/kernel is \[3, 3, 1, 16\] in run 3 and \[3, 3, 3, 16\] in the new model/);

  const shallower = await engine.checkWarmStart(ref, { ...cfg, inputSize: 16 });
  assert.ok(!shallower.ok);
  assert.equal(shallower.layer, 'head_conv', 'one level fewer: the head conv sees 32 filters, not 64');

  const detector = await engine.checkWarmStart(ref, testConfig('detection', { inputSize: 32 }));
  assert.ok(!detector.ok);

  // The trainer refuses the same way (a mismatch never trains from half-loaded weights).
  const model = createModel({ ...cfg, channels: 3 });
  await assert.rejects(applyWarmStart(model, ref, cfg), (e: unknown) => e instanceof WarmStartMismatch && e.layer === 'stem_conv');
  model.dispose();
});
