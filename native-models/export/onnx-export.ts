/**
 * A TensorFlow.js LayersModel as an ONNX model (opset 13), converted layer
 * by layer from the Keras graph, with no Python and no tfjs-node.
 *
 * Layout: the ONNX graph keeps the model's NHWC interface (input
 * [batch, S, S, C], outputs as TF.js gives them) so the model card's input
 * spec is the same for both formats. Inside, 4-D tensors are NCHW (what ONNX
 * operators expect): one Transpose after the input, one before every 4-D
 * output. Every value name carries its layout; a layer that needs NHWC
 * semantics (Flatten, Reshape) transposes back first.
 *
 * TF's 'same' padding is not symmetric: for a stride-2 3x3 conv on an even
 * side the extra row/column goes at the END (pad_before = floor(total/2)).
 * ONNX's auto_pad SAME_UPPER means the same thing, but explicit pads are
 * computed here from the static shapes so nothing depends on a runtime's
 * reading of auto_pad.
 *
 * Unsupported layers (or options such as channels-first data) throw an
 * UNSUPPORTED error naming the layer: an export is exact or refused.
 */
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type IAttribute = onnxProto.onnx.IAttributeProto;
type INode = onnxProto.onnx.INodeProto;
type ITensor = onnxProto.onnx.ITensorProto;
type IValueInfo = onnxProto.onnx.IValueInfoProto;

export const ONNX_OPSET = 13;
/** IR version 7 goes with opset 13 (ONNX 1.8); every runtime since 2020 reads it. */
export const ONNX_IR_VERSION = 7;

/** An export that cannot be exact: the message names the layer and what is not supported. */
export class UnsupportedModelError extends Error {
  readonly code = 'UNSUPPORTED' as const;
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedModelError';
  }
}

export interface OnnxTensorSpec {
  name: string;
  /** null for the batch dimension. */
  shape: (number | null)[];
  layout: 'NHWC' | 'NC';
}

export interface OnnxConversion {
  bytes: Uint8Array;
  inputs: OnnxTensorSpec[];
  outputs: OnnxTensorSpec[];
  opset: number;
  /** ONNX operators used, sorted (for the model card and a reader's sanity). */
  operators: string[];
}

/** A value in the graph under construction: its ONNX name, rank and layout. */
interface Value {
  name: string;
  /** Shape as TF.js sees it (NHWC for rank 4), batch as null. */
  shape: (number | null)[];
  /** 'nchw' for rank-4 values stored transposed; 'plain' otherwise. */
  layout: 'nchw' | 'plain';
}

type Config = Record<string, unknown>;

const ATTR = onnx.AttributeProto.AttributeType;

function attrInts(name: string, ints: number[]): IAttribute {
  return { name, type: ATTR.INTS, ints };
}
function attrInt(name: string, i: number): IAttribute {
  return { name, type: ATTR.INT, i };
}
function attrFloat(name: string, f: number): IAttribute {
  return { name, type: ATTR.FLOAT, f };
}
function attrString(name: string, s: string): IAttribute {
  return { name, type: ATTR.STRING, s: new TextEncoder().encode(s) };
}

function pair(v: unknown, what: string, layer: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0] as number, v[1] as number];
  throw new UnsupportedModelError(`UNSUPPORTED: layer "${layer}" has a ${what} of ${JSON.stringify(v)}; expected one or two numbers.`);
}

/**
 * TF's SAME padding along one axis: output ceil(in / stride), total padding
 * max((out - 1) * stride + effectiveKernel - in, 0), the smaller half first.
 */
export function samePadding(inSize: number, kernel: number, stride: number, dilation = 1): { out: number; before: number; after: number } {
  const eff = (kernel - 1) * dilation + 1;
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + eff - inSize, 0);
  const before = Math.floor(total / 2);
  return { out, before, after: total - before };
}

/** Builds the graph: nodes, initializers, unique names. */
class GraphBuilder {
  readonly nodes: INode[] = [];
  readonly initializers: ITensor[] = [];
  readonly ops = new Set<string>();
  #used = new Set<string>();

  unique(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./-]/g, '_') || 'v';
    let name = clean;
    for (let i = 1; this.#used.has(name); i++) name = `${clean}_${i}`;
    this.#used.add(name);
    return name;
  }

  reserve(name: string): void {
    this.#used.add(name);
  }

  node(op: string, inputs: string[], outputs: string[], attrs: IAttribute[] = [], hint = op): void {
    this.ops.add(op);
    this.nodes.push({ opType: op, input: inputs, output: outputs, attribute: attrs, name: this.unique(`${hint}/${op}`) });
  }

  /** A float32 initializer (dims as given). */
  floats(base: string, dims: number[], data: Float32Array): string {
    const name = this.unique(base);
    const raw = new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw });
    return name;
  }

  int64s(base: string, values: number[]): string {
    const name = this.unique(base);
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(data.buffer) });
    return name;
  }

  /** op(x) -> a fresh value named after `hint`. */
  unary(op: string, x: string, hint: string, attrs: IAttribute[] = []): string {
    const out = this.unique(`${hint}/${op.toLowerCase()}`);
    this.node(op, [x], [out], attrs, hint);
    return out;
  }
}

/** Reads a layer weight by its short name (kernel, bias, gamma, beta, moving_mean, moving_variance, alpha). */
function weightOf(layer: tf.layers.Layer, short: string): tf.Tensor | null {
  for (const w of layer.weights) {
    const base = w.originalName.split('/').pop() ?? w.originalName;
    if (base === short || base.startsWith(`${short}_`)) return w.read();
  }
  return null;
}

/** A node's inputs: x, the weight initializer `<name>/W`, and `<name>/B` when the layer uses a bias. */
function weightInputs(g: GraphBuilder, layer: tf.layers.Layer, cfg: Record<string, unknown>, name: string, x: string, dims: number[], data: Float32Array): string[] {
  const ins = [x, g.floats(`${name}/W`, dims, data)];
  if (cfg['useBias'] !== false) {
    const b = requireWeight(layer, 'bias');
    ins.push(g.floats(`${name}/B`, [b.size], tensorData(b)));
  }
  return ins;
}

function requireWeight(layer: tf.layers.Layer, short: string): tf.Tensor {
  const w = weightOf(layer, short);
  if (!w) throw new UnsupportedModelError(`UNSUPPORTED: layer "${layer.name}" (${layer.getClassName()}) has no "${short}" weight.`);
  return w;
}

/** [kh, kw, in, out] (TF conv kernel) -> [out, in, kh, kw] (ONNX Conv W). */
function convKernelToOnnx(kernel: tf.Tensor): { dims: number[]; data: Float32Array } {
  return tf.tidy(() => {
    const t = tf.transpose(kernel, [3, 2, 0, 1]);
    return { dims: t.shape, data: t.dataSync() as Float32Array };
  });
}

/** [kh, kw, out, in] (TF conv2dTranspose kernel) -> [in, out, kh, kw] (ONNX ConvTranspose W). */
function convTransposeKernelToOnnx(kernel: tf.Tensor): { dims: number[]; data: Float32Array } {
  return tf.tidy(() => {
    const t = tf.transpose(kernel, [3, 2, 0, 1]);
    return { dims: t.shape, data: t.dataSync() as Float32Array };
  });
}

function tensorData(t: tf.Tensor): Float32Array {
  return Float32Array.from(t.dataSync() as Float32Array);
}

/** The Keras activation names TF.js layers use, as ONNX nodes. */
function applyActivation(g: GraphBuilder, x: Value, activation: string, layerName: string, softmaxAxis = -1): Value {
  const rank = x.shape.length;
  const chanAxis = (axis: number): number => {
    const a = axis < 0 ? rank + axis : axis;
    if (x.layout !== 'nchw') return a;
    // NHWC axis -> NCHW axis.
    return [0, 2, 3, 1][a] as number;
  };
  const out = (name: string): Value => ({ ...x, name });
  switch (activation) {
    case 'linear':
    case undefined:
      return x;
    case 'relu':
      return out(g.unary('Relu', x.name, layerName));
    case 'sigmoid':
      return out(g.unary('Sigmoid', x.name, layerName));
    case 'tanh':
      return out(g.unary('Tanh', x.name, layerName));
    case 'softmax':
      return out(g.unary('Softmax', x.name, layerName, [attrInt('axis', chanAxis(softmaxAxis))]));
    case 'elu':
      return out(g.unary('Elu', x.name, layerName, [attrFloat('alpha', 1)]));
    case 'selu':
      return out(g.unary('Selu', x.name, layerName));
    case 'softplus':
      return out(g.unary('Softplus', x.name, layerName));
    case 'softsign':
      return out(g.unary('Softsign', x.name, layerName));
    case 'hardSigmoid':
    case 'hard_sigmoid':
      return out(g.unary('HardSigmoid', x.name, layerName, [attrFloat('alpha', 0.2), attrFloat('beta', 0.5)]));
    case 'relu6': {
      const lo = g.floats(`${layerName}/clip_min`, [], new Float32Array([0]));
      const hi = g.floats(`${layerName}/clip_max`, [], new Float32Array([6]));
      const name = g.unique(`${layerName}/relu6`);
      g.node('Clip', [x.name, lo, hi], [name], [], layerName);
      return out(name);
    }
    case 'swish': {
      const s = g.unary('Sigmoid', x.name, layerName);
      const name = g.unique(`${layerName}/swish`);
      g.node('Mul', [x.name, s], [name], [], layerName);
      return out(name);
    }
    default:
      throw new UnsupportedModelError(`UNSUPPORTED: layer "${layerName}" uses the activation "${activation}", which the ONNX export does not convert.`);
  }
}

/** Rank-4 NCHW -> NHWC (for layers with NHWC semantics). */
function toNhwc(g: GraphBuilder, x: Value, hint: string): Value {
  if (x.layout !== 'nchw') return x;
  return { name: g.unary('Transpose', x.name, `${hint}/to_nhwc`, [attrInts('perm', [0, 2, 3, 1])]), shape: x.shape, layout: 'plain' };
}

function toNchw(g: GraphBuilder, x: Value, hint: string): Value {
  if (x.layout === 'nchw' || x.shape.length !== 4) return x;
  return { name: g.unary('Transpose', x.name, `${hint}/to_nchw`, [attrInts('perm', [0, 3, 1, 2])]), shape: x.shape, layout: 'nchw' };
}

function dataFormatCheck(cfg: Config, layer: tf.layers.Layer): void {
  const df = cfg['dataFormat'];
  if (df !== undefined && df !== null && df !== 'channelsLast') {
    throw new UnsupportedModelError(`UNSUPPORTED: layer "${layer.name}" (${layer.getClassName()}) uses dataFormat "${String(df)}"; only channelsLast is converted.`);
  }
}

function spatial(x: Value, layer: tf.layers.Layer): [number, number] {
  const h = x.shape[1];
  const w = x.shape[2];
  if (x.shape.length !== 4 || typeof h !== 'number' || typeof w !== 'number') {
    throw new UnsupportedModelError(`UNSUPPORTED: layer "${layer.name}" (${layer.getClassName()}) needs a 4-D input with a fixed height and width (got ${JSON.stringify(x.shape)}).`);
  }
  return [h, w];
}

/** Converts one layer call: inputs (graph values) -> outputs. */
function convertLayer(g: GraphBuilder, layer: tf.layers.Layer, inputs: Value[], outShapes: (number | null)[][]): Value[] {
  const cls = layer.getClassName();
  const cfg = layer.getConfig() as Config;
  const name = layer.name;
  const x = inputs[0] as Value;
  const outShape = outShapes[0] as (number | null)[];
  const one = (v: Value): Value[] => [{ ...v, shape: outShape }];

  switch (cls) {
    case 'Conv2D': {
      dataFormatCheck(cfg, layer);
      const xn = toNchw(g, x, name);
      const [h, w] = spatial(xn, layer);
      const [kh, kw] = pair(cfg['kernelSize'], 'kernel size', name);
      const [sh, sw] = pair(cfg['strides'] ?? 1, 'stride', name);
      const [dh, dw] = pair(cfg['dilationRate'] ?? 1, 'dilation rate', name);
      let pads = [0, 0, 0, 0];
      if (cfg['padding'] === 'same') {
        const ph = samePadding(h, kh, sh, dh);
        const pw = samePadding(w, kw, sw, dw);
        pads = [ph.before, pw.before, ph.after, pw.after];
      } else if (cfg['padding'] !== 'valid') {
        throw new UnsupportedModelError(`UNSUPPORTED: layer "${name}" (Conv2D) has padding "${String(cfg['padding'])}".`);
      }
      const k = convKernelToOnnx(requireWeight(layer, 'kernel'));
      const ins = weightInputs(g, layer, cfg, name, xn.name, k.dims, k.data);
      const y = g.unique(`${name}/conv`);
      g.node('Conv', ins, [y], [attrInts('kernel_shape', [kh, kw]), attrInts('strides', [sh, sw]), attrInts('dilations', [dh, dw]), attrInts('pads', pads), attrInt('group', 1)], name);
      return one(applyActivation(g, { name: y, shape: outShape, layout: 'nchw' }, cfg['activation'] as string, name));
    }
    case 'Conv2DTranspose': {
      dataFormatCheck(cfg, layer);
      const xn = toNchw(g, x, name);
      const [h, w] = spatial(xn, layer);
      const [kh, kw] = pair(cfg['kernelSize'], 'kernel size', name);
      const [sh, sw] = pair(cfg['strides'] ?? 1, 'stride', name);
      const [dh, dw] = pair(cfg['dilationRate'] ?? 1, 'dilation rate', name);
      if (dh !== 1 || dw !== 1) throw new UnsupportedModelError(`UNSUPPORTED: layer "${name}" (Conv2DTranspose) is dilated.`);
      // TF: out = in * stride ('same') or (in - 1) * stride + kernel ('valid'); the
      // full transposed conv is (in - 1) * stride + kernel, cropped by the same
      // split as the forward conv's padding (smaller half at the start).
      const crop = (inSize: number, kernel: number, stride: number): [number, number] => {
        if (cfg['padding'] === 'valid') return [0, 0];
        const total = Math.max((inSize - 1) * stride + kernel - inSize * stride, 0);
        const before = Math.floor(total / 2);
        return [before, total - before];
      };
      if (cfg['padding'] !== 'same' && cfg['padding'] !== 'valid') throw new UnsupportedModelError(`UNSUPPORTED: layer "${name}" (Conv2DTranspose) has padding "${String(cfg['padding'])}".`);
      const [ct, cb] = crop(h, kh, sh);
      const [cl, cr] = crop(w, kw, sw);
      const k = convTransposeKernelToOnnx(requireWeight(layer, 'kernel'));
      const ins = weightInputs(g, layer, cfg, name, xn.name, k.dims, k.data);
      const y = g.unique(`${name}/convtranspose`);
      g.node('ConvTranspose', ins, [y], [attrInts('kernel_shape', [kh, kw]), attrInts('strides', [sh, sw]), attrInts('pads', [ct, cl, cb, cr]), attrInt('group', 1)], name);
      return one(applyActivation(g, { name: y, shape: outShape, layout: 'nchw' }, cfg['activation'] as string, name));
    }
    case 'DepthwiseConv2D': {
      dataFormatCheck(cfg, layer);
      const xn = toNchw(g, x, name);
      const [h, w] = spatial(xn, layer);
      const [kh, kw] = pair(cfg['kernelSize'], 'kernel size', name);
      const [sh, sw] = pair(cfg['strides'] ?? 1, 'stride', name);
      const [dh, dw] = pair(cfg['dilationRate'] ?? 1, 'dilation rate', name);
      const mult = Number(cfg['depthMultiplier'] ?? 1);
      let pads = [0, 0, 0, 0];
      if (cfg['padding'] === 'same') {
        const ph = samePadding(h, kh, sh, dh);
        const pw = samePadding(w, kw, sw, dw);
        pads = [ph.before, pw.before, ph.after, pw.after];
      }
      const cin = xn.shape[3] as number;
      // TF depthwise kernel [kh, kw, in, mult] -> ONNX grouped W [in*mult, 1, kh, kw].
      const kData = tf.tidy(() => {
        const t = tf.reshape(tf.transpose(requireWeight(layer, 'depthwise_kernel'), [2, 3, 0, 1]), [cin * mult, 1, kh, kw]);
        return t.dataSync() as Float32Array;
      });
      const ins = weightInputs(g, layer, cfg, name, xn.name, [cin * mult, 1, kh, kw], kData);
      const y = g.unique(`${name}/dwconv`);
      g.node('Conv', ins, [y], [attrInts('kernel_shape', [kh, kw]), attrInts('strides', [sh, sw]), attrInts('dilations', [dh, dw]), attrInts('pads', pads), attrInt('group', cin)], name);
      return one(applyActivation(g, { name: y, shape: outShape, layout: 'nchw' }, cfg['activation'] as string, name));
    }
    case 'BatchNormalization': {
      const rank = x.shape.length;
      const axis = Number(cfg['axis'] ?? -1);
      if (!(axis === -1 || axis === rank - 1)) throw new UnsupportedModelError(`UNSUPPORTED: layer "${name}" (BatchNormalization) normalises axis ${axis}; only the channel (last) axis is converted.`);
      const xv = rank === 4 ? toNchw(g, x, name) : x;
      if (rank !== 4 && rank !== 2) throw new UnsupportedModelError(`UNSUPPORTED: layer "${name}" (BatchNormalization) on a rank-${rank} input.`);
      const mean = requireWeight(layer, 'moving_mean');
      const c = mean.size;
      const gamma = weightOf(layer, 'gamma');
      const beta = weightOf(layer, 'beta');
      const variance = requireWeight(layer, 'moving_variance');
      const ins = [
        xv.name,
        g.floats(`${name}/scale`, [c], gamma ? tensorData(gamma) : new Float32Array(c).fill(1)),
        g.floats(`${name}/bias`, [c], beta ? tensorData(beta) : new Float32Array(c)),
        g.floats(`${name}/mean`, [c], tensorData(mean)),
        g.floats(`${name}/var`, [c], tensorData(variance)),
      ];
      const y = g.unique(`${name}/bn`);
      g.node('BatchNormalization', ins, [y], [attrFloat('epsilon', Number(cfg['epsilon'] ?? 1e-3))], name);
      return one({ name: y, shape: outShape, layout: xv.layout });
    }
    case 'Activation':
      return one(applyActivation(g, x, cfg['activation'] as string, name));
    case 'ReLU': {
      const maxValue = cfg['maxValue'];
      if (maxValue == null) return one(applyActivation(g, x, 'relu', name));
      const lo = g.floats(`${name}/clip_min`, [], new Float32Array([0]));
      const hi = g.floats(`${name}/clip_max`, [], new Float32Array([Number(maxValue)]));
      const y = g.unique(`${name}/clip`);
      g.node('Clip', [x.name, lo, hi], [y], [], name);
      return one({ ...x, name: y });
    }
    case 'LeakyReLU':
      return one({ ...x, name: g.unary('LeakyRelu', x.name, name, [attrFloat('alpha', Number(cfg['alpha'] ?? 0.3))]) });
    case 'ELU':
      return one({ ...x, name: g.unary('Elu', x.name, name, [attrFloat('alpha', Number(cfg['alpha'] ?? 1))]) });
    case 'Softmax':
      return one(applyActivation(g, x, 'softmax', name, Number(cfg['axis'] ?? -1)));
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      dataFormatCheck(cfg, layer);
      const xn = toNchw(g, x, name);
      const [h, w] = spatial(xn, layer);
      const [kh, kw] = pair(cfg['poolSize'] ?? 2, 'pool size', name);
      const [sh, sw] = pair(cfg['strides'] ?? cfg['poolSize'] ?? 2, 'stride', name);
      let pads = [0, 0, 0, 0];
      if (cfg['padding'] === 'same') {
        const ph = samePadding(h, kh, sh);
        const pw = samePadding(w, kw, sw);
        pads = [ph.before, pw.before, ph.after, pw.after];
      }
      const op = cls === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool';
      const attrs = [attrInts('kernel_shape', [kh, kw]), attrInts('strides', [sh, sw]), attrInts('pads', pads)];
      // TF averages over the real (unpadded) pixels only.
      if (op === 'AveragePool') attrs.push(attrInt('count_include_pad', 0));
      return one({ name: g.unary(op, xn.name, name, attrs), shape: outShape, layout: 'nchw' });
    }
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D': {
      dataFormatCheck(cfg, layer);
      const xn = toNchw(g, x, name);
      const pooled = g.unary(cls === 'GlobalAveragePooling2D' ? 'GlobalAveragePool' : 'GlobalMaxPool', xn.name, name);
      // [n, c, 1, 1] -> [n, c] (Keras's default keepDims false).
      return one({ name: g.unary('Flatten', pooled, name, [attrInt('axis', 1)]), shape: outShape, layout: 'plain' });
    }
    case 'UpSampling2D': {
      dataFormatCheck(cfg, layer);
      const xn = toNchw(g, x, name);
      const [uh, uw] = pair(cfg['size'] ?? 2, 'size', name);
      const interp = (cfg['interpolation'] as string | undefined) ?? 'nearest';
      const scales = g.floats(`${name}/scales`, [4], new Float32Array([1, 1, uh, uw]));
      const y = g.unique(`${name}/resize`);
      // tfjs: nearest repeats each pixel (floor of out/scale); bilinear is
      // resizeBilinear without align-corners or half-pixel centres: both 'asymmetric'.
      const attrs =
        interp === 'nearest'
          ? [attrString('mode', 'nearest'), attrString('coordinate_transformation_mode', 'asymmetric'), attrString('nearest_mode', 'floor')]
          : interp === 'bilinear'
            ? [attrString('mode', 'linear'), attrString('coordinate_transformation_mode', 'asymmetric')]
            : null;
      if (!attrs) throw new UnsupportedModelError(`UNSUPPORTED: layer "${name}" (UpSampling2D) uses interpolation "${interp}".`);
      g.node('Resize', [xn.name, '', scales], [y], attrs, name);
      return one({ name: y, shape: outShape, layout: 'nchw' });
    }
    case 'ZeroPadding2D': {
      dataFormatCheck(cfg, layer);
      const xn = toNchw(g, x, name);
      const p = cfg['padding'];
      let top: number, bottom: number, left: number, right: number;
      if (typeof p === 'number') top = bottom = left = right = p;
      else if (Array.isArray(p) && p.length === 2 && p.every((v) => typeof v === 'number')) {
        top = bottom = p[0] as number;
        left = right = p[1] as number;
      } else if (Array.isArray(p) && p.length === 2 && p.every((v) => Array.isArray(v))) {
        [top, bottom] = p[0] as [number, number];
        [left, right] = p[1] as [number, number];
      } else throw new UnsupportedModelError(`UNSUPPORTED: layer "${name}" (ZeroPadding2D) has padding ${JSON.stringify(p)}.`);
      const pads = g.int64s(`${name}/pads`, [0, 0, top, left, 0, 0, bottom, right]);
      const y = g.unique(`${name}/pad`);
      g.node('Pad', [xn.name, pads], [y], [attrString('mode', 'constant')], name);
      return one({ name: y, shape: outShape, layout: 'nchw' });
    }
    case 'Cropping2D': {
      dataFormatCheck(cfg, layer);
      const xn = toNchw(g, x, name);
      const [h, w] = spatial(xn, layer);
      const c = cfg['cropping'];
      let top: number, bottom: number, left: number, right: number;
      if (typeof c === 'number') top = bottom = left = right = c;
      else if (Array.isArray(c) && c.every((v) => typeof v === 'number')) {
        top = bottom = c[0] as number;
        left = right = c[1] as number;
      } else if (Array.isArray(c) && c.every((v) => Array.isArray(v))) {
        [top, bottom] = c[0] as [number, number];
        [left, right] = c[1] as [number, number];
      } else throw new UnsupportedModelError(`UNSUPPORTED: layer "${name}" (Cropping2D) has cropping ${JSON.stringify(c)}.`);
      const starts = g.int64s(`${name}/starts`, [top, left]);
      const ends = g.int64s(`${name}/ends`, [h - bottom, w - right]);
      const axes = g.int64s(`${name}/axes`, [2, 3]);
      const y = g.unique(`${name}/slice`);
      g.node('Slice', [xn.name, starts, ends, axes], [y], [], name);
      return one({ name: y, shape: outShape, layout: 'nchw' });
    }
    case 'Concatenate': {
      const rank = x.shape.length;
      let axis = Number(cfg['axis'] ?? -1);
      if (axis < 0) axis += rank;
      const all = rank === 4 ? inputs.map((v) => toNchw(g, v, name)) : inputs;
      const onnxAxis = rank === 4 ? ([0, 2, 3, 1][axis] as number) : axis;
      const y = g.unique(`${name}/concat`);
      g.node('Concat', all.map((v) => v.name), [y], [attrInt('axis', onnxAxis)], name);
      return one({ name: y, shape: outShape, layout: rank === 4 ? 'nchw' : 'plain' });
    }
    case 'Add':
    case 'Multiply':
    case 'Maximum':
    case 'Minimum':
    case 'Average':
    case 'Subtract': {
      const rank = x.shape.length;
      if (inputs.some((v) => v.shape.length !== rank)) throw new UnsupportedModelError(`UNSUPPORTED: layer "${name}" (${cls}) mixes ranks.`);
      const all = rank === 4 ? inputs.map((v) => toNchw(g, v, name)) : inputs;
      const layout = rank === 4 ? 'nchw' : 'plain';
      const op = { Add: 'Sum', Multiply: 'Mul', Maximum: 'Max', Minimum: 'Min', Average: 'Mean', Subtract: 'Sub' }[cls] as string;
      const y = g.unique(`${name}/${op.toLowerCase()}`);
      if (op === 'Mul' || op === 'Sub') {
        // Binary ops: fold left.
        let acc = (all[0] as Value).name;
        for (let i = 1; i < all.length; i++) {
          const next = i === all.length - 1 ? y : g.unique(`${name}/${op.toLowerCase()}`);
          g.node(op, [acc, (all[i] as Value).name], [next], [], name);
          acc = next;
        }
      } else {
        g.node(op, all.map((v) => v.name), [y], [], name);
      }
      return one({ name: y, shape: outShape, layout });
    }
    case 'Dense': {
      if (x.shape.length !== 2) throw new UnsupportedModelError(`UNSUPPORTED: layer "${name}" (Dense) on a rank-${x.shape.length} input; only [batch, features] is converted.`);
      const kernel = requireWeight(layer, 'kernel');
      const ins = weightInputs(g, layer, cfg, name, x.name, kernel.shape, tensorData(kernel));
      const y = g.unique(`${name}/gemm`);
      g.node('Gemm', ins, [y], [], name);
      return one(applyActivation(g, { name: y, shape: outShape, layout: 'plain' }, cfg['activation'] as string, name));
    }
    case 'Flatten': {
      // Keras flattens in NHWC order: go back to NHWC first.
      const xv = toNhwc(g, x, name);
      return one({ name: g.unary('Flatten', xv.name, name, [attrInt('axis', 1)]), shape: outShape, layout: 'plain' });
    }
    case 'Reshape': {
      const xv = toNhwc(g, x, name);
      const target = cfg['targetShape'] as number[];
      const shape = g.int64s(`${name}/shape`, [-1, ...target.map((v) => (v == null ? -1 : v))]);
      const y = g.unique(`${name}/reshape`);
      g.node('Reshape', [xv.name, shape], [y], [], name);
      const v: Value = { name: y, shape: outShape, layout: 'plain' };
      return [outShape.length === 4 ? toNchw(g, v, name) : v];
    }
    case 'Dropout':
    case 'SpatialDropout1D':
    case 'SpatialDropout2D':
    case 'GaussianNoise':
    case 'GaussianDropout':
    case 'AlphaDropout':
      // Inference: identity.
      return one(x);
    default:
      throw new UnsupportedModelError(
        `UNSUPPORTED: layer "${name}" is a ${cls}, which the ONNX export does not convert. Export this model as TF.js instead.`,
      );
  }
}

function valueInfo(name: string, shape: (number | null)[]): IValueInfo {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: shape.map((d) => (d == null ? { dimParam: 'batch' } : { dimValue: d })) },
      },
    },
  };
}

/** Shape of a symbolic tensor, batch as null. */
function symShape(t: tf.SymbolicTensor): (number | null)[] {
  return t.shape.map((d) => (d == null || d < 0 ? null : d));
}

/**
 * Converts a LayersModel (functional or sequential) to ONNX bytes.
 * @param producerVersion written into the ModelProto (e.g. Fovea's version)
 */
export function convertToOnnx(model: tf.LayersModel, options: { producerVersion?: string; docString?: string; metadata?: Record<string, string> } = {}): OnnxConversion {
  const g = new GraphBuilder();
  const values = new Map<number, Value>();
  const graphInputs: IValueInfo[] = [];
  const inputs: OnnxTensorSpec[] = [];

  for (const input of model.inputs) {
    const shape = symShape(input);
    // The input layer's name ('image'): stable, where the tensor's name gets a per-process suffix.
    const name = (input.sourceLayer?.name ?? input.name).replace(/[^A-Za-z0-9_./-]/g, '_');
    g.reserve(name);
    graphInputs.push(valueInfo(name, shape));
    inputs.push({ name, shape, layout: shape.length === 4 ? 'NHWC' : 'NC' });
    values.set(input.id, toNchw(g, { name, shape, layout: 'plain' }, name));
  }

  // Layers in topological order; a layer called more than once converts each call.
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    for (const node of layer.inboundNodes) {
      const ins = node.inputTensors.map((t) => values.get(t.id));
      if (ins.some((v) => v === undefined)) continue; // a call outside this model
      const outs = convertLayer(g, layer, ins as Value[], node.outputTensors.map(symShape));
      if (outs.length !== node.outputTensors.length) throw new UnsupportedModelError(`UNSUPPORTED: layer "${layer.name}" (${layer.getClassName()}) has ${node.outputTensors.length} outputs.`);
      node.outputTensors.forEach((t, i) => values.set(t.id, outs[i] as Value));
    }
  }

  const graphOutputs: IValueInfo[] = [];
  const outputs: OnnxTensorSpec[] = [];
  const outNames = new Set<string>();
  model.outputs.forEach((t, i) => {
    const v = values.get(t.id);
    if (!v) throw new UnsupportedModelError(`UNSUPPORTED: model output ${i} (${t.name}) could not be reached from the inputs.`);
    // Output names: the producing layer's name (probabilities, heatmap, size, offset ...).
    let base = (t.sourceLayer?.name ?? `output_${i}`).replace(/[^A-Za-z0-9_./-]/g, '_');
    while (outNames.has(base)) base = `${base}_${i}`;
    outNames.add(base);
    const shape = symShape(t);
    g.reserve(base);
    if (v.layout === 'nchw') g.node('Transpose', [v.name], [base], [attrInts('perm', [0, 2, 3, 1])], `${base}/to_nhwc`);
    else g.node('Identity', [v.name], [base], [], base);
    graphOutputs.push(valueInfo(base, shape));
    outputs.push({ name: base, shape, layout: shape.length === 4 ? 'NHWC' : 'NC' });
  });

  const modelProto: onnxProto.onnx.IModelProto = {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'Fovea',
    producerVersion: options.producerVersion ?? '',
    domain: 'org.fovea',
    modelVersion: 1,
    docString: options.docString ?? '',
    graph: {
      name: model.name.replace(/[^A-Za-z0-9_./-]/g, '_'),
      node: g.nodes,
      initializer: g.initializers,
      input: graphInputs,
      output: graphOutputs,
    },
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
  const err = onnx.ModelProto.verify(modelProto);
  if (err) throw new Error(`internal: the ONNX model does not verify: ${err}`);
  const bytes = onnx.ModelProto.encode(onnx.ModelProto.create(modelProto)).finish();
  return { bytes, inputs, outputs, opset: ONNX_OPSET, operators: [...g.ops].sort() };
}
