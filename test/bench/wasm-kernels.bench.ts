/**
 * Benchmark of Fovea's wasm training kernels against the kernels
 * tfjs-backend-wasm 4.22 ships.
 *
 *   npx tsx test/bench/wasm-kernels.bench.ts [--quick]
 *
 * Four variants: `shipped` (the package's kernels; Conv2DBackpropFilter does
 * not exist there, so conv nets cannot train), `baseline` (shipped plus the
 * minimal Conv2DBackpropFilter of the machine notes: transposes + one conv2d),
 * `fallback` (our kernels with the generated SIMD code switched off:
 * XNNPACK/JS paths only) and `ours`.
 * Reports per-kernel times at the shapes of a small classification CNN
 * (64x64x1, batch 32) and a small U-Net (64x64x1, batch 8), then training
 * and inference images/s, then the same numbers as JSON lines.
 *
 * The machines are shared and a plain JS loop's time varies 2x from run to
 * run, so the variants are measured interleaved (one run of each per round)
 * and both the median and the best run are reported. One thread:
 * tfjs-backend-wasm hard-codes multithreading off under Node.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { initWasmBackend, wasmBackendInfo } from '../../native-models/backends/wasm-setup';
import { registerWasmTrainingKernels, setWasmSimdKernelsEnabled, unregisterWasmTrainingKernels } from '../../native-models/backends/wasm-kernels';

const QUICK = process.argv.includes('--quick');
type Variant = 'shipped' | 'baseline' | 'fallback' | 'ours';
const VARIANTS: Variant[] = ['shipped', 'baseline', 'fallback', 'ours'];

/**
 * The "before" Conv2DBackpropFilter of the machine notes, as a reference
 * point: dW = conv2d(x^T [C,H,W,N], dy^T [OH,OW,N,CO], dilation = stride)
 * with the shipped Transpose and Conv2D. Enough for stride/padding where the
 * bottom/right padding is not negative (the CNN here).
 */
const baselineFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const run = (name: string, ins: Record<string, TensorInfo>, at: NamedAttrMap): TensorInfo => {
    const k = tf.getKernel(name, 'wasm');
    if (k == null) throw new Error(`${name} missing`);
    return k.kernelFunc({ inputs: ins, backend, attrs: at }) as TensorInfo;
  };
  const dispose = (t: TensorInfo): void => void (backend as { disposeData(d: object): boolean }).disposeData(t.dataId);
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as { strides: [number, number] | number; pad: 'same' | 'valid'; filterShape: [number, number, number, number] };
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad);
  const pb = (info.outHeight - 1) * info.strideHeight + info.filterHeight - info.inHeight - info.padInfo.top;
  const pr = (info.outWidth - 1) * info.strideWidth + info.filterWidth - info.inWidth - info.padInfo.left;
  if (pb < 0 || pr < 0) throw new Error('baseline Conv2DBackpropFilter: unsupported padding');
  const xT = run('Transpose', { x }, { perm: [3, 1, 2, 0] });
  const dyT = run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
  const r = run('Conv2D', { x: xT, filter: dyT }, { strides: 1, dilations: [info.strideHeight, info.strideWidth], pad: [[0, 0], [info.padInfo.top, pb], [info.padInfo.left, pr], [0, 0]], dataFormat: 'NHWC' });
  const out = run('Transpose', { x: r }, { perm: [1, 2, 0, 3] });
  [xT, dyT, r].forEach(dispose);
  return out;
};

function useVariant(v: Variant): void {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc === baselineFilter) tf.unregisterKernel('Conv2DBackpropFilter', 'wasm');
  if (v === 'shipped' || v === 'baseline') {
    unregisterWasmTrainingKernels();
    if (v === 'baseline') tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: baselineFilter });
  } else {
    registerWasmTrainingKernels();
    setWasmSimdKernelsEnabled(v === 'ours');
  }
}

interface Timing {
  median: number;
  min: number;
  runs: number;
}

function summarise(times: number[]): Timing {
  const sorted = [...times].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)] as number, min: sorted[0] as number, runs: sorted.length };
}

/**
 * Times `fn` under each variant, interleaved: a warm-up call per variant,
 * then rounds of one timed call per variant, until `rounds` rounds or the
 * time budget is spent (at least 3 rounds). A variant whose call throws is
 * reported with its error and left out of later rounds.
 */
async function timeVariants(
  variants: Variant[],
  fn: () => void | Promise<void>,
  opts: { rounds: number; budgetMs: number },
): Promise<Map<Variant, Timing | { error: string }>> {
  const times = new Map<Variant, number[]>();
  const errors = new Map<Variant, string>();
  const live = (): Variant[] => variants.filter((v) => !errors.has(v));
  const once = async (v: Variant): Promise<number | null> => {
    useVariant(v);
    const t0 = performance.now();
    try {
      await fn();
    } catch (e) {
      errors.set(v, (e as Error).message.split('\n')[0] ?? String(e));
      return null;
    }
    return performance.now() - t0;
  };
  for (const v of variants) await once(v);
  const start = performance.now();
  for (let r = 0; r < opts.rounds && (r < 3 || performance.now() - start < opts.budgetMs); r++) {
    for (const v of live()) {
      const t = await once(v);
      if (t != null) times.set(v, [...(times.get(v) ?? []), t]);
    }
  }
  const out = new Map<Variant, Timing | { error: string }>();
  for (const v of variants) {
    const err = errors.get(v);
    out.set(v, err != null ? { error: err } : summarise(times.get(v) ?? []));
  }
  return out;
}

const results: Record<string, unknown>[] = [];

function round(v: number | null | undefined, digits: number): number | null {
  return v == null ? null : Number(v.toFixed(digits));
}

// ---------------------------------------------------------------------------
// Per-kernel cases

interface KernelCase {
  kernel: string;
  label: string;
  inputs: () => Record<string, tf.Tensor> | tf.Tensor[];
  attrs: Record<string, unknown>;
}

const rnd = (shape: number[]): tf.Tensor => tf.randomNormal(shape);

function convCases(): KernelCase[] {
  const cases: KernelCase[] = [];
  const layers: [number, number, number, number][] = [
    [32, 64, 1, 16],
    [32, 32, 16, 32],
    [32, 16, 32, 64],
  ];
  for (const [n, h, ci, co] of layers) {
    cases.push({
      kernel: 'Conv2D',
      label: `cnn forward x[${n},${h},${h},${ci}] 3x3 -> ${co}`,
      inputs: () => ({ x: rnd([n, h, h, ci]), filter: rnd([3, 3, ci, co]) }),
      attrs: { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1 },
    });
  }
  cases.push({
    kernel: 'FusedConv2D',
    label: 'inference x[32,32,32,16] 3x3 -> 32 +bias relu',
    inputs: () => ({ x: rnd([32, 32, 32, 16]), filter: rnd([3, 3, 16, 32]), bias: rnd([32]) }),
    attrs: { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, activation: 'relu' },
  });
  for (const [n, h, ci, co] of layers) {
    cases.push({
      kernel: 'Conv2DBackpropFilter',
      label: `cnn x[${n},${h},${h},${ci}] 3x3 -> ${co}`,
      inputs: () => ({ x: rnd([n, h, h, ci]), dy: rnd([n, h, h, co]) }),
      attrs: { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, ci, co] },
    });
  }
  for (const [n, h, ci, co] of layers.slice(1)) {
    cases.push({
      kernel: 'Conv2DBackpropInput',
      label: `cnn dx[${n},${h},${h},${ci}] 3x3 <- ${co}`,
      inputs: () => ({ dy: rnd([n, h, h, co]), filter: rnd([3, 3, ci, co]) }),
      attrs: { strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape: [n, h, h, ci] },
    });
  }
  cases.push({
    kernel: 'Conv2DBackpropInput',
    label: 'unet conv2dTranspose 2x2/2 [8,16,16,64] -> [8,32,32,32]',
    inputs: () => ({ dy: rnd([8, 16, 16, 64]), filter: rnd([2, 2, 32, 64]) }),
    attrs: { strides: 2, pad: 'same', dataFormat: 'NHWC', inputShape: [8, 32, 32, 32] },
  });
  cases.push({
    kernel: 'Conv2DBackpropFilter',
    label: 'stride 2 x[32,32,32,16] 3x3/2 -> 32',
    inputs: () => ({ x: rnd([32, 32, 32, 16]), dy: rnd([32, 16, 16, 32]) }),
    attrs: { strides: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 16, 32] },
  });
  for (const [n, h, c] of [
    [32, 64, 16],
    [32, 32, 32],
    [32, 16, 64],
  ] as const) {
    cases.push({
      kernel: 'MaxPoolGrad',
      label: `cnn pool 2x2 [${n},${h},${h},${c}]`,
      inputs: () => {
        const x = rnd([n, h, h, c]);
        const y = tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid');
        return { dy: rnd(y.shape), input: x, output: y };
      },
      attrs: { filterSize: 2, strides: 2, pad: 'valid' },
    });
    cases.push({
      kernel: 'Sum',
      label: `bias grad [${n},${h},${h},${c}]`,
      inputs: () => ({ x: rnd([n, h, h, c]) }),
      attrs: { axis: [0, 1, 2], keepDims: false },
    });
  }
  cases.push({
    kernel: 'BatchMatMul',
    label: 'dense dW x^T dy [32,4096]^T [32,10]',
    inputs: () => ({ a: rnd([1, 32, 4096]), b: rnd([1, 32, 10]) }),
    attrs: { transposeA: true, transposeB: false },
  });
  cases.push({
    kernel: 'BatchMatMul',
    label: 'dense dx dy W^T [32,10] [4096,10]^T',
    inputs: () => ({ a: rnd([1, 32, 10]), b: rnd([1, 4096, 10]) }),
    attrs: { transposeA: false, transposeB: true },
  });
  return cases;
}

function unetCases(): KernelCase[] {
  const x = [8, 64, 64, 16];
  return [
    { kernel: 'Tile', label: 'batch-norm grad [1,1,1,16] -> [8,64,64,16]', inputs: () => ({ x: rnd([1, 1, 1, 16]) }), attrs: { reps: [8, 64, 64, 1] } },
    { kernel: 'Concat', label: 'skip concat [8,64,64,16] ++ [8,64,64,16]', inputs: () => [rnd(x), rnd(x)], attrs: { axis: 3 } },
    { kernel: 'SplitV', label: 'concat grad [8,64,64,32] -> 2x16', inputs: () => ({ x: rnd([8, 64, 64, 32]) }), attrs: { numOrSizeSplits: [16, 16], axis: 3 } },
    { kernel: 'Slice', label: 'channels [8,64,64,32] -> [..,16]', inputs: () => ({ x: rnd([8, 64, 64, 32]) }), attrs: { begin: [0, 0, 0, 16], size: [8, 64, 64, 16] } },
    {
      kernel: 'ResizeNearestNeighborGrad',
      label: 'upsampling 2x [8,32,32,32] <- [8,64,64,32]',
      inputs: () => ({ images: rnd([8, 32, 32, 32]), dy: rnd([8, 64, 64, 32]) }),
      attrs: { alignCorners: false, halfPixelCenters: false },
    },
    {
      kernel: 'FusedBatchNorm',
      label: '[8,64,64,16]',
      inputs: () => ({ x: rnd(x), mean: rnd([16]), variance: tf.abs(rnd([16])), offset: rnd([16]), scale: rnd([16]) }),
      attrs: { varianceEpsilon: 1e-3 },
    },
    { kernel: 'Mean', label: 'moments [8,64,64,16] over N,H,W', inputs: () => ({ x: rnd(x) }), attrs: { axis: [0, 1, 2], keepDims: true } },
    { kernel: 'Add', label: 'bias [32,64,64,16] + [16]', inputs: () => ({ a: rnd([32, 64, 64, 16]), b: rnd([16]) }), attrs: {} },
    { kernel: 'Multiply', label: '[8,64,64,16] * [16]', inputs: () => ({ a: rnd(x), b: rnd([16]) }), attrs: {} },
    { kernel: 'Identity', label: '[32,64,64,16] (relu grad cast)', inputs: () => ({ x: rnd([32, 64, 64, 16]) }), attrs: {} },
  ];
}

async function benchKernels(): Promise<void> {
  console.log('\n== per-kernel time, ms: median (best) ==');
  console.log(`${'kernel'.padEnd(26)}${'case'.padEnd(58)}${VARIANTS.map((v) => v.padStart(18)).join('')}`);
  for (const c of [...convCases(), ...unetCases()]) {
    const inputs = c.inputs();
    // A kernel the variant lacks is reported as such rather than timed;
    // `baseline` differs from `shipped` in Conv2DBackpropFilter only.
    const available = VARIANTS.filter((v) => {
      if (v === 'baseline' && c.kernel !== 'Conv2DBackpropFilter') return false;
      useVariant(v);
      return tf.getKernel(c.kernel, 'wasm') != null;
    });
    const timings = await timeVariants(
      available,
      () => {
        const out = tf.engine().runKernel(c.kernel, inputs as tf.NamedTensorMap, c.attrs as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
        tf.dispose(out);
      },
      { rounds: QUICK ? 5 : 15, budgetMs: QUICK ? 300 : 1000 },
    );
    const cells = VARIANTS.map((v) => {
      if (v === 'baseline' && c.kernel !== 'Conv2DBackpropFilter') return '= shipped'.padStart(18);
      const t = timings.get(v);
      const timing = t != null && 'median' in t ? t : null;
      results.push({ kind: 'kernel', kernel: c.kernel, case: c.label, variant: v, ms_median: round(timing?.median, 3), ms_min: round(timing?.min, 3), runs: timing?.runs ?? 0, note: t == null ? 'not registered' : 'error' in t ? t.error : null });
      const cell = t == null ? 'not registered' : 'error' in t ? 'error' : `${t.median.toFixed(2)} (${t.min.toFixed(2)})`;
      return cell.padStart(18);
    });
    console.log(`${c.kernel.padEnd(26)}${c.label.padEnd(58)}${cells.join('')}`);
    tf.dispose(Array.isArray(inputs) ? inputs : Object.values(inputs));
  }
}

// ---------------------------------------------------------------------------
// Models

/** conv16-pool-conv32-pool-conv64-pool-dense10, input 64x64x1. */
function createCnn(): tf.LayersModel {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [64, 64, 1], filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
  m.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  return m;
}

/** Two-level U-Net: conv-BN-ReLU blocks, max pooling, dropout, transposed-conv up, skip concats, sigmoid output. */
function createUnet(): tf.LayersModel {
  const block = (x: tf.SymbolicTensor, f: number): tf.SymbolicTensor => {
    let y = tf.layers.conv2d({ filters: f, kernelSize: 3, padding: 'same', useBias: false }).apply(x) as tf.SymbolicTensor;
    y = tf.layers.batchNormalization().apply(y) as tf.SymbolicTensor;
    y = tf.layers.reLU().apply(y) as tf.SymbolicTensor;
    return tf.layers.conv2d({ filters: f, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(y) as tf.SymbolicTensor;
  };
  const up = (x: tf.SymbolicTensor, f: number): tf.SymbolicTensor =>
    tf.layers.conv2dTranspose({ filters: f, kernelSize: 2, strides: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor;
  const input = tf.input({ shape: [64, 64, 1] });
  const e1 = block(input, 16);
  const e2 = block(tf.layers.maxPooling2d({ poolSize: 2 }).apply(e1) as tf.SymbolicTensor, 32);
  let b = block(tf.layers.maxPooling2d({ poolSize: 2 }).apply(e2) as tf.SymbolicTensor, 64);
  b = tf.layers.dropout({ rate: 0.2 }).apply(b) as tf.SymbolicTensor;
  const d2 = block(tf.layers.concatenate().apply([up(b, 32), e2]) as tf.SymbolicTensor, 32);
  const d1 = block(tf.layers.concatenate().apply([up(d2, 16), e1]) as tf.SymbolicTensor, 16);
  const out = tf.layers.conv2d({ filters: 1, kernelSize: 1, activation: 'sigmoid' }).apply(d1) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: out });
  m.compile({ optimizer: tf.train.adam(1e-3), loss: 'binaryCrossentropy' });
  return m;
}

async function benchModel(name: string, create: () => tf.LayersModel, batch: number, target: 'classes' | 'mask'): Promise<void> {
  console.log(`\n== ${name}, batch ${batch}: images/s, median (best) ==`);
  const model = create();
  const x = tf.randomNormal([batch, 64, 64, 1]);
  const y =
    target === 'classes'
      ? tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32') as tf.Tensor1D, 10)
      : tf.cast(tf.greater(tf.randomNormal([batch, 64, 64, 1]), 0), 'float32');
  const steps = QUICK ? 2 : 4;
  const train = await timeVariants(
    VARIANTS,
    async () => {
      for (let i = 0; i < steps; i++) await model.trainOnBatch(x, y);
    },
    { rounds: QUICK ? 3 : 8, budgetMs: QUICK ? 3000 : 15000 },
  );
  const infer = await timeVariants(
    VARIANTS,
    () => {
      tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync());
    },
    { rounds: QUICK ? 5 : 15, budgetMs: QUICK ? 1000 : 4000 },
  );
  const ips = (t: Timing | { error: string } | undefined, images: number): { median: number | null; best: number | null; error: string | null } =>
    t == null ? { median: null, best: null, error: 'not run' } : 'error' in t ? { median: null, best: null, error: t.error } : { median: (images * 1000) / t.median, best: (images * 1000) / t.min, error: null };
  for (const v of VARIANTS) {
    const tr = ips(train.get(v), batch * steps);
    const inf = ips(infer.get(v), batch);
    const trText = tr.median != null ? `${tr.median.toFixed(1)} (${(tr.best ?? 0).toFixed(1)})` : `FAILS: ${tr.error ?? ''}`;
    console.log(`${v.padEnd(9)} train ${trText}   inference ${(inf.median ?? 0).toFixed(0)} (${(inf.best ?? 0).toFixed(0)})`);
    results.push({
      kind: 'model',
      model: name,
      batch,
      variant: v,
      train_img_per_s: round(tr.median, 1),
      train_img_per_s_best: round(tr.best, 1),
      train_error: tr.error,
      infer_img_per_s: round(inf.median, 1),
      infer_img_per_s_best: round(inf.best, 1),
    });
  }
  tf.dispose([x, y]);
  model.dispose();
}

/** Per-kernel timings shipped vs ours, and model img/s on wasm. */
export async function runKernelBench(): Promise<void> {
  await initWasmBackend();
  const info = await wasmBackendInfo();
  const env = { kind: 'env', node: process.version, tfjs: tf.version.tfjs, binary: info.binary, simd: info.simd, threads: info.threads };
  console.log(`wasm backend: ${info.binary ?? '?'} (simd ${info.simd}, threads ${info.threads}), node ${process.version}, tfjs ${tf.version.tfjs}`);
  results.push(env);
  await benchKernels();
  await benchModel('cnn64 conv16-conv32-conv64-dense10', createCnn, 32, 'classes');
  await benchModel('unet64 16-32-64', createUnet, 8, 'mask');
  useVariant('ours');
  console.log('\n== JSON ==');
  for (const r of results) console.log(JSON.stringify(r));
}

// Run directly: npx tsx test/bench/wasm-kernels.bench.ts
if (process.argv[1] && /wasm-kernels\.bench\.ts$/.test(process.argv[1])) await runKernelBench();
