/**
 * Checks every kernel native-models/backends/wasm-kernels registers for 'wasm'
 * against the cpu backend (the reference implementation bundled in
 * @tensorflow/tfjs): same inputs, outputs within 1e-4 of the reference's
 * largest magnitude. Each kernel runs three ways: convolutions on ONNX Runtime
 * (ort-conv.ts), then with the generated SIMD kernels, then with their
 * fallbacks. Then one end-to-end check: tf.variableGrads of a
 * small conv net loss agrees between cpu and wasm.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initWasmBackend, wasmBackendInfo } from '../../../native-models/backends/wasm-setup';
import { backpropFilterOnOrt, ortConvKernelsActive, setOrtBackpropFilterForced, setOrtBackpropFilterTileBytes, setOrtConvKernelsEnabled } from '../../../native-models/backends/ort-conv';
import { conv, convBnRelu, seedSequence } from '../../../native-models/models/blocks';
import { segmentationLoss, segmentationTargets } from '../../../native-models/models/unet';
import { adam } from '../../../native-models/train/fused-adam';
import {
  WASM_TRAINING_KERNELS,
  registerWasmTrainingKernels,
  setWasmSimdKernelsEnabled,
  unregisterWasmTrainingKernels,
} from '../../../native-models/backends/wasm-kernels';

const TOL = 1e-4;

type Shape = number[];
type Inputs = Record<string, { shape: Shape; values: Float32Array | Int32Array; dtype?: 'float32' | 'int32' }>;

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

const size = (shape: Shape): number => shape.reduce((a, b) => a * b, 1);

function rand(shape: Shape, seed: number): { shape: Shape; values: Float32Array } {
  return { shape, values: values(size(shape), seed) };
}

interface Result {
  shape: Shape;
  values: Float32Array | Int32Array | Uint8Array;
}

async function runOn(backend: 'cpu' | 'wasm', kernel: string, inputs: Inputs, attrs: Record<string, unknown>): Promise<Result[]> {
  await tf.setBackend(backend);
  const tensors: Record<string, tf.Tensor> = {};
  for (const [name, t] of Object.entries(inputs)) tensors[name] = tf.tensor(t.values, t.shape, t.dtype ?? 'float32');
  // Concat takes its inputs as an array.
  const list = Object.keys(tensors).every((k) => /^\d+$/.test(k)) ? (Object.values(tensors) as unknown as tf.NamedTensorMap) : tensors;
  const out = tf.engine().runKernel(kernel, list, attrs as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
  const outs = Array.isArray(out) ? out : [out];
  const res = outs.map((t) => ({ shape: t.shape, values: t.dataSync() as Float32Array | Int32Array | Uint8Array }));
  tf.dispose([...outs, ...Object.values(tensors)]);
  return res;
}

/** Largest |got - want| over the largest |want| (0 when both are all zero). */
function relErr(want: ArrayLike<number>, got: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as number;
    const g = got[i] as number;
    if (Number.isNaN(w) !== Number.isNaN(g)) return Infinity;
    if (!Number.isNaN(w)) diff = Math.max(diff, Math.abs(w - g));
    scale = Math.max(scale, Math.abs(w));
  }
  return diff === 0 ? 0 : diff / Math.max(scale, 1e-30);
}

/** Worst relative error seen per kernel, reported at the end. */
const worst = new Map<string, number>();

function assertClose(label: string, kernel: string, want: Result[], got: Result[]): void {
  assert.equal(got.length, want.length, `${label}: output count`);
  want.forEach((w, i) => {
    const g = got[i] as Result;
    assert.deepEqual(g.shape, w.shape, `${label}: shape`);
    const err = relErr(w.values, g.values);
    worst.set(kernel, Math.max(worst.get(kernel) ?? 0, err));
    assert.ok(err <= TOL, `${label}: relative error ${err.toExponential(2)} > ${TOL}`);
  });
}

async function check(kernel: string, label: string, inputs: Inputs, attrs: Record<string, unknown>, reference?: Result[]): Promise<void> {
  const want = reference ?? (await runOn('cpu', kernel, inputs, attrs));
  // Convolutions run on ONNX Runtime when it loads (ort-conv.ts), else on our SIMD kernels, else
  // without SIMD: each path is checked. With ort, Conv2DBackpropFilter is forced onto ONNX Runtime
  // for every shape (by default not for 1-3 channel inputs or stride 2), untiled and in tiles of
  // 1 byte (one output row per call) and 4 KB (row runs, or whole images when one fits).
  for (const [ort, simd, tile] of [[true, true, null], [true, true, 1], [true, true, 4096], [false, true, null], [false, false, null]] as const) {
    if (tile != null && kernel !== 'Conv2DBackpropFilter') continue;
    setOrtConvKernelsEnabled(ort);
    setWasmSimdKernelsEnabled(simd);
    if (ort) setOrtBackpropFilterForced(true);
    setOrtBackpropFilterTileBytes(tile ?? 2 ** 40);
    try {
      assertClose(`${kernel} ${label} ort=${ort} simd=${simd}${tile != null ? ` tile=${tile}` : ''}`, kernel, want, await runOn('wasm', kernel, inputs, attrs));
    } finally {
      setOrtBackpropFilterTileBytes(null);
      setOrtBackpropFilterForced(false);
      setWasmSimdKernelsEnabled(true);
      setOrtConvKernelsEnabled(true);
    }
  }
}

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
const CONVS: { x: Shape; f: Shape; strides: number | [number, number]; pad: Pad }[] = [
  { x: [2, 7, 7, 3], f: [3, 3, 3, 8], strides: 1, pad: 'same' },
  { x: [2, 8, 8, 4], f: [3, 3, 4, 8], strides: 2, pad: 'same' },
  { x: [3, 9, 9, 2], f: [3, 3, 2, 4], strides: 2, pad: 'valid' },
  { x: [2, 6, 7, 5], f: [2, 3, 5, 4], strides: [1, 2], pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { x: [2, 8, 8, 4], f: [2, 2, 4, 8], strides: 2, pad: 'valid' },
  { x: [2, 7, 6, 3], f: [3, 2, 3, 4], strides: [2, 1], pad: 'same' },
  { x: [1, 5, 5, 1], f: [5, 5, 1, 4], strides: 1, pad: 'same' },
  { x: [1, 5, 5, 2], f: [3, 3, 2, 4], strides: 1, pad: [[0, 0], [3, 3], [3, 3], [0, 0]] },
  { x: [2, 10, 10, 8], f: [1, 1, 8, 12], strides: 1, pad: 'valid' },
  { x: [2, 16, 16, 16], f: [3, 3, 16, 32], strides: 1, pad: 'same' },
  // Output channels not a multiple of 4: the operand-swapped GEMM, then im2col.
  { x: [2, 8, 8, 4], f: [3, 3, 4, 6], strides: 1, pad: 'same' },
  { x: [2, 9, 9, 16], f: [1, 1, 16, 1], strides: 2, pad: 'same' },
  { x: [2, 8, 8, 3], f: [3, 3, 3, 5], strides: 1, pad: 'valid' },
  // Stride 1 with >= 8 input channels: Conv2DBackpropInput as a flipped-filter Conv on ORT.
  { x: [2, 9, 8, 8], f: [3, 2, 8, 4], strides: 1, pad: [[0, 0], [2, 0], [0, 1], [0, 0]] },
  { x: [2, 9, 9, 12], f: [3, 3, 12, 8], strides: 1, pad: 'valid' },
  // Odd sizes with stride 2 (bottom/right padding the stride leaves unused).
  { x: [2, 9, 11, 4], f: [3, 3, 4, 8], strides: 2, pad: 'same' },
  { x: [2, 10, 9, 4], f: [3, 3, 4, 4], strides: [2, 3], pad: 'valid' },
  // A larger shape (the ORT paths' GEMMs block over it).
  { x: [2, 6, 6, 16], f: [3, 3, 16, 64], strides: 1, pad: 'same' },
];

function convLabel(c: (typeof CONVS)[number]): string {
  return `x=${c.x} f=${c.f} s=${String(c.strides)} pad=${JSON.stringify(c.pad)}`;
}

function convOutShape(c: (typeof CONVS)[number]): Shape {
  return tf.backend_util.computeConv2DInfo(c.x as [number, number, number, number], c.f as [number, number, number, number], c.strides, 1, c.pad).outShape;
}

before(async () => {
  await initWasmBackend();
});

after(() => {
  const lines = [...worst.entries()].map(([k, e]) => `${k}: ${e.toExponential(2)}`);
  console.log(`worst relative error vs cpu (tolerance ${TOL}): ${lines.join(', ')}`);
});

describe('wasm setup', () => {
  it('initialises idempotently from the local SIMD binary', async () => {
    await initWasmBackend();
    await initWasmBackend();
    assert.equal(tf.getBackend(), 'wasm');
    const info = await wasmBackendInfo();
    if (info.simd) assert.equal(info.binary, 'tfjs-backend-wasm-simd.wasm');
    assert.ok(info.path != null && info.path.includes('node_modules'), `binary path ${String(info.path)}`);
    assert.equal(info.threads, 1);
  });

  it('registers every training kernel for wasm, idempotently, and can restore the shipped ones', () => {
    registerWasmTrainingKernels();
    registerWasmTrainingKernels();
    for (const name of WASM_TRAINING_KERNELS) assert.ok(tf.getKernel(name, 'wasm') != null, name);
    unregisterWasmTrainingKernels();
    assert.equal(tf.getKernel('Conv2DBackpropFilter', 'wasm'), undefined);
    registerWasmTrainingKernels();
    assert.ok(tf.getKernel('Conv2DBackpropFilter', 'wasm') != null);
  });
});

describe('wasm kernels match the cpu backend', () => {
  it('convolutions run on ONNX Runtime here (onnxruntime-node is a dependency)', () => {
    assert.equal(ortConvKernelsActive(), true);
  });
  it('Conv2D and FusedConv2D (bias, relu)', async () => {
    const extra: (typeof CONVS)[number][] = [
      { x: [2, 9, 9, 8], f: [3, 3, 8, 8], strides: 1, pad: 'same' },
      // Output rows wholly inside the padding.
      { x: [1, 5, 5, 4], f: [3, 3, 4, 4], strides: 1, pad: [[0, 0], [3, 3], [3, 3], [0, 0]] },
    ];
    for (const [i, c] of [...CONVS, ...extra].entries()) {
      const inputs = { x: rand(c.x, 140 + i), filter: rand(c.f, 160 + i) };
      const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dilations: 1 };
      await check('Conv2D', convLabel(c), inputs, attrs);
      const co = c.f[3] as number;
      await check('FusedConv2D', `${convLabel(c)} bias+relu`, { ...inputs, bias: rand([co], 180 + i) }, { ...attrs, activation: 'relu' });
      await check('FusedConv2D', `${convLabel(c)} linear`, inputs, { ...attrs, activation: 'linear' });
    }
    // Dilation is passed to the shipped kernel.
    await check('Conv2D', 'dilation 2', { x: rand([2, 9, 9, 4], 190), filter: rand([3, 3, 4, 8], 191) }, { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 2 });
  });

  it('Conv2DBackpropFilter', async () => {
    // The default policy: ORT for stride 1 unless x has 1-3 channels.
    const geom = (N: number, C: number, CO: number) => ({ N, H: 32, W: 32, C, OH: 32, OW: 32, CO, kh: 3, kw: 3, sh: 1, sw: 1, pads: { top: 1, bottom: 1, left: 1, right: 1 } });
    assert.equal(backpropFilterOnOrt(geom(8, 32, 64)), true);
    assert.equal(backpropFilterOnOrt(geom(8, 1, 16)), false);
    assert.equal(backpropFilterOnOrt({ ...geom(8, 32, 64), OH: 16, OW: 16, kh: 2, kw: 2, sh: 2, sw: 2, pads: { top: 0, bottom: 0, left: 0, right: 0 } }), false);
    assert.equal(backpropFilterOnOrt(geom(64, 256, 64)), true, 'an im2col over 64 MB runs in tiles');
    for (const [i, c] of CONVS.entries()) {
      const dyShape = convOutShape(c);
      await check('Conv2DBackpropFilter', convLabel(c), { x: rand(c.x, 10 + i), dy: rand(dyShape, 50 + i) }, { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.f });
    }
  });

  it('Conv2DBackpropInput', async () => {
    for (const [i, c] of CONVS.entries()) {
      const dyShape = convOutShape(c);
      await check('Conv2DBackpropInput', convLabel(c), { dy: rand(dyShape, 80 + i), filter: rand(c.f, 120 + i) }, { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x });
    }
  });

  it('MaxPoolGrad (ties resolved to the first maximum)', async () => {
    const cases: { x: Shape; f: number | [number, number]; s: number | [number, number]; pad: 'same' | 'valid' }[] = [
      { x: [2, 8, 8, 16], f: 2, s: 2, pad: 'valid' }, // the unrolled 2x2 kernel
      { x: [2, 8, 8, 4], f: 2, s: 2, pad: 'same' },
      { x: [2, 9, 8, 8], f: 2, s: 2, pad: 'valid' },
      { x: [2, 7, 7, 4], f: 2, s: 2, pad: 'same' },
      { x: [2, 9, 9, 8], f: 3, s: 2, pad: 'same' }, // overlapping windows
      { x: [2, 7, 9, 4], f: [3, 2], s: [1, 2], pad: 'valid' },
      { x: [2, 6, 6, 3], f: 2, s: 2, pad: 'valid' }, // C % 4 != 0: JS path
    ];
    for (const [i, c] of cases.entries()) {
      // Quantised and rectified: many equal maxima (zeros, thirds).
      const x = values(size(c.x), 200 + i).map((v) => Math.max(0, Math.round(v * 3) / 3));
      await tf.setBackend('cpu');
      const yShape = tf.tidy(() => tf.maxPool(tf.tensor4d(x, c.x as [number, number, number, number]), c.f, c.s, c.pad).shape);
      const dy = rand(yShape, 300 + i);
      await check('MaxPoolGrad', `x=${c.x} f=${String(c.f)} s=${String(c.s)} ${c.pad}`, { dy, input: { shape: c.x, values: x }, output: dy }, { filterSize: c.f, strides: c.s, pad: c.pad });
    }
  });

  it('BatchMatMul', async () => {
    const cases: [Shape, Shape, boolean, boolean][] = [
      [[5, 7], [7, 3], false, false],
      [[7, 5], [7, 3], true, false],
      [[5, 7], [3, 7], false, true],
      [[7, 5], [3, 7], true, true],
      [[1, 64, 33], [1, 64, 10], true, false],
      [[2, 3, 4], [2, 4, 5], false, false],
      [[2, 4, 3], [2, 5, 4], true, true],
    ];
    for (const [i, [a, b, ta, tb]] of cases.entries()) {
      await check('BatchMatMul', `${a} x ${b} tA=${ta} tB=${tb}`, { a: rand(a, 400 + i), b: rand(b, 420 + i) }, { transposeA: ta, transposeB: tb });
    }
  });

  it('Sum and Mean', async () => {
    const cases: [Shape, number | number[], boolean][] = [
      [[2, 3, 4, 8], [0, 1, 2], false],
      [[2, 3, 4, 8], [2, 1, 0], true],
      [[40, 300, 20], [0, 1], false],
      [[2, 3, 4, 6], [0, 1, 2], false],
      [[2, 3, 4, 8], [1, 2], false],
      [[2, 3, 4, 8], -1, false],
    ];
    for (const kernel of ['Sum', 'Mean']) {
      for (const [i, [x, axis, keepDims]] of cases.entries()) {
        await check(kernel, `${x} axis=${String(axis)} keep=${keepDims}`, { x: rand(x, 500 + i) }, { axis, keepDims });
      }
    }
  });

  it('Slice, SplitV, Concat, Tile', async () => {
    const slices: [Shape, number[], number[]][] = [
      [[2, 5, 6, 8], [0, 1, 2, 0], [2, 3, 3, 8]],
      [[2, 5, 6, 8], [1, 0, 0, 4], [1, 5, 6, 4]],
      [[3, 4, 5], [1, 1, 1], [2, 2, 3]],
      [[10], [3], [5]],
      [[2, 5, 6, 8], [0, 0, 0, 0], [-1, -1, -1, -1]],
    ];
    for (const [i, [x, begin, sz]] of slices.entries()) {
      await check('Slice', `${x} begin=${begin} size=${sz}`, { x: rand(x, 600 + i) }, { begin, size: sz });
    }
    await check('Slice', 'int32', { x: { shape: [4, 6], values: Int32Array.from({ length: 24 }, (_, k) => k * 7 - 50), dtype: 'int32' } }, { begin: [1, 2], size: [2, 3] });
    const splits: [Shape, number[], number][] = [
      [[2, 5, 6, 24], [16, 8], 3],
      [[2, 12, 6, 8], [5, 7], 1],
      [[6, 4], [1, 2, 3], 0],
    ];
    for (const [i, [x, sizes, axis]] of splits.entries()) {
      await check('SplitV', `${x} ${sizes} axis=${axis}`, { x: rand(x, 700 + i) }, { numOrSizeSplits: sizes, axis });
    }
    const concats: [Shape, Shape, number][] = [
      [[2, 5, 6, 16], [2, 5, 6, 8], 3],
      [[2, 5, 6, 8], [2, 3, 6, 8], 1],
      [[3, 4], [5, 4], 0],
    ];
    for (const [i, [a, b, axis]] of concats.entries()) {
      await check('Concat', `${a} ++ ${b} axis=${axis}`, { 0: rand(a, 800 + i), 1: rand(b, 820 + i) }, { axis });
    }
    const tiles: [Shape, number[]][] = [
      [[1, 1, 1, 8], [2, 3, 4, 1]],
      [[2, 3], [2, 2]],
      [[3], [4]],
      [[2, 1, 3], [1, 5, 2]],
    ];
    for (const [i, [x, reps]] of tiles.entries()) {
      await check('Tile', `${x} reps=${reps}`, { x: rand(x, 900 + i) }, { reps });
    }
  });

  it('ResizeNearestNeighborGrad', async () => {
    // tfjs-backend-cpu 4.22 offsets dy by the *images* batch stride, so its
    // gradient is wrong for batch > 1: the reference is built image by image.
    const cases: [Shape, Shape, boolean][] = [
      [[2, 4, 5, 4], [2, 8, 10, 4], false],
      [[2, 4, 5, 3], [2, 8, 10, 3], false],
      [[2, 5, 7, 4], [2, 9, 11, 4], true],
      [[1, 6, 6, 8], [1, 4, 4, 8], false],
      [[3, 5, 7, 4], [3, 13, 8, 4], false],
    ];
    for (const [i, [xs, ys, alignCorners]] of cases.entries()) {
      const images = rand(xs, 1000 + i);
      const dy = rand(ys, 1020 + i);
      const [n, h, w, c] = xs as [number, number, number, number];
      const [, oh, ow] = ys as [number, number, number, number];
      const ref = new Float32Array(size(xs));
      for (let b = 0; b < n; b++) {
        const one = await runOn(
          'cpu',
          'ResizeNearestNeighborGrad',
          {
            images: { shape: [1, h, w, c], values: images.values.slice(b * h * w * c, (b + 1) * h * w * c) },
            dy: { shape: [1, oh, ow, c], values: dy.values.slice(b * oh * ow * c, (b + 1) * oh * ow * c) },
          },
          { alignCorners, halfPixelCenters: false },
        );
        ref.set((one[0] as Result).values as Float32Array, b * h * w * c);
      }
      await check('ResizeNearestNeighborGrad', `${xs} <- ${ys} alignCorners=${alignCorners}`, { images, dy }, { alignCorners, halfPixelCenters: false }, [{ shape: xs, values: ref }]);
    }
  });

  it('ResizeNearestNeighborGrad with halfPixelCenters is the adjoint of the forward resize', async () => {
    // <resize(x), dy> == <x, grad(dy)>: the cpu gradient ignores halfPixelCenters.
    const xs: [number, number, number, number] = [2, 5, 7, 4];
    const size2: [number, number] = [8, 11];
    const x = rand(xs, 1100);
    const dy = rand([2, 8, 11, 4], 1101);
    await tf.setBackend('cpu');
    const lhs = tf.tidy(() => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(tf.tensor4d(x.values, xs), size2, false, true), tf.tensor(dy.values, dy.shape))).dataSync()[0] as number);
    const g = await runOn('wasm', 'ResizeNearestNeighborGrad', { images: x, dy }, { alignCorners: false, halfPixelCenters: true });
    let rhs = 0;
    const gv = (g[0] as Result).values;
    for (let i = 0; i < gv.length; i++) rhs += (gv[i] as number) * (x.values[i] as number);
    assert.ok(Math.abs(lhs - rhs) <= TOL * Math.max(1, Math.abs(lhs)), `${lhs} vs ${rhs}`);
  });

  it('FusedBatchNorm', async () => {
    const cases: [Shape, Shape][] = [
      [[2, 3, 4, 8], [8]],
      [[2, 3, 4, 6], [6]],
      [[5, 8], [8]],
      [[2, 3, 4, 8], [1]],
    ];
    for (const [i, [x, p]] of cases.entries()) {
      const n = size(p);
      await check(
        'FusedBatchNorm',
        `${x} params=${p}`,
        {
          x: { shape: x, values: values(size(x), 1200 + i).map((v) => v * 3 + 5) },
          mean: { shape: p, values: values(n, 1210 + i).map((v) => v + 5) },
          variance: { shape: p, values: values(n, 1220 + i).map((v) => v * v + 0.5) },
          offset: rand(p, 1230 + i),
          scale: { shape: p, values: values(n, 1240 + i).map((v) => v + 1.5) },
        },
        { varianceEpsilon: 1e-3 },
      );
    }
  });

  it('FusedBatchNorm gradient (two-pass fused on wasm) matches tfjs-core\'s on cpu', async () => {
    const cases: [Shape, boolean][] = [
      [[2, 5, 6, 8], true],
      // (Without scale tfjs-core 4.22 cannot differentiate batchNorm on any backend: it saves the
      // missing input for backprop and fails cloning it.)
      [[2, 5, 6, 16], true],
      [[4, 3, 20], true], // rank 3, 5 blocks of 4 channels
      [[37, 24], true], // rank 2: one block of 16, two of 4
      [[2, 3, 4, 6], true], // C % 4 != 0: tfjs-core's gradient
    ];
    for (const [i, [xs, withScale]] of cases.entries()) {
      const C = xs[xs.length - 1] as number;
      const xv = values(size(xs), 1400 + i).map((v) => v * 3 + 2);
      const mv = values(C, 1410 + i).map((v) => v + 2);
      const vv = values(C, 1420 + i).map((v) => v * v + 0.5);
      const ov = values(C, 1430 + i);
      const sv = values(C, 1440 + i).map((v) => v + 1.5);
      const dyv = values(size(xs), 1450 + i);
      const grads = async (backend: 'cpu' | 'wasm'): Promise<Float32Array[]> => {
        await tf.setBackend(backend);
        return tf.tidy(() => {
          const [x, m, v, o, sc, dy] = [tf.tensor(xv, xs), tf.tensor1d(mv), tf.tensor1d(vv), tf.tensor1d(ov), tf.tensor1d(sv), tf.tensor(dyv, xs)] as tf.Tensor[];
          const f = withScale
            ? (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor) => tf.batchNorm(a, b as tf.Tensor1D, c as tf.Tensor1D, d as tf.Tensor1D, e as tf.Tensor1D, 1e-3)
            : (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.batchNorm(a, b as tf.Tensor1D, c as tf.Tensor1D, d as tf.Tensor1D, undefined, 1e-3);
          const args = withScale ? [x, m, v, o, sc] : [x, m, v, o];
          return tf.grads(f as (...t: tf.Tensor[]) => tf.Tensor)(args as tf.Tensor[], dy as tf.Tensor).map((g) => g.dataSync() as Float32Array);
        });
      };
      const want = await grads('cpu');
      const got = await grads('wasm');
      want.forEach((w, j) => {
        const err = relErr(w, got[j] as Float32Array);
        worst.set('FusedBatchNorm grad', Math.max(worst.get('FusedBatchNorm grad') ?? 0, err));
        assert.ok(err <= TOL, `${xs} scale=${withScale} input ${j}: relative error ${err.toExponential(2)}`);
      });
    }
  });

  it('Identity, Cast, Add, Sub, Multiply, RealDiv (channel, scalar and per-pixel broadcast)', async () => {
    await check('Identity', '[3,4]', { x: rand([3, 4], 1300) }, {});
    await check('Cast', 'float32 -> float32', { x: rand([3, 4], 1301) }, { dtype: 'float32' });
    await check('Cast', 'float32 -> int32', { x: { shape: [3, 4], values: values(12, 1302).map((v) => v * 10) } }, { dtype: 'int32' });
    const pairs: [Shape, Shape][] = [
      [[2, 3, 4, 8], [8]],
      [[8], [2, 3, 4, 8]],
      [[2, 3, 4, 8], [1, 1, 1, 8]],
      [[1, 1, 8], [2, 3, 4, 8]],
      [[2, 3, 4, 8], [2, 3, 4, 8]],
      [[2, 3, 4, 6], [6]],
      [[2, 3, 4, 8], [4, 8]],
      [[2, 3, 4, 8], []],
      [[], [2, 3, 4, 8]],
      [[2, 3, 4, 8], [1, 1, 1, 1]],
      [[3, 5, 7], []], // size % 4 != 0: shipped
      // Channels % 4 != 0 and per-pixel columns: the JS loop.
      [[1, 1, 1, 2], [2, 3, 4, 2]],
      [[2, 3, 4, 2], [2, 3, 4, 1]],
      [[2, 3, 4, 1], [2, 3, 4, 2]],
      [[2, 3, 4, 16], [2, 3, 4, 1]],
      [[2, 3, 4, 16], [2, 1, 4, 1]], // not a per-pixel column: shipped
    ];
    for (const kernel of ['Add', 'Sub', 'Multiply', 'RealDiv']) {
      for (const [i, [a, b]] of pairs.entries()) {
        // Divisors kept away from 0.
        const bv = rand(b, 1330 + i);
        if (kernel === 'RealDiv') bv.values = bv.values.map((v) => (v < 0 ? v - 0.5 : v + 0.5));
        await check(kernel, `${a} (op) ${b}`, { a: rand(a, 1310 + i), b: bv }, {});
      }
    }
  });
});

describe('end to end', () => {
  it('tf.variableGrads of a small conv net agrees between cpu and wasm', async () => {
    const init = {
      w1: rand([3, 3, 1, 8], 2001),
      b1: rand([8], 2002),
      w2: rand([3, 3, 8, 8], 2003),
      gamma: { shape: [8], values: values(8, 2004).map((v) => v + 1.5) },
      beta: rand([8], 2005),
      w3: rand([2, 2, 4, 8], 2006),
      wd: rand([4 * 4 * 20, 5], 2007),
      bd: rand([5], 2008),
    };
    const xData = rand([3, 8, 8, 1], 2010);
    const labels = Int32Array.from([1, 4, 0]);

    async function grads(backend: 'cpu' | 'wasm'): Promise<Map<string, Float32Array>> {
      await tf.setBackend(backend);
      const vars = Object.fromEntries(Object.entries(init).map(([k, v]) => [k, tf.variable(tf.tensor(v.values, v.shape), true, `${k}_${backend}`)])) as Record<keyof typeof init, tf.Variable>;
      const x = tf.tensor4d(xData.values, xData.shape as [number, number, number, number]);
      const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 5);
      const { grads: g, value } = tf.variableGrads(() =>
        tf.tidy(() => {
          const h1 = tf.relu(tf.add(tf.conv2d(x, vars.w1 as tf.Tensor4D, 1, 'same'), vars.b1)) as tf.Tensor4D; // [3,8,8,8]
          const p1 = tf.maxPool(h1, 2, 2, 'valid'); // [3,4,4,8]
          const { mean, variance } = tf.moments(p1, [0, 1, 2]);
          const bn = tf.batchNorm(p1, mean, variance, vars.beta, vars.gamma, 1e-3) as tf.Tensor4D;
          const h2 = tf.relu(tf.conv2d(bn, vars.w2 as tf.Tensor4D, 2, 'same')); // [3,2,2,8]
          const t = tf.conv2dTranspose(h2, vars.w3 as tf.Tensor4D, [3, 4, 4, 4], 2, 'same'); // [3,4,4,4]
          const cat = tf.concat([p1, t, bn], 3); // [3,4,4,20]
          const logits = tf.add(tf.matMul(tf.reshape(cat, [3, 4 * 4 * 20]), vars.wd), vars.bd);
          return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
        }),
      );
      const out = new Map<string, Float32Array>();
      for (const [name, v] of Object.entries(vars)) {
        const gv = g[v.name];
        assert.ok(gv != null, `no gradient for ${name}`);
        out.set(name, gv.dataSync() as Float32Array);
      }
      out.set('loss', value.dataSync() as Float32Array);
      tf.dispose([x, y, value, ...Object.values(g), ...Object.values(vars)]);
      return out;
    }

    const want = await grads('cpu');
    const got = await grads('wasm');
    for (const [name, w] of want) {
      const err = relErr(w, got.get(name) as Float32Array);
      worst.set(`e2e ${name}`, err);
      assert.ok(err <= TOL, `${name}: relative error ${err.toExponential(2)}`);
    }
  });
  it('Adam on a small U-Net (conv-BN-ReLU, pool, up-conv, concat, softmax, segmentation loss): the same loss curve on cpu, wasm with ONNX Runtime, and wasm without; fused Adam with tiled filter gradients', async () => {
    const S = 16;
    const N = 4;
    const STEPS = 6;
    const xData = rand([N, S, S, 1], 3001);
    const masks = new Uint8Array(N * S * S).map((_, i) => ((i % S) + Math.floor(i / S)) % 5 < 2 ? 1 : 0);

    function build(): tf.LayersModel {
      const next = seedSequence(7);
      const input = tf.input({ shape: [S, S, 1] });
      const e0 = convBnRelu(convBnRelu(input, { filters: 8 }, next), { filters: 8 }, next); // 16x16x8
      const p0 = tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }).apply(e0) as tf.SymbolicTensor;
      const b = convBnRelu(convBnRelu(p0, { filters: 16 }, next), { filters: 16 }, next); // 8x8x16
      const up = tf.layers.conv2dTranspose({ filters: 8, kernelSize: 2, strides: 2, padding: 'same', kernelInitializer: tf.initializers.heNormal({ seed: next() }) }).apply(b) as tf.SymbolicTensor;
      const cat = tf.layers.concatenate({ axis: -1 }).apply([up, e0]) as tf.SymbolicTensor; // 16x16x16
      const d = convBnRelu(cat, { filters: 8 }, next);
      return tf.model({ inputs: input, outputs: conv(d, { filters: 2, kernelSize: 1, activation: 'softmax' }, next) });
    }

    async function curve(backend: 'cpu' | 'wasm', ort: boolean, fused = false): Promise<number[]> {
      await tf.setBackend(backend);
      setOrtConvKernelsEnabled(ort);
      setOrtBackpropFilterForced(ort);
      // The fused run also tiles the filter gradients (4 KB tiles: row runs and single images).
      if (fused) setOrtBackpropFilterTileBytes(4096);
      try {
        const model = build();
        const opt = fused ? adam(1e-2) : tf.train.adam(1e-2);
        const x = tf.tensor4d(xData.values, [N, S, S, 1]);
        const { onehot, valid } = segmentationTargets(masks, N, S, 2);
        const losses: number[] = [];
        for (let i = 0; i < STEPS; i++) {
          const loss = opt.minimize(() => segmentationLoss(model.apply(x, { training: true }) as tf.Tensor, onehot, valid, null), true) as tf.Scalar;
          losses.push(loss.dataSync()[0] as number);
          loss.dispose();
        }
        tf.dispose([x, onehot, valid]);
        opt.dispose();
        model.dispose();
        return losses;
      } finally {
        setOrtBackpropFilterTileBytes(null);
        setOrtBackpropFilterForced(false);
        setOrtConvKernelsEnabled(true);
      }
    }

    const want = await curve('cpu', false);
    assert.ok((want[STEPS - 1] as number) < (want[0] as number), `the loss falls on cpu: ${want.join(', ')}`);
    for (const [ort, fused] of [[true, false], [false, false], [true, true]] as const) {
      const got = await curve('wasm', ort, fused);
      const err = Math.max(...want.map((w, i) => Math.abs(w - (got[i] as number)) / Math.abs(w)));
      worst.set(`adam curve ort=${ort}${fused ? ' fused Adam, tiled dW' : ''}`, err);
      assert.ok(err <= 1e-3, `ort=${ort} fused=${fused}: cpu ${want.join(', ')} vs wasm ${got.join(', ')}`);
    }
  });
});
