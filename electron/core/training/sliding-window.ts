/**
 * Segmentation at an image's own size: sliding-window inference with
 * overlapping tiles and Gaussian weighting (nnU-Net's and MONAI's
 * `sliding_window_inference` with mode 'gaussian').
 *
 * Why Gaussian weights: a convolutional network sees less context near a
 * tile's border, so its predictions there are worse; weighting each tile's
 * probabilities by a Gaussian centred on the tile (sigma = patch / 8, as
 * nnU-Net) lets the centre of an overlapping neighbour win at every border.
 * The weights are divided out per pixel (sum of weighted probabilities over
 * the sum of weights), so probabilities stay probabilities wherever tiles
 * overlap, and the Gaussian's minimum is clamped to a small positive value
 * so pixels seen only by a tile's edge (image corners) are still defined.
 *
 * Pure TypeScript over Float32Arrays (no tfjs): the model is a callback, so
 * the same code serves every backend and the tests.
 */

/** Tiles a batch of [n, patch, patch, channels] images, row-major NHWC. */
export type PatchPredictor = (x: Float32Array, n: number) => Promise<Float32Array>;

export interface SlidingWindowOptions {
  /** Tile side in pixels (the model's input size). */
  patch: number;
  /** Fraction of a tile shared with its neighbour, in [0, 1): 0.5 as nnU-Net. */
  overlap: number;
  /** Output channels per pixel the predictor returns (classes). */
  classes: number;
  /** Tiles per predictor call. */
  batch?: number;
  /** Weight every pixel of a tile the same (for comparison; default Gaussian). */
  uniform?: boolean;
}

/**
 * Gaussian importance map of a tile: exp(-d^2 / (2 sigma^2)) with sigma =
 * patch * sigmaScale about the tile centre, scaled to a maximum of 1, and
 * clamped below at the smallest positive value it takes (never 0).
 */
export function gaussianWeights(patch: number, sigmaScale = 1 / 8): Float32Array {
  const w = new Float32Array(patch * patch);
  const c = (patch - 1) / 2;
  const sigma = patch * sigmaScale;
  let max = 0;
  for (let y = 0; y < patch; y++) {
    for (let x = 0; x < patch; x++) {
      const v = Math.exp(-((x - c) ** 2 + (y - c) ** 2) / (2 * sigma * sigma));
      w[y * patch + x] = v;
      if (v > max) max = v;
    }
  }
  let minPositive = Infinity;
  for (let i = 0; i < w.length; i++) {
    const v = (w[i] as number) / max;
    w[i] = v;
    if (v > 0 && v < minPositive) minPositive = v;
  }
  for (let i = 0; i < w.length; i++) if (!((w[i] as number) > 0)) w[i] = minPositive;
  return w;
}

/**
 * Tile origins along one axis of `size` pixels: the first at 0, the last at
 * size - patch, the step at most patch * (1 - overlap), evenly spread (so
 * every pixel is covered and the tiles stay inside the image). An axis
 * shorter than the tile gets one tile at 0 (the image is padded).
 */
export function tileOrigins(size: number, patch: number, overlap: number): number[] {
  if (!(overlap >= 0 && overlap < 1)) throw new RangeError(`overlap must be in [0, 1) (got ${overlap})`);
  if (size <= patch) return [0];
  const maxStep = Math.max(1, Math.floor(patch * (1 - overlap)));
  const steps = Math.ceil((size - patch) / maxStep);
  const out: number[] = [];
  for (let i = 0; i <= steps; i++) out.push(Math.round((i * (size - patch)) / steps));
  return out;
}

/**
 * Per-pixel class probabilities [height, width, classes] of an image
 * [height, width, channels] from tiles of `patch` pixels. Pixels of a tile
 * outside a small image are zero on input and dropped on output.
 */
export async function slidingWindowPredict(
  image: Float32Array,
  height: number,
  width: number,
  channels: number,
  predict: PatchPredictor,
  options: SlidingWindowOptions,
): Promise<Float32Array> {
  const { patch, overlap, classes: K } = options;
  if (image.length !== height * width * channels) throw new RangeError(`image has ${image.length} values; expected ${height}x${width}x${channels}`);
  const batchSize = Math.max(1, options.batch ?? 4);
  const weights = options.uniform ? new Float32Array(patch * patch).fill(1) : gaussianWeights(patch);
  const ys = tileOrigins(height, patch, overlap);
  const xs = tileOrigins(width, patch, overlap);
  const tiles: [number, number][] = [];
  for (const y of ys) for (const x of xs) tiles.push([y, x]);
  const acc = new Float32Array(height * width * K);
  const norm = new Float32Array(height * width);
  const tileValues = patch * patch * channels;
  for (let start = 0; start < tiles.length; start += batchSize) {
    const group = tiles.slice(start, start + batchSize);
    const x = new Float32Array(group.length * tileValues);
    group.forEach(([y0, x0], t) => {
      for (let v = 0; v < patch && y0 + v < height; v++) {
        const rowLen = Math.min(patch, width - x0) * channels;
        const src = ((y0 + v) * width + x0) * channels;
        x.set(image.subarray(src, src + rowLen), t * tileValues + v * patch * channels);
      }
    });
    const probs = await predict(x, group.length);
    if (probs.length !== group.length * patch * patch * K) {
      throw new RangeError(`the predictor returned ${probs.length} values for ${group.length} tiles of ${patch}x${patch}x${K}`);
    }
    group.forEach(([y0, x0], t) => {
      for (let v = 0; v < patch && y0 + v < height; v++) {
        for (let u = 0; u < patch && x0 + u < width; u++) {
          const w = weights[v * patch + u] as number;
          const p = (y0 + v) * width + x0 + u;
          norm[p] = (norm[p] as number) + w;
          const src = ((t * patch + v) * patch + u) * K;
          for (let k = 0; k < K; k++) acc[p * K + k] = (acc[p * K + k] as number) + w * (probs[src + k] as number);
        }
      }
    });
  }
  for (let p = 0; p < norm.length; p++) {
    const n = norm[p] as number;
    for (let k = 0; k < K; k++) acc[p * K + k] = (acc[p * K + k] as number) / n;
  }
  return acc;
}

/** Argmax class per pixel of [pixels, classes] probabilities. */
export function argmaxClasses(probs: Float32Array, classes: number): Uint8Array {
  const n = probs.length / classes;
  const out = new Uint8Array(n);
  for (let p = 0; p < n; p++) {
    let best = 0;
    let bestV = probs[p * classes] as number;
    for (let k = 1; k < classes; k++) {
      const v = probs[p * classes + k] as number;
      if (v > bestV) {
        bestV = v;
        best = k;
      }
    }
    out[p] = best;
  }
  return out;
}

/**
 * Dice per foreground class (1..classes-1) of one image or a pooled set:
 * 2|P∩T| / (|P| + |T|), over pixels whose target is not 255 (ignored) and,
 * when `within` is given, inside it (e.g. DRIVE's field of view). A class
 * absent from both prediction and target is left out (NaN), not scored 1.
 */
export function diceScores(pred: Uint8Array, target: Uint8Array, classes: number, within?: Uint8Array): number[] {
  if (pred.length !== target.length || (within && within.length !== pred.length)) throw new RangeError('prediction, target and region differ in size');
  const inter = new Float64Array(classes);
  const p = new Float64Array(classes);
  const t = new Float64Array(classes);
  for (let i = 0; i < pred.length; i++) {
    const ti = target[i] as number;
    if (ti === 255 || (within && !within[i])) continue;
    const pi = pred[i] as number;
    p[pi] = (p[pi] as number) + 1;
    t[ti] = (t[ti] as number) + 1;
    if (pi === ti) inter[pi] = (inter[pi] as number) + 1;
  }
  const out: number[] = [];
  for (let k = 1; k < classes; k++) {
    const d = (p[k] as number) + (t[k] as number);
    out.push(d > 0 ? (2 * (inter[k] as number)) / d : NaN);
  }
  return out;
}

/**
 * Class probabilities of tiles from an engine that returns, per pixel, the
 * winning class and its probability (MlEngine.predict's segmentation
 * prediction): the winner gets its probability and the other classes share
 * the rest equally. Exact for two classes; for more it keeps each tile's
 * winner and confidence, which is what the weighted blend needs.
 */
export function probabilitiesFromWinners(classes: Uint8Array, confidence: Float32Array, K: number, out: Float32Array, offset: number): void {
  const rest = K > 1 ? 1 / (K - 1) : 0;
  for (let p = 0; p < classes.length; p++) {
    const c = confidence[p] as number;
    const o = offset + p * K;
    for (let k = 0; k < K; k++) out[o + k] = (1 - c) * rest;
    out[o + (classes[p] as number)] = c;
  }
}
