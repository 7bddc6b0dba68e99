/**
 * Building blocks shared by the model factories: seeded initialisers and
 * conv-BN-ReLU. Every layer draws its initialiser seed from one sequence, so
 * a factory called twice with the same seed builds identical weights on any
 * backend (tfjs draws seeded random numbers in JS, not on the backend).
 */
import * as tf from '@tensorflow/tfjs';

type Sym = tf.SymbolicTensor;

/** Deterministic integer seeds (mulberry32) from one run seed. */
export function seedSequence(seed: number): () => number {
  let s = (Math.imul(seed | 0, 0x9e3779b1) ^ 0x5bd1e995) >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % 2147483647;
  };
}

/**
 * Batch-norm momentum 0.9 (PyTorch's default) rather than Keras's 0.99: the
 * datasets here are small, a run has a few hundred steps, and with 0.99 the
 * moving statistics used at validation would still be far from the data's.
 */
export const BN_MOMENTUM = 0.9;

export interface ConvOpts {
  filters: number;
  kernelSize?: number;
  strides?: number;
  name?: string;
}

/** 3x3 (default) conv without bias -> batch norm -> ReLU, 'same' padding. [n,h,w,c] -> [n,h/s,w/s,filters] */
export function convBnRelu(x: Sym, o: ConvOpts, nextSeed: () => number): Sym {
  const conv = tf.layers.conv2d({
    filters: o.filters,
    kernelSize: o.kernelSize ?? 3,
    strides: o.strides ?? 1,
    padding: 'same',
    useBias: false,
    kernelInitializer: tf.initializers.heNormal({ seed: nextSeed() }),
    ...(o.name ? { name: `${o.name}_conv` } : {}),
  });
  const bn = tf.layers.batchNormalization({ momentum: BN_MOMENTUM, epsilon: 1e-3, ...(o.name ? { name: `${o.name}_bn` } : {}) });
  const relu = tf.layers.reLU(o.name ? { name: `${o.name}_relu` } : {});
  return relu.apply(bn.apply(conv.apply(x))) as Sym;
}

/** A plain conv with bias (heads, 1x1 projections). */
export function conv(x: Sym, o: ConvOpts & { activation?: 'relu' | 'linear' | 'sigmoid' | 'softmax'; biasValue?: number }, nextSeed: () => number): Sym {
  const layer = tf.layers.conv2d({
    filters: o.filters,
    kernelSize: o.kernelSize ?? 1,
    strides: o.strides ?? 1,
    padding: 'same',
    activation: o.activation ?? 'linear',
    kernelInitializer: o.activation === 'relu' ? tf.initializers.heNormal({ seed: nextSeed() }) : tf.initializers.glorotUniform({ seed: nextSeed() }),
    biasInitializer: o.biasValue != null ? tf.initializers.constant({ value: o.biasValue }) : 'zeros',
    ...(o.name ? { name: o.name } : {}),
  });
  return layer.apply(x) as Sym;
}
