/**
 * U-Net for semantic segmentation (Ronneberger et al. 2015, with batch norm).
 *
 *   input [n, S, S, C]
 *   encoder level l (0..depth-1): 2 x conv3x3-BN-ReLU (f*2^l) -> skip_l, maxpool 2x2
 *   bottleneck: 2 x conv3x3-BN-ReLU (f*2^depth), dropout 0.2
 *   decoder level l (depth-1..0): conv2dTranspose 2x2/2 (f*2^l), concat skip_l,
 *                                 2 x conv3x3-BN-ReLU (f*2^l)
 *   1x1 conv -> softmax over numClasses          [n, S, S, numClasses]
 *
 * Class 0 is background. S must be divisible by 2^depth. Defaults depth 3,
 * 16 base filters: 0.48 M parameters at 128x128x1 with 2 classes; the
 * bottleneck sees 16x16 and a receptive field of ~140 px.
 */
import * as tf from '@tensorflow/tfjs';
import { conv, convBnRelu, seedSequence } from './blocks';
import { mobilenetV2Encoder } from './imagenet-encoder';

type Sym = tf.SymbolicTensor;

export interface UnetOptions {
  inputSize: number;
  channels: number;
  /** Including background (index 0); at least 2. */
  numClasses: number;
  /** Down-sampling levels (default 3). */
  depth?: number;
  /** Filters at full resolution (default 16); doubles per level. */
  baseFilters?: number;
  seed: number;
}

/**
 * @returns a model mapping x [n, S, S, channels] to per-pixel class
 *   probabilities [n, S, S, numClasses] (softmax over the last axis).
 */
export function createUnet(opts: UnetOptions): tf.LayersModel {
  const depth = opts.depth ?? 3;
  const base = opts.baseFilters ?? 16;
  if (!(depth >= 1 && depth <= 6)) throw new Error(`U-Net depth must be 1..6 (got ${depth})`);
  if (opts.inputSize % 2 ** depth !== 0) throw new Error(`U-Net input size must be divisible by ${2 ** depth} for depth ${depth} (got ${opts.inputSize})`);
  if (!(opts.numClasses >= 2)) throw new Error('segmentation needs at least 2 classes (index 0 is background)');
  const nextSeed = seedSequence(opts.seed);
  const input = tf.input({ shape: [opts.inputSize, opts.inputSize, opts.channels], name: 'image' });
  const double = (x: Sym, filters: number, name: string): Sym => doubleConv(x, filters, name, nextSeed);

  const skips: Sym[] = [];
  let x: Sym = input;
  for (let l = 0; l < depth; l++) {
    x = double(x, base * 2 ** l, `enc${l}`);
    skips.push(x);
    x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `pool${l}` }).apply(x) as Sym;
  }
  x = double(x, base * 2 ** depth, 'bottleneck');
  x = tf.layers.dropout({ rate: 0.2, name: 'bottleneck_dropout' }).apply(x) as Sym;
  for (let l = depth - 1; l >= 0; l--) {
    const f = base * 2 ** l;
    x = tf.layers
      .conv2dTranspose({ filters: f, kernelSize: 2, strides: 2, padding: 'same', kernelInitializer: tf.initializers.heNormal({ seed: nextSeed() }), name: `up${l}` })
      .apply(x) as Sym;
    x = tf.layers.concatenate({ axis: -1, name: `concat${l}` }).apply([x, skips[l] as Sym]) as Sym;
    x = double(x, f, `dec${l}`);
  }
  const out = conv(x, { filters: opts.numClasses, kernelSize: 1, activation: 'softmax', name: 'probabilities' }, nextSeed);
  return tf.model({ inputs: input, outputs: out, name: 'fovea_unet' });
}

/** 2 x conv3x3-BN-ReLU, named `${name}a` and `${name}b`. */
function doubleConv(x: Sym, filters: number, name: string, nextSeed: () => number): Sym {
  return convBnRelu(convBnRelu(x, { filters, name: `${name}a` }, nextSeed), { filters, name: `${name}b` }, nextSeed);
}

/**
 * U-Net on the frozen ImageNet MobileNetV2 encoder (imagenet-encoder.ts): the encoder's features
 * at 1/16 (96 channels) through a trainable conv block (128), then decoder levels at 1/8, 1/4,
 * 1/2 and 1/1 (64, 48, 32, 16 filters: conv2dTranspose 2x2/2, concat with the encoder's features
 * there, or with the image at full resolution, 2 x conv3x3-BN-ReLU), 1x1 conv -> softmax.
 * Only the decoder trains. S must be a multiple of 32.
 */
export function createEncoderUnet(opts: Omit<UnetOptions, 'depth' | 'baseFilters'> & { channels: 1 | 3 }): tf.LayersModel {
  if (opts.inputSize % 32 !== 0) throw new Error(`a U-Net on the ImageNet encoder needs an input size divisible by 32 (got ${opts.inputSize})`);
  if (!(opts.numClasses >= 2)) throw new Error('segmentation needs at least 2 classes (index 0 is background)');
  const nextSeed = seedSequence(opts.seed);
  const input = tf.input({ shape: [opts.inputSize, opts.inputSize, opts.channels], name: 'image' });
  const double = (x: Sym, filters: number, name: string): Sym => doubleConv(x, filters, name, nextSeed);
  const f = mobilenetV2Encoder(input, opts.channels);
  let x = double(f.sixteenth, 128, 'bottleneck');
  x = tf.layers.dropout({ rate: 0.2, name: 'bottleneck_dropout' }).apply(x) as Sym;
  const levels: [Sym, number, string][] = [
    [f.eighth, 64, '3'],
    [f.quarter, 48, '2'],
    [f.half, 32, '1'],
    [input, 16, '0'],
  ];
  for (const [skip, filters, l] of levels) {
    x = tf.layers
      .conv2dTranspose({ filters, kernelSize: 2, strides: 2, padding: 'same', kernelInitializer: tf.initializers.heNormal({ seed: nextSeed() }), name: `up${l}` })
      .apply(x) as Sym;
    x = tf.layers.concatenate({ axis: -1, name: `concat${l}` }).apply([x, skip]) as Sym;
    x = double(x, filters, `dec${l}`);
  }
  const out = conv(x, { filters: opts.numClasses, kernelSize: 1, activation: 'softmax', name: 'probabilities' }, nextSeed);
  return tf.model({ inputs: input, outputs: out, name: 'fovea_unet_imagenet' });
}

/**
 * Target tensors from the batch's masks.
 * @param masks [n*h*w] class indices, 255 = ignore.
 * @returns onehot [n, h, w, K] (zero at ignored pixels) and valid [n, h, w, 1] (1 = labelled).
 */
export function segmentationTargets(masks: Uint8Array, n: number, size: number, numClasses: number): { onehot: tf.Tensor4D; valid: tf.Tensor4D } {
  return tf.tidy(() => {
    const m = tf.tensor4d(Int32Array.from(masks), [n, size, size, 1], 'int32');
    const valid = tf.cast(tf.notEqual(m, 255), 'float32') as tf.Tensor4D;
    // Indices >= numClasses (bad labels) one-hot to all zeros, like an ignored pixel.
    const idx = tf.where(tf.notEqual(m, 255), m, tf.zerosLike(m));
    const onehot = tf.mul(tf.oneHot(tf.reshape(idx, [n, size, size]) as tf.Tensor3D, numClasses), valid) as tf.Tensor4D;
    return { onehot, valid };
  });
}

/**
 * Loss = (class-weighted) softmax cross-entropy averaged over labelled
 * pixels + soft Dice loss (1 - mean soft Dice over the foreground classes,
 * pooled over the batch, smoothed by 1). Cross-entropy gives stable early
 * gradients; Dice counters the background dominating small structures.
 * @param probs [n, h, w, K] model output.
 */
export function segmentationLoss(probs: tf.Tensor, onehot: tf.Tensor, valid: tf.Tensor, classWeights: number[] | null): tf.Scalar {
  return tf.tidy(() => {
    const K = probs.shape[3] as number;
    const logp = tf.log(tf.clipByValue(probs, 1e-7, 1));
    let ll = tf.mul(onehot, logp);
    if (classWeights) ll = tf.mul(ll, tf.tensor1d(classWeights));
    const nValid = tf.maximum(tf.sum(valid), 1);
    const ce = tf.div(tf.neg(tf.sum(ll)), nValid);
    const pv = tf.mul(probs, valid);
    const inter = tf.sum(tf.mul(pv, onehot), [0, 1, 2]);
    const psum = tf.sum(pv, [0, 1, 2]);
    const tsum = tf.sum(onehot, [0, 1, 2]);
    const dice = tf.div(tf.add(tf.mul(inter, 2), 1), tf.add(tf.add(psum, tsum), 1));
    const fgDice = tf.mean(tf.slice(dice, [1], [K - 1]));
    return tf.add(ce, tf.sub(1, fgDice)) as tf.Scalar;
  });
}

/**
 * Hard (argmax) statistics per class over labelled pixels:
 * [intersection_0..K-1, predicted_0..K-1, true_0..K-1] (length 3K).
 */
export function segmentationStats(probs: tf.Tensor, onehot: tf.Tensor, valid: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const K = probs.shape[3] as number;
    const pred = tf.mul(tf.oneHot(tf.argMax(probs, -1) as tf.Tensor3D, K), valid);
    const inter = tf.sum(tf.mul(pred, onehot), [0, 1, 2]);
    return tf.concat([inter, tf.sum(pred, [0, 1, 2]), tf.sum(onehot, [0, 1, 2])]) as tf.Tensor1D;
  });
}

/**
 * Mean Dice and IoU over the foreground classes (1..K-1) that occur in the
 * labels or the predictions; a class absent from both is skipped (not
 * counted as perfect). With no foreground anywhere, nothing was missed: 1.
 */
export function diceIou(stats: ArrayLike<number>, K: number): { dice: number; iou: number } {
  let dice = 0;
  let iou = 0;
  let m = 0;
  for (let c = 1; c < K; c++) {
    const i = stats[c] as number;
    const p = stats[K + c] as number;
    const t = stats[2 * K + c] as number;
    if (p + t === 0) continue;
    dice += (2 * i) / (p + t);
    iou += i / (p + t - i);
    m++;
  }
  return m === 0 ? { dice: 1, iou: 1 } : { dice: dice / m, iou: iou / m };
}
