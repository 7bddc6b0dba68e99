/**
 * The ImageNet encoder that ships (native-models/models/imagenet-encoder.ts): its vendored weights
 * and card, the folded, frozen encoder against the Keras graph it came from (rebuilt here from
 * the same weights with tf ops: Keras's zero padding, 'valid' convs, batch norm with the moving
 * statistics, ReLU6, the residual adds), and a U-Net on it that trains on wasm with its encoder
 * left as it was.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { UsageError } from '../../../electron/cli/cli-context';
import { parseRunStartOptions } from '../../../electron/cli/commands/runs';
import { encoderProblem } from '../../../electron/contract/runs';
import { initWasmBackend } from '../../../native-models/backends/wasm-setup';
import { createMlEngine } from '../../../native-models/engine';
import { imagenetEncoderDir, imagenetEncoderWeights, mobilenetV2Encoder } from '../../../native-models/models/imagenet-encoder';
import { createModel, validateConfig } from '../../../native-models/models/index';
import { loadCheckpointModel } from '../../../native-models/train/checkpoint-io';
import { boxes, discs, SyntheticProvider, testConfig } from './synthetic';

const engine = createMlEngine({ workerless: true });
const dirs: string[] = [];
before(async () => {
  await initWasmBackend();
});
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('the vendored weights: a card with provenance and licence, the SHA-256 checked, 165 tensors of blocks 0-10', () => {
  const dir = imagenetEncoderDir();
  assert.ok(dir, 'found from the source tree');
  const card = JSON.parse(readFileSync(join(dir, 'encoder.json'), 'utf8')) as { source: string; license: string; weights: { name: string }[] };
  assert.match(card.source, /nsfwjs@4\.3\.0/);
  assert.match(card.license, /MIT/);
  assert.match(readFileSync(join(dir, 'NOTICE.txt'), 'utf8'), /Infinite Red/);
  const w = imagenetEncoderWeights();
  assert.equal(w.size, 165);
  assert.ok(w.has('block_10_project_BN/moving_variance') && !w.has('block_11_expand/kernel'), 'blocks 0-10 only: later blocks were retrained on other data');
});

/** Keras's MobileNetV2 up to block 10 in plain tf ops on the same weights (batch norms not folded). */
function kerasReference(x: tf.Tensor4D): tf.Tensor4D[] {
  const w = imagenetEncoderWeights();
  const t = (name: string): tf.Tensor => {
    const v = w.get(name);
    assert.ok(v, name);
    return tf.tensor(v.values, v.shape);
  };
  const bn = (y: tf.Tensor4D, name: string): tf.Tensor4D => tf.batchNorm(y, t(`${name}/moving_mean`) as tf.Tensor1D, t(`${name}/moving_variance`) as tf.Tensor1D, t(`${name}/beta`) as tf.Tensor1D, t(`${name}/gamma`) as tf.Tensor1D, 1e-3);
  const relu6 = (y: tf.Tensor4D): tf.Tensor4D => tf.clipByValue(y, 0, 6);
  const pad = (y: tf.Tensor4D): tf.Tensor4D => tf.pad(y, [[0, 0], [0, 1], [0, 1], [0, 0]]);
  const conv = (y: tf.Tensor4D, name: string, stride = 1): tf.Tensor4D => (stride === 2 ? tf.conv2d(pad(y), t(`${name}/kernel`) as tf.Tensor4D, 2, 'valid') : tf.conv2d(y, t(`${name}/kernel`) as tf.Tensor4D, 1, 'same'));
  const dw = (y: tf.Tensor4D, name: string, stride: number): tf.Tensor4D => (stride === 2 ? tf.depthwiseConv2d(pad(y), t(`${name}/depthwise_kernel`) as tf.Tensor4D, 2, 'valid') : tf.depthwiseConv2d(y, t(`${name}/depthwise_kernel`) as tf.Tensor4D, 1, 'same'));
  return tf.tidy(() => {
    let y = relu6(bn(conv(x, 'Conv1', 2), 'bn_Conv1'));
    y = relu6(bn(dw(y, 'expanded_conv_depthwise', 1), 'expanded_conv_depthwise_BN'));
    y = bn(conv(y, 'expanded_conv_project'), 'expanded_conv_project_BN');
    const out = [y];
    const strides = [2, 1, 2, 1, 1, 2, 1, 1, 1, 1];
    const adds = new Set([2, 4, 5, 7, 8, 9]);
    for (let b = 1; b <= 10; b++) {
      const s = strides[b - 1] as number;
      let z = relu6(bn(conv(y, `block_${b}_expand`), `block_${b}_expand_BN`));
      z = relu6(bn(dw(z, `block_${b}_depthwise`, s), `block_${b}_depthwise_BN`));
      z = bn(conv(z, `block_${b}_project`), `block_${b}_project_BN`);
      y = adds.has(b) ? tf.add(y, z) : z;
      if (b === 2 || b === 5 || b === 10) out.push(y);
    }
    return out;
  });
}

test('the folded, frozen encoder equals the Keras graph on the same weights (RGB, and grey as R = G = B)', () => {
  const prev = tf.getBackend();
  tf.setBackend('cpu');
  try {
    const x = tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
    const want = kerasReference(x);
    const input = tf.input({ shape: [64, 64, 3] });
    const f = mobilenetV2Encoder(input, 3);
    const model = tf.model({ inputs: input, outputs: [f.half, f.quarter, f.eighth, f.sixteenth] });
    assert.equal(model.trainableWeights.length, 0, 'frozen');
    const got = model.predict(x) as tf.Tensor[];
    const shapes = [[2, 32, 32, 16], [2, 16, 16, 24], [2, 8, 8, 32], [2, 4, 4, 96]];
    got.forEach((g, i) => {
      assert.deepEqual(g.shape, shapes[i]);
      const diff = tf.max(tf.abs(tf.sub(g, want[i] as tf.Tensor))).dataSync()[0] as number;
      const scale = tf.max(tf.abs(want[i] as tf.Tensor)).dataSync()[0] as number;
      assert.ok(diff <= 1e-5 * Math.max(1, scale), `output ${i}: ${diff} (max ${scale})`);
    });
    const grey = tf.randomUniform([1, 64, 64, 1], 0, 1, 'float32', 12) as tf.Tensor4D;
    const gi = tf.input({ shape: [64, 64, 1] });
    const gm = tf.model({ inputs: gi, outputs: mobilenetV2Encoder(gi, 1).sixteenth });
    const fromGrey = gm.predict(grey) as tf.Tensor;
    const fromRgb = (kerasReference(tf.tile(grey, [1, 1, 1, 3])) as tf.Tensor[])[3] as tf.Tensor;
    assert.ok((tf.max(tf.abs(tf.sub(fromGrey, fromRgb))).dataSync()[0] as number) < 1e-4);
  } finally {
    tf.setBackend(prev);
  }
});

test('a U-Net on the encoder trains on wasm: the decoder learns, the encoder stays as shipped, the checkpoint loads', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fovea-encoder-'));
  dirs.push(dir);
  const config = testConfig('segmentation', { inputSize: 64, channels: 3, epochs: 2, batchSize: 4, encoder: 'imagenet-mobilenetv2' });
  assert.equal(validateConfig(config), null);
  assert.match(validateConfig({ ...config, inputSize: 48 }) ?? '', /multiple of 32/);
  const fresh = createModel(config);
  const outcome = await engine.train(config, new SyntheticProvider(config, discs, { trainBatches: 3, valBatches: 1 }), { checkpointDir: dir });
  assert.equal(outcome.status, 'done', JSON.stringify(outcome.error));
  const trained = await loadCheckpointModel(join(dir, 'epoch-2'));
  const byName = (m: tf.LayersModel): Map<string, Float32Array> => new Map(m.weights.map((w) => [w.originalName, w.read().dataSync() as Float32Array]));
  const before_ = byName(fresh);
  const after_ = byName(trained);
  const encoder = [...before_.keys()].filter((n) => n.startsWith('mnv2_'));
  assert.ok(encoder.length >= 60);
  for (const n of encoder) assert.deepEqual(after_.get(n), before_.get(n), `${n} unchanged`);
  const decoder = [...before_.keys()].filter((n) => n.startsWith('dec0') && n.endsWith('kernel'));
  assert.ok(decoder.length > 0 && decoder.every((n) => !tf.util.arraysEqual(after_.get(n) as Float32Array, before_.get(n) as Float32Array)), 'the decoder trained');
  fresh.dispose();
  trained.dispose();
});

test('a detector on the encoder trains on wasm with its encoder as shipped; the CLI and the contract take the choice', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fovea-encoder-det-'));
  dirs.push(dir);
  const config = testConfig('detection', { inputSize: 64, channels: 3, epochs: 1, batchSize: 4, encoder: 'imagenet-mobilenetv2' });
  const fresh = createModel(config);
  assert.equal(fresh.name, 'fovea_detector_imagenet');
  const outcome = await engine.train(config, new SyntheticProvider(config, boxes, { trainBatches: 2, valBatches: 1 }), { checkpointDir: dir });
  assert.equal(outcome.status, 'done', JSON.stringify(outcome.error));
  const trained = await loadCheckpointModel(join(dir, 'epoch-1'));
  const encoderWeights = (m: tf.LayersModel): Float32Array[] => m.weights.filter((w) => w.originalName.startsWith('mnv2_')).map((w) => w.read().dataSync() as Float32Array);
  assert.deepEqual(encoderWeights(trained), encoderWeights(fresh));
  assert.match(validateConfig({ ...config, inputSize: 48 }) ?? '', /multiple of 32/);
  fresh.dispose();
  trained.dispose();

  assert.deepEqual(parseRunStartOptions({ encoder: 'imagenet-mobilenetv2' }), { encoder: 'imagenet-mobilenetv2' });
  assert.deepEqual(parseRunStartOptions({ encoder: 'none' }), { encoder: null });
  assert.throws(() => parseRunStartOptions({ encoder: 'resnet50' }), (e: Error) => e instanceof UsageError && /--encoder: The pretrained encoder is imagenet-mobilenetv2/.test(e.message));
  assert.match(encoderProblem('classification', 'imagenet-mobilenetv2') ?? '', /segmentation and detection runs/);
  assert.equal(encoderProblem('detection', 'imagenet-mobilenetv2'), null);
});
