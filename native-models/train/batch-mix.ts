/**
 * Mixup and CutMix of classification training batches, applied by the trainer to each training
 * batch just before its step (never to validation batches), with soft targets through the loss.
 *
 * - Mixup (Zhang et al. 2018): lambda ~ Beta(alpha, alpha); every image becomes
 *   lambda * x_i + (1 - lambda) * x_perm(i), its target lambda * y_i + (1 - lambda) * y_perm(i).
 * - CutMix (Yun et al. 2019): lambda ~ Beta(alpha, alpha); one box of area (1 - lambda) of the
 *   input, centred uniformly and clipped to the image, is pasted from x_perm(i) into every image;
 *   lambda is then recomputed from the clipped box (1 - box area / image area), so the targets
 *   weigh each image by the share of pixels it keeps (timm's `correct_lam`).
 * - Both on: each batch uses one of them, with equal chance (timm's switch_prob 0.5).
 *
 * `perm` is a random permutation of the batch (the mixing partner of each image). Deterministic:
 * lambda, the permutation and the box come from a generator seeded by (run seed, epoch, batch), so
 * a run, and a resumed run, mix the same way. Pure JavaScript (no tensors): it runs in the
 * training thread on the batch's buffers.
 */
import type { Batch, TrainConfig } from '../../electron/contract/ml';

/** A seeded generator of uniform numbers in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(rng: () => number): number {
  // Box-Muller; 1 - u keeps log's argument in (0, 1].
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Gamma(shape, 1) by Marsaglia and Tsang (shape < 1 boosted by U^(1/shape)). */
function gamma(shape: number, rng: () => number): number {
  if (shape < 1) return gamma(shape + 1, rng) * Math.pow(1 - rng(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** A draw of Beta(alpha, alpha) (alpha > 0). */
export function sampleBeta(alpha: number, rng: () => number): number {
  const a = gamma(alpha, rng);
  const b = gamma(alpha, rng);
  return a + b > 0 ? a / (a + b) : 0.5;
}

/** A random permutation of 0..n-1 (Fisher-Yates). */
export function randomPermutation(n: number, rng: () => number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [p[i], p[j]] = [p[j] as number, p[i] as number];
  }
  return p;
}

/** y_i <- lambda * y_i + (1 - lambda) * y_perm(i), for [n, K] targets. */
function mixTargets(labels: Float32Array, n: number, perm: readonly number[], lambda: number): Float32Array {
  const K = labels.length / n;
  const out = new Float32Array(labels.length);
  for (let i = 0; i < n; i++) {
    const j = perm[i] as number;
    for (let k = 0; k < K; k++) out[i * K + k] = lambda * (labels[i * K + k] as number) + (1 - lambda) * (labels[j * K + k] as number);
  }
  return out;
}

/** Mixup of n images [n, S, S, C] and targets [n, K] with their partners perm(i). */
export function mixupImages(x: Float32Array, labels: Float32Array, n: number, perm: readonly number[], lambda: number): { x: Float32Array; labels: Float32Array } {
  const per = x.length / n;
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++) {
    const a = i * per;
    const b = (perm[i] as number) * per;
    for (let p = 0; p < per; p++) out[a + p] = lambda * (x[a + p] as number) + (1 - lambda) * (x[b + p] as number);
  }
  return { x: out, labels: mixTargets(labels, n, perm, lambda) };
}

/** A box [x0, x1) x [y0, y1) of the side-S input. */
export interface CutBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** CutMix's box for a drawn lambda: sides S*sqrt(1 - lambda), centre uniform, clipped to the image. */
export function cutmixBox(size: number, lambda: number, rng: () => number): CutBox {
  const cut = Math.sqrt(Math.max(0, 1 - lambda));
  const w = Math.round(size * cut);
  const h = Math.round(size * cut);
  const cx = Math.floor(rng() * size);
  const cy = Math.floor(rng() * size);
  const clip = (v: number): number => Math.max(0, Math.min(size, v));
  return { x0: clip(cx - (w >> 1)), x1: clip(cx + w - (w >> 1)), y0: clip(cy - (h >> 1)), y1: clip(cy + h - (h >> 1)) };
}

/**
 * CutMix of n images [n, S, S, C]: the box's pixels come from perm(i). Returns the mixed images,
 * the targets mixed with lambda = 1 - box area / S^2 (the share of pixels each image keeps), and
 * that lambda.
 */
export function cutmixImages(x: Float32Array, labels: Float32Array, n: number, size: number, channels: number, perm: readonly number[], box: CutBox): { x: Float32Array; labels: Float32Array; lambda: number } {
  const per = size * size * channels;
  const out = Float32Array.from(x);
  for (let i = 0; i < n; i++) {
    const a = i * per;
    const b = (perm[i] as number) * per;
    for (let y = box.y0; y < box.y1; y++) {
      const row = (y * size + box.x0) * channels;
      const len = (box.x1 - box.x0) * channels;
      out.set(x.subarray(b + row, b + row + len), a + row);
    }
  }
  const lambda = 1 - ((box.x1 - box.x0) * (box.y1 - box.y0)) / (size * size);
  return { x: out, labels: mixTargets(labels, n, perm, lambda), lambda };
}

/** What mixBatch did to a batch (for tests and logs). */
export interface BatchMix {
  kind: 'none' | 'mixup' | 'cutmix';
  lambda: number;
  perm: number[];
  box: CutBox | null;
}

/** The generator's seed for (run seed, epoch, batch): a hash, so neighbouring batches differ. */
export function mixSeed(seed: number, epoch: number, index: number): number {
  let h = Math.imul((seed | 0) ^ 0x5bd1e995, 0x85ebca6b) ^ Math.imul(epoch + 1, 0xc2b2ae35) ^ Math.imul(index + 1, 0x27d4eb2f);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

/** Whether a config mixes its training batches. */
export function mixesBatches(config: Pick<TrainConfig, 'task' | 'mixup' | 'cutmix'>): boolean {
  return config.task === 'classification' && ((config.mixup ?? 0) > 0 || (config.cutmix ?? 0) > 0);
}

/**
 * The training batch `index` of `epoch` mixed per config (see the file header); the batch itself
 * when the config mixes nothing, it is not classification, or it holds a single image.
 */
export function mixBatch(batch: Batch, config: Pick<TrainConfig, 'task' | 'mixup' | 'cutmix' | 'seed' | 'inputSize' | 'channels'>, epoch: number, index: number): { batch: Batch; mix: BatchMix } {
  const none = { batch, mix: { kind: 'none' as const, lambda: 1, perm: [], box: null } };
  if (!mixesBatches(config) || batch.n < 2 || batch.targets.task !== 'classification') return none;
  const rng = seededRandom(mixSeed(config.seed, epoch, index));
  const mixup = config.mixup ?? 0;
  const cutmix = config.cutmix ?? 0;
  const useCutmix = cutmix > 0 && (mixup <= 0 || rng() < 0.5);
  const lambda = sampleBeta(useCutmix ? cutmix : mixup, rng);
  const perm = randomPermutation(batch.n, rng);
  const labels = batch.targets.labels;
  if (useCutmix) {
    const box = cutmixBox(config.inputSize, lambda, rng);
    const r = cutmixImages(batch.x, labels, batch.n, config.inputSize, config.channels, perm, box);
    return { batch: { ...batch, x: r.x, targets: { task: 'classification', labels: r.labels } }, mix: { kind: 'cutmix', lambda: r.lambda, perm, box } };
  }
  const r = mixupImages(batch.x, labels, batch.n, perm, lambda);
  return { batch: { ...batch, x: r.x, targets: { task: 'classification', labels: r.labels } }, mix: { kind: 'mixup', lambda, perm, box: null } };
}
