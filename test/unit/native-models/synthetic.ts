/**
 * Synthetic data for the native-models tests: a BatchProvider that builds
 * batches from generated arrays (test data, not a mock of the core), and
 * the three generators (bright vs dark squares, discs to segment, squares
 * to detect). Deterministic from (seed, split, epoch, index).
 */
import type { Batch, BatchProvider, BatchTargets, TaskKind, TrainConfig } from '../../../electron/contract/ml';

/** mulberry32 */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Sample {
  /** [size*size*channels] */
  x: Float32Array;
  label?: number;
  /** [size*size] */
  mask?: Uint8Array;
  boxes?: number[][];
}

export type Generator = (r: () => number, size: number, channels: number) => Sample;

/** A square, bright (+1, class 1) or dark (-1, class 0), on noise. */
export const squares: Generator = (r, size, channels) => {
  const x = new Float32Array(size * size * channels);
  for (let i = 0; i < x.length; i++) x[i] = (r() - 0.5) * 0.6;
  const label = r() < 0.5 ? 0 : 1;
  const side = Math.max(3, Math.floor(size * (0.25 + r() * 0.25)));
  const x0 = Math.floor(r() * (size - side));
  const y0 = Math.floor(r() * (size - side));
  for (let y = y0; y < y0 + side; y++) for (let xx = x0; xx < x0 + side; xx++) for (let c = 0; c < channels; c++) x[(y * size + xx) * channels + c] = label ? 1 : -1;
  return { x, label };
};

/** A bright disc on noise; mask 1 inside; the outer 2 px ring of the image is 'ignore' (255). */
export const discs: Generator = (r, size, channels) => {
  const x = new Float32Array(size * size * channels);
  const mask = new Uint8Array(size * size);
  const rad = size * (0.12 + r() * 0.15);
  const cx = rad + r() * (size - 2 * rad);
  const cy = rad + r() * (size - 2 * rad);
  for (let y = 0; y < size; y++) {
    for (let xx = 0; xx < size; xx++) {
      const inside = (xx + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2 <= rad * rad;
      const border = xx < 2 || y < 2 || xx >= size - 2 || y >= size - 2;
      mask[y * size + xx] = border ? 255 : inside ? 1 : 0;
      for (let c = 0; c < channels; c++) x[(y * size + xx) * channels + c] = (inside ? 1 : 0) + (r() - 0.5) * 0.6;
    }
  }
  return { x, mask };
};

/** One or two bright squares (class 0) on noise, with exact boxes. */
export const boxes: Generator = (r, size, channels) => {
  const x = new Float32Array(size * size * channels);
  for (let i = 0; i < x.length; i++) x[i] = (r() - 0.5) * 0.4;
  const out: number[][] = [];
  const count = r() < 0.5 ? 1 : 2;
  for (let k = 0; k < count; k++) {
    const side = Math.floor(size * (0.18 + r() * 0.15));
    const x0 = Math.floor(r() * (size - side));
    const y0 = Math.floor(r() * (size - side));
    if (out.some(([bx = 0, by = 0, bw = 0, bh = 0]) => x0 < bx + bw + 2 && bx < x0 + side + 2 && y0 < by + bh + 2 && by < y0 + side + 2)) continue;
    for (let y = y0; y < y0 + side; y++) for (let xx = x0; xx < x0 + side; xx++) for (let c = 0; c < channels; c++) x[(y * size + xx) * channels + c] = 1;
    out.push([x0, y0, side, side, 0]);
  }
  return { x, boxes: out };
};

export function makeBatch(task: TaskKind, samples: Sample[], size: number, channels: number, numClasses: number, firstId = 0): Batch {
  const n = samples.length;
  const px = size * size * channels;
  const x = new Float32Array(n * px);
  samples.forEach((s, i) => x.set(s.x, i * px));
  let targets: BatchTargets;
  if (task === 'classification') {
    const labels = new Float32Array(n * numClasses);
    samples.forEach((s, i) => (labels[i * numClasses + (s.label ?? 0)] = 1));
    targets = { task, labels };
  } else if (task === 'segmentation') {
    const masks = new Uint8Array(n * size * size);
    samples.forEach((s, i) => masks.set(s.mask ?? new Uint8Array(size * size), i * size * size));
    targets = { task, masks };
  } else {
    targets = { task, boxes: samples.map((s) => s.boxes ?? []) };
  }
  return { x, n, targets, itemIds: samples.map((_, i) => firstId + i) };
}

export interface SyntheticOptions {
  trainBatches: number;
  valBatches: number;
  /** Validation uses the same samples every epoch; training draws fresh ones per epoch. */
  seed?: number;
  /** A different generator for the validation split. */
  valGen?: Generator;
  /** Called on every request (to observe or to cancel at a given point). */
  onRequest?: (split: 'train' | 'val', epoch: number, index: number) => void;
}

/** A BatchProvider over a generator, sized by the config. */
export class SyntheticProvider implements BatchProvider {
  requests: { split: 'train' | 'val'; epoch: number; index: number }[] = [];
  constructor(
    readonly config: TrainConfig,
    readonly gen: Generator,
    readonly opts: SyntheticOptions,
  ) {}

  batchesPerEpoch(split: 'train' | 'val'): number {
    return split === 'train' ? this.opts.trainBatches : this.opts.valBatches;
  }

  async batch(split: 'train' | 'val', epoch: number, index: number): Promise<Batch> {
    this.requests.push({ split, epoch, index });
    this.opts.onRequest?.(split, epoch, index);
    const { inputSize: s, channels: c, batchSize, classNames } = this.config;
    const seed = (this.opts.seed ?? 7) * 1_000_003 + (split === 'train' ? epoch * 10_007 : 999_983) + index * 31;
    const r = rng(seed);
    const gen = split === 'val' && this.opts.valGen ? this.opts.valGen : this.gen;
    const samples = Array.from({ length: batchSize }, () => gen(r, s, c));
    return makeBatch(this.config.task, samples, s, c, classNames.length, index * batchSize);
  }
}

/** A small config for tests: defaults of the task, overridden. */
export function testConfig(task: TaskKind, over: Partial<TrainConfig> = {}): TrainConfig {
  const classNames = task === 'segmentation' ? ['background', 'disc'] : task === 'detection' ? ['square'] : ['dark', 'bright'];
  return {
    task,
    inputSize: 32,
    channels: 1,
    classNames,
    multiLabel: false,
    epochs: 2,
    batchSize: 16,
    learningRate: 1e-3,
    seed: 1,
    backend: 'wasm',
    earlyStoppingPatience: 0,
    augment: { flipHorizontal: false, flipVertical: false, rotateDegrees: 0, scale: 0, intensity: 0 },
    classWeights: null,
    normalization: { kind: 'unit' },
    ...over,
  };
}
