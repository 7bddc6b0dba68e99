/**
 * ONNX warm starts at the model level (native-models/train/onnx-warm-start.ts), for every family:
 * - train.py's classifier, U-Net and detector (test/reference/torch_family_onnx.py: random batch
 *   norm statistics, exported as train.py does, which folds each BN into its Conv) fill Fovea's
 *   models layer by layer in order (conv, transposed conv, dense). The filled classifier and U-Net
 *   compute what ONNX Runtime computes from the file: the layouts, the folding and the order are
 *   right. The detector cannot (its stride-2 convs pad 1 on both sides in torch, TF's 'same' pads
 *   after only: the same filters see the image one pixel apart), so there each conv's kernel and
 *   bias are compared with the ONNX initializers put in TF.js layout by numpy
 *   (test/reference/onnx_initializers.py), exactly;
 * - Fovea's own ONNX export (unfolded BatchNormalization, epsilon 1e-3) fills a model built with
 *   another seed with the source's weights exactly, and an ONNX BN with another epsilon keeps
 *   var + eps;
 * - misfits (another channel count, input size or task) are refused naming the first layer;
 *   other classes leave the head as initialised whatever its shape.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import type { TaskKind, TrainConfig } from '../../../electron/contract/ml';
import { createRandom } from '../../../electron/core/samples/seeded-random';
import { convertToOnnx } from '../../../native-models/export/onnx-export';
import { createModel } from '../../../native-models/models/index';
import { loadOnnxRuntime } from '../../../native-models/train/onnx-inference';
import { matchOnnxWarmStart, readOnnxFile, readOnnxWeighted, setOnnxWeights } from '../../../native-models/train/onnx-warm-start';
import { WarmStartMismatch } from '../../../native-models/train/warm-start';
import { REPO_ROOT } from '../../helpers/paths';
import { PYTHON } from '../../helpers/reference-tools';
import { testConfig } from './synthetic';

const root = mkdtempSync(join(tmpdir(), 'fovea-onnx-warm-'));
const CLASSES: Record<TaskKind, string[]> = { classification: ['a', 'b', 'c'], segmentation: ['background', 'a', 'b'], detection: ['a', 'b', 'c'] };
const cfg = (task: TaskKind, over: Partial<TrainConfig> = {}): TrainConfig => testConfig(task, { classNames: CLASSES[task], inputSize: 32, channels: 1, ...over });

before(() => {
  const r = spawnSync(PYTHON, [join(REPO_ROOT, 'test/reference/torch_family_onnx.py'), root, '32', '1', '3'], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, OMP_NUM_THREADS: '1' } });
  assert.equal(r.status, 0, r.stderr.slice(-2000));
});
after(() => rmSync(root, { recursive: true, force: true }));

const weightsOf = (model: tf.LayersModel, layer: string): Float32Array[] => model.getLayer(layer).getWeights().map((w) => w.dataSync() as Float32Array);

for (const task of ['classification', 'segmentation', 'detection'] as const) {
  const what = task === 'detection' ? 'its kernels exactly as numpy transposes them' : 'computes what ONNX Runtime computes';
  test(`train.py's ${task} model (BN folded by torch's exporter) fills Fovea's in order: ${what}`, async () => {
    const path = join(root, `${task}.onnx`);
    const model = createModel(cfg(task));
    try {
      const m = matchOnnxWarmStart(model, readOnnxFile(path, `model ${task}`), { task, newHead: false, label: `model ${task}` });
      assert.deepEqual(m.loaded, model.layers.filter((l) => l.weights.length > 0).map((l) => l.name), 'every weighted layer, in order');
      setOnnxWeights(model, m.values);
      if (task === 'detection') {
        const ref = spawnSync(PYTHON, [join(REPO_ROOT, 'test/reference/onnx_initializers.py'), path], { encoding: 'utf8', timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
        assert.equal(ref.status, 0, ref.stderr);
        const convs = (JSON.parse(ref.stdout) as { conv: { node: string; dims: number[]; kernel: number[]; bias: number[] | null }[] }).conv;
        const layers = model.layers.filter((l) => l.getClassName() === 'Conv2D');
        assert.equal(layers.length, convs.length);
        for (const [i, l] of layers.entries()) {
          const e = convs[i] as (typeof convs)[number];
          const [kernel, bias] = weightsOf(model, l.name);
          const k = kernel as Float32Array;
          assert.equal(k.length, e.kernel.length, l.name);
          const first = k.findIndex((v, j) => v !== e.kernel[j]);
          assert.equal(first, -1, `${l.name}: "${e.node}" in [kh, kw, in, out] differs at ${first}`);
          // A conv without bias has its batch norm after it: the folded bias is the BN's beta.
          const beta = bias ?? weightsOf(model, l.name.replace(/_conv$/, '_bn'))[1];
          assert.deepEqual(Array.from(beta as Float32Array), e.bias ?? Array.from(beta as Float32Array, () => 0), `${l.name} bias`);
        }
        return;
      }
      const ort = await loadOnnxRuntime();
      assert.ok(ort.ok, ort.ok ? '' : ort.reason);
      const r = createRandom(`onnx-${task}`);
      const input = Float32Array.from({ length: 2 * 32 * 32 }, () => r.normal(0, 1));
      const session = await ort.ort.InferenceSession.create(path);
      const out = await session.run({ image: new ort.ort.Tensor('float32', input, [2, 32, 32, 1]) });
      const x = tf.tensor4d(input, [2, 32, 32, 1]);
      const y = model.predict(x);
      const ys = Array.isArray(y) ? y : [y];
      assert.equal(ys.length, session.outputNames.length);
      for (const [i, name] of session.outputNames.entries()) {
        const fovea = await (ys[i] as tf.Tensor).data();
        const onnx = out[name]?.data as Float32Array;
        assert.equal(fovea.length, onnx.length, name);
        const worst = Math.max(...Array.from(fovea, (v, j) => Math.abs(v - (onnx[j] as number))));
        assert.ok(worst < 1e-4, `${task} ${name}: largest difference ${worst}`);
      }
      tf.dispose([x, ...ys]);
    } finally {
      model.dispose();
    }
  });
}

test('Fovea\'s own ONNX export (unfolded batch norm) fills a model of another seed with the source\'s weights exactly', () => {
  for (const task of ['segmentation', 'detection'] as const) {
    const src = createModel(cfg(task, { seed: 1 }));
    // Batch-norm statistics that are not the initial ones.
    for (const l of src.layers.filter((x) => x.getClassName() === 'BatchNormalization')) {
      const r = createRandom(l.name);
      l.setWeights(l.weights.map((w) => tf.tensor(Float32Array.from({ length: w.shape.reduce((a: number, b) => a * (b ?? 1), 1) }, () => 0.5 + r.next()), w.shape as number[])));
    }
    const bytes = convertToOnnx(src).bytes;
    const model = createModel(cfg(task, { seed: 2 }));
    const m = matchOnnxWarmStart(model, readOnnxWeighted(bytes, 'model x'), { task, newHead: false, label: 'model x' });
    setOnnxWeights(model, m.values);
    for (const name of m.loaded) {
      const a = weightsOf(model, name);
      const b = weightsOf(src, name);
      a.forEach((w, i) => assert.deepEqual(Array.from(w), Array.from(b[i] as Float32Array), `${task} ${name} weight ${i}`));
    }
    src.dispose();
    model.dispose();
  }
});

test('an ONNX batch norm with another epsilon keeps var + eps', () => {
  const src = createModel(cfg('classification', { seed: 1 }));
  const decoded = onnxProto.onnx.ModelProto.decode(convertToOnnx(src).bytes);
  for (const n of decoded.graph?.node ?? []) if (n.opType === 'BatchNormalization') for (const a of n.attribute ?? []) if (a.name === 'epsilon') a.f = 1e-5;
  const bytes = onnxProto.onnx.ModelProto.encode(decoded).finish();
  const model = createModel(cfg('classification', { seed: 2 }));
  const m = matchOnnxWarmStart(model, readOnnxWeighted(bytes, 'model x'), { task: 'classification', newHead: false, label: 'model x' });
  setOnnxWeights(model, m.values);
  const variance = (mm: tf.LayersModel): Float32Array => mm.getLayer('stem_bn').getWeights()[3]?.dataSync() as Float32Array;
  const [got, want] = [variance(model), variance(src)];
  got.forEach((v, i) => assert.ok(Math.abs(v + 1e-3 - ((want[i] as number) + 1e-5)) < 1e-7, `${v} + 1e-3 vs ${want[i]} + 1e-5`));
  src.dispose();
  model.dispose();
});

test('misfits are refused naming the first layer; other classes keep the head as initialised', () => {
  const source = readOnnxFile(join(root, 'classification.onnx'), 'model c');
  const refuse = (config: TrainConfig, layer: string, message: RegExp): void => {
    const model = createModel(config);
    try {
      assert.throws(() => matchOnnxWarmStart(model, source, { task: config.task, newHead: false, label: 'model c' }), (e: unknown) => e instanceof WarmStartMismatch && e.layer === layer && message.test(e.message));
    } finally {
      model.dispose();
    }
  };
  refuse(cfg('classification', { channels: 3 }), 'stem_conv', /^layer "stem_conv" does not fit .*kernel of \[3, 3, 1, 16\] in TF\.js layout; the new model's is \[3, 3, 3, 16\]/);
  refuse(cfg('classification', { inputSize: 64 }), 'block3_conv', /^layer "block3_conv" does not fit/);
  refuse(cfg('segmentation'), 'enc0b_conv', /^layer "enc0b_conv" does not fit/);
  // A smaller model: the source has weighted nodes left over.
  const small = createModel(cfg('classification', { inputSize: 16 }));
  assert.throws(() => matchOnnxWarmStart(small, source, { task: 'classification', newHead: false, label: 'model c' }), (e: unknown) => e instanceof WarmStartMismatch && /^layer "head_conv" does not fit|has no counterpart in the new model/.test(e.message));
  small.dispose();

  // Two classes instead of three: everything but the head, which keeps its initial weights.
  const two = cfg('classification', { classNames: ['x', 'y'], seed: 4 });
  const fresh = createModel(two);
  const init = weightsOf(fresh, 'probabilities');
  fresh.dispose();
  const model = createModel(two);
  const m = matchOnnxWarmStart(model, source, { task: 'classification', newHead: true, label: 'model c' });
  assert.deepEqual(m.fresh, ['probabilities']);
  setOnnxWeights(model, m.values);
  weightsOf(model, 'probabilities').forEach((w, i) => assert.deepEqual(Array.from(w), Array.from(init[i] as Float32Array)));
  model.dispose();
  // Not ONNX at all.
  assert.throws(() => readOnnxWeighted(readFileSync(join(REPO_ROOT, 'package.json')), 'model p'), (e: unknown) => e instanceof WarmStartMismatch && /is not an ONNX model/.test(e.message));
});
