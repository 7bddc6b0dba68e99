/**
 * A pretrained ImageNet encoder that ships offline (issue 13 item 6): MobileNetV2 (alpha 1.0)
 * blocks 0-10, the layers nsfwjs 4.3.0 kept frozen at their ImageNet weights (MIT; vendored by
 * build/scripts/vendor-imagenet-encoder.mjs into resources/models/imagenet-mobilenetv2 with its
 * provenance, licence and SHA-256, checked here at load).
 *
 * Built as Fovea layers, frozen (trainable false), with each batch norm folded into the conv
 * before it (w * gamma / sqrt(var + eps), beta - mean * gamma / sqrt(var + eps)), so the
 * encoder is the same function in training and inference and has no statistics to drift. Keras's
 * ZeroPadding2D((0,1),(0,1)) + 'valid' before each stride-2 conv equals 'same' padding for even
 * sides, which every input here has (sides are multiples of 32 for this encoder).
 *
 * Input: [0, 1] per channel, as photos are normalised ('unit'). The batch-norm statistics of these
 * weights match [0, 1] inputs, not Keras's usual [-1, 1] (checked on 16 CamVid and Penn-Fudan
 * photos: the means of Conv1's outputs correlate 0.991 with bn_Conv1's moving means for [0, 1]
 * and -0.979 for [-1, 1]). A greyscale input is R = G = B: Conv1's kernel is summed over its
 * input channels.
 *
 * Frozen, the encoder needs no gradient kernels (the wasm backend has none for depthwise convs)
 * and costs a forward pass per step. Outputs: features at 1/2 (16 channels), 1/4 (24), 1/8 (32)
 * and 1/16 (96) of the input side.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';

type Sym = tf.SymbolicTensor;

export const IMAGENET_ENCODER = 'imagenet-mobilenetv2';
const FOLDER = join('resources', 'models', 'imagenet-mobilenetv2');
const BN_EPSILON = 1e-3;

interface EncoderCard {
  format: 'fovea-encoder';
  version: 1;
  architecture: string;
  source: string;
  license: string;
  sha256: string;
  bytes: number;
  weights: { name: string; shape: number[]; offset: number; min: number; scale: number }[];
}

/** The folder of the vendored weights: up from this module (source tree or a bundle inside the app). */
export function imagenetEncoderDir(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, FOLDER);
    if (existsSync(join(candidate, 'encoder.json'))) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

let cached: Map<string, { shape: number[]; values: Float32Array }> | null = null;

/** The dequantized weights by Keras name, after the card's SHA-256 is checked. */
export function imagenetEncoderWeights(): Map<string, { shape: number[]; values: Float32Array }> {
  if (cached) return cached;
  const dir = imagenetEncoderDir();
  if (!dir) throw new Error(`The ImageNet encoder's weights are missing (${FOLDER} of the installation). Reinstall Fovea, or train without the pretrained encoder.`);
  const card = JSON.parse(readFileSync(join(dir, 'encoder.json'), 'utf8')) as EncoderCard;
  const bin = readFileSync(join(dir, 'weights.bin'));
  const sha = createHash('sha256').update(bin).digest('hex');
  if (card.format !== 'fovea-encoder' || bin.length !== card.bytes || sha !== card.sha256) {
    throw new Error(`The ImageNet encoder's weights in ${dir} are damaged (SHA-256 ${sha.slice(0, 12)}, expected ${card.sha256.slice(0, 12)}). Reinstall Fovea.`);
  }
  const out = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const w of card.weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = w.min + w.scale * (bin[w.offset + i] as number);
    out.set(w.name, { shape: w.shape, values });
  }
  cached = out;
  return out;
}

/** MobileNetV2 blocks 1-10 as (expansion, output channels, stride); block 0 (expanded_conv) is built apart. */
const BLOCKS: readonly [number, number, number][] = [
  [6, 24, 2], [6, 24, 1],
  [6, 32, 2], [6, 32, 1], [6, 32, 1],
  [6, 64, 2], [6, 64, 1], [6, 64, 1], [6, 64, 1],
  [6, 96, 1],
];

/**
 * The frozen encoder applied to `input` ([n, S, S, channels], S a multiple of 32, values in [0, 1]).
 * @returns features at 1/2, 1/4, 1/8 and 1/16 of S.
 */
export function mobilenetV2Encoder(input: Sym, channels: 1 | 3): { half: Sym; quarter: Sym; eighth: Sym; sixteenth: Sym } {
  const w = imagenetEncoderWeights();
  const get = (name: string): { shape: number[]; values: Float32Array } => {
    const v = w.get(name);
    if (!v) throw new Error(`The ImageNet encoder has no weight ${name}.`);
    return v;
  };
  /** Fold the batch norm `bn` into a kernel whose last axis (conv) or third axis (depthwise, multiplier 1) is its channels. */
  const folded = (kernelName: string, bn: string): { kernel: tf.Tensor; bias: tf.Tensor } => {
    const k = get(kernelName);
    const gamma = get(`${bn}/gamma`).values;
    const beta = get(`${bn}/beta`).values;
    const mean = get(`${bn}/moving_mean`).values;
    const variance = get(`${bn}/moving_variance`).values;
    const c = gamma.length;
    const factor = Float32Array.from(gamma, (g, i) => g / Math.sqrt((variance[i] as number) + BN_EPSILON));
    const kv = Float32Array.from(k.values);
    // Conv kernels [kh, kw, in, out] and depthwise kernels [kh, kw, in, 1]: either way the channel is index % c.
    for (let i = 0; i < kv.length; i++) kv[i] = (kv[i] as number) * (factor[i % c] as number);
    const bias = Float32Array.from(beta, (b, i) => b - (mean[i] as number) * (factor[i] as number));
    return { kernel: tf.tensor(kv, k.shape), bias: tf.tensor1d(bias) };
  };
  const frozenConv = (x: Sym, name: string, bn: string, filters: number, kernelSize: number, strides: number, firstLayer = false): Sym => {
    const f = folded(`${name}/kernel`, bn);
    const bias = f.bias;
    let kernel = f.kernel;
    if (firstLayer && channels === 1) {
      kernel = tf.sum(f.kernel, 2, true);
      f.kernel.dispose();
    }
    return tf.layers.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: true, trainable: false, weights: [kernel, bias], name: `mnv2_${name}` }).apply(x) as Sym;
  };
  const frozenDepthwise = (x: Sym, name: string, bn: string, strides: number): Sym => {
    const { kernel, bias } = folded(`${name}/depthwise_kernel`, bn);
    return tf.layers.depthwiseConv2d({ kernelSize: 3, strides, padding: 'same', depthMultiplier: 1, useBias: true, trainable: false, weights: [kernel, bias], name: `mnv2_${name}` }).apply(x) as Sym;
  };
  const relu6 = (x: Sym, name: string): Sym => tf.layers.reLU({ maxValue: 6, trainable: false, name: `mnv2_${name}` }).apply(x) as Sym;

  let x = relu6(frozenConv(input, 'Conv1', 'bn_Conv1', 32, 3, 2, true), 'Conv1_relu');
  x = relu6(frozenDepthwise(x, 'expanded_conv_depthwise', 'expanded_conv_depthwise_BN', 1), 'expanded_conv_depthwise_relu');
  x = frozenConv(x, 'expanded_conv_project', 'expanded_conv_project_BN', 16, 1, 1);
  const half = x;
  let inChannels = 16;
  const features: Sym[] = [];
  BLOCKS.forEach(([t, c, s], i) => {
    const b = `block_${i + 1}`;
    const shortcut = x;
    let y = relu6(frozenConv(x, `${b}_expand`, `${b}_expand_BN`, inChannels * t, 1, 1), `${b}_expand_relu`);
    y = relu6(frozenDepthwise(y, `${b}_depthwise`, `${b}_depthwise_BN`, s), `${b}_depthwise_relu`);
    y = frozenConv(y, `${b}_project`, `${b}_project_BN`, c, 1, 1);
    x = s === 1 && inChannels === c ? (tf.layers.add({ trainable: false, name: `mnv2_${b}_add` }).apply([shortcut, y]) as Sym) : y;
    inChannels = c;
    features[i + 1] = x;
  });
  return { half, quarter: features[2] as Sym, eighth: features[5] as Sym, sixteenth: features[10] as Sym };
}
