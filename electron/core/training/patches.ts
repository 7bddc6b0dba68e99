/**
 * Patch sampling for segmentation at native resolution (TrainConfig.patch):
 * where a training patch is cut, and the patch's sample transform.
 *
 * Foreground bias (nnU-Net's oversampling): with probability
 * `foregroundProbability` the patch is centred, up to a quarter patch of
 * jitter, on a labelled pixel drawn uniformly from the image's foreground
 * (class > 0 and not ignored), so a class covering 1% of the pixels is
 * still in a third of the patches; otherwise the patch is uniform over the
 * image. Patches stay inside the image where it is larger than the patch;
 * an image smaller than the patch is centred and padded (0 / ignore).
 *
 * Randomness: one stream per (seed, epoch, item, frame, patch index), so a
 * patch does not depend on batch order or prefetching, and a resumed run
 * cuts the same patches.
 */
import type { SeededRandom } from '../samples/seeded-random';
import { invertAffine, type Affine, type AugmentDraw, type SampleTransform } from './sample-loader';
import { IGNORE_INDEX } from './training-samples';

export interface PatchOrigin {
  x0: number;
  y0: number;
  /** Whether the draw asked for a foreground-centred patch and the image had foreground. */
  foreground: boolean;
}

function axisOrigin(centre: number, size: number, patch: number): number {
  if (size <= patch) return Math.floor((size - patch) / 2);
  return Math.min(size - patch, Math.max(0, Math.round(centre - patch / 2)));
}

/**
 * The top-left corner of a patch in source pixels (see the header). `classMap` is the
 * sample's class map at source resolution (null: no foreground to aim at).
 */
export function choosePatchOrigin(classMap: Uint8Array | null, width: number, height: number, patch: number, foregroundProbability: number, rng: SeededRandom): PatchOrigin {
  // Always the same four draws, whichever case, so a patch's stream does not depend on the image.
  const wantForeground = rng.next() < foregroundProbability;
  const u = rng.next();
  const v = rng.next();
  const w = rng.next();
  if (wantForeground && classMap) {
    let count = 0;
    for (let i = 0; i < classMap.length; i++) {
      const k = classMap[i] as number;
      if (k !== 0 && k !== IGNORE_INDEX) count++;
    }
    if (count > 0) {
      let target = Math.min(count - 1, Math.floor(u * count));
      let at = 0;
      for (let i = 0; i < classMap.length; i++) {
        const k = classMap[i] as number;
        if (k !== 0 && k !== IGNORE_INDEX && target-- === 0) {
          at = i;
          break;
        }
      }
      const jitter = patch / 4;
      const cx = (at % width) + 0.5 + (2 * v - 1) * jitter;
      const cy = Math.floor(at / width) + 0.5 + (2 * w - 1) * jitter;
      return { x0: axisOrigin(cx, width, patch), y0: axisOrigin(cy, height, patch), foreground: true };
    }
  }
  const x0 = width <= patch ? axisOrigin(0, width, patch) : Math.min(width - patch, Math.floor(u * (width - patch + 1)));
  const y0 = height <= patch ? axisOrigin(0, height, patch) : Math.min(height - patch, Math.floor(v * (height - patch + 1)));
  return { x0, y0, foreground: false };
}

/**
 * Source pixels -> patch pixels: a shift by the origin (scale 1: native
 * resolution), then the augmentation about the patch centre, as
 * sampleTransform does for letterboxed images.
 */
export function patchTransform(origin: PatchOrigin, patch: number, augment: AugmentDraw | null): SampleTransform {
  let forward: Affine = [1, 0, -origin.x0, 0, 1, -origin.y0];
  if (augment) {
    const c = patch / 2;
    const k = augment.scale;
    const fx = augment.flipHorizontal ? -k : k;
    const fy = augment.flipVertical ? -k : k;
    const cos = Math.cos(augment.angle);
    const sin = Math.sin(augment.angle);
    const a00 = cos * fx;
    const a01 = -sin * fy;
    const a10 = sin * fx;
    const a11 = cos * fy;
    // A * (p - o - c) + c
    forward = [a00, a01, a00 * (-origin.x0 - c) + a01 * (-origin.y0 - c) + c, a10, a11, a10 * (-origin.x0 - c) + a11 * (-origin.y0 - c) + c];
  }
  return { inputSize: patch, forward, inverse: invertAffine(forward), letterbox: { scale: 1, padX: -origin.x0, padY: -origin.y0 }, augment };
}
