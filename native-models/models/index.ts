/**
 * One entry point per task: `createModel(config)` builds the network, and
 * `taskHooks(config)` gives the trainer and predict() what differs by task
 * (targets, loss, metrics, decoding), so the training loop is task-agnostic.
 *
 * All hooks are synchronous and tensor-in/tensor-out; the caller owns
 * tf.tidy (the loss runs inside tf.variableGrads while training).
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch, Prediction, TrainConfig } from '../../electron/contract/ml';
import { classificationLoss, classificationStats, createClassifier, smoothLabels } from './classifier';
import { Ap50Accumulator, createDetector, createEncoderDetector, decodeDetections, detectionLoss, encodeDetectionTargets, type DetectorOutputs } from './detector';
import { IMAGENET_ENCODER } from './imagenet-encoder';
import { createEncoderUnet, createUnet, diceIou, segmentationLoss, segmentationStats, segmentationTargets } from './unet';

/** Builds the model for a config (fresh weights from config.seed). */
export function createModel(config: TrainConfig): tf.LayersModel {
  const numClasses = config.classNames.length;
  switch (config.task) {
    case 'classification':
      return createClassifier({ inputSize: config.inputSize, channels: config.channels, numClasses, multiLabel: isMultiLabel(config), seed: config.seed });
    case 'detection':
      return config.encoder === IMAGENET_ENCODER
        ? createEncoderDetector({ inputSize: config.inputSize, channels: config.channels, numClasses, seed: config.seed })
        : createDetector({ inputSize: config.inputSize, channels: config.channels, numClasses, seed: config.seed });
    case 'segmentation':
      return config.encoder === IMAGENET_ENCODER
        ? createEncoderUnet({ inputSize: config.inputSize, channels: config.channels, numClasses, seed: config.seed })
        : createUnet({ inputSize: config.inputSize, channels: config.channels, numClasses, seed: config.seed });
  }
}

/** A single class can only be a yes/no question: sigmoid, binary cross-entropy. */
function isMultiLabel(config: TrainConfig): boolean {
  return config.multiLabel || config.classNames.length === 1;
}

/** Running metrics over batches of one split. */
export interface MetricsAccumulator {
  /**
   * Adds one batch: the statistics tensor's values from lossAndStats, and
   * (validation only) the model outputs, still alive, for metrics that
   * decode predictions.
   */
  add(stats: Float32Array | null, batch: Batch, outputs: tf.Tensor[] | null): void | Promise<void>;
  result(): Record<string, number>;
}

export interface TaskHooks {
  /** Target tensors for a batch. */
  targets(batch: Batch): tf.Tensor[];
  /**
   * Loss (scalar) and small per-batch statistics for the running metrics
   * (summed over the batch; null when the task has none). `training`: a training step's loss
   * (classification applies its label smoothing there only; validation losses stay comparable
   * between runs with and without it).
   */
  lossAndStats(outputs: tf.Tensor[], targets: tf.Tensor[], training?: boolean): { loss: tf.Scalar; stats: tf.Tensor | null };
  /** A fresh accumulator; `val` ones may use outputs (detection AP). */
  newMetrics(split: 'train' | 'val'): MetricsAccumulator;
  /**
   * Predictions for the `n` images of a batch from the model outputs (left for the caller to
   * dispose). Asynchronous: a synchronous read of a GPU tensor throws in Node (webgpu).
   */
  decode(outputs: tf.Tensor[], n: number): Promise<Prediction[]>;
}

/** Checks a config before building anything; returns a message for a person, or null. */
export function validateConfig(config: TrainConfig): string | null {
  const k = config.classNames.length;
  if (!(Number.isInteger(config.inputSize) && config.inputSize >= 8)) return `input size must be an integer of at least 8 px (got ${config.inputSize})`;
  if (config.channels !== 1 && config.channels !== 3) return `channels must be 1 or 3 (got ${String(config.channels)})`;
  if (!(Number.isInteger(config.epochs) && config.epochs >= 1)) return `epochs must be a positive integer (got ${config.epochs})`;
  if (!(Number.isInteger(config.batchSize) && config.batchSize >= 1)) return `batch size must be a positive integer (got ${config.batchSize})`;
  if (!(config.learningRate > 0 && Number.isFinite(config.learningRate))) return `learning rate must be positive (got ${config.learningRate})`;
  if (config.classWeights && config.classWeights.length !== k) return `class weights: ${config.classWeights.length} given for ${k} classes`;
  if (config.task !== 'classification' && ((config.labelSmoothing ?? 0) > 0 || (config.mixup ?? 0) > 0 || (config.cutmix ?? 0) > 0)) {
    return `label smoothing, mixup and cutmix apply to classification only (this is a ${config.task} run)`;
  }
  switch (config.task) {
    case 'classification': {
      if (k < 1) return 'classification needs at least one class';
      const ls = config.labelSmoothing ?? 0;
      if (!(ls >= 0 && ls <= 0.5)) return `label smoothing must be 0 to 0.5 (got ${ls})`;
      for (const [name, a] of [['mixup', config.mixup ?? 0], ['cutmix', config.cutmix ?? 0]] as const) {
        if (!(a >= 0 && a <= 10)) return `${name} alpha must be 0 to 10 (got ${a})`;
      }
      return null;
    }
    case 'detection':
      if (k < 1) return 'detection needs at least one class';
      if (config.inputSize % 16 !== 0 || config.inputSize < 32) return `detection input size must be a multiple of 16, at least 32 (got ${config.inputSize})`;
      if (config.encoder === IMAGENET_ENCODER && config.inputSize % 32 !== 0) return `with the ImageNet encoder the input size must be a multiple of 32 (got ${config.inputSize})`;
      return null;
    case 'segmentation':
      if (k < 2) return 'segmentation needs at least 2 classes (index 0 is background)';
      if (config.inputSize % 8 !== 0) return `segmentation input size must be a multiple of 8 (got ${config.inputSize})`;
      if (config.encoder === IMAGENET_ENCODER && config.inputSize % 32 !== 0) return `with the ImageNet encoder the input size must be a multiple of 32 (got ${config.inputSize})`;
      return null;
  }
}

function sumInto(acc: Float64Array | null, stats: Float32Array | null): Float64Array | null {
  if (stats == null) return acc;
  const a = acc ?? new Float64Array(stats.length);
  for (let i = 0; i < stats.length; i++) a[i] = (a[i] as number) + (stats[i] as number);
  return a;
}

function classificationHooks(config: TrainConfig): TaskHooks {
  const K = config.classNames.length;
  const multi = isMultiLabel(config);
  return {
    targets: (b) => {
      if (b.targets.task !== 'classification') throw new Error(`a ${b.targets.task} batch for a classification run`);
      return [tf.tensor2d(b.targets.labels, [b.n, K])];
    },
    lossAndStats: (outs, [labels], training = false) => {
      const p = outs[0] as tf.Tensor;
      const eps = training ? (config.labelSmoothing ?? 0) : 0;
      const target = eps > 0 ? smoothLabels(labels as tf.Tensor, eps, multi) : (labels as tf.Tensor);
      return { loss: classificationLoss(p, target, multi, config.classWeights), stats: classificationStats(p, labels as tf.Tensor, multi) };
    },
    newMetrics: () => {
      let s: Float64Array | null = null;
      return {
        add: (stats) => void (s = sumInto(s, stats)),
        result: (): Record<string, number> => (s && (s[1] as number) > 0 ? { accuracy: (s[0] as number) / (s[1] as number) } : {}),
      };
    },
    decode: async (outs, n) => {
      const p = await (outs[0] as tf.Tensor).data();
      return Array.from({ length: n }, (_, i) => ({ task: 'classification' as const, probabilities: Array.from(p.subarray(i * K, (i + 1) * K)) }));
    },
  };
}

function segmentationHooks(config: TrainConfig): TaskHooks {
  const K = config.classNames.length;
  const S = config.inputSize;
  return {
    targets: (b) => {
      if (b.targets.task !== 'segmentation') throw new Error(`a ${b.targets.task} batch for a segmentation run`);
      const { onehot, valid } = segmentationTargets(b.targets.masks, b.n, S, K);
      return [onehot, valid];
    },
    lossAndStats: (outs, [onehot, valid]) => {
      const p = outs[0] as tf.Tensor;
      return { loss: segmentationLoss(p, onehot as tf.Tensor, valid as tf.Tensor, config.classWeights), stats: segmentationStats(p, onehot as tf.Tensor, valid as tf.Tensor) };
    },
    newMetrics: () => {
      let s: Float64Array | null = null;
      return {
        add: (stats) => void (s = sumInto(s, stats)),
        result: () => (s ? diceIou(s, K) : {}),
      };
    },
    decode: async (outs, n) => {
      const p = outs[0] as tf.Tensor4D;
      const [clsT, confT] = tf.tidy(() => [tf.argMax(p, -1), tf.max(p, -1)]) as [tf.Tensor, tf.Tensor];
      let cls: tf.TypedArray, conf: tf.TypedArray;
      try {
        [cls, conf] = await Promise.all([clsT.data(), confT.data()]);
      } finally {
        tf.dispose([clsT, confT]);
      }
      const px = S * S;
      return Array.from({ length: n }, (_, i) => ({
        task: 'segmentation' as const,
        classes: Uint8Array.from((cls as Int32Array).subarray(i * px, (i + 1) * px)),
        confidence: Float32Array.from((conf as Float32Array).subarray(i * px, (i + 1) * px)),
      }));
    },
  };
}

function detectorOutputs(outs: tf.Tensor[]): DetectorOutputs {
  const [heatmap, size, offset] = outs as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
  return { heatmap, size, offset };
}

/** Detections kept per image, and the lowest score reported (COCO-style evaluation keeps low scores; the UI filters). */
export const DETECTION_TOP_K = 100;
export const DETECTION_MIN_SCORE = 0.05;

function detectionHooks(config: TrainConfig): TaskHooks {
  const K = config.classNames.length;
  const S = config.inputSize;
  return {
    targets: (b) => {
      if (b.targets.task !== 'detection') throw new Error(`a ${b.targets.task} batch for a detection run`);
      // Multi-scale training: a batch may carry its own side (the detector is fully convolutional).
      const t = encodeDetectionTargets(b.targets.boxes, b.inputSize ?? S, K);
      const H = t.outSize;
      return [
        tf.tensor4d(t.heatmap, [b.n, H, H, K]),
        tf.tensor4d(t.size, [b.n, H, H, 2]),
        tf.tensor4d(t.offset, [b.n, H, H, 2]),
        tf.tensor4d(t.mask, [b.n, H, H, 1]),
        tf.tensor4d(t.ignore, [b.n, H, H, 1]),
      ];
    },
    lossAndStats: (outs, [heatmap, size, offset, mask, ignore]) => {
      const l = detectionLoss(detectorOutputs(outs), { heatmap: heatmap as tf.Tensor, size: size as tf.Tensor, offset: offset as tf.Tensor, mask: mask as tf.Tensor, ignore: ignore as tf.Tensor });
      // Per-batch loss parts, summed over batches: [focal, size, offset, batches].
      const stats = tf.stack([l.focal, l.size, l.offset, tf.scalar(1)]);
      return { loss: l.total, stats };
    },
    newMetrics: (split) => {
      let s: Float64Array | null = null;
      const ap = split === 'val' ? new Ap50Accumulator(K) : null;
      return {
        add: async (stats, batch, outputs) => {
          s = sumInto(s, stats);
          if (ap && outputs && batch.targets.task === 'detection') {
            const dets = await decodeDetections(detectorOutputs(outputs), DETECTION_TOP_K, DETECTION_MIN_SCORE);
            dets.forEach((d, i) => ap.addImage(d, (batch.targets as { boxes: number[][][] }).boxes[i] ?? []));
          }
        },
        result: () => {
          const out: Record<string, number> = {};
          if (s && (s[3] as number) > 0) {
            const nb = s[3] as number;
            out['heatmapLoss'] = (s[0] as number) / nb;
            out['sizeLoss'] = (s[1] as number) / nb;
            out['offsetLoss'] = (s[2] as number) / nb;
          }
          if (ap) {
            const r = ap.result();
            out['ap50'] = r.ap50;
            r.perClass.forEach((v, c) => {
              if (v != null) out[`ap50/${config.classNames[c] ?? c}`] = v;
            });
          }
          return out;
        },
      };
    },
    // The decoding tuned on validation after training (stored in the run's config), else the defaults.
    decode: async (outs, n) =>
      (await decodeDetections(detectorOutputs(outs), config.decoding?.topK ?? DETECTION_TOP_K, config.decoding?.scoreThreshold ?? DETECTION_MIN_SCORE, config.decoding?.nmsIou ?? null))
        .slice(0, n)
        .map((boxes) => ({ task: 'detection' as const, boxes })),
  };
}

export function taskHooks(config: TrainConfig): TaskHooks {
  switch (config.task) {
    case 'classification':
      return classificationHooks(config);
    case 'detection':
      return detectionHooks(config);
    case 'segmentation':
      return segmentationHooks(config);
  }
}
