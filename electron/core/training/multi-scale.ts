/**
 * Multi-scale training for detection (AugmentConfig.multiScale): each training batch gets its own
 * input side, drawn from (seed, epoch, batch index) so a run and its resume see the same sides.
 * Sides are multiples of 32 px within [inputSize (1 - m), inputSize (1 + m)] (the detector needs
 * multiples of 16; 32 keeps the set of shapes, and so of compiled kernels, small). Validation,
 * evaluation and prediction use inputSize.
 */
import type { TrainConfig } from '../../contract/ml';
import { createRandom } from '../samples/seeded-random';

/** The input sides a multi-scale detection run trains at (just inputSize when multi-scale is off). */
export function multiScaleSides(config: Pick<TrainConfig, 'task' | 'inputSize' | 'augment'>): number[] {
  const m = config.augment.multiScale ?? 0;
  const S = config.inputSize;
  if (config.task !== 'detection' || !(m > 0)) return [S];
  const lo = Math.max(32, Math.ceil((S * (1 - m)) / 32) * 32);
  const hi = Math.floor((S * (1 + m)) / 32) * 32;
  const sides: number[] = [];
  for (let s = lo; s <= hi; s += 32) sides.push(s);
  return sides.length ? sides : [S];
}

/** The side of training batch `index` of `epoch`. */
export function trainBatchSide(config: Pick<TrainConfig, 'task' | 'inputSize' | 'augment' | 'seed'>, epoch: number, index: number): number {
  const sides = multiScaleSides(config);
  if (sides.length === 1) return sides[0] as number;
  const u = createRandom(config.seed).fork(`multi-scale/${epoch}/${index}`).next();
  return sides[Math.min(sides.length - 1, Math.floor(u * sides.length))] as number;
}
