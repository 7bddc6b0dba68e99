/**
 * Segmentation prediction at an image's own size for runs trained on
 * patches (TrainConfig.patch): the model slides over the full-resolution
 * image in tiles of its input size with half-tile overlap and Gaussian
 * weighting (sliding-window.ts), through the engine's ordinary predict, so
 * every engine (TF.js, ONNX Runtime, worker or not) serves it.
 */
import type { MlEngine, TrainConfig } from '../../contract/ml';
import { FoveaException } from '../../contract/result';
import type { FloatImage } from './sample-loader';
import { argmaxClasses, probabilitiesFromWinners, slidingWindowPredict } from './sliding-window';

/** Tiles overlap by half, as nnU-Net. */
export const TILE_OVERLAP = 0.5;

/** Whether a run's model predicts by sliding window at native resolution. */
export function predictsAtNativeResolution(config: TrainConfig): boolean {
  return config.task === 'segmentation' && !!config.patch;
}

/** The class map [height, width] of a normalised full-resolution image. */
export async function predictNativeSegmentation(ml: Pick<MlEngine, 'predict'>, checkpoint: string, config: TrainConfig, image: FloatImage): Promise<Uint8Array> {
  return (await predictNativeSegmentationMaps(ml, checkpoint, config, image)).classes;
}

/**
 * The class map and each pixel's confidence (the winning class's blended probability), both
 * [height, width], of a normalised full-resolution image.
 */
export async function predictNativeSegmentationMaps(
  ml: Pick<MlEngine, 'predict'>,
  checkpoint: string,
  config: TrainConfig,
  image: FloatImage,
): Promise<{ classes: Uint8Array; confidence: Float32Array }> {
  const S = config.inputSize;
  const K = config.classNames.length;
  if (image.channels !== config.channels) throw new FoveaException('INTERNAL', `A ${image.channels}-channel image for a ${config.channels}-channel model.`);
  const probs = await slidingWindowPredict(
    image.data,
    image.height,
    image.width,
    image.channels,
    async (x, n) => {
      const preds = await ml.predict(checkpoint, config, { x, n, targets: { task: 'segmentation', masks: new Uint8Array(n * S * S) }, itemIds: new Array<number>(n).fill(0) });
      const out = new Float32Array(n * S * S * K);
      preds.forEach((p, i) => {
        if (p.task !== 'segmentation') throw new FoveaException('INTERNAL', `The model returned a ${p.task} prediction for a segmentation tile.`);
        probabilitiesFromWinners(p.classes, p.confidence, K, out, i * S * S * K);
      });
      return out;
    },
    { patch: S, overlap: TILE_OVERLAP, classes: K, batch: Math.max(1, Math.min(config.batchSize, 8)) },
  );
  const classes = argmaxClasses(probs, K);
  const confidence = new Float32Array(classes.length);
  for (let i = 0; i < classes.length; i++) confidence[i] = probs[i * K + (classes[i] as number)] as number;
  return { classes, confidence };
}
