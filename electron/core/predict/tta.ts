/**
 * Test-time augmentation (TTA) of classification: the model's probabilities averaged over the image
 * and its flips: left-right always, up-down too where the run trained with vertical flips (a model
 * that never saw an upside-down image should not be asked about one). Flips, not crops or
 * rotations: they keep every pixel and the letterbox (centred, so it flips onto itself).
 *
 * One engine call per batch with the views stacked ([x; flip(x); ...], n images each), so every
 * engine (TF.js, ONNX Runtime, worker or not) serves it, and the result for an image is the plain
 * mean of its views' probabilities.
 */
import type { TtaView } from '../../contract/evaluation';
import type { Batch, MlEngine, Prediction, TrainConfig } from '../../contract/ml';
import { FoveaException } from '../../contract/result';

/** The views a run's TTA averages (the identity first). */
export function ttaViews(config: Pick<TrainConfig, 'augment'>): TtaView[] {
  return config.augment.flipVertical ? ['identity', 'flip-horizontal', 'flip-vertical'] : ['identity', 'flip-horizontal'];
}

/** VALIDATION unless the run is a classifier: TTA here averages class probabilities. */
export function checkTta(config: Pick<TrainConfig, 'task'>): void {
  if (config.task !== 'classification') {
    throw new FoveaException('VALIDATION', `Test-time augmentation is for classification runs (this is a ${config.task} run): it averages class probabilities over flips.`);
  }
}

/** n images [n, S, S, C] flipped left-right ('flip-horizontal') or up-down ('flip-vertical'). */
export function flipImages(x: Float32Array, n: number, size: number, channels: number, view: TtaView): Float32Array {
  if (view === 'identity') return x;
  const out = new Float32Array(x.length);
  const row = size * channels;
  for (let i = 0; i < n; i++) {
    const base = i * size * row;
    for (let y = 0; y < size; y++) {
      const ty = view === 'flip-vertical' ? size - 1 - y : y;
      for (let xx = 0; xx < size; xx++) {
        const tx = view === 'flip-horizontal' ? size - 1 - xx : xx;
        const from = base + y * row + xx * channels;
        const to = base + ty * row + tx * channels;
        for (let c = 0; c < channels; c++) out[to + c] = x[from + c] as number;
      }
    }
  }
  return out;
}

/**
 * The batch's classification predictions with TTA: the probabilities of each image averaged over
 * `views` (default: ttaViews(config)).
 */
export async function predictWithTta(ml: Pick<MlEngine, 'predict'>, checkpoint: string, config: TrainConfig, batch: Batch, views: readonly TtaView[] = ttaViews(config)): Promise<Prediction[]> {
  checkTta(config);
  const { n } = batch;
  const S = config.inputSize;
  const C = config.channels;
  const per = n * S * S * C;
  const x = new Float32Array(per * views.length);
  views.forEach((v, k) => x.set(flipImages(batch.x, n, S, C, v), k * per));
  const K = config.classNames.length;
  const stacked: Batch = {
    x,
    n: n * views.length,
    targets: { task: 'classification', labels: new Float32Array(n * views.length * K) },
    itemIds: views.flatMap(() => batch.itemIds),
  };
  const preds = await ml.predict(checkpoint, config, stacked);
  if (preds.length !== stacked.n) throw new FoveaException('INTERNAL', `The model returned ${preds.length} predictions for ${stacked.n} images.`);
  return Array.from({ length: n }, (_, i) => {
    const mean = new Array<number>(K).fill(0);
    for (let k = 0; k < views.length; k++) {
      const p = preds[k * n + i] as Prediction;
      if (p.task !== 'classification') throw new FoveaException('INTERNAL', `The model returned a ${p.task} prediction for a classification batch.`);
      for (let c = 0; c < K; c++) mean[c] = (mean[c] as number) + (p.probabilities[c] ?? 0) / views.length;
    }
    return { task: 'classification' as const, probabilities: mean };
  });
}
