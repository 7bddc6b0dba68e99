/**
 * Convolutions for the wasm backend's training kernels run by ONNX Runtime's CPU kernels (MLAS,
 * native SIMD: 1-2.5x the wasm SIMD kernels on the shapes a CNN or U-Net trains with, see below).
 *
 * TF.js kernels are synchronous, so this uses onnxruntime-node's native binding directly (its
 * `run` is synchronous; the public InferenceSession only wraps it in a Promise). That binding
 * (onnxruntime-node/dist/binding) is not a public API: it sits behind one seam,
 * resolveNativeBinding(), which loads it only for the exact version it was tested with
 * (ORT_BINDING_VERSION, pinned in package.json) and otherwise returns null with the reason, so
 * the wasm kernels run instead (slower, never wrong); the kernel tests check both paths. One tiny ONNX
 * graph per shape and attribute set (Transpose NHWC->NCHW, Conv or ConvTranspose, Transpose back;
 * ORT's layout optimiser fuses the transposes into its blocked-layout reorders: measured against
 * a plain NCHW graph they cost 0-18%), cached. Inputs
 * are read in place from the wasm heap (views), and the output is written into the caller's heap
 * view (a preallocated fetch).
 *
 * Speed against the wasm SIMD kernels (U-Net shapes, batch 8, one thread): about 2x from 32x32
 * down and at 64x64 with 32+ channels, but only 1-1.3x at 128x128 with 16 channels, where the
 * convolutions are memory-bound (PyTorch's own conv is no faster there: 21 ms forward for
 * 128x128 16->16 against ORT's 10-16 ms). Those layers hold most of a U-Net's conv time, hence
 * its smaller overall gain than the classifier's.
 *
 * Used when onnxruntime-node loads and not disabled (FOVEA_ORT_KERNELS=0, or
 * setOrtConvKernelsEnabled(false)); otherwise wasm-kernels.ts runs its own kernels. Intra-op
 * threads: every core by default (threads.ts; FOVEA_ORT_KERNEL_THREADS overrides it here).
 */
import { createRequire } from 'node:module';
import onnxProto from 'onnx-proto';
import { cpuThreads } from './threads';

const require = createRequire(import.meta.url);
const { onnx } = onnxProto;
const ATTR = onnx.AttributeProto.AttributeType;

interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: Record<string, unknown>): void;
  run(feeds: Record<string, unknown>, fetches: Record<string, unknown>, options: Record<string, unknown>): Record<string, { data: Float32Array; dims: number[] }>;
  dispose(): void;
}
interface Native {
  binding: { InferenceSession: new () => NativeSession };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
}

let native: Native | null | undefined;
let nativeReason = '';
let enabled = process.env['FOVEA_ORT_KERNELS'] !== '0';

/**
 * The one version whose internal binding this file was written and tested against (package.json
 * pins it exactly). Any other version is never loaded: the wasm kernels run instead.
 */
export const ORT_BINDING_VERSION = '1.30.0';

export interface NativeBindingProbe {
  /** The installed onnxruntime-node version, or null when it is not installed. */
  version(): string | null;
  /** Loads the internal binding (onnxruntime-node/dist/binding) and onnxruntime-common's Tensor. */
  load(): Native;
}

const realProbe: NativeBindingProbe = {
  version() {
    try {
      return (require('onnxruntime-node/package.json') as { version?: string }).version ?? null;
    } catch {
      return null;
    }
  },
  load() {
    const b = require('onnxruntime-node/dist/binding') as { binding: Native['binding']; initOrt(): void };
    b.initOrt();
    const common = require('onnxruntime-common') as { Tensor: Native['Tensor'] };
    if (typeof b.binding?.InferenceSession !== 'function' || typeof common.Tensor !== 'function') throw new Error('the binding does not have the expected shape');
    return { binding: b.binding, Tensor: common.Tensor };
  },
};

/**
 * The seam to onnxruntime-node's private binding: the version check first (a different version
 * is never loaded), then the load and a shape check. Null with the reason when it cannot be used.
 */
export function resolveNativeBinding(probe: NativeBindingProbe): { native: Native | null; reason: string } {
  const version = probe.version();
  if (version == null) return { native: null, reason: 'onnxruntime-node is not installed: the wasm kernels run the convolutions' };
  if (version !== ORT_BINDING_VERSION) {
    return { native: null, reason: `onnxruntime-node ${version} is not ${ORT_BINDING_VERSION}, the version whose internal binding Fovea was tested with: the wasm kernels run the convolutions` };
  }
  try {
    return { native: probe.load(), reason: `onnxruntime-node ${version} runs the convolutions` };
  } catch (e) {
    return { native: null, reason: `onnxruntime-node ${version}'s binding failed to load (${(e instanceof Error ? e.message : String(e)).split('\n')[0]}): the wasm kernels run the convolutions` };
  }
}

function loadNative(): Native | null {
  if (native !== undefined) return native;
  const r = resolveNativeBinding(realProbe);
  native = r.native;
  nativeReason = r.reason;
  return native;
}

/** Why the convolutions run where they do (for logs and `fovea info`). */
export function ortConvKernelsReason(): string {
  loadNative();
  return enabled ? nativeReason : 'ONNX Runtime convolutions are disabled (FOVEA_ORT_KERNELS=0)';
}

/** Whether convolutions run on ONNX Runtime (it loaded, and it is not disabled). */
export function ortConvKernelsActive(): boolean {
  return enabled && loadNative() != null;
}

/** Turns the ONNX Runtime convolutions on or off (benchmarks, tests: both paths are checked). */
export function setOrtConvKernelsEnabled(on: boolean): void {
  enabled = on;
}

let threadsOverride: number | null = null;

/** This thread's intra-op threads from now on (null: back to the default); data-parallel training sets 1. */
export function setOrtKernelThreads(threads: number | null): void {
  threadsOverride = threads;
}

/** ONNX Runtime's intra-op threads: setOrtKernelThreads's, else FOVEA_ORT_KERNEL_THREADS, else the training threads (threads.ts). */
export function ortKernelThreads(): number {
  if (threadsOverride != null) return threadsOverride;
  const t = Number(process.env['FOVEA_ORT_KERNEL_THREADS']);
  return Number.isInteger(t) && t >= 1 ? t : cpuThreads();
}

const sessions = new Map<string, NativeSession>();
// A U-Net's convolutions need about 60 (forward, both gradients, 1-3 filter-gradient tiles).
const MAX_SESSIONS = 160;

function session(graphKey: string, build: () => Uint8Array): NativeSession {
  // A session's pool size is fixed when it is created: the thread count is part of the key.
  const threads = ortKernelThreads();
  const key = `${graphKey}|threads=${threads}`;
  const hit = sessions.get(key);
  if (hit) return hit;
  const n = loadNative();
  if (!n) throw new Error('onnxruntime-node is not available');
  const bytes = build();
  const s = new n.binding.InferenceSession();
  // Up to MAX_SESSIONS pools, used one after another: a pool whose threads spin after their op
  // (ORT's default) takes the cores from the next op's pool, so its threads sleep at once instead.
  s.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  if (sessions.size >= MAX_SESSIONS) {
    const [oldest, old] = sessions.entries().next().value as [string, NativeSession];
    old.dispose();
    sessions.delete(oldest);
  }
  sessions.set(key, s);
  return s;
}

/**
 * Runs a session with the output written straight into `out` (a preallocated fetch: a view of the
 * wasm heap, saving a copy of the output) when the binding honours it; otherwise copies into it.
 */
function runInto(s: NativeSession, feeds: Record<string, unknown>, name: string, out: Float32Array, dims: number[]): Float32Array {
  const T = (loadNative() as Native).Tensor;
  const got = (s.run(feeds, { [name]: new T('float32', out, dims) }, {})[name] as { data: Float32Array }).data;
  if (got !== out && (got.buffer !== out.buffer || got.byteOffset !== out.byteOffset)) out.set(got);
  return out;
}

const ints = (name: string, v: number[]) => ({ name, type: ATTR.INTS, ints: v });
const valueInfo = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });

function model(nodes: object[], inputs: [string, number[]][], output: [string, number[]]): Uint8Array {
  const m = {
    irVersion: 7,
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'conv', node: nodes, input: inputs.map(([n, d]) => valueInfo(n, d)), output: [valueInfo(output[0], output[1])] },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(m)).finish();
}

/** Geometry of a 2-D NHWC convolution (TF.js's Conv2DInfo, the parts used here). */
export interface ConvGeometry {
  N: number;
  H: number;
  W: number;
  C: number;
  OH: number;
  OW: number;
  CO: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  pads: { top: number; bottom: number; left: number; right: number };
}

function geomKey(g: ConvGeometry): string {
  return [g.N, g.H, g.W, g.C, g.OH, g.OW, g.CO, g.kh, g.kw, g.sh, g.sw, g.pads.top, g.pads.bottom, g.pads.left, g.pads.right].join(',');
}

/**
 * y[N,OH,OW,CO] = conv(x[N,H,W,C], w[kh,kw,C,CO]) (+ bias[CO]) (relu): TF.js's Conv2D / FusedConv2D.
 * Returns ORT's output buffer (the caller copies it).
 */
export function ortConvForward(x: Float32Array, w: Float32Array, bias: Float32Array | null, relu: boolean, g: ConvGeometry, out: Float32Array): Float32Array {
  const key = `fwd:${geomKey(g)}:${bias ? 'b' : ''}${relu ? 'r' : ''}`;
  const s = session(key, () => {
    const convIn = ['xt', 'wt', ...(bias ? ['b'] : [])];
    const nodes: object[] = [
      { opType: 'Transpose', input: ['x'], output: ['xt'], attribute: [ints('perm', [0, 3, 1, 2])] },
      { opType: 'Transpose', input: ['w'], output: ['wt'], attribute: [ints('perm', [3, 2, 0, 1])] },
      {
        opType: 'Conv',
        input: convIn,
        output: [relu ? 'yc' : 'yt'],
        attribute: [ints('kernel_shape', [g.kh, g.kw]), ints('strides', [g.sh, g.sw]), ints('pads', [g.pads.top, g.pads.left, g.pads.bottom, g.pads.right])],
      },
      ...(relu ? [{ opType: 'Relu', input: ['yc'], output: ['yt'] }] : []),
      { opType: 'Transpose', input: ['yt'], output: ['y'], attribute: [ints('perm', [0, 2, 3, 1])] },
    ];
    const inputs: [string, number[]][] = [
      ['x', [g.N, g.H, g.W, g.C]],
      ['w', [g.kh, g.kw, g.C, g.CO]],
      ...(bias ? ([['b', [g.CO]]] as [string, number[]][]) : []),
    ];
    return model(nodes, inputs, ['y', [g.N, g.OH, g.OW, g.CO]]);
  });
  const T = (loadNative() as Native).Tensor;
  const feeds: Record<string, unknown> = { x: new T('float32', x, [g.N, g.H, g.W, g.C]), w: new T('float32', w, [g.kh, g.kw, g.C, g.CO]) };
  if (bias) feeds['b'] = new T('float32', bias, [g.CO]);
  return runInto(s, feeds, 'y', out, [g.N, g.OH, g.OW, g.CO]);
}

/**
 * Whether ortConvBackpropInput can produce exactly [N,H,W,C] (ConvTranspose's output_padding must
 * be in [0, stride)).
 */
export function backpropInputFits(g: ConvGeometry): boolean {
  const ph = g.H - (g.sh * (g.OH - 1) + g.kh - g.pads.top - g.pads.bottom);
  const pw = g.W - (g.sw * (g.OW - 1) + g.kw - g.pads.left - g.pads.right);
  return ph >= 0 && ph < g.sh && pw >= 0 && pw < g.sw;
}

/** dx[N,H,W,C] from dy[N,OH,OW,CO] and w[kh,kw,C,CO]: TF.js's Conv2DBackpropInput, as ConvTranspose. */
export function ortConvBackpropInput(dy: Float32Array, w: Float32Array, g: ConvGeometry, out: Float32Array): Float32Array {
  const key = `bpi:${geomKey(g)}`;
  const s = session(key, () => {
    // Stride 1: a plain Conv of dy with the flipped, in/out-swapped filter. ORT runs Conv in its
    // blocked (NCHWc) layout, while ConvTranspose is a GEMM then a col2im scatter, which was up
    // to 1.3x slower than the wasm kernel on the U-Net's 64x64 and 128x128 layers.
    const ft = g.kh - 1 - g.pads.top;
    const fl = g.kw - 1 - g.pads.left;
    const fb = g.H - g.OH + g.kh - 1 - ft;
    const fr = g.W - g.OW + g.kw - 1 - fl;
    if (g.sh === 1 && g.sw === 1 && g.C >= 8 && ft >= 0 && fl >= 0 && fb >= 0 && fr >= 0) {
      const nodes: object[] = [
        { opType: 'Transpose', input: ['dy'], output: ['dyt'], attribute: [ints('perm', [0, 3, 1, 2])] },
        // [kh,kw,C,CO] -> [C, CO, kh, kw] (Conv's [out, in, kh, kw]), then flipped spatially.
        { opType: 'Transpose', input: ['w'], output: ['wt'], attribute: [ints('perm', [2, 3, 0, 1])] },
        { opType: 'Slice', input: ['wt', 'starts', 'ends', 'axes', 'steps'], output: ['wf'] },
        { opType: 'Conv', input: ['dyt', 'wf'], output: ['dxt'], attribute: [ints('kernel_shape', [g.kh, g.kw]), ints('strides', [1, 1]), ints('pads', [ft, fl, fb, fr])] },
        { opType: 'Transpose', input: ['dxt'], output: ['dx'], attribute: [ints('perm', [0, 2, 3, 1])] },
      ];
      const I64 = onnx.TensorProto.DataType.INT64;
      const big = -(2 ** 31);
      const m = {
        irVersion: 7,
        opsetImport: [{ domain: '', version: 13 }],
        graph: {
          name: 'conv',
          node: nodes,
          input: [valueInfo('dy', [g.N, g.OH, g.OW, g.CO]), valueInfo('w', [g.kh, g.kw, g.C, g.CO])],
          output: [valueInfo('dx', [g.N, g.H, g.W, g.C])],
          initializer: [
            { name: 'starts', dims: [2], dataType: I64, int64Data: [-1, -1] },
            { name: 'ends', dims: [2], dataType: I64, int64Data: [big, big] },
            { name: 'axes', dims: [2], dataType: I64, int64Data: [2, 3] },
            { name: 'steps', dims: [2], dataType: I64, int64Data: [-1, -1] },
          ],
        },
      };
      return onnx.ModelProto.encode(onnx.ModelProto.create(m)).finish();
    }
    const ph = g.H - (g.sh * (g.OH - 1) + g.kh - g.pads.top - g.pads.bottom);
    const pw = g.W - (g.sw * (g.OW - 1) + g.kw - g.pads.left - g.pads.right);
    const nodes: object[] = [
      { opType: 'Transpose', input: ['dy'], output: ['dyt'], attribute: [ints('perm', [0, 3, 1, 2])] },
      // ConvTranspose's weight is [in = CO, out = C, kh, kw].
      { opType: 'Transpose', input: ['w'], output: ['wt'], attribute: [ints('perm', [3, 2, 0, 1])] },
      {
        opType: 'ConvTranspose',
        input: ['dyt', 'wt'],
        output: ['dxt'],
        attribute: [
          ints('kernel_shape', [g.kh, g.kw]),
          ints('strides', [g.sh, g.sw]),
          ints('pads', [g.pads.top, g.pads.left, g.pads.bottom, g.pads.right]),
          ints('output_padding', [ph, pw]),
        ],
      },
      { opType: 'Transpose', input: ['dxt'], output: ['dx'], attribute: [ints('perm', [0, 2, 3, 1])] },
    ];
    return model(
      nodes,
      [
        ['dy', [g.N, g.OH, g.OW, g.CO]],
        ['w', [g.kh, g.kw, g.C, g.CO]],
      ],
      ['dx', [g.N, g.H, g.W, g.C]],
    );
  });
  const T = (loadNative() as Native).Tensor;
  return runInto(s, { dy: new T('float32', dy, [g.N, g.OH, g.OW, g.CO]), w: new T('float32', w, [g.kh, g.kw, g.C, g.CO]) }, 'dx', out, [g.N, g.H, g.W, g.C]);
}

let bpfForced = false;
/** Target size of one call's im2col: a tile that stays in the (1 MB per core here) L2 cache. */
const BPF_TILE_BYTES_DEFAULT = 1.25 * 1024 * 1024;
let bpfTileBytes = BPF_TILE_BYTES_DEFAULT;

/**
 * Whether Conv2DBackpropFilter runs on ONNX Runtime for this shape: stride 1 and x with at least
 * 4 channels. Measured on the U-Net's 3x3 layers (batch 8, one thread, tiled as below): 0.45-0.8x
 * the wasm kernel's time from 32x32 down, 0.6-0.8x at 64x64 and 128x128. With 1-3 input channels
 * about the same or slower; with stride 2 (the U-Net's 2x2/2 up-convolutions) the strided Slices
 * copy element by element: 1.7x slower.
 */
export function backpropFilterOnOrt(g: ConvGeometry): boolean {
  if (bpfForced) return true;
  return g.sh === 1 && g.sw === 1 && g.C >= 4;
}

/** Runs every Conv2DBackpropFilter ONNX Runtime can take on it, whatever the shape (tests). */
export function setOrtBackpropFilterForced(on: boolean): void {
  bpfForced = on;
}

/**
 * Sets the im2col tile size of ortConvBackpropFilter in bytes (tests: a few KB tiles small shapes
 * by rows and by images); null restores the default.
 */
export function setOrtBackpropFilterTileBytes(bytes: number | null): void {
  bpfTileBytes = bytes ?? BPF_TILE_BYTES_DEFAULT;
}

/** One call's part of the reduction: images [n0, n0+n), output rows [r0, r1) of each. */
interface BpfTile {
  n0: number;
  n: number;
  r0: number;
  r1: number;
}

/**
 * Splits dW's reduction over N*OH*OW output pixels into tiles whose im2col (kh*kw*C floats per
 * pixel) is about bpfTileBytes: runs of output rows of one image, or whole images when one image's
 * im2col fits. Stride 1 only (a row tile's input rows then overlap by kh-1); otherwise one tile.
 */
function bpfTiles(g: ConvGeometry): BpfTile[] {
  const rowBytes = g.OW * g.kh * g.kw * g.C * 4;
  const imageBytes = g.OH * rowBytes;
  if (g.sh !== 1 || g.N * imageBytes <= bpfTileBytes) return [{ n0: 0, n: g.N, r0: 0, r1: g.OH }];
  const tiles: BpfTile[] = [];
  if (imageBytes <= bpfTileBytes) {
    const k = Math.max(1, Math.floor(bpfTileBytes / imageBytes));
    for (let n0 = 0; n0 < g.N; n0 += k) tiles.push({ n0, n: Math.min(k, g.N - n0), r0: 0, r1: g.OH });
    return tiles;
  }
  // Equal row runs (fewer distinct shapes, so fewer cached sessions).
  const parts = Math.ceil(imageBytes / bpfTileBytes);
  const R = Math.ceil(g.OH / parts);
  for (let n0 = 0; n0 < g.N; n0++) for (let r0 = 0; r0 < g.OH; r0 += R) tiles.push({ n0, n: 1, r0, r1: Math.min(g.OH, r0 + R) });
  return tiles;
}

/**
 * dW[kh,kw,C,CO] from x[N,H,W,C] and dy[N,OH,OW,CO]: TF.js's Conv2DBackpropFilter, as im2col + one
 * GEMM per tile (bpfTiles). x is transposed to [C,N,H,W] and padded; each filter tap (a,b) is one
 * strided Slice [C,N,OH,OW]; their Concat on axis 0 is cols[kh*kw*C, P] (P = N*OH*OW; rows copied
 * OW floats at a time), and dW = cols dy ([kh*kw*C, CO], which is [kh,kw,C,CO] as laid out).
 *
 * Tiles: one im2col of the whole batch is 75-150 MB on the U-Net's 128x128 layers, and writing it
 * out and reading it back made the GEMM memory-bound (no faster than the wasm kernel there).
 * A tile is a contiguous view of x (its output rows' input rows, kh-1 overlapping, padded only at
 * the image's top/bottom) and of dy; the tiles' GEMMs accumulate (Gemm's C input, beta 1) into
 * two buffers in turn, the last being `out`. Measured (batch 8, one thread) against the untiled
 * graph / the wasm kernel: 128x128 16->16 10.7 vs 16.9 / 13.3 ms, 32->16 19 vs 42 / 27 ms, 64x64
 * 64->32 14 vs 23 / 22 ms, 32->32 6.5 vs 9 / 11 ms.
 *
 * Measured and dropped: the pixel-major im2col (a Concat on channels, [P, kh*kw*C], then a
 * transposed GEMM: 1.1-1.6x slower) and a Conv with batch and channels swapped and dilation =
 * stride (slower than the wasm kernel on most U-Net shapes: a GEMM 9 columns wide).
 */
export function ortConvBackpropFilter(x: Float32Array, dy: Float32Array, g: ConvGeometry, out: Float32Array): Float32Array {
  const all = bpfTiles(g);
  if (all.length === 1) return bpfRun(x, dy, g, null, out);
  // Input rows a tile's output rows read: [r0 - top, r1 - 1 - top + kh), clamped to the image.
  // A tile that reads padding only (large explicit padding) adds nothing.
  const rowsOf = (t: BpfTile): [number, number, number] => {
    const in0 = t.r0 - g.pads.top;
    const in1 = t.r1 - 1 - g.pads.top + g.kh;
    return [in0, Math.max(0, in0), Math.min(g.H, in1)];
  };
  const tiles = all.filter((t) => {
    const [, a, b] = rowsOf(t);
    return b > a;
  });
  if (tiles.length === 0) return out.fill(0);
  const T = g.kh * g.kw * g.C * g.CO;
  const bufs = [out, new Float32Array(T)];
  const inPix = g.W * g.C;
  const outPix = g.OW * g.CO;
  let prev: Float32Array | null = null;
  for (const [i, t] of tiles.entries()) {
    const [in0, a, b] = rowsOf(t);
    const in1 = t.r1 - 1 - g.pads.top + g.kh;
    const whole = t.r0 === 0 && t.r1 === g.OH;
    const rows = whole ? g.H : b - a;
    const first = whole ? 0 : a;
    const tg: ConvGeometry = whole
      ? { ...g, N: t.n }
      : { ...g, N: t.n, H: rows, OH: t.r1 - t.r0, pads: { ...g.pads, top: a - in0, bottom: Math.max(0, in1 - b) } };
    const xv = x.subarray((t.n0 * g.H + first) * inPix, (t.n0 * g.H + first + (t.n - 1) * g.H + rows) * inPix);
    const dyv = dy.subarray((t.n0 * g.OH + t.r0) * outPix, (t.n0 * g.OH + t.r0 + (t.n - 1) * g.OH + (t.r1 - t.r0)) * outPix);
    const dst = bufs[(tiles.length - 1 - i) % 2] as Float32Array;
    bpfRun(xv, dyv, tg, prev, dst);
    prev = dst;
  }
  return out;
}

/** One im2col + GEMM (+ acc, when given) call; see ortConvBackpropFilter. */
function bpfRun(x: Float32Array, dy: Float32Array, g: ConvGeometry, acc: Float32Array | null, out: Float32Array): Float32Array {
  const key = `bpf:${geomKey(g)}${acc ? ':acc' : ''}`;
  const s = session(key, () => {
    const I64 = onnx.TensorProto.DataType.INT64;
    const pb = Math.max(0, (g.OH - 1) * g.sh + g.kh - g.H - g.pads.top);
    const pr = Math.max(0, (g.OW - 1) * g.sw + g.kw - g.W - g.pads.left);
    const P = g.N * g.OH * g.OW;
    const init: object[] = [
      { name: 'pads', dims: [8], dataType: I64, int64Data: [0, 0, g.pads.top, g.pads.left, 0, 0, pb, pr] },
      { name: 'axes', dims: [2], dataType: I64, int64Data: [2, 3] },
      { name: 'steps', dims: [2], dataType: I64, int64Data: [g.sh, g.sw] },
      { name: 'colsShape', dims: [2], dataType: I64, int64Data: [g.kh * g.kw * g.C, P] },
      { name: 'dyShape', dims: [2], dataType: I64, int64Data: [P, g.CO] },
      { name: 'dwShape', dims: [4], dataType: I64, int64Data: [g.kh, g.kw, g.C, g.CO] },
    ];
    const nodes: object[] = [
      { opType: 'Transpose', input: ['x'], output: ['xt'], attribute: [ints('perm', [3, 0, 1, 2])] },
      { opType: 'Pad', input: ['xt', 'pads'], output: ['xp'] },
    ];
    const parts: string[] = [];
    for (let a = 0; a < g.kh; a++) {
      for (let b = 0; b < g.kw; b++) {
        init.push({ name: `st${a}_${b}`, dims: [2], dataType: I64, int64Data: [a, b] });
        init.push({ name: `en${a}_${b}`, dims: [2], dataType: I64, int64Data: [a + (g.OH - 1) * g.sh + 1, b + (g.OW - 1) * g.sw + 1] });
        nodes.push({ opType: 'Slice', input: ['xp', `st${a}_${b}`, `en${a}_${b}`, 'axes', 'steps'], output: [`s${a}_${b}`] });
        parts.push(`s${a}_${b}`);
      }
    }
    nodes.push({ opType: 'Concat', input: parts, output: ['cat'], attribute: [{ name: 'axis', type: ATTR.INT, i: 0 }] });
    nodes.push({ opType: 'Reshape', input: ['cat', 'colsShape'], output: ['cols'] });
    nodes.push({ opType: 'Reshape', input: ['dy', 'dyShape'], output: ['dy2'] });
    nodes.push({ opType: 'Gemm', input: ['cols', 'dy2', ...(acc ? ['acc'] : [])], output: ['dw2'] });
    nodes.push({ opType: 'Reshape', input: ['dw2', 'dwShape'], output: ['dw'] });
    const inputs = [valueInfo('x', [g.N, g.H, g.W, g.C]), valueInfo('dy', [g.N, g.OH, g.OW, g.CO]), ...(acc ? [valueInfo('acc', [g.kh * g.kw * g.C, g.CO])] : [])];
    const m = {
      irVersion: 7,
      opsetImport: [{ domain: '', version: 13 }],
      graph: { name: 'conv', node: nodes, input: inputs, output: [valueInfo('dw', [g.kh, g.kw, g.C, g.CO])], initializer: init },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(m)).finish();
  });
  const T = (loadNative() as Native).Tensor;
  const feeds: Record<string, unknown> = { x: new T('float32', x, [g.N, g.H, g.W, g.C]), dy: new T('float32', dy, [g.N, g.OH, g.OW, g.CO]) };
  if (acc) feeds['acc'] = new T('float32', acc, [g.kh * g.kw * g.C, g.CO]);
  return runInto(s, feeds, 'dw', out, [g.kh, g.kw, g.C, g.CO]);
}
