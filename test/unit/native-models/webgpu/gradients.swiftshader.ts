/**
 * Run by webgpu.test.ts in a child process whose environment points Dawn at SwiftShader (never
 * the test runner's own environment): WebGPU gradients against the cpu backend's.
 *
 * Two levels: every op the three model families use, one at a time (so a wrong kernel is named),
 * and each family's whole model + loss (weights and batch identical on both backends), which is
 * every kernel in the composition the trainer runs, forward and backward.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { TaskKind } from '../../../../electron/contract/ml';
import { initWebGpuBackend } from '../../../../native-models/backends/webgpu-setup';
import { createModel, taskHooks } from '../../../../native-models/models/index';
import { boxes, discs, makeBatch, rng, squares, testConfig } from '../synthetic';

/** The bound: |webgpu - cpu| <= 1e-4, relative to the gradient's scale where that exceeds 1. */
const TOL = 1e-4;

/**
 * UpSampling2D's gradient by definition (integer factors, no corner alignment): each input cell
 * receives the sum of the fy x fx block of dy it was copied to. Independent of every backend.
 */
function upsampleGradReference(dy: Float32Array, shape: readonly number[], h: number, w: number): Float32Array {
  const [n = 0, H = 0, W = 0, c = 0] = shape;
  const out = new Float32Array(n * h * w * c);
  const fy = H / h;
  const fx = W / w;
  for (let b = 0; b < n; b++)
    for (let R = 0; R < H; R++)
      for (let C = 0; C < W; C++)
        for (let d = 0; d < c; d++) {
          const o = ((b * h + Math.floor(R / fy)) * w + Math.floor(C / fx)) * c + d;
          out[o] = (out[o] as number) + (dy[((b * H + R) * W + C) * c + d] as number);
        }
  return out;
}

/**
 * tfjs-backend-cpu 4.22's ResizeNearestNeighborGrad offsets dy by the IMAGE's batch stride, so
 * from the second image of a batch on it sums the wrong cells (shown by the first test below).
 * The cpu backend never trains in Fovea, but it is this file's reference: for this one kernel the
 * reference is the definition above, registered on the cpu backend for this process only.
 */
function correctCpuUpsampleGrad(): void {
  tf.unregisterKernel('ResizeNearestNeighborGrad', 'cpu');
  tf.registerKernel({
    kernelName: 'ResizeNearestNeighborGrad',
    backendName: 'cpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { images, dy } = inputs as { images: tf.TensorInfo; dy: tf.TensorInfo };
      const [, h, w] = images.shape as number[];
      const [, H, W] = dy.shape as number[];
      const a = attrs as { alignCorners?: boolean; halfPixelCenters?: boolean } | undefined;
      if (a?.alignCorners || a?.halfPixelCenters || (H as number) % (h as number) || (W as number) % (w as number)) throw new Error('reference kernel: integer upsampling only');
      const cpu = backend as unknown as { readSync(id: tf.DataId): Float32Array; makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo };
      const values = upsampleGradReference(Float32Array.from(cpu.readSync(dy.dataId)), dy.shape, h as number, w as number);
      return cpu.makeTensorInfo(images.shape, 'float32', values);
    },
  });
}

test('upsampling gradient, batch of 2: webgpu equals the definition; tfjs-backend-cpu 4.22 does not (why its kernel is replaced here)', async () => {
  const shape = [2, 4, 4, 3];
  const dyShape = [2, 8, 8, 3];
  const x = data(5, shape);
  const dy = data(6, dyShape);
  const want = upsampleGradReference(dy, dyShape, 4, 4);
  const run = () => [tf.grad((a: tf.Tensor) => tf.image.resizeNearestNeighbor(a as tf.Tensor4D, [8, 8]))(tf.tensor4d(x, shape as [number, number, number, number]), tf.tensor4d(dy, dyShape as [number, number, number, number]))];
  compare('webgpu vs definition', await on('webgpu', run), [want]);
  const stock = (await on('cpu', run))[0] as Float32Array;
  assert.ok(stock.some((v, i) => Math.abs(v - (want[i] as number)) > 1e-3), 'tfjs-backend-cpu was fixed: drop correctCpuUpsampleGrad()');
  correctCpuUpsampleGrad();
  compare('corrected cpu vs definition', await on('cpu', run), [want]);
});

before(async () => {
  assert.ok(process.env['VK_ICD_FILENAMES'], 'run through webgpu.test.ts (it sets SwiftShader for this process only)');
  await tf.setBackend('cpu');
  const adapter = await initWebGpuBackend();
  assert.equal(adapter.software, true, 'SwiftShader is a software adapter');
  await tf.setBackend('cpu');
});

/** Runs fn on a backend; returns its outputs as plain arrays (read asynchronously). */
async function on(backend: 'cpu' | 'webgpu', fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(fn);
  try {
    return await Promise.all(outs.map(async (t) => Float32Array.from((await t.data()) as Float32Array)));
  } finally {
    tf.dispose(outs);
  }
}

function compare(name: string, got: Float32Array[], want: Float32Array[]): void {
  assert.equal(got.length, want.length, name);
  want.forEach((w, i) => {
    const g = got[i] as Float32Array;
    assert.equal(g.length, w.length, `${name}[${i}] length`);
    let scale = 1;
    let worst = 0;
    for (let j = 0; j < w.length; j++) {
      scale = Math.max(scale, Math.abs(w[j] as number));
      assert.ok(Number.isFinite(g[j] as number), `${name}[${i}][${j}] is ${g[j]} on webgpu`);
      worst = Math.max(worst, Math.abs((g[j] as number) - (w[j] as number)));
    }
    assert.ok(worst <= TOL * scale, `${name}[${i}]: max |webgpu - cpu| = ${worst.toExponential(2)} > ${TOL} x ${scale.toFixed(3)}`);
  });
}

function data(seed: number, shape: number[], lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => lo + (hi - lo) * r());
}

/** One op and its gradient with respect to every input, from fixed data. */
interface OpCase {
  name: string;
  inputs: { shape: number[]; lo?: number; hi?: number }[];
  f: (...xs: tf.Tensor[]) => tf.Tensor;
}

const OPS: OpCase[] = [
  { name: 'conv2d same stride 1', inputs: [{ shape: [2, 8, 8, 3] }, { shape: [3, 3, 3, 4] }], f: (x, k) => tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, 'same') },
  { name: 'conv2d same stride 2', inputs: [{ shape: [2, 8, 8, 3] }, { shape: [3, 3, 3, 4] }], f: (x, k) => tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 2, 'same') },
  { name: 'conv2d 1x1 + bias', inputs: [{ shape: [2, 8, 8, 4] }, { shape: [1, 1, 4, 3] }, { shape: [3] }], f: (x, k, b) => tf.add(tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, 'same'), b as tf.Tensor) },
  { name: 'maxPool 2x2', inputs: [{ shape: [2, 8, 8, 3] }], f: (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid') },
  { name: 'maxPool 3x3 same', inputs: [{ shape: [2, 8, 8, 3] }], f: (x) => tf.maxPool(x as tf.Tensor4D, 3, 1, 'same') },
  { name: 'upSampling2d (resizeNearestNeighbor)', inputs: [{ shape: [2, 4, 4, 3] }], f: (x) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [8, 8]) },
  {
    name: 'batchNorm (training statistics)',
    inputs: [{ shape: [4, 4, 4, 3] }, { shape: [3] }, { shape: [3] }],
    f: (x, g, b) => {
      const { mean, variance } = tf.moments(x as tf.Tensor, [0, 1, 2]);
      return tf.batchNorm(x as tf.Tensor4D, mean, variance, b as tf.Tensor1D, g as tf.Tensor1D, 1e-3);
    },
  },
  { name: 'relu', inputs: [{ shape: [64] }], f: (x) => tf.relu(x as tf.Tensor) },
  { name: 'sigmoid', inputs: [{ shape: [64] }], f: (x) => tf.sigmoid(x as tf.Tensor) },
  { name: 'softmax', inputs: [{ shape: [8, 5] }], f: (x) => tf.softmax(x as tf.Tensor) },
  { name: 'log + clipByValue', inputs: [{ shape: [64], lo: 0.01, hi: 1 }], f: (x) => tf.log(tf.clipByValue(x as tf.Tensor, 1e-7, 1 - 1e-7)) },
  { name: 'pow + square + abs', inputs: [{ shape: [64], lo: 0.1, hi: 1 }], f: (x) => tf.add(tf.pow(x as tf.Tensor, 2), tf.add(tf.square(x as tf.Tensor), tf.abs(x as tf.Tensor))) },
  { name: 'concat channels', inputs: [{ shape: [2, 4, 4, 3] }, { shape: [2, 4, 4, 2] }], f: (a, b) => tf.concat([a as tf.Tensor, b as tf.Tensor], -1) },
  { name: 'global average pool (mean)', inputs: [{ shape: [2, 4, 4, 3] }], f: (x) => tf.mean(x as tf.Tensor, [1, 2]) },
  { name: 'dense (matMul + bias)', inputs: [{ shape: [4, 16] }, { shape: [16, 5] }, { shape: [5] }], f: (x, w, b) => tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b as tf.Tensor) },
  { name: 'mul, sub, div, maximum, where', inputs: [{ shape: [64] }, { shape: [64], lo: 0.5, hi: 2 }], f: (a, b) => tf.where(tf.greaterEqual(a as tf.Tensor, 0), tf.div(tf.mul(a as tf.Tensor, b as tf.Tensor), b as tf.Tensor), tf.maximum(tf.sub(a as tf.Tensor, b as tf.Tensor), a as tf.Tensor)) },
  { name: 'slice + reshape + sum', inputs: [{ shape: [2, 6, 6, 3] }], f: (x) => tf.sum(tf.reshape(tf.slice(x as tf.Tensor, [0, 1, 1, 0], [2, 4, 4, 2]), [2, 32]), 1) },
];

for (const op of OPS) {
  test(`gradient of ${op.name}: webgpu = cpu within ${TOL}`, async () => {
    const values = op.inputs.map((inp, i) => data(17 + i * 101, inp.shape, inp.lo, inp.hi));
    // A fixed upstream gradient (not all ones), so every output element weighs differently.
    const run = () => {
      const xs = op.inputs.map((inp, i) => tf.tensor(values[i] as Float32Array, inp.shape));
      const y = op.f(...xs);
      const dy = tf.tensor(data(999, y.shape), y.shape);
      const grads = tf.grads((...a: tf.Tensor[]) => op.f(...a))(xs, dy);
      return [y, ...grads];
    };
    compare(op.name, await on('webgpu', run), await on('cpu', run));
  });
}

/** Small inputs keep SwiftShader (a CPU) fast; detection's smallest input is 32. */
const FAMILIES: { task: TaskKind; gen: typeof squares; size: number }[] = [
  { task: 'classification', gen: squares, size: 16 },
  { task: 'segmentation', gen: discs, size: 16 },
  { task: 'detection', gen: boxes, size: 32 },
];

for (const { task, gen, size } of FAMILIES) {
  test(`${task} model: loss and every weight's gradient, webgpu = cpu within ${TOL}`, async () => {
    const config = testConfig(task, { batchSize: 2, inputSize: size });
    const samples = Array.from({ length: 2 }, (_, i) => gen(rng(50 + i), config.inputSize, config.channels));
    const batch = makeBatch(task, samples, config.inputSize, config.channels, config.classNames.length);
    await tf.setBackend('cpu');
    const weights = await (async () => {
      const m = createModel(config);
      try {
        return await Promise.all(m.getWeights().map(async (w) => ({ shape: w.shape, values: Float32Array.from((await w.data()) as Float32Array) })));
      } finally {
        m.dispose();
      }
    })();
    const gradsOn = async (backend: 'cpu' | 'webgpu'): Promise<Float32Array[]> => {
      await tf.setBackend(backend);
      const model = createModel(config);
      try {
        model.setWeights(weights.map((w) => tf.tensor(w.values, w.shape)));
        // Dropout draws its mask from the layer seed in JavaScript: the same mask on both backends.
        model.layers.forEach((l, j) => {
          if (l.getClassName() === 'Dropout') (l as unknown as { seed?: number }).seed = 1234 + j;
        });
        const hooks = taskHooks(config);
        return await on(backend, () => {
          const x = tf.tensor4d(batch.x, [batch.n, config.inputSize, config.inputSize, config.channels]);
          const targets = hooks.targets(batch);
          const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
          const { value, grads } = tf.variableGrads(() => {
            const out = model.apply(x, { training: true }) as tf.Tensor | tf.Tensor[];
            return hooks.lossAndStats(Array.isArray(out) ? out : [out], targets).loss as tf.Scalar;
          }, vars);
          return [value, ...vars.map((v) => grads[v.name] as tf.Tensor)];
        });
      } finally {
        model.dispose();
      }
    };
    const want = await gradsOn('cpu');
    const got = await gradsOn('webgpu');
    compare(`${task} loss and gradients`, got, want);
  });
}
