/**
 * Warm starts from an imported ONNX model (issue 13 item 6), with the model users have: the
 * `model.onnx` of the PyTorch hand-off (export-training, then train.py for 4 epochs at 16 px
 * on the same 12x12 grey images), imported with import-model. torch's exporter folds every batch
 * norm into the conv before it, so the ONNX has biased Convs and a Gemm, no BatchNormalization.
 * - the weights land transposed: each Conv's kernel in the new Fovea model equals the ONNX
 *   initializer put in TF.js layout by numpy (test/reference/onnx_initializers.py), exactly, the
 *   Gemm's as [in, out]; and the warm-started model, before any training, computes the
 *   probabilities ONNX Runtime computes from the file;
 * - a run started from it (by its name, or `--from-model PATH.onnx`) has a lower first-epoch
 *   validation loss than one from scratch with the same seed and data, and says "started from
 *   model NAME (...)" in its config, audit and report; other classes keep all but the head;
 * - a model that does not fit (another input size: the classifier's depth follows it; another
 *   task) is the request's VALIDATION error naming the first layer, and no run is created.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { parseFromModel } from '../../../../electron/cli/commands/train';
import { describeWarmStart } from '../../../../electron/contract/runs';
import { importModel } from '../../../../electron/core/assist/model-import';
import { exportTraining } from '../../../../electron/core/export/training-export';
import { runReportModel } from '../../../../electron/core/report/report-export';
import { createRandom } from '../../../../electron/core/samples/seeded-random';
import { createAssistEngine } from '../../../../native-models/assist/assist-engine';
import { createModel } from '../../../../native-models/models/index';
import { applyOnnxWarmStart, calibrateFoldedBatchNorms } from '../../../../native-models/train/onnx-warm-start';
import { loadOnnxRuntime } from '../../../../native-models/train/onnx-inference';
import { REPO_ROOT } from '../../../helpers/paths';
import { PYTHON } from '../../../helpers/reference-tools';
import { tempCore } from '../../../helpers/temp-library';
import { train } from '../../../helpers/train-py';

/** n grey images, bright or dark, labelled with `names` [dark, bright]; returns the labels CSV. */
async function writeImages(dir: string, n: number, names: [string, string]): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const r = createRandom('onnx-warm');
  const rows = ['filename,label'];
  for (let i = 0; i < n; i++) {
    const k = i % 2;
    const px = Buffer.from(Array.from({ length: 144 }, () => Math.max(0, Math.min(255, Math.round((k ? 150 : 105) + r.normal(0, 40))))));
    const name = `img_${String(i).padStart(3, '0')}.png`;
    writeFileSync(join(dir, name), await sharp(px, { raw: { width: 12, height: 12, channels: 1 } }).png().toBuffer());
    rows.push(`${name},${names[k]}`);
  }
  const csv = join(dir, '..', `${names.join('-')}.csv`);
  writeFileSync(csv, `${rows.join('\n')}\n`);
  return csv;
}

const engine = createAssistEngine();
const base = { batchSize: 8, backend: 'wasm' as const, augment: { flipHorizontal: false, rotateDegrees: 0, scale: 0, intensity: 0 } };
let lib: ReturnType<typeof tempCore>;
let shades = 0;
let tones = 0;
/** train.py's model.onnx (beside its model card and pack manifest). */
let onnxPath = '';
const MODEL = 'shades-torch';

before(async () => {
  lib = tempCore({ assist: engine, modelPacksDir: null });
  const { core, dir } = lib;
  const ids: number[] = [];
  // Tones only asks whether its classes fit (a new head): a few images do.
  for (const [dsName, names, n] of [['Shades', ['dark', 'bright'], 40], ['Tones', ['shadow', 'light'], 12]] as const) {
    const imgDir = join(dir, dsName);
    const csv = await writeImages(imgDir, n, [names[0], names[1]]);
    const ds = core.datasets.create(dsName, '');
    await core.importFiles({ datasetId: ds.id, paths: [imgDir] });
    await core.importLabels(ds.id, csv, 'csv', 'test');
    const items = (core.db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY id').all(ds.id) as { id: number }[]).map((i) => i.id);
    // Both classes in validation (even images are dark, odd ones bright).
    core.splits.setSplit(ds.id, items.filter((_, i) => i % 8 === 0 || i % 8 === 3), 'val');
    core.splits.setSplit(ds.id, items.filter((_, i) => i % 8 === 1), 'test');
    core.splits.setSplit(ds.id, items.filter((_, i) => i % 8 > 1 && i % 8 !== 3), 'train');
    ids.push(ds.id);
  }
  [shades, tones] = ids as [number, number];
  // The hand-off: the dataset for PyTorch, train.py on one process, its model.onnx imported.
  const out = join(dir, 'shades-pytorch');
  const t0 = performance.now();
  await exportTraining(core.trainingExportDeps(), { datasetId: shades, task: 'classification', target: 'pytorch', outDir: out });
  // Batches of 4: enough steps for torch's running statistics (momentum 0.1) to reach the data's, so the exported (eval-mode) model is a good one.
  const trained = train(out, 1, ['--epochs', '4', '--input-size', '16', '--batch-size', '4', '--lr', '0.01', '--no-augment']);
  const best = trained.events.filter((e) => e['event'] === 'epoch').map((e) => e['valLoss'] as number);
  process.stdout.write(`# train.py validation loss per epoch: ${best.map((x) => x.toFixed(3)).join(', ')}\n`);
  process.stdout.write(`# train.py: ${trained.seconds.toFixed(1)} s\n`);
  onnxPath = join(out, 'output', 'model', 'model.onnx');
  await importModel(core.modelImportDeps(), { path: onnxPath, name: MODEL });
  process.stdout.write(`# hand-off (export-training, train.py 4 epochs, import-model): ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
});
after(async () => {
  lib?.cleanup();
  await engine.dispose();
});

test('the ONNX weights land in the Fovea model in TF.js layouts (exactly), and it computes what ONNX Runtime computes', { timeout: 60_000 }, async () => {
  const ref = spawnSync(PYTHON, [join(REPO_ROOT, 'test/reference/onnx_initializers.py'), onnxPath], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(ref.status, 0, ref.stderr);
  type Weighted = { node: string; dims: number[]; kernel: number[]; bias: number[] | null };
  const expected = JSON.parse(ref.stdout) as { conv: Weighted[]; dense: Weighted[] };
  // The dataset's channels (grey PNGs are read as RGB), as train.py saw them.
  const config = { ...lib.core.trainingPlan(shades, 'classification').defaults, inputSize: 16 };
  const model = createModel(config);
  try {
    const match = applyOnnxWarmStart(model, onnxPath, { task: 'classification', newHead: false, label: `model ${MODEL}` });
    assert.deepEqual(match.loaded, ['stem_conv', 'stem_bn', 'block1_conv', 'block1_bn', 'head_conv', 'head_bn', 'probabilities']);
    assert.deepEqual(match.fresh, []);
    const convs = ['stem', 'block1', 'head'];
    assert.equal(expected.conv.length, convs.length, 'one Conv per conv-BN pair (torch folded the batch norms)');
    for (const [i, name] of convs.entries()) {
      const e = expected.conv[i] as Weighted;
      const kernel = model.getLayer(`${name}_conv`).getWeights()[0] as tf.Tensor;
      assert.deepEqual(kernel.shape, e.dims, `${name}_conv shape`);
      assert.deepEqual(Array.from(kernel.dataSync()), e.kernel, `${name}_conv: the ONNX initializer of "${e.node}" transposed to [kh, kw, in, out], exactly`);
      // The folded bias is the batch norm's beta; the BN passes the conv through (gamma 1, mean 0, var + eps = 1).
      const [gamma, beta, mean] = model.getLayer(`${name}_bn`).getWeights().map((w) => Array.from(w.dataSync()));
      assert.deepEqual(beta, e.bias, `${name}_bn beta = the folded Conv bias`);
      assert.ok(gamma?.every((g) => g === 1) && mean?.every((m) => m === 0));
    }
    const dense = model.getLayer('probabilities').getWeights().map((w) => Array.from(w.dataSync()));
    assert.deepEqual(dense[0], expected.dense[0]?.kernel, 'the Gemm weights as [in, out]');
    assert.deepEqual(dense[1], expected.dense[0]?.bias);

    // The folded batch norms measured on data (as the trainer does before its first step) keep the function.
    assert.deepEqual(match.folded, ['stem_bn', 'block1_bn', 'head_bn']);
    const r = createRandom('onnx-input');
    const input = Float32Array.from({ length: 4 * 16 * 16 * config.channels }, () => r.normal(0, 1));
    async function* batches(): AsyncGenerator<tf.Tensor4D> {
      const x = tf.tensor4d(input.map((v) => v * 0.5 + 0.2), [4, 16, 16, config.channels]);
      yield x;
      x.dispose();
    }
    assert.equal(await calibrateFoldedBatchNorms(model, match.folded ?? [], batches()), 4);
    const [gamma, , mean] = model.getLayer('block1_bn').getWeights().map((w) => Array.from(w.dataSync()));
    assert.ok(mean?.some((m) => Math.abs(m) > 1e-3) && gamma?.some((g) => Math.abs(g - 1) > 1e-3), 'measured statistics');

    // The same function: probabilities from Fovea's model and from ONNX Runtime on the file.
    const ortLoad = await loadOnnxRuntime();
    assert.ok(ortLoad.ok, ortLoad.ok ? '' : ortLoad.reason);
    const session = await ortLoad.ort.InferenceSession.create(onnxPath);
    const feeds = { [session.inputNames[0] as string]: new ortLoad.ort.Tensor('float32', input, [4, 16, 16, config.channels]) };
    const onnxOut = (await session.run(feeds))[session.outputNames[0] as string]?.data as Float32Array;
    const x = tf.tensor4d(input, [4, 16, 16, config.channels]);
    const y = model.predict(x) as tf.Tensor;
    const fovea = await y.data();
    tf.dispose([x, y]);
    const worst = Math.max(...Array.from(fovea, (p, i) => Math.abs(p - (onnxOut[i] as number))));
    assert.ok(worst < 1e-5, `largest probability difference ${worst}`);
  } finally {
    model.dispose();
  }
});

test('a run started from the imported ONNX model: lower first-epoch validation loss than from scratch, recorded, audited and reported; other classes get a new head', { timeout: 120_000 }, async (t) => {
  const { core } = lib;
  const warm = await core.training.train(shades, 'classification', { ...base, epochs: 1, seed: 7, warmStartModelName: MODEL });
  const scratch = await core.training.train(shades, 'classification', { ...base, inputSize: 16, epochs: 1, seed: 7 });
  assert.equal(warm.outcome.status, 'done', JSON.stringify(warm.outcome));
  assert.equal(scratch.outcome.status, 'done', JSON.stringify(scratch.outcome));
  const warmRun = core.runDetail(warm.runId);
  assert.equal(warmRun.config.inputSize, 16, 'the model\'s input size (its manifest)');
  const [w1, s1] = [warmRun.epochCurve[0]?.valLoss ?? NaN, core.runDetail(scratch.runId).epochCurve[0]?.valLoss ?? NaN];
  t.diagnostic(`first-epoch validation loss: from ${MODEL} ${w1.toFixed(4)}, from scratch ${s1.toFixed(4)}`);
  assert.ok(w1 < s1, `first-epoch validation loss: warm ${w1} vs scratch ${s1}`);
  const ws = warmRun.config.warmStart;
  assert.ok(ws);
  assert.deepEqual([ws.runId, ws.model, ws.onnx, ws.layersLoaded, ws.layersNew], [null, MODEL, 'imported', 7, 0]);
  assert.equal(describeWarmStart(ws), `started from model ${MODEL} (all 7 layers loaded)`);
  const audit = core.db.prepare("SELECT details FROM audit_log WHERE action = 'train.start' AND object_id = ?").get(String(warm.runId)) as { details: string };
  assert.deepEqual(JSON.parse(audit.details).warmStart, { runId: null, model: MODEL, onnx: 'imported', layersLoaded: 7, layersNew: 0 });
  assert.ok(!audit.details.includes(lib.dir), 'no path in the audit log');

  const report = await runReportModel(core, warm.runId, 'val');
  assert.deepEqual(report.model.facts.find(([k]) => k === 'Weights'), ['Weights', `started from model ${MODEL} (all 7 layers loaded)`]);

  // Other classes: all but the head.
  const tw = await core.training.checkWarmStartRequest(tones, 'classification', { warmStartModelName: MODEL });
  assert.ok(tw);
  assert.deepEqual([tw.layersLoaded, tw.layersNew, tw.newLayers], [6, 1, ['probabilities']]);
  assert.equal(describeWarmStart(tw), `started from model ${MODEL} (6 layers loaded, head new)`);

  // The file itself (`--from-model PATH.onnx`): classes and input size from the model card beside it.
  const fromFile = await core.training.checkWarmStartRequest(shades, 'classification', parseFromModel(onnxPath));
  assert.deepEqual(fromFile && [fromFile.onnx, fromFile.layersLoaded, fromFile.layersNew], ['file', 7, 0]);
  assert.deepEqual(parseFromModel(MODEL), { warmStartModelName: MODEL });
});

test('an ONNX model that does not fit is the request\'s VALIDATION error naming the layer, and no run is created', { timeout: 60_000 }, async () => {
  const { core } = lib;
  const runsBefore = core.runs.list().length;
  // At 64 px the classifier has three down-sampling levels; the model was trained at 16 px (one).
  const bigger = await core.dispatch('training.start', { datasetId: shades, task: 'classification', inputSize: 64, epochs: 1, backend: 'wasm', warmStartModel: MODEL });
  assert.ok(!bigger.ok);
  assert.equal(bigger.error.code, 'VALIDATION');
  assert.match(bigger.error.message, new RegExp(`^Cannot start from model ${MODEL}: layer "block2_conv" does not fit .*Model ${MODEL} was trained at 16 px: leave the input size empty to use it\\.$`));
  const seg = await core.dispatch('training.start', { datasetId: shades, task: 'segmentation', epochs: 1, warmStartModel: MODEL });
  assert.ok(!seg.ok);
  assert.match(seg.error.message, /is a classification model/);
  const missing = await core.dispatch('training.start', { datasetId: shades, task: 'classification', epochs: 1, warmStartModel: 'no-such-model' });
  assert.ok(!missing.ok);
  assert.equal(missing.error.code, 'NOT_FOUND');
  await assert.rejects(core.training.train(shades, 'classification', { ...base, inputSize: 64, epochs: 1, warmStartModelPath: onnxPath }), /layer "block2_conv"/);
  assert.equal(core.runs.list().length, runsBefore, 'no run was created');
});
