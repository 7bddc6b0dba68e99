/**
 * Image classifier: a compact CNN for 28..128 px medical and road images.
 *
 *   input [n, S, S, C]
 *   conv3x3-BN-ReLU (f)                              [n, S, S, f]
 *   L x { maxpool 2x2, conv3x3-BN-ReLU (2x filters) } [n, S/2^L, S/2^L, f*2^L]
 *   conv3x3-BN-ReLU (same filters)                   (widens the receptive field
 *                                                    to most of the image before pooling)
 *   global average pool -> dropout 0.3 -> dense      [n, numClasses]
 *   softmax (single label) or sigmoid (multi-label)
 *
 * L is chosen so the last feature map is about 6-8 px (28 px: 2 levels, 64: 3,
 * 128: 4); filters start at 16 and double per level (at most 256). At 64x64x1
 * with 10 classes that is 0.25 M parameters and ~24 M multiply-adds per image
 * (measured on the wasm backend, one thread: ~160 images/s training, ~900
 * inference; test/bench/training.bench.ts); batch norm + global pooling make
 * it train well from scratch on small sets.
 */
import * as tf from '@tensorflow/tfjs';
import { convBnRelu, seedSequence } from './blocks';

export interface ClassifierOptions {
  inputSize: number;
  channels: number;
  numClasses: number;
  multiLabel: boolean;
  seed: number;
  /** Filters of the first conv (default 16). */
  baseFilters?: number;
  /** Dropout before the classifier (default 0.3). */
  dropout?: number;
}

/** Down-sampling levels for an input side: the last feature map ends near 6-8 px. */
export function classifierLevels(inputSize: number): number {
  return Math.max(1, Math.min(5, Math.round(Math.log2(inputSize / 6))));
}

/**
 * @returns a model mapping x [n, inputSize, inputSize, channels] (float32,
 *   normalised) to probabilities [n, numClasses] (softmax, or sigmoid when multiLabel).
 */
export function createClassifier(opts: ClassifierOptions): tf.LayersModel {
  if (!(opts.inputSize >= 8)) throw new Error(`classifier input size must be at least 8 px (got ${opts.inputSize})`);
  if (!(opts.numClasses >= 1)) throw new Error('classifier needs at least one class');
  const nextSeed = seedSequence(opts.seed);
  const base = opts.baseFilters ?? 16;
  const levels = classifierLevels(opts.inputSize);
  const input = tf.input({ shape: [opts.inputSize, opts.inputSize, opts.channels], name: 'image' });
  let x = convBnRelu(input, { filters: base, name: 'stem' }, nextSeed);
  let filters = base;
  for (let l = 1; l <= levels; l++) {
    filters = Math.min(256, base * 2 ** l);
    x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same', name: `pool${l}` }).apply(x) as tf.SymbolicTensor;
    x = convBnRelu(x, { filters, name: `block${l}` }, nextSeed);
  }
  x = convBnRelu(x, { filters, name: 'head' }, nextSeed);
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: opts.dropout ?? 0.3, name: 'dropout' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({
      units: opts.numClasses,
      activation: opts.multiLabel || opts.numClasses === 1 ? 'sigmoid' : 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
      name: 'probabilities',
    })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'fovea_classifier' });
}

/**
 * Loss: mean over the batch of the (class-weighted) cross-entropy.
 * Single label: -sum_c w_c y_c log p_c. Multi-label: per class binary
 * cross-entropy, w_c weighting the positive term (rare findings count more).
 * @param probs [n, K] model output; @param labels [n, K] one-hot / multi-hot.
 */
export function classificationLoss(probs: tf.Tensor, labels: tf.Tensor, multiLabel: boolean, classWeights: number[] | null): tf.Scalar {
  return tf.tidy(() => {
    const eps = 1e-7;
    const p = tf.clipByValue(probs, eps, 1 - eps);
    const w = classWeights ? tf.tensor1d(classWeights) : null;
    if (!multiLabel) {
      let ll = tf.mul(labels, tf.log(p));
      if (w) ll = tf.mul(ll, w);
      return tf.neg(tf.mean(tf.sum(ll, -1))) as tf.Scalar;
    }
    let pos = tf.mul(labels, tf.log(p));
    if (w) pos = tf.mul(pos, w);
    const neg = tf.mul(tf.sub(1, labels), tf.log(tf.sub(1, p)));
    return tf.neg(tf.mean(tf.add(pos, neg))) as tf.Scalar;
  });
}

/**
 * Label smoothing of training targets (Szegedy et al. 2016). Single label: y(1 - eps) + eps/K, the
 * targets PyTorch's CrossEntropyLoss(label_smoothing=eps) uses (soft targets from mixup too: the
 * mapping is linear, so smoothing a mix is mixing the smoothed targets). Multi-label: each sigmoid
 * target moves towards 0.5, y(1 - eps) + eps/2. eps 0 returns the labels themselves (a clone).
 * @param labels [n, K] one-hot, multi-hot or soft.
 */
export function smoothLabels(labels: tf.Tensor, eps: number, multiLabel: boolean): tf.Tensor {
  if (!(eps > 0)) return labels.clone();
  const k = multiLabel ? 2 : (labels.shape[labels.shape.length - 1] ?? 1);
  return tf.tidy(() => tf.add(tf.mul(labels, 1 - eps), eps / k));
}

/**
 * [correct, count]: single label, argmax hits over images; multi-label,
 * per-class decisions at 0.5 over all image x class entries.
 */
export function classificationStats(probs: tf.Tensor, labels: tf.Tensor, multiLabel: boolean): tf.Tensor1D {
  return tf.tidy(() => {
    if (!multiLabel) {
      const hit = tf.cast(tf.equal(tf.argMax(probs, -1), tf.argMax(labels, -1)), 'float32');
      return tf.stack([tf.sum(hit), tf.scalar(probs.shape[0] ?? 0)]) as tf.Tensor1D;
    }
    const hit = tf.cast(tf.equal(tf.greaterEqual(probs, 0.5), tf.greaterEqual(labels, 0.5)), 'float32');
    return tf.stack([tf.sum(hit), tf.scalar(probs.size)]) as tf.Tensor1D;
  });
}
