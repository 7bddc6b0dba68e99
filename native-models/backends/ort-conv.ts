/**
 * Convolutions for the wasm backend's training kernels run by ONNX Runtime's CPU kernels (MLAS,
 * native SIMD: 2-2.5x the wasm SIMD conv on the shapes a CNN or U-Net trains with).
 *
 * TF.js kernels are synchronous, so this uses onnxruntime-node's native binding directly (its
 * `run` is synchronous; the public InferenceSession only wraps it in a Promise). That binding
 * (onnxruntime-node/dist/binding) is not a public API: package.json pins onnxruntime-node to an
 * exact version, and if a future version moves it, loadNative() returns null and the wasm kernels
 * run instead (slower, never wrong); the kernel tests check both paths. One tiny ONNX
 * graph per shape and attribute set (Transpose NHWC->NCHW, Conv or ConvTranspose, Transpose back;
 * ORT's layout optimiser fuses the transposes into its blocked-layout reorders), cached. Inputs
 * are read in place from the wasm heap (views); the output is copied into the heap by the caller.
 *
 * Used when onnxruntime-node loads and not disabled (FOVEA_ORT_KERNELS=0, or
 * setOrtConvKernelsEnabled(false)); otherwise wasm-kernels.ts runs its own kernels. One intra-op
 * thread by default (FOVEA_ORT_KERNEL_THREADS): the wasm backend itself runs on one.
 */
import { createRequire } from 'node:module';
import onnxProto from 'onnx-proto';

const require = createRequire(import.meta.url);
const { onnx } = onnxProto;
const ATTR = onnx.AttributeProto.AttributeType;

interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: Record<string, unknown>): void;
  run(feeds: Record<string, unknown>, fetches: Record<string, null>, options: Record<string, unknown>): Record<string, { data: Float32Array; dims: number[] }>;
  dispose(): void;
}
interface Native {
  binding: { InferenceSession: new () => NativeSession };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
}

let native: Native | null | undefined;
let enabled = process.env['FOVEA_ORT_KERNELS'] !== '0';

function loadNative(): Native | null {
  if (native !== undefined) return native;
  try {
    const b = require('onnxruntime-node/dist/binding') as { binding: Native['binding']; initOrt(): void };
    b.initOrt();
    const common = require('onnxruntime-common') as { Tensor: Native['Tensor'] };
    native = { binding: b.binding, Tensor: common.Tensor };
  } catch {
    native = null;
  }
  return native;
}

/** Whether convolutions run on ONNX Runtime (it loaded, and it is not disabled). */
export function ortConvKernelsActive(): boolean {
  return enabled && loadNative() != null;
}

/** Turns the ONNX Runtime convolutions on or off (benchmarks, tests: both paths are checked). */
export function setOrtConvKernelsEnabled(on: boolean): void {
  enabled = on;
}

function threads(): number {
  const t = Number(process.env['FOVEA_ORT_KERNEL_THREADS']);
  return Number.isInteger(t) && t >= 1 ? t : 1;
}

const sessions = new Map<string, NativeSession>();
const MAX_SESSIONS = 96;

function session(key: string, build: () => Uint8Array): NativeSession {
  const hit = sessions.get(key);
  if (hit) return hit;
  const n = loadNative();
  if (!n) throw new Error('onnxruntime-node is not available');
  const bytes = build();
  const s = new n.binding.InferenceSession();
  s.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, { intraOpNumThreads: threads(), interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' });
  if (sessions.size >= MAX_SESSIONS) {
    const [oldest, old] = sessions.entries().next().value as [string, NativeSession];
    old.dispose();
    sessions.delete(oldest);
  }
  sessions.set(key, s);
  return s;
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
export function ortConvForward(x: Float32Array, w: Float32Array, bias: Float32Array | null, relu: boolean, g: ConvGeometry): Float32Array {
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
  return (s.run(feeds, { y: null }, {})['y'] as { data: Float32Array }).data;
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
export function ortConvBackpropInput(dy: Float32Array, w: Float32Array, g: ConvGeometry): Float32Array {
  const key = `bpi:${geomKey(g)}`;
  const s = session(key, () => {
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
  return (s.run({ dy: new T('float32', dy, [g.N, g.OH, g.OW, g.CO]), w: new T('float32', w, [g.kh, g.kw, g.C, g.CO]) }, { dx: null }, {})['dx'] as { data: Float32Array }).data;
}
