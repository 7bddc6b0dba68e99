/**
 * The learning-rate schedule of a run (TrainConfig.lrSchedule).
 *
 * 'constant' (absent): Adam at config.learningRate throughout, as every run
 * before schedules existed.
 * 'cosine': the rate falls from config.learningRate to LR_COSINE_FLOOR (contract/ml.ts) of it
 * along a half cosine (Loshchilov & Hutter's SGDR without restarts; the
 * schedule timm and Ultralytics default to), set before every training step.
 * Its progress is the fraction of the time budget elapsed when the run has
 * one (the budget, not an epoch count, says when training ends), otherwise
 * the fraction of the planned epochs done. A resumed run with a budget gets
 * its budget afresh (time-budget.ts), so its rate starts high again: a
 * warm restart.
 */

import { LR_COSINE_FLOOR } from '../../electron/contract/ml';

export type LrSchedule = 'constant' | 'cosine';

/** The rate at `progress` in [0, 1] (clamped) of a schedule that starts at `base`. */
export function scheduledLearningRate(schedule: LrSchedule | undefined, base: number, progress: number): number {
  if (schedule !== 'cosine') return base;
  const p = Math.min(1, Math.max(0, Number.isFinite(progress) ? progress : 0));
  return base * (LR_COSINE_FLOOR + (1 - LR_COSINE_FLOOR) * 0.5 * (1 + Math.cos(Math.PI * p)));
}

/**
 * How far a run is along its schedule: elapsed / budget seconds with a budget, else
 * (epochs done + batches done of this epoch / batches per epoch) / epochs.
 */
export function scheduleProgress(o: { budgetSeconds: number | null; elapsedSeconds: number; epoch: number; batch: number; batchesPerEpoch: number; epochs: number }): number {
  if (o.budgetSeconds && o.budgetSeconds > 0) return o.elapsedSeconds / o.budgetSeconds;
  return (o.epoch - 1 + o.batch / Math.max(1, o.batchesPerEpoch)) / Math.max(1, o.epochs);
}
