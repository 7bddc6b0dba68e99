/**
 * After a detection run: the best checkpoint's outputs on every validation
 * batch, decoded once into candidates, and the decoding that maximises
 * validation AP@0.5 (models/detection-decoding.ts). Its result is stored with
 * the run (TrainOutcome.decoding -> the run's config) and used by evaluation
 * and prediction.
 */
import * as tf from '@tensorflow/tfjs';
import type { DetectionDecoding, TrainConfig } from '../../electron/contract/ml';
import { CANDIDATE_K, CANDIDATE_MIN_SCORE, tuneDecoding } from '../models/detection-decoding';
import { decodeDetections, type DetectedBox, type DetectorOutputs } from '../models/detector';
import { loadCheckpointModel } from './checkpoint-io';
import type { TrainerProvider } from './trainer';

/**
 * @returns the chosen decoding, or null when there is nothing to tune on (no validation batch, no
 *   ground truth) or the run was cancelled meanwhile.
 */
export async function tuneDetectionDecoding(
  bestDir: string,
  bestEpoch: number,
  provider: TrainerProvider,
  config: TrainConfig,
  isCancelled: () => boolean,
): Promise<DetectionDecoding | null> {
  const nVal = provider.batchesPerEpoch.val;
  if (config.task !== 'detection' || nVal < 1) return null;
  const model = await loadCheckpointModel(bestDir);
  const candidates: DetectedBox[][] = [];
  const truths: number[][][] = [];
  try {
    for (let i = 0; i < nVal; i++) {
      if (isCancelled()) return null;
      const batch = await provider.batch('val', bestEpoch, i);
      if (batch.targets.task !== 'detection') return null;
      const outs = tf.tidy(() => model.apply(tf.tensor4d(batch.x, [batch.n, config.inputSize, config.inputSize, config.channels]), { training: false }) as tf.Tensor[]);
      try {
        const [heatmap, size, offset] = outs as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        const out: DetectorOutputs = { heatmap, size, offset };
        candidates.push(...(await decodeDetections(out, CANDIDATE_K, CANDIDATE_MIN_SCORE)).slice(0, batch.n));
      } finally {
        tf.dispose(outs);
      }
      truths.push(...batch.targets.boxes.slice(0, batch.n));
    }
  } finally {
    model.dispose();
  }
  if (!truths.some((t) => t.some((b) => (b[4] ?? -1) >= 0))) return null;
  const r = tuneDecoding(candidates, truths, config.classNames.length);
  return { ...r.best, tuned: { valAp50: r.ap50, defaultValAp50: r.defaultAp50, valImages: candidates.length, epoch: bestEpoch, candidates: r.trials.length } };
}
