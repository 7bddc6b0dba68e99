/**
 * How unsure a model is about one image, in [0, 1] (1: label this first).
 * The active-learning queue sorts items by it (highest first).
 *
 * - Classification, single-label:
 *   - 'entropy': Shannon entropy of the probabilities divided by log(K),
 *     so a uniform prediction scores 1 and a one-hot one 0.
 *   - 'margin': 1 - (p_best - p_second): two classes neck and neck score 1.
 *   Probabilities are renormalised to sum 1 first (a softmax already does).
 * - Classification, multi-label: the mean over classes of the binary
 *   entropy of each independent sigmoid (in bits, so p = 0.5 scores 1).
 * - Detection ('box-confidence'): the least decided box: max over the
 *   detections of 1 - |2 score - 1| (a box at 0.5 scores 1, at 0.05 or 0.95
 *   0.1). No detection at all scores 0: the model is sure there is nothing.
 * - Segmentation ('uncertain-area'): the fraction of the image's pixels
 *   (input pixels on the image, not the letterbox padding) whose winning
 *   class probability is below halfway between chance (1/K) and certainty:
 *   (1 + 1/K) / 2, i.e. 0.75 for two classes.
 * An item with several frames takes the largest score of its frames.
 */
import type { Prediction } from '../../contract/ml';
import { imageAreaInInput, type Letterbox } from './letterbox-mapping';

export type ClassificationUncertainty = 'entropy' | 'margin';
export type UncertaintyMethod = ClassificationUncertainty | 'box-confidence' | 'uncertain-area';

function normalised(p: readonly number[]): number[] {
  const clean = p.map((v) => (Number.isFinite(v) && v > 0 ? v : 0));
  const sum = clean.reduce((a, b) => a + b, 0);
  return sum > 0 ? clean.map((v) => v / sum) : clean.map(() => 1 / Math.max(1, clean.length));
}

/** Entropy / log(K), in [0, 1]. */
export function normalisedEntropy(probabilities: readonly number[]): number {
  const K = probabilities.length;
  if (K < 2) return 0;
  let h = 0;
  for (const v of normalised(probabilities)) if (v > 0) h -= v * Math.log(v);
  return Math.min(1, Math.max(0, h / Math.log(K)));
}

/** 1 - (best - second best), in [0, 1]. */
export function marginUncertainty(probabilities: readonly number[]): number {
  if (probabilities.length < 2) return 0;
  const p = normalised(probabilities).sort((a, b) => b - a);
  return Math.min(1, Math.max(0, 1 - ((p[0] as number) - (p[1] as number))));
}

/** Mean binary entropy in bits of independent probabilities (multi-label), in [0, 1]. */
export function meanBinaryEntropy(probabilities: readonly number[]): number {
  if (probabilities.length === 0) return 0;
  let sum = 0;
  for (const raw of probabilities) {
    const p = Math.min(1, Math.max(0, Number.isFinite(raw) ? raw : 0));
    if (p > 0 && p < 1) sum += -(p * Math.log2(p) + (1 - p) * Math.log2(1 - p));
  }
  return sum / probabilities.length;
}

/** max over boxes of 1 - |2 s - 1|; 0 without boxes. */
export function boxConfidenceUncertainty(scores: readonly number[]): number {
  let u = 0;
  for (const s of scores) u = Math.max(u, 1 - Math.abs(2 * Math.min(1, Math.max(0, s)) - 1));
  return u;
}

/** Fraction of the image's input pixels whose confidence is below (1 + 1/K) / 2. */
export function uncertainArea(confidence: Float32Array, numClasses: number, lb: Letterbox): number {
  const threshold = (1 + 1 / Math.max(2, numClasses)) / 2;
  const [u0, v0, u1, v1] = imageAreaInInput(lb);
  const S = lb.inputSize;
  let n = 0;
  let low = 0;
  for (let v = v0; v < v1; v++) {
    for (let u = u0; u < u1; u++) {
      n++;
      if ((confidence[v * S + u] as number) < threshold) low++;
    }
  }
  return n > 0 ? low / n : 0;
}

/** The method predict uses for a task. */
export function methodFor(task: Prediction['task'], multiLabel: boolean, classification: ClassificationUncertainty): UncertaintyMethod {
  if (task === 'detection') return 'box-confidence';
  if (task === 'segmentation') return 'uncertain-area';
  return multiLabel ? 'entropy' : classification;
}

/** The uncertainty of one image's prediction (see the header). */
export function uncertaintyOf(prediction: Prediction, lb: Letterbox, options: { multiLabel: boolean; numClasses: number; method: ClassificationUncertainty }): number {
  switch (prediction.task) {
    case 'classification':
      if (options.multiLabel || prediction.probabilities.length === 1) return meanBinaryEntropy(prediction.probabilities);
      return options.method === 'margin' ? marginUncertainty(prediction.probabilities) : normalisedEntropy(prediction.probabilities);
    case 'detection':
      return boxConfidenceUncertainty(prediction.boxes.map((b) => b.score));
    case 'segmentation':
      return uncertainArea(prediction.confidence, options.numClasses, lb);
  }
}
