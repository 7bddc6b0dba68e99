/**
 * Warm starts from an ONNX model: the `model.onnx` that the PyTorch hand-off's train.py writes
 * (resources/export-templates/pytorch/train.py, the same model families as Fovea's) or Fovea's own
 * ONNX export (native-models/export/onnx-export.ts).
 *
 * ONNX names are the exporter's ("/net/features/0/0/Conv", "onnx::Conv_123"), not Fovea's layer
 * names, so layers are matched by ORDER and SHAPE instead: the weighted nodes (Conv,
 * ConvTranspose, BatchNormalization, Gemm, MatMul + Add) in graph order against the new model's
 * weighted layers in their order, kind by kind, every converted weight of the same shape. Both
 * torch's exporter and Fovea's factories list a model's layers in the order its forward pass runs
 * them (checked for the classifier, U-Net and detector in test/unit/native-models/onnx-warm-start).
 * The first layer that does not fit is named in the refusal (WarmStartMismatch), before any run.
 *
 * Layouts: ONNX Conv W [out, in, kh, kw] -> TF.js [kh, kw, in, out]; ConvTranspose W [in, out, kh,
 * kw] -> TF.js conv2dTranspose [kh, kw, out, in] (the same permutation, no flip: both are the
 * gradient of a correlation); Gemm B [out, in] with transB, or [in, out] -> dense [in, out].
 *
 * Batch norm: torch's exporter, in eval mode, folds every BatchNorm into the Conv before it (W' =
 * W·γ/√(var+ε), b' = (b − mean)·γ/√(var+ε) + β), so a train.py model.onnx has Conv nodes with a
 * bias and no BatchNormalization. Fovea's conv-BN pair then takes the folded kernel and a BN that
 * passes it through: γ = 1, β = b', mean 0, var = 1 − ε (so √(var + ε) = 1): the same function at
 * inference, and a body whose filters are the trained ones. A pass-through BN normalises with
 * its batch's statistics while training, though, which the source never did: before the first
 * step the trainer measures each such BN's input on a few training batches (mean μ, variance σ²,
 * through the model as loaded, which computes the source's function) and sets mean μ, var σ²,
 * γ = √(σ² + ε), β = b' + μ: the same function at inference, and nearly the same in training
 * (calibrateFoldedBatchNorms). An unfolded BatchNormalization (Fovea's
 * export) is loaded as it is: γ, β, mean, var, with var shifted by ε_source − ε_new so var + ε is
 * the source's (clamped at 0); a Conv bias before it moves into the BN's mean.
 *
 * New classes: the head (headLayerNames) still takes its place in the order, but keeps its
 * initial weights, whatever shape the source's head has.
 */
import { readFileSync, statSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import type { TaskKind } from '../../electron/contract/ml';
import { headLayerNames, WarmStartMismatch, type WarmStartMatch } from './warm-start';

const { onnx } = onnxProto;
type INode = onnxProto.onnx.INodeProto;
type ITensor = onnxProto.onnx.ITensorProto;

/** A float32 constant of the ONNX graph. */
export interface OnnxConst {
  dims: number[];
  data: Float32Array;
}

/** A weighted node of the ONNX graph, in graph order, with its weights as constants. */
export type OnnxWeighted =
  | { kind: 'conv'; node: string; input: string; output: string; w: OnnxConst; b: OnnxConst | null; group: number }
  | { kind: 'conv-transpose'; node: string; input: string; output: string; w: OnnxConst; b: OnnxConst | null; group: number }
  | { kind: 'batch-norm'; node: string; input: string; output: string; scale: OnnxConst; bias: OnnxConst; mean: OnnxConst; variance: OnnxConst; epsilon: number }
  /** w is [in, out] (already transposed for Gemm's transB). */
  | { kind: 'dense'; node: string; input: string; output: string; w: OnnxConst; b: OnnxConst | null };

const MAX_ONNX_BYTES = 512 * 1024 * 1024;

const num = (v: unknown): number => (typeof v === 'number' ? v : v && typeof (v as { toNumber?: () => number }).toNumber === 'function' ? (v as { toNumber(): number }).toNumber() : Number(v));

function constOf(t: ITensor, label: string): OnnxConst | string {
  const dims = (t.dims ?? []).map(num);
  const n = dims.reduce((a, b) => a * b, 1);
  if ((t.externalData ?? []).length > 0 || t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return `${label} keeps its weights in an external file (save the model with its weights inside)`;
  let data: Float32Array;
  if (t.dataType === onnx.TensorProto.DataType.FLOAT) {
    if (t.rawData && t.rawData.length > 0) {
      const raw = t.rawData;
      const copy = new Uint8Array(raw.byteLength);
      copy.set(raw);
      data = new Float32Array(copy.buffer);
    } else data = Float32Array.from(t.floatData ?? []);
  } else if (t.dataType === onnx.TensorProto.DataType.DOUBLE) {
    if (t.rawData && t.rawData.length > 0) {
      const copy = new Uint8Array(t.rawData.byteLength);
      copy.set(t.rawData);
      data = Float32Array.from(new Float64Array(copy.buffer));
    } else data = Float32Array.from(t.doubleData ?? []);
  } else {
    return `${label} has weights of ONNX element type ${t.dataType ?? '?'} (only float32 and float64 weights are read)`;
  }
  if (data.length !== n) return `${label} holds ${data.length} values for dims [${dims.join(', ')}]`;
  return { dims, data };
}

function attr(node: INode, name: string): onnxProto.onnx.IAttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}
const attrInt = (node: INode, name: string, dflt: number): number => {
  const a = attr(node, name);
  return a ? num(a.i) : dflt;
};
const attrFloat = (node: INode, name: string, dflt: number): number => {
  const a = attr(node, name);
  return a && a.f !== undefined && a.f !== null ? a.f : dflt;
};

function transposed2d(c: OnnxConst): OnnxConst {
  const [r, k] = c.dims as [number, number];
  const out = new Float32Array(c.data.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < k; j++) out[j * r + i] = c.data[i * k + j] as number;
  return { dims: [k, r], data: out };
}

/**
 * The weighted nodes of ONNX bytes, in graph order (see the file header). Weights are the graph's
 * initializers and Constant nodes, also through Identity nodes (torch shares equal constants that
 * way). Throws WarmStartMismatch (layer '') for bytes that are not ONNX or whose weights cannot be read.
 */
export function readOnnxWeighted(bytes: Uint8Array, label: string): OnnxWeighted[] {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new WarmStartMismatch('', `${label} is not an ONNX model (${(e as Error).message}).`);
  }
  const g = model.graph;
  if (!g || !g.node || g.node.length === 0) throw new WarmStartMismatch('', `${label} is not an ONNX model: it has no graph.`);
  const raw = new Map<string, ITensor>();
  for (const t of g.initializer ?? []) if (t.name) raw.set(t.name, t);
  for (const n of g.node) {
    if (n.opType === 'Constant' && n.output?.[0]) {
      const value = attr(n, 'value')?.t;
      if (value) raw.set(n.output[0], value);
    } else if (n.opType === 'Identity' && n.input?.[0] && n.output?.[0]) {
      const src = raw.get(n.input[0]);
      if (src) raw.set(n.output[0], src);
    }
  }
  const consts = new Map<string, OnnxConst>();
  const get = (name: string | undefined, what: string, node: string): OnnxConst | null => {
    if (!name) return null;
    const hit = consts.get(name);
    if (hit) return hit;
    const t = raw.get(name);
    if (!t) return null;
    const c = constOf(t, `the ${what} of node "${node}" in ${label}`);
    if (typeof c === 'string') throw new WarmStartMismatch(node, `${c}.`);
    consts.set(name, c);
    return c;
  };
  const need = (name: string | undefined, what: string, node: string): OnnxConst => {
    const c = get(name, what, node);
    if (!c) throw new WarmStartMismatch(node, `node "${node}" (${what}) of ${label} takes its weights from another node, not from constants: the weights cannot be read.`);
    return c;
  };
  const out: OnnxWeighted[] = [];
  const byOutput = new Map<string, Extract<OnnxWeighted, { kind: 'dense' }>>();
  g.node.forEach((n, i) => {
    const node = n.name || `${n.opType ?? 'node'} #${i}`;
    const input = n.input?.[0] ?? '';
    const output = n.output?.[0] ?? '';
    switch (n.opType) {
      case 'Conv':
      case 'ConvTranspose': {
        const w = need(n.input?.[1], 'weights', node);
        const b = get(n.input?.[2], 'bias', node);
        out.push({ kind: n.opType === 'Conv' ? 'conv' : 'conv-transpose', node, input, output, w, b, group: attrInt(n, 'group', 1) });
        break;
      }
      case 'BatchNormalization':
        out.push({
          kind: 'batch-norm',
          node,
          input,
          output,
          scale: need(n.input?.[1], 'scale', node),
          bias: need(n.input?.[2], 'bias', node),
          mean: need(n.input?.[3], 'mean', node),
          variance: need(n.input?.[4], 'variance', node),
          epsilon: attrFloat(n, 'epsilon', 1e-5),
        });
        break;
      case 'Gemm': {
        if (attrInt(n, 'transA', 0) !== 0) throw new WarmStartMismatch(node, `node "${node}" of ${label} is a Gemm with transA: not a dense layer.`);
        let w = need(n.input?.[1], 'weights', node);
        if (w.dims.length !== 2) throw new WarmStartMismatch(node, `node "${node}" of ${label} has ${w.dims.length}-D Gemm weights.`);
        if (attrInt(n, 'transB', 0) !== 0) w = transposed2d(w);
        const alpha = attrFloat(n, 'alpha', 1);
        const beta = attrFloat(n, 'beta', 1);
        if (alpha !== 1) w = { dims: w.dims, data: w.data.map((x) => x * alpha) };
        let b = get(n.input?.[2], 'bias', node);
        if (b && beta !== 1) b = { dims: b.dims, data: b.data.map((x) => x * beta) };
        out.push({ kind: 'dense', node, input, output, w, b });
        break;
      }
      case 'MatMul': {
        const w = get(n.input?.[1], 'weights', node);
        if (!w || w.dims.length !== 2) break; // a product of two activations holds no weights
        const d: Extract<OnnxWeighted, { kind: 'dense' }> = { kind: 'dense', node, input, output, w, b: null };
        out.push(d);
        byOutput.set(output, d);
        break;
      }
      case 'Add': {
        // MatMul + Add: the Add's constant is the dense layer's bias.
        const [a, c] = [n.input?.[0] ?? '', n.input?.[1] ?? ''];
        const dense = byOutput.get(a) ?? byOutput.get(c);
        const bias = dense ? get(byOutput.has(a) ? c : a, 'bias', node) : null;
        if (dense && bias && dense.b === null && bias.data.length === dense.w.dims[1]) {
          dense.b = { dims: [bias.data.length], data: bias.data };
          dense.output = output;
        }
        break;
      }
      default:
        break;
    }
  });
  return out;
}

/** Reads an ONNX file's weighted nodes (readOnnxWeighted). */
export function readOnnxFile(path: string, label: string): OnnxWeighted[] {
  let bytes: Uint8Array;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error('not a file');
    if (st.size > MAX_ONNX_BYTES) throw new Error(`larger than ${MAX_ONNX_BYTES} bytes`);
    bytes = readFileSync(path);
  } catch (e) {
    throw new WarmStartMismatch('', `${label} cannot be read (${path}: ${(e as Error).message}).`);
  }
  return readOnnxWeighted(bytes, label);
}

const fmt = (s: readonly (number | null)[]): string => `[${s.join(', ')}]`;
const sameShape = (a: readonly (number | null)[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** ONNX Conv/ConvTranspose W [o|i, i|o, kh, kw] -> TF.js [kh, kw, i|o, o|i]. */
function convKernel(w: OnnxConst): OnnxConst {
  const [a, b, kh, kw] = w.dims as [number, number, number, number];
  const out = new Float32Array(w.data.length);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) for (let h = 0; h < kh; h++) for (let x = 0; x < kw; x++) out[((h * kw + x) * b + j) * a + i] = w.data[((i * b + j) * kh + h) * kw + x] as number;
  return { dims: [kh, kw, b, a], data: out };
}

const KIND_WORDS: Record<OnnxWeighted['kind'], string> = { conv: 'a Conv', 'conv-transpose': 'a ConvTranspose', 'batch-norm': 'a BatchNormalization', dense: 'a dense layer (Gemm/MatMul)' };

/** Which ONNX kind a TF.js layer class takes (null: a layer with weights this reader cannot fill). */
function kindFor(layer: tf.layers.Layer): OnnxWeighted['kind'] | null {
  switch (layer.getClassName()) {
    case 'Conv2D':
      return 'conv';
    case 'Conv2DTranspose':
      return 'conv-transpose';
    case 'BatchNormalization':
      return 'batch-norm';
    case 'Dense':
      return 'dense';
    default:
      return null;
  }
}

/** Values per Fovea layer, in its weights' order, to set when loading. */
export type OnnxAssignment = Map<string, Float32Array[]>;

/**
 * Which layers of `model` the ONNX source fills, and with what (converted to TF.js layouts).
 * Throws WarmStartMismatch naming the first layer that does not fit.
 */
export function matchOnnxWarmStart(model: tf.LayersModel, source: readonly OnnxWeighted[], opts: { task: TaskKind; newHead: boolean; label: string }): WarmStartMatch & { values: OnnxAssignment; folded: string[] } {
  const heads = new Set(headLayerNames(opts.task));
  const layers = model.layers.filter((l) => l.weights.length > 0);
  const loaded: string[] = [];
  const fresh: string[] = [];
  const folded: string[] = [];
  const values: OnnxAssignment = new Map();
  let k = 0;
  const shapes = (l: tf.layers.Layer): number[][] => l.weights.map((w) => w.shape as number[]);
  const refuse = (layer: tf.layers.Layer, why: string): never => {
    throw new WarmStartMismatch(layer.name, `layer "${layer.name}" does not fit ${why}: ${opts.label} has another architecture (task, input size or channels).`);
  };
  for (let li = 0; li < layers.length; li++) {
    const layer = layers[li] as tf.layers.Layer;
    const kind = kindFor(layer);
    const src = source[k];
    if (kind === null) throw new WarmStartMismatch(layer.name, `layer "${layer.name}" of the new model (${layer.getClassName()}) cannot be filled from an ONNX model.`);
    if (!src) throw new WarmStartMismatch(layer.name, `layer "${layer.name}" of the new model has no counterpart in ${opts.label}: it has fewer weighted layers (${source.length}), so the architecture differs (task, input size or channels).`);
    const at = `(${opts.label}'s weighted node ${k + 1}, "${src.node}", is ${KIND_WORDS[src.kind]}`;
    const head = heads.has(layer.name) && opts.newHead;
    // A Fovea conv without bias followed by its batch norm: one Conv, folded or followed by a BatchNormalization.
    const cfg = layer.getConfig() as { useBias?: boolean; epsilon?: number };
    const next = layers[li + 1];
    const pairedBn = kind === 'conv' && cfg.useBias === false && next !== undefined && kindFor(next) === 'batch-norm' && !(heads.has(next.name) && opts.newHead);
    if (src.kind !== kind) refuse(layer, `${at}; the new model's is a ${layer.getClassName()})`);
    if (head) {
      fresh.push(layer.name);
      k++;
      continue;
    }
    const [ws] = shapes(layer) as [number[]];
    if (src.kind === 'conv' || src.kind === 'conv-transpose') {
      if (src.group !== 1) refuse(layer, `${at} with ${src.group} groups; the new model's ${layer.getClassName()} has none)`);
      if (src.w.dims.length !== 4) refuse(layer, `${at} with ${src.w.dims.length}-D weights)`);
      const kernel = convKernel(src.w);
      if (!sameShape(ws, kernel.dims)) refuse(layer, `${at} with a kernel of ${fmt(kernel.dims)} in TF.js layout; the new model's is ${fmt(ws)})`);
      const filters = kernel.dims[src.kind === 'conv' ? 3 : 2] as number;
      if (src.b && src.b.data.length !== filters) refuse(layer, `${at} with ${src.b.data.length} biases for ${filters} filters)`);
      const bias = src.b ? src.b.data : new Float32Array(filters);
      if (pairedBn) {
        const bn = next as tf.layers.Layer;
        const eps = (bn.getConfig() as { epsilon?: number }).epsilon ?? 1e-3;
        const following = source[k + 1];
        if (!sameShape(shapes(bn)[0] as number[], [filters])) refuse(bn, `(the new model's batch norm after "${layer.name}" has ${fmt(shapes(bn)[0] as number[])} channels, the Conv ${filters})`);
        let bnValues: Float32Array[];
        if (following?.kind === 'batch-norm' && following.input === src.output) {
          // Unfolded: the Conv's bias (if any) moves into the mean: BN(x + b) with mean m is BN(x) with mean m - b.
          if (following.scale.data.length !== filters) refuse(bn, `(${opts.label}'s BatchNormalization "${following.node}" has ${following.scale.data.length} channels, the new model's ${filters})`);
          const shift = following.epsilon - eps;
          bnValues = [following.scale.data, following.bias.data, following.mean.data.map((m, c) => m - (bias[c] as number)), following.variance.data.map((v) => Math.max(0, v + shift))];
          k += 2;
        } else {
          // Folded by the exporter: the BN passes the Conv's output through and adds its bias.
          bnValues = [new Float32Array(filters).fill(1), Float32Array.from(bias), new Float32Array(filters), new Float32Array(filters).fill(1 - eps)];
          folded.push(bn.name);
          k += 1;
        }
        values.set(layer.name, [kernel.data]);
        values.set(bn.name, orderBn(bn, bnValues));
        loaded.push(layer.name, bn.name);
        li++;
        continue;
      }
      if (cfg.useBias === false && src.b && src.b.data.some((x) => x !== 0)) refuse(layer, `${at} with a bias; the new model's ${layer.name} has none)`);
      values.set(layer.name, cfg.useBias === false ? [kernel.data] : [kernel.data, bias]);
      loaded.push(layer.name);
      k++;
      continue;
    }
    if (src.kind === 'dense') {
      if (!sameShape(ws, src.w.dims)) refuse(layer, `${at} of ${fmt(src.w.dims)} ([in, out]); the new model's kernel is ${fmt(ws)})`);
      const units = src.w.dims[1] as number;
      values.set(layer.name, (layer.getConfig() as { useBias?: boolean }).useBias === false ? [src.w.data] : [src.w.data, src.b ? src.b.data : new Float32Array(units)]);
      loaded.push(layer.name);
      k++;
      continue;
    }
    // A batch norm of its own.
    if (!sameShape(ws, [src.scale.data.length])) refuse(layer, `${at} over ${src.scale.data.length} channels; the new model's over ${ws[0]})`);
    const eps = cfg.epsilon ?? 1e-3;
    values.set(layer.name, orderBn(layer, [src.scale.data, src.bias.data, src.mean.data, src.variance.data.map((v) => Math.max(0, v + src.epsilon - eps))]));
    loaded.push(layer.name);
    k++;
  }
  const extra = source[k];
  if (extra) {
    throw new WarmStartMismatch(extra.node, `node "${extra.node}" of ${opts.label} (${KIND_WORDS[extra.kind]}, weighted node ${k + 1} of ${source.length}) has no counterpart in the new model, which has fewer layers: a different architecture or input size.`);
  }
  return { loaded, fresh, values, folded };
}

/** [gamma, beta, mean, variance] in the order the BN layer holds its weights (no gamma/beta when it does not scale/center). */
function orderBn(layer: tf.layers.Layer, v: Float32Array[]): Float32Array[] {
  const [gamma, beta, mean, variance] = v as [Float32Array, Float32Array, Float32Array, Float32Array];
  return layer.weights.map((w) => {
    const short = w.originalName.split('/').pop() ?? '';
    if (short.startsWith('gamma')) return gamma;
    if (short.startsWith('beta')) return beta;
    if (short.startsWith('moving_mean')) return mean;
    return variance;
  });
}

/** Loads the matched layers' weights into `model` (the rest keep their initial values). */
export function setOnnxWeights(model: tf.LayersModel, values: OnnxAssignment): void {
  for (const [name, arrays] of values) {
    const layer = model.getLayer(name);
    const tensors = layer.weights.map((w, i) => tf.tensor(arrays[i] as Float32Array, w.shape as number[], 'float32'));
    try {
      layer.setWeights(tensors);
    } finally {
      tf.dispose(tensors);
    }
  }
}

/** Matches `model` against the ONNX file at `path` and loads it (see matchOnnxWarmStart). */
export function applyOnnxWarmStart(model: tf.LayersModel, path: string, opts: { task: TaskKind; newHead: boolean; label: string }): WarmStartMatch {
  const m = matchOnnxWarmStart(model, readOnnxFile(path, opts.label), opts);
  setOnnxWeights(model, m.values);
  return { loaded: m.loaded, fresh: m.fresh, folded: m.folded };
}

/**
 * Gives the pass-through batch norms of folded ONNX layers (`names`) the statistics of their
 * input on `batches` (x [n, side, side, channels], read in inference mode through the model as
 * loaded): mean μ, variance σ², γ = √(σ² + ε), β = β_loaded + μ, which keeps the model's function
 * at inference exactly and makes training-mode normalisation start near it (see the header).
 * Returns how many images were measured.
 */
export async function calibrateFoldedBatchNorms(model: tf.LayersModel, names: readonly string[], batches: AsyncIterable<tf.Tensor4D>): Promise<number> {
  if (names.length === 0) return 0;
  const bns = names.map((n) => model.getLayer(n));
  // A model over the same layers whose outputs are the batch norms' inputs (it holds no weights of its own).
  const probe = tf.model({ inputs: model.inputs, outputs: bns.map((l) => l.input as tf.SymbolicTensor) });
  const sums = bns.map(() => ({ n: 0, sum: null as Float64Array | null, sq: null as Float64Array | null }));
  let images = 0;
  for await (const x of batches) {
    images += x.shape[0];
    const moments = tf.tidy(() => {
      const y = probe.predict(x);
      return (Array.isArray(y) ? y : [y]).map((t) => {
        const axes = t.shape.slice(0, -1).map((_, i) => i);
        return [tf.mean(t, axes), tf.mean(tf.square(t), axes), tf.scalar(t.size / (t.shape[t.shape.length - 1] ?? 1))] as const;
      });
    });
    try {
      for (const [i, [mean, sq, count]] of moments.entries()) {
        const s = sums[i] as (typeof sums)[number];
        const c = ((await count.data()) as Float32Array)[0] as number;
        const m = (await mean.data()) as Float32Array;
        const q = (await sq.data()) as Float32Array;
        s.sum ??= new Float64Array(m.length);
        s.sq ??= new Float64Array(m.length);
        for (let j = 0; j < m.length; j++) {
          s.sum[j] = (s.sum[j] as number) + (m[j] as number) * c;
          s.sq[j] = (s.sq[j] as number) + (q[j] as number) * c;
        }
        s.n += c;
      }
    } finally {
      tf.dispose(moments.flat());
    }
  }
  if (images === 0) return 0;
  for (const [i, bn] of bns.entries()) {
    const s = sums[i] as (typeof sums)[number];
    if (!s.sum || !s.sq || s.n === 0) continue;
    const eps = (bn.getConfig() as { epsilon?: number }).epsilon ?? 1e-3;
    const mu = Float32Array.from(s.sum, (x) => x / s.n);
    const variance = Float32Array.from(s.sq, (x, j) => Math.max(0, x / s.n - (mu[j] as number) ** 2));
    // getWeights() gives the layer's own variables: read, never disposed.
    const betaVar = bn.weights.find((w) => (w.originalName.split('/').pop() ?? '').startsWith('beta'));
    const beta = betaVar ? ((await betaVar.read().data()) as Float32Array) : new Float32Array(mu.length);
    const values = [Float32Array.from(variance, (v) => Math.sqrt(v + eps)), Float32Array.from(beta, (b, j) => b + (mu[j] as number)), mu, variance];
    const tensors = bn.weights.map((w) => {
      const short = w.originalName.split('/').pop() ?? '';
      const v = short.startsWith('gamma') ? values[0] : short.startsWith('beta') ? values[1] : short.startsWith('moving_mean') ? values[2] : values[3];
      return tf.tensor(v as Float32Array, w.shape as number[], 'float32');
    });
    try {
      bn.setWeights(tensors);
    } finally {
      tf.dispose(tensors);
    }
  }
  return images;
}
