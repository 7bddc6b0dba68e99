/**
 * Model export: ONNX outputs equal TF.js outputs (wasm backend) within 1e-4
 * for each of our architectures, on real images (DICOM CT/MR, Penn-Fudan,
 * CamVid from ../shared/testdata) preprocessed exactly as training does
 * (decode, normalise, letterbox); the TF.js files reload to identical
 * predictions; python's onnx.checker accepts every model; unsupported
 * layers are refused by name.
 *
 * onnxruntime-node is a devDependency: imported dynamically, here only.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type * as OrtModule from 'onnxruntime-node';
import type { TrainConfig } from '../../../electron/contract/ml';
import { decodeImage, reduceImage, reductionFor, renderSample, sampleTransform, type Normalization } from '../../../electron/core/training/sample-loader';
import { initWasmBackend } from '../../../native-models/backends/wasm-setup';
import { convertToOnnx, exportLoadedModel, samePadding } from '../../../native-models/export/index';
import { defaultTrainConfig } from '../../../native-models/models/defaults';
import { createModel } from '../../../native-models/models/index';
import { fileSystemHandler } from '../../../native-models/train/checkpoint-io';
import { SHARED_TESTDATA } from '../../helpers/paths';

type Ort = typeof OrtModule;
let ort: Ort;
const dir = mkdtempSync(join(tmpdir(), 'fovea-model-export-'));

before(async () => {
  await initWasmBackend();
  ort = await import('onnxruntime-node');
});
after(() => rmSync(dir, { recursive: true, force: true }));

const TOLERANCE = 1e-4;

/** Real files, preprocessed like training: decode, normalise, reduce, letterbox (no augmentation). */
async function realBatch(files: string[], size: number, channels: 1 | 3, normalization: Normalization): Promise<tf.Tensor4D> {
  const xs: Float32Array[] = [];
  for (const f of files) {
    const bytes = readFileSync(join(SHARED_TESTDATA, f));
    const kind = f.endsWith('.png') ? 'image' : 'dicom';
    const source = { itemId: 1, frameIndex: 0, kind, blobSha256: 'x', width: 0, height: 0, colour: channels === 3, patientKey: null } as const;
    const image = await decodeImage({ read: () => bytes }, source, normalization, channels);
    const r = reductionFor(image.width, image.height, size);
    const decoded = { image: reduceImage(image, r), reduction: r, sourceWidth: image.width, sourceHeight: image.height, classMap: null, missingMasks: [], bytes: 0 };
    xs.push(renderSample(decoded, sampleTransform(image.width, image.height, size, null)).x);
  }
  const all = new Float32Array(xs.reduce((n, x) => n + x.length, 0));
  let off = 0;
  for (const x of xs) {
    all.set(x, off);
    off += x.length;
  }
  return tf.tensor4d(all, [files.length, size, size, channels]);
}

/**
 * Trained-looking weights: the factories' initial kernels (He/Glorot, so
 * activations keep their scale), and every other weight moved off its
 * initial value (batch-norm statistics, scales and shifts, biases), so
 * that batch norm and biases matter in the comparison.
 */
function perturb(model: tf.LayersModel, seed: number): void {
  const ws = model.weights.map((w, i) =>
    tf.tidy(() => {
      const base = w.originalName.split('/').pop() ?? '';
      const current = w.read();
      const r = tf.randomNormal(w.shape as number[], 0, 0.2, 'float32', seed + i);
      if (base === 'kernel' || base === 'depthwise_kernel') return tf.clone(current);
      if (base === 'moving_variance') return tf.exp(tf.mul(r, 1.5));
      return tf.add(current, r);
    }),
  );
  model.setWeights(ws);
  tf.dispose(ws);
}

async function runOnnx(bytes: Uint8Array, x: tf.Tensor4D, inputName: string): Promise<Record<string, { dims: readonly number[]; data: Float32Array }>> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const feeds = { [inputName]: new ort.Tensor('float32', x.dataSync() as Float32Array, x.shape) };
    const out = await session.run(feeds);
    const result: Record<string, { dims: readonly number[]; data: Float32Array }> = {};
    for (const name of session.outputNames) result[name] = { dims: out[name]!.dims, data: out[name]!.data as Float32Array };
    return result;
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

function onnxCheck(path: string): void {
  execFileSync('/usr/bin/python3', ['-c', 'import onnx,sys; m=onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); print("ok")', path], { stdio: 'pipe' });
}

/** Exports one model to ONNX and compares with TF.js; returns the largest difference. */
async function compare(label: string, model: tf.LayersModel, config: TrainConfig, x: tf.Tensor4D): Promise<number> {
  const art = await exportLoadedModel(model, config, 'onnx');
  const file = art.files[0]!;
  assert.equal(file.name, 'model.onnx');
  const path = join(dir, `${label}.onnx`);
  writeFileSync(path, file.bytes);
  onnxCheck(path);
  assert.deepEqual(art.inputs[0]?.shape, [null, config.inputSize, config.inputSize, config.channels]);
  const want = tf.tidy(() => {
    const o = model.predict(x) as tf.Tensor | tf.Tensor[];
    return (Array.isArray(o) ? o : [o]).map((t) => ({ shape: t.shape, data: t.dataSync() as Float32Array }));
  });
  const got = await runOnnx(file.bytes, x, art.inputs[0]!.name);
  assert.equal(art.outputs.length, want.length);
  let worst = 0;
  art.outputs.forEach((spec, i) => {
    const g = got[spec.name];
    assert.ok(g, `${label}: ONNX output ${spec.name}`);
    assert.deepEqual([...g.dims], want[i]!.shape, `${label}: ${spec.name} shape`);
    const d = maxAbsDiff(g.data, want[i]!.data);
    worst = Math.max(worst, d);
    const v = want[i]!.data;
    let lo = Infinity;
    let hi = -Infinity;
    let unsaturated = 0;
    for (const q of v) {
      lo = Math.min(lo, q);
      hi = Math.max(hi, q);
      if (Math.abs(q) > 1e-5 && Math.abs(q - 1) > 1e-5) unsaturated++;
    }
    console.log(`${label}/${spec.name}: ${v.length} values in [${lo.toPrecision(3)}, ${hi.toPrecision(3)}], max |onnx - tfjs| ${d.toExponential(2)}`);
    // A comparison of saturated outputs (all 0 or 1) would prove little.
    assert.ok(unsaturated > (3 * v.length) / 4, `${label}: ${spec.name} is mostly saturated`);
    assert.ok(d <= TOLERANCE, `${label}: ${spec.name} differs by ${d}`);
  });
  return worst;
}

test("TF's SAME padding: the extra pixel goes at the end", () => {
  assert.deepEqual(samePadding(32, 3, 2), { out: 16, before: 0, after: 1 });
  assert.deepEqual(samePadding(7, 2, 2), { out: 4, before: 0, after: 1 });
  assert.deepEqual(samePadding(33, 3, 2), { out: 17, before: 1, after: 1 });
  assert.deepEqual(samePadding(16, 3, 1, 2), { out: 16, before: 2, after: 2 });
});

test('classifier (DICOM CT/MR, per-image normalisation): ONNX == TF.js within 1e-4', async () => {
  const config: TrainConfig = { ...defaultTrainConfig('classification', ['ct', 'mr', 'other'], 1), inputSize: 28 };
  const model = createModel(config);
  perturb(model, 11);
  const x = await realBatch(['dicom/pydicom/CT_small.dcm', 'dicom/pydicom/MR_small.dcm', 'dicom/pydicom/dicomdirtests/77654033/CT2/17106'], 28, 1, config.normalization);
  const d = await compare('classifier', model, config, x);
  console.log(`classifier max |onnx - tfjs| = ${d.toExponential(2)}`);
  x.dispose();
  model.dispose();
});

test('detector (Penn-Fudan photos, unit normalisation): heatmap, size and offset within 1e-4', async () => {
  const config: TrainConfig = { ...defaultTrainConfig('detection', ['pedestrian'], 3), inputSize: 64 };
  const model = createModel(config);
  perturb(model, 23);
  const x = await realBatch(['train/pennfudan_ped/PNGImages/FudanPed00001.png', 'train/pennfudan_ped/PNGImages/FudanPed00002.png'], 64, 3, config.normalization);
  const d = await compare('detector', model, config, x);
  console.log(`detector max |onnx - tfjs| = ${d.toExponential(2)}`);
  x.dispose();
  model.dispose();
});

test('U-Net (CamVid road scenes): per-pixel probabilities within 1e-4', async () => {
  const config: TrainConfig = { ...defaultTrainConfig('segmentation', ['background', 'road', 'car'], 3), inputSize: 32 };
  const model = createModel(config);
  perturb(model, 37);
  const x = await realBatch(['train/camvid/val/0016E5_07959.png', 'train/camvid/val/0016E5_07967.png'], 32, 3, config.normalization);
  const d = await compare('unet', model, config, x);
  console.log(`unet max |onnx - tfjs| = ${d.toExponential(2)}`);
  x.dispose();
  model.dispose();
});

test('U-Net and detector on the ImageNet encoder (depthwise convs, ReLU6, residual adds): ONNX == TF.js within 1e-4', async () => {
  const x = await realBatch(['train/camvid/val/0016E5_07959.png', 'train/camvid/val/0016E5_07967.png'], 64, 3, { kind: 'unit' });
  for (const task of ['segmentation', 'detection'] as const) {
    const config: TrainConfig = { ...defaultTrainConfig(task, task === 'segmentation' ? ['background', 'road', 'car'] : ['car'], 3), inputSize: 64, encoder: 'imagenet-mobilenetv2' };
    const model = createModel(config);
    // The frozen encoder keeps its shipped weights; the trainable layers get trained-looking ones.
    const frozen = new Map(model.weights.filter((w) => w.originalName.startsWith('mnv2_')).map((w) => [w.originalName, w.read().clone()]));
    perturb(model, task === 'segmentation' ? 41 : 23);
    model.weights.filter((w) => frozen.has(w.originalName)).forEach((w) => w.write(frozen.get(w.originalName) as tf.Tensor));
    const d = await compare(`${task}-imagenet`, model, config, x);
    console.log(`${task} on the encoder: max |onnx - tfjs| = ${d.toExponential(2)}`);
    tf.dispose([...frozen.values()]);
    model.dispose();
  }
  x.dispose();
});

test('other layers (odd sizes, pooling, padding, flatten order, concat, bilinear upsampling, dense) convert exactly', async () => {
  const input = tf.input({ shape: [15, 15, 3], name: 'image' });
  const a = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c1' }).apply(input) as tf.SymbolicTensor; // 8x8
  const b = tf.layers.zeroPadding2d({ padding: [[1, 0], [0, 1]], name: 'zp' }).apply(a) as tf.SymbolicTensor; // 9x9
  const c = tf.layers.averagePooling2d({ poolSize: 2, strides: 2, padding: 'same', name: 'avg' }).apply(b) as tf.SymbolicTensor; // 5x5
  const d = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'max' }).apply(b) as tf.SymbolicTensor; // 5x5
  const e = tf.layers.concatenate({ name: 'cat' }).apply([c, d]) as tf.SymbolicTensor;
  const f = tf.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear', name: 'up' }).apply(e) as tf.SymbolicTensor; // 10x10
  const g = tf.layers.conv2d({ filters: 2, kernelSize: 3, dilationRate: 2, padding: 'same', activation: 'tanh', name: 'dil' }).apply(f) as tf.SymbolicTensor;
  const h = tf.layers.leakyReLU({ alpha: 0.1, name: 'leaky' }).apply(g) as tf.SymbolicTensor;
  const i = tf.layers.flatten({ name: 'flat' }).apply(h) as tf.SymbolicTensor;
  const j = tf.layers.dense({ units: 5, activation: 'softmax', name: 'probabilities' }).apply(i) as tf.SymbolicTensor;
  const k = tf.layers.reshape({ targetShape: [10, 10, 2], name: 'reshape' }).apply(i) as tf.SymbolicTensor;
  const l = tf.layers.multiply({ name: 'mul' }).apply([k, g]) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: [j, l], name: 'zoo' });
  perturb(model, 5);
  const x = await realBatch(['train/pennfudan_ped/PNGImages/FudanPed00004.png', 'dicom/pydicom/SC_rgb_rle.dcm'], 15, 3, { kind: 'unit' });
  const config: TrainConfig = { ...defaultTrainConfig('classification', ['a', 'b', 'c', 'd', 'e'], 3), inputSize: 15 };
  await compare('zoo', model, config, x);
  x.dispose();
  model.dispose();
});

test('a layer the ONNX export cannot convert is refused by name (UNSUPPORTED)', () => {
  const input = tf.input({ shape: [8, 8, 1], name: 'image' });
  const y = tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', name: 'ok_conv' }).apply(input) as tf.SymbolicTensor;
  const z = tf.layers.permute({ dims: [2, 1, 3], name: 'odd_permute' }).apply(y) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: z });
  assert.throws(() => convertToOnnx(model), (e: Error) => /^UNSUPPORTED: layer "odd_permute" is a Permute/.test(e.message));
  model.dispose();
});

test('TF.js export: model.json + shards reload (file handler) to identical predictions', async () => {
  const config: TrainConfig = { ...defaultTrainConfig('segmentation', ['background', 'lesion'], 1), inputSize: 32 };
  const model = createModel(config);
  perturb(model, 3);
  const art = await exportLoadedModel(model, config, 'tfjs');
  assert.deepEqual(
    art.files.map((f) => f.name),
    ['model.json', 'group1-shard1of1.bin'],
  );
  const out = join(dir, 'tfjs');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(out);
  for (const f of art.files) writeFileSync(join(out, f.name), f.bytes);
  const json = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as { format: string; weightsManifest: { paths: string[] }[]; userDefinedMetadata: { fovea: { task: string } } };
  assert.equal(json.format, 'layers-model');
  assert.equal(json.userDefinedMetadata.fovea.task, 'segmentation');
  const loaded = await tf.loadLayersModel(fileSystemHandler(out));
  const x = await realBatch(['dicom/pydicom/CT_small.dcm', 'dicom/pydicom/MR_small.dcm'], 32, 1, config.normalization);
  const a = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync());
  const b = tf.tidy(() => (loaded.predict(x) as tf.Tensor).dataSync());
  assert.deepEqual(b, a);
  x.dispose();
  model.dispose();
  loaded.dispose();
});
