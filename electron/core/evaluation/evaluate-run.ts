/**
 * Evaluation of a trained run: the run's BEST checkpoint predicts every
 * image of a split (default: the test split of the run's own dataset), or
 * of another dataset with the same classes, and the predictions are scored
 * against the library's labels with the metrics of this folder.
 *
 * Where the numbers come from:
 * - Images: the run's task samples of the dataset (collectSamples with the
 *   run's class order, channel count and multi-label flag: the current
 *   labels, 'active' only), those of the chosen split, in (item, frame)
 *   order, through the same batch provider as training (letterbox, the run's
 *   normalisation, no augmentation).
 * - Scores are computed in the IMAGE'S OWN PIXELS, as every reference tool
 *   (pycocotools, scikit-learn on masks) does, whatever the model's input
 *   size: the model's boxes are mapped back through the letterbox
 *   (predict/letterbox-mapping.ts) and clipped to the image; its class map is
 *   resampled to the image's size (nearest: each image pixel takes the input
 *   pixel its centre falls on). Ground truth is the library's, in image
 *   pixels, with the rules of score-images.ts (the same as for another tool's
 *   predictions): crowd and void regions ignored, VOC "difficult" ignored,
 *   COCO areas for the small / medium / large ranges. Which images count:
 *   score-images.ts' IMAGE_RULE (labelled-empty images are detection
 *   negatives), stated in source.imageRule.
 *   Classification has no geometry: source.coordinates stays 'input' (the
 *   class is predicted from the model's letterboxed input).
 * - Another dataset: its labels must all be of the run's classes (a label
 *   of an unknown class would otherwise vanish from the ground truth and
 *   turn correct detections into false positives): VALIDATION error if not.
 *   Default split there: 'all' (every labelled image), since that dataset's
 *   splits did not take part in training.
 * - The split assignment is today's. If images were moved into the
 *   evaluated split after the run trained on them, the numbers are
 *   optimistic; this cannot be checked here, because the run's snapshot
 *   keeps split counts, not each image's split.
 *
 * Stored with the run: a row of the library's `evaluations` table
 * (store/evaluation-repo.ts, what the evaluation screen reads) and a JSON file in the run's folder
 * (TrainingService.checkpointDir), `evaluation-<split>.json`, or
 * `evaluation-<split>-dataset<id>.json` for another dataset; written
 * atomically (temporary file + rename); not written on a read-only library.
 * `readStoredEvaluation` reads it back.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Prediction, SplitName, TrainConfig } from '../../contract/ml';
import { FoveaException } from '../../contract/result';
import type { CoreParts } from '../core-parts';
import { boxToImage, classMapToImage, letterboxOf } from '../predict/letterbox-mapping';
import { checkTta, predictWithTta, ttaViews } from '../predict/tta';
import { listClasses } from '../store/classes-repo';
import { listItemRefs } from '../store/items-repo';
import { groupedViews } from './grouped-classification';
import { createLibraryBatchProvider } from '../training/library-batch-provider';
import { predictNativeSegmentation, predictsAtNativeResolution } from '../training/native-prediction';
import { decodeImage } from '../training/sample-loader';
import { withNeighbours } from '../training/slice-neighbours';
import { collectSamples, type Sample } from '../training/training-samples';
import { argmax, classificationMetrics, multiLabelClassificationMetrics, type ClassificationMetrics } from './classification-metrics';
import type { DetectedBox, DetectionMetrics } from './detection-metrics';
import { IMAGE_RULE, imageKey, scoreDetections, SegmentationScorer } from './score-images';
import type { SegmentationMetrics } from './segmentation-metrics';
import type { ClassificationImageView, GroupedClassificationView, EvaluationReport, EvaluationSourceView, EvaluationSplit } from '../../contract/evaluation';
import { loadEvaluation, saveEvaluation } from '../store/evaluation-repo';

export type { EvaluationSplit };

/** Images per prediction call while evaluating: small enough that progress moves every second or so. */
const EVALUATION_BATCH = 8;

export interface EvaluateRunOptions {
  /** Default: 'test' on the run's own dataset, 'all' on another dataset. */
  split?: EvaluationSplit;
  /** Another dataset with the same classes (default: the run's). */
  datasetId?: number;
  /** Write the result into the run's folder (default true). */
  store?: boolean;
  signal?: AbortSignal;
  /** Images scored so far of all to score, and what is happening ('Loading the model', 'Predicting', 'Computing metrics'). */
  onProgress?: (done: number, total: number, phase: string) => void;
  /** Classification: test-time augmentation (predict/tta.ts); recorded in source.tta. VALIDATION for other tasks. */
  tta?: boolean;
}

/** Per-image classification outcome (the error gallery's input): the contract's view. */
export type ClassificationImageResult = ClassificationImageView;

/** Where an evaluation came from: the contract's view, plus the checkpoint used (kept on this side). */
export interface EvaluationSource extends EvaluationSourceView {
  checkpoint: string;
}

export type RunEvaluation =
  | (ClassificationMetrics & { images: ClassificationImageResult[]; perSeries?: GroupedClassificationView | null; perPatient?: GroupedClassificationView | null; source: EvaluationSource })
  | (DetectionMetrics & { source: EvaluationSource })
  | (SegmentationMetrics & { source: EvaluationSource });

/** What evaluateRun needs of the core. */
export type EvaluationCore = Pick<CoreParts, 'db' | 'blobs' | 'ml' | 'runs' | 'splits' | 'training' | 'datasets' | 'library'>;

/** `evaluation-<split>.json`, or `evaluation-<split>-dataset<id>.json` for another dataset than the run's. */
export function evaluationFileName(split: EvaluationSplit, otherDatasetId: number | null = null): string {
  return `evaluation-${split}${otherDatasetId !== null ? `-dataset${otherDatasetId}` : ''}.json`;
}

// Compile-time check: every report is what the contract promises the UI.
const _reportMatchesContract = (r: RunEvaluation): EvaluationReport => r;
void _reportMatchesContract;

/**
 * The stored evaluation of a run: the library's copy (table `evaluations`),
 * else the JSON file in the run's folder (see evaluationFileName), else null.
 */
export function readStoredEvaluation(core: Pick<CoreParts, 'runs' | 'training'> & Partial<Pick<CoreParts, 'db'>>, runId: number, split: EvaluationSplit = 'test', datasetId?: number): RunEvaluation | null {
  const run = core.runs.get(runId);
  const inDb = core.db ? loadEvaluation(core.db, runId, datasetId ?? run.datasetId, split) : null;
  if (inDb) return inDb as RunEvaluation;
  const other = datasetId !== undefined && datasetId !== run.datasetId ? datasetId : null;
  const path = join(core.training.checkpointDir(runId), evaluationFileName(split, other));
  if (!existsSync(path)) return null;
  return JSON.parse(readFileSync(path, 'utf8')) as RunEvaluation;
}

/** Writes JSON atomically (temporary file in the same folder, then rename). */
export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value)}\n`);
  renameSync(tmp, path);
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new FoveaException('CANCELLED', 'The evaluation was cancelled.');
}

/** The run's classes as collectSamples takes them (segmentation: without 'background'). */
function forcedClassNames(config: TrainConfig): string[] {
  return config.task === 'segmentation' ? config.classNames.slice(1) : config.classNames.slice();
}

/**
 * Evaluates a run's best checkpoint (see the file header) and stores the
 * result with the run. Throws NOT_FOUND (run, dataset, checkpoint),
 * VALIDATION (other dataset with other classes), BAD_INPUT (no image to
 * evaluate), CANCELLED.
 */
export async function evaluateRun(core: EvaluationCore, runId: number, options: EvaluateRunOptions = {}): Promise<RunEvaluation> {
  const run = core.runs.get(runId);
  const config = run.config;
  if (options.tta) checkTta(config);
  const tta = options.tta ? ttaViews(config) : null;
  const datasetId = options.datasetId ?? run.datasetId;
  const dataset = core.datasets.get(datasetId);
  const own = datasetId === run.datasetId;
  const split: EvaluationSplit = options.split ?? (own ? 'test' : 'all');
  const checkpoint = join(core.training.checkpointDir(runId), 'best');
  if (!existsSync(checkpoint)) {
    throw new FoveaException('NOT_FOUND', `Run ${runId} has no best checkpoint (${checkpoint}); it has to finish at least one epoch first.`);
  }
  const warnings: string[] = [];
  if (run.status === 'running') warnings.push(`Run ${runId} is still training: this is its best checkpoint so far.`);

  const collected = collectSamples(core.db, datasetId, config.task, {
    classNames: forcedClassNames(config),
    channels: config.channels,
    multiLabel: config.multiLabel,
  });
  if (!own && collected.excluded.unknownClass > 0) {
    const runClasses = new Set(forcedClassNames(config).map((n) => n.toLowerCase()));
    const names = listClasses(core.db, datasetId)
      .map((r) => r.name)
      .filter((n) => !runClasses.has(n.toLowerCase()) && !(config.task === 'segmentation' && n.toLowerCase() === 'background'));
    throw new FoveaException(
      'VALIDATION',
      `Dataset "${dataset.name}" has ${collected.excluded.unknownClass} ${config.task} label(s) of classes run ${runId} does not know (${names.slice(0, 5).join(', ')}); ` +
        `the run's classes are ${forcedClassNames(config).join(', ')}.`,
    );
  }
  if (own && collected.excluded.unknownClass > 0) {
    warnings.push(
      `${collected.excluded.unknownClass} label(s) of classes added after run ${runId} trained are not part of this evaluation` +
        (config.task === 'classification' ? '.' : ': detections or pixels on those objects count against the model.'),
    );
  }
  warnings.push(...collected.warnings.filter((w) => !w.startsWith('No image') && !w.includes('classes the model does not have')));

  // The chosen split becomes the provider's 'test' split (fixed order, no augmentation).
  const splitOf = core.splits.splitMap(datasetId);
  const chosen = new Map<number, SplitName>();
  for (const s of collected.samples) {
    if (split === 'all' || splitOf.get(s.itemId) === split) chosen.set(s.itemId, 'test');
  }
  const picked = collected.samples.filter((s) => chosen.has(s.itemId)).sort((a, b) => a.itemId - b.itemId || a.frameIndex - b.frameIndex);
  // A 2.5-D model sees each slice with its neighbours (slice-neighbours.ts).
  const inSplit = config.slices === '2.5d' ? withNeighbours(core.db, picked) : picked;
  if (inSplit.length === 0) {
    throw new FoveaException(
      'BAD_INPUT',
      `No ${config.task}-labelled image of dataset "${dataset.name}" is in the ${split === 'all' ? 'dataset' : `${split} split`}: nothing to evaluate.`,
    );
  }
  // Small batches, whatever the run trained with: a test split of 24 slices is one training batch,
  // and the bar would stand still until the end. Inference does not depend on the batch size.
  const provider = createLibraryBatchProvider({ blobs: core.blobs, db: core.db }, { samples: inSplit, splits: chosen, config: { ...config, batchSize: Math.min(config.batchSize, EVALUATION_BATCH) } });
  const total = inSplit.length;
  options.onProgress?.(0, total, 'Loading the model');
  const K = config.classNames.length;

  // (item, frame) of each image of a batch: the provider keeps (item, frame) order and leaves out unreadable images.
  let cursor = 0;
  const sampleOf = (itemId: number): Sample => {
    const failed = new Set(provider.stats().failures.map((f) => `${f.itemId}:${f.frameIndex}`));
    while (cursor < inSplit.length) {
      const s = inSplit[cursor++] as Sample;
      if (s.itemId === itemId && !failed.has(`${s.itemId}:${s.frameIndex}`)) return s;
    }
    throw new FoveaException('INTERNAL', `The batches of item ${itemId} came out of order.`);
  };
  const seriesOf = new Map<number, number | null>();
  if (config.task === 'segmentation') {
    for (const r of listItemRefs(core.db, datasetId)) seriesOf.set(r.id, r.seriesId);
  }

  const clsTruth: number[][] = [];
  const clsProbs: number[][] = [];
  const clsImages: ClassificationImageResult[] = [];
  const detections = new Map<string, DetectedBox[]>();
  const scoredSamples: Sample[] = [];
  const seg = config.task === 'segmentation' ? new SegmentationScorer(core.db, config.classNames, seriesOf) : null;
  let done = 0;
  try {
    for await (const batch of provider.testBatches()) {
      throwIfAborted(options.signal);
      const preds: Prediction[] = tta ? await predictWithTta(core.ml, checkpoint, config, batch, tta) : await core.ml.predict(checkpoint, config, batch);
      if (preds.length !== batch.n) throw new FoveaException('INTERNAL', `The model returned ${preds.length} predictions for ${batch.n} images.`);
      const S = config.inputSize;
      for (let i = 0; i < batch.n; i++) {
        const sample = sampleOf(batch.itemIds[i] as number);
        const p = preds[i] as Prediction;
        const t = batch.targets;
        const lb = letterboxOf(sample.width, sample.height, S);
        scoredSamples.push(sample);
        if (t.task === 'classification' && p.task === 'classification') {
          const truth: number[] = [];
          for (let k = 0; k < K; k++) if ((t.labels[i * K + k] as number) >= 0.5) truth.push(k);
          const probs = Array.from(p.probabilities, Number);
          clsTruth.push(truth);
          clsProbs.push(probs);
          const predicted = config.multiLabel ? probs.flatMap((v, k) => (v >= 0.5 ? [k] : [])) : [argmax(probs)];
          clsImages.push({ itemId: sample.itemId, frameIndex: sample.frameIndex, truth, predicted, probabilities: probs });
        } else if (t.task === 'detection' && p.task === 'detection') {
          const boxes: DetectedBox[] = [];
          for (const b of p.boxes) {
            // -1 is the contract's marker of a region to ignore, never a detection.
            if (b.classIndex === -1) continue;
            const box = boxToImage(b, lb);
            if (box) boxes.push({ ...box, classIndex: b.classIndex, score: b.score });
          }
          detections.set(imageKey(sample.itemId, sample.frameIndex), boxes);
        } else if (t.task === 'segmentation' && p.task === 'segmentation' && seg) {
          // A patch-trained model sees images at native resolution: it slides over the full image.
          const native = predictsAtNativeResolution(config)
            ? await predictNativeSegmentation(core.ml, checkpoint, config, await decodeImage(core.blobs, sample, config.normalization, config.channels))
            : null;
          seg.add(sample, native ?? classMapToImage(p.classes, lb));
        } else {
          throw new FoveaException('INTERNAL', `The model returned a ${p.task} prediction for a ${t.task} batch.`);
        }
        // Per image: a segmentation model sliding over full images takes a while for each.
        options.onProgress?.(++done, total, 'Predicting');
      }
    }
  } finally {
    provider.dispose();
  }
  const failures = provider.stats().failures;
  options.onProgress?.(total, total, 'Computing metrics');
  if (failures.length) warnings.push(`${failures.length} image(s) could not be read and are left out.`);

  let metrics: ClassificationMetrics | DetectionMetrics | SegmentationMetrics;
  let labelledEmpty: number | undefined;
  if (config.task === 'classification') {
    if (config.multiLabel) {
      const hot = clsTruth.map((ks) => Array.from({ length: K }, (_, k) => (ks.includes(k) ? 1 : 0)));
      metrics = multiLabelClassificationMetrics(hot, clsProbs, config.classNames);
    } else {
      metrics = classificationMetrics(
        clsTruth.map((ks) => ks[0] as number),
        clsProbs,
        config.classNames,
      );
    }
  } else if (config.task === 'detection') {
    const { counts, ...scored } = scoreDetections(core.db, datasetId, { samples: scoredSamples, classNames: config.classNames }, detections);
    metrics = scored;
    labelledEmpty = counts.labelledEmpty;
  } else {
    const scorer = seg as SegmentationScorer;
    metrics = scorer.result();
    if (scorer.changedMasks) warnings.push(`${scorer.changedMasks} mask(s) changed while evaluating; scored without them.`);
  }

  const dir = core.training.checkpointDir(runId);
  const store = options.store !== false && !core.library.readOnly;
  const storedAt = store ? join(dir, evaluationFileName(split, own ? null : datasetId)) : null;
  const source: EvaluationSource = {
    kind: 'run',
    runId,
    datasetId,
    datasetName: dataset.name,
    ownDataset: own,
    split,
    checkpoint,
    coordinates: config.task === 'classification' ? 'input' : 'image',
    imageRule: IMAGE_RULE,
    ...(labelledEmpty !== undefined ? { labelledEmpty } : {}),
    inputSize: config.inputSize,
    classNames: config.classNames.slice(),
    evaluatedAt: new Date().toISOString(),
    storedAt,
    failures,
    warnings,
    tta,
  };
  const report: RunEvaluation =
    metrics.task === 'classification' ? { ...metrics, images: clsImages, ...groupedViews(core.db, datasetId, metrics, clsImages), source } : ({ ...metrics, source } as RunEvaluation);
  if (storedAt) {
    mkdirSync(dir, { recursive: true });
    writeJsonAtomic(storedAt, report);
    saveEvaluation(core.db, report);
  }
  return report;
}

