/**
 * Model-assisted labeling: a run's BEST checkpoint predicts a dataset's
 * images and the predictions are stored as annotations a person can
 * accept, edit or reject, with an uncertainty score per item for the
 * active-learning queue.
 *
 * What is stored:
 * - annotations with source 'model', status 'proposed', author
 *   'model:run-<id>', run_id, and the model's score, in IMAGE pixel
 *   coordinates (letterbox-mapping.ts undoes the model's letterbox):
 *   - classification: one 'class' annotation with the winning class and its
 *     probability (multi-label, or a one-class model: every class >= 0.5);
 *   - detection: one 'box' {x, y, width, height} per detection with score
 *     >= minScore (default 0.25), clipped to the image;
 *   - segmentation: one 'mask' {rle: {size: [h, w], counts}} (COCO,
 *     column-major, uncompressed counts) per foreground class present, its
 *     score the mean probability of its pixels.
 *   frame_index is the frame for multi-frame instances, else NULL.
 *   Proposed annotations never train a model (training-samples.ts counts
 *   'active' only) until a person accepts them.
 * - item_uncertainty: one row per (run, item), see uncertainty.ts.
 *
 * Replacing: a new pass of the same run over the same dataset replaces that
 * run's 'proposed' rows (accepted, rejected and human rows are never
 * touched): each item's old proposals are deleted in the same transaction
 * that writes its new ones, and when the pass completes, the run's
 * remaining older proposals and uncertainty rows in the dataset (items no
 * longer predicted, e.g. labelled since, with onlyUnlabeled) are removed.
 * A cancelled pass keeps what it wrote; running it again completes it.
 *
 * onlyUnlabeled: images (item, frame) whose item has status 'unlabeled' and
 * that have no usable label for the run's task (training-samples' rules, any
 * class, series-level class labels included).
 *
 * Work is done one batch at a time: the images of a batch are decoded in the
 * calling thread, MlEngine.predict runs the model (in the engine's inference
 * worker, or in this thread when the engine has none), and between batches
 * the event loop gets a turn (setImmediate), so in Electron's main process
 * IPC and the UI keep going during a long pass; memory stays one batch.
 */
import type { Batch, BatchTargets, Prediction, TrainConfig } from '../../contract/ml';
import type { GalleryImage, OverlayShape, PredictReport } from '../../contract/evaluation';
import { FoveaException } from '../../contract/result';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CoreParts } from '../core-parts';
import type { CocoRle } from '../labels/label-types';
import { activeLabelsOfImageReader } from '../store/annotations-repo';
import { itemGalleryReader, listItemSources, type ItemGalleryRow } from '../store/items-repo';
import { finishProposalPass, proposalPassWriter } from '../store/proposals-repo';
import { transaction } from '../store/transaction';
import { predictNativeSegmentationMaps, predictsAtNativeResolution } from '../training/native-prediction';
import { decodeImage, loadSample } from '../training/sample-loader';
import { withNeighbours } from '../training/slice-neighbours';
import { collectSamples, rleOfGeometry, type Sample, type SampleSource, type SampleTarget } from '../training/training-samples';
import { boxToImage, classMapToImageMasks, letterboxOf, type Letterbox } from './letterbox-mapping';
import { methodFor, uncertaintyOf, type ClassificationUncertainty } from './uncertainty';
import { checkTta, predictWithTta, ttaViews } from './tta';
import { itemNamesById } from '../store/item-names';

export const DEFAULT_MIN_BOX_SCORE = 0.25;

export type PredictCore = Pick<CoreParts, 'db' | 'blobs' | 'ml' | 'runs' | 'training' | 'datasets' | 'annotations' | 'audit' | 'library'>;

export interface PredictOptions {
  /** Default: the run's own dataset. */
  datasetId?: number;
  onlyUnlabeled?: boolean;
  /** Detection: lowest score stored as a proposal (default 0.25). */
  minScore?: number;
  /** Single-label classification: 'entropy' (default) or 'margin'. */
  uncertainty?: ClassificationUncertainty;
  /** Images per inference call (default: the run's batch size, at most 32). */
  batchSize?: number;
  signal?: AbortSignal;
  /** After every batch: images done, images in all. */
  onProgress?: (done: number, total: number) => void;
  /** Classification: test-time augmentation (tta.ts); VALIDATION for other tasks. */
  tta?: boolean;
}

/** One image's model output mapped to image pixels. */
export interface ImagePrediction {
  source: SampleSource;
  letterbox: Letterbox;
  prediction: Prediction;
  uncertainty: number;
  shapes: OverlayShape[];
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new FoveaException('CANCELLED', 'Prediction was cancelled.');
}

/** The run's checkpoint and config; NOT_FOUND without a best checkpoint. */
export function runModel(core: Pick<CoreParts, 'runs' | 'training'>, runId: number): { config: TrainConfig; checkpoint: string; datasetId: number } {
  const run = core.runs.get(runId);
  const checkpoint = join(core.training.checkpointDir(runId), 'best');
  if (!existsSync(checkpoint)) {
    throw new FoveaException('NOT_FOUND', `Run ${runId} has no best checkpoint yet; it has to finish at least one epoch first.`);
  }
  return { config: run.config, checkpoint, datasetId: run.datasetId };
}

/** Every image (item, frame) of a dataset, or only these items, in (item, frame) order. */
export function imageSources(core: Pick<CoreParts, 'db'>, datasetId: number, itemIds?: readonly number[]): (SampleSource & { status: string; frames: number })[] {
  const rows = listItemSources(core.db, datasetId);
  const wanted = itemIds ? new Set(itemIds) : null;
  const out: (SampleSource & { status: string; frames: number })[] = [];
  for (const r of rows) {
    if (wanted && !wanted.has(r.id)) continue;
    const frames = r.kind === 'dicom' ? Math.max(1, r.frames) : 1;
    const colour = r.kind === 'image' ? r.samples_per_pixel >= 3 : r.samples_per_pixel === 3 || r.photometric === 'PALETTE COLOR';
    for (let f = 0; f < frames; f++) {
      out.push({ itemId: r.id, frameIndex: f, kind: r.kind, blobSha256: r.blob_sha256, width: r.columns, height: r.rows, colour, patientKey: null, status: r.status, frames });
    }
  }
  return out;
}

function emptyTarget(task: TrainConfig['task']): SampleTarget {
  if (task === 'classification') return { task, classIndices: [] };
  if (task === 'detection') return { task, boxes: [] };
  return { task, shapes: [] };
}

function emptyTargets(config: TrainConfig, n: number): BatchTargets {
  if (config.task === 'classification') return { task: 'classification', labels: new Float32Array(n * config.classNames.length) };
  if (config.task === 'detection') return { task: 'detection', boxes: Array.from({ length: n }, () => []) };
  return { task: 'segmentation', masks: new Uint8Array(n * config.inputSize * config.inputSize).fill(255) };
}

/** The model's shapes for one image, in image pixels (see the file header). */
export function predictionShapes(prediction: Prediction, lb: Letterbox, config: Pick<TrainConfig, 'classNames' | 'multiLabel'>, minScore = DEFAULT_MIN_BOX_SCORE): OverlayShape[] {
  const names = config.classNames;
  const name = (k: number): string => names[k] ?? `class ${k}`;
  if (prediction.task === 'classification') {
    const p = prediction.probabilities;
    if (config.multiLabel || p.length === 1) {
      return p.flatMap((v, k) => (v >= 0.5 ? [{ kind: 'class' as const, classIndex: k, className: name(k), score: v }] : []));
    }
    let best = 0;
    for (let k = 1; k < p.length; k++) if ((p[k] as number) > (p[best] as number)) best = k;
    return [{ kind: 'class', classIndex: best, className: name(best), score: p[best] ?? null }];
  }
  if (prediction.task === 'detection') {
    const out: OverlayShape[] = [];
    for (const b of prediction.boxes) {
      if (!(b.score >= minScore)) continue;
      const box = boxToImage(b, lb);
      if (box) out.push({ kind: 'box', classIndex: b.classIndex, className: name(b.classIndex), score: b.score, ...box });
    }
    return out;
  }
  return classMapToImageMasks(prediction.classes, prediction.confidence, lb).map((m) => ({
    kind: 'mask' as const,
    classIndex: m.classIndex,
    className: name(m.classIndex),
    score: m.meanConfidence,
    rle: { size: m.rle.size, counts: m.rle.counts },
  }));
}

/**
 * Runs the model over images, one batch at a time, yielding each batch's
 * mapped predictions; unreadable images are reported through `onFailure`
 * and left out.
 */
export async function* predictImages(
  core: Pick<CoreParts, 'blobs' | 'ml' | 'db'>,
  model: { config: TrainConfig; checkpoint: string },
  sources: readonly SampleSource[],
  options: { batchSize?: number; minScore?: number; uncertainty?: ClassificationUncertainty; signal?: AbortSignal; onFailure?: (f: { itemId: number; frameIndex: number; message: string }) => void; tta?: boolean } = {},
): AsyncGenerator<ImagePrediction[]> {
  const { config, checkpoint } = model;
  // A 2.5-D model sees each slice with its neighbours (slice-neighbours.ts).
  if (config.slices === '2.5d') sources = withNeighbours(core.db, sources);
  if (options.tta) checkTta(config);
  if (predictsAtNativeResolution(config)) {
    // A patch-trained model sees images at their own resolution: it slides over each full image.
    yield* predictNative(core, model, sources, options);
    return;
  }
  const S = config.inputSize;
  const C = config.channels;
  const batchSize = Math.max(1, Math.min(options.batchSize ?? Math.min(config.batchSize, 32), 256));
  const multiLabel = config.multiLabel || (config.task === 'classification' && config.classNames.length === 1);
  for (let start = 0; start < sources.length; start += batchSize) {
    throwIfAborted(options.signal);
    const chunk = sources.slice(start, start + batchSize);
    const loaded: { source: SampleSource; x: Float32Array; lb: Letterbox }[] = [];
    for (const source of chunk) {
      const sample: Sample = { ...source, target: emptyTarget(config.task), annotations: [] };
      try {
        const l = await loadSample(core.blobs, sample, { task: config.task, inputSize: S, normalization: config.normalization, channels: C });
        loaded.push({ source, x: l.x, lb: letterboxOf(source.width, source.height, S) });
      } catch (e) {
        options.onFailure?.({ itemId: source.itemId, frameIndex: source.frameIndex, message: (e as Error).message });
      }
      // Decoding a large DICOM frame is synchronous work: give the event loop a turn after each.
      await yieldToEventLoop();
    }
    if (loaded.length === 0) continue;
    const x = new Float32Array(loaded.length * S * S * C);
    loaded.forEach((l, i) => x.set(l.x, i * S * S * C));
    const batch: Batch = { x, n: loaded.length, targets: emptyTargets(config, loaded.length), itemIds: loaded.map((l) => l.source.itemId) };
    const preds = options.tta ? await predictWithTta(core.ml, checkpoint, config, batch) : await core.ml.predict(checkpoint, config, batch);
    if (preds.length !== loaded.length) throw new FoveaException('INTERNAL', `The model returned ${preds.length} predictions for ${loaded.length} images.`);
    yield loaded.map((l, i) => {
      const prediction = preds[i] as Prediction;
      return {
        source: l.source,
        letterbox: l.lb,
        prediction,
        uncertainty: uncertaintyOf(prediction, l.lb, { multiLabel, numClasses: config.classNames.length, method: options.uncertainty ?? 'entropy' }),
        shapes: predictionShapes(prediction, l.lb, config, options.minScore),
      };
    });
    // Let IPC, timers and other requests run between batches.
    await yieldToEventLoop();
  }
}

/**
 * predictImages for a model trained on patches at native resolution: each image is decoded at its
 * own size and the model slides over it (native-prediction.ts); the prediction is the full-size
 * class and confidence maps, so its "letterbox" is the identity (one input pixel per image pixel).
 */
async function* predictNative(
  core: Pick<CoreParts, 'blobs' | 'ml'>,
  model: { config: TrainConfig; checkpoint: string },
  sources: readonly SampleSource[],
  options: { minScore?: number; signal?: AbortSignal; onFailure?: (f: { itemId: number; frameIndex: number; message: string }) => void },
): AsyncGenerator<ImagePrediction[]> {
  const { config, checkpoint } = model;
  for (const source of sources) {
    throwIfAborted(options.signal);
    let maps: { classes: Uint8Array; confidence: Float32Array };
    let width: number;
    let height: number;
    try {
      const image = await decodeImage(core.blobs, source, config.normalization, config.channels);
      ({ width, height } = image);
      maps = await predictNativeSegmentationMaps(core.ml, checkpoint, config, image);
    } catch (e) {
      if (e instanceof FoveaException && e.code === 'CANCELLED') throw e;
      options.onFailure?.({ itemId: source.itemId, frameIndex: source.frameIndex, message: (e as Error).message });
      continue;
    }
    const lb: Letterbox = { inputSize: width, inputHeight: height, scale: 1, padX: 0, padY: 0, width, height };
    const prediction: Prediction = { task: 'segmentation', classes: maps.classes, confidence: maps.confidence };
    yield [
      {
        source,
        letterbox: lb,
        prediction,
        uncertainty: uncertaintyOf(prediction, lb, { multiLabel: false, numClasses: config.classNames.length, method: 'entropy' }),
        shapes: predictionShapes(prediction, lb, config, options.minScore),
      },
    ];
    await yieldToEventLoop();
  }
}

/** (item, frame) keys of images that have a usable label for the task (any class). */
function labelledImages(core: Pick<CoreParts, 'db'>, datasetId: number, task: TrainConfig['task']): Set<string> {
  const collected = collectSamples(core.db, datasetId, task);
  return new Set(collected.samples.map((s) => `${s.itemId}:${s.frameIndex}`));
}

/**
 * Predicts a dataset with a run's best checkpoint and stores the proposals
 * and uncertainty scores (see the file header). Throws NOT_FOUND (run,
 * dataset, checkpoint), LIBRARY_READ_ONLY, CANCELLED.
 */
export async function runPredict(core: PredictCore, runId: number, options: PredictOptions = {}): Promise<PredictReport> {
  if (core.library.readOnly) throw new FoveaException('LIBRARY_READ_ONLY', core.library.readOnlyReason ?? 'The library is read-only.');
  const started = performance.now();
  const model = runModel(core, runId);
  const { config } = model;
  const datasetId = options.datasetId ?? model.datasetId;
  core.datasets.get(datasetId);
  const onlyUnlabeled = options.onlyUnlabeled === true;
  const minScore = options.minScore ?? DEFAULT_MIN_BOX_SCORE;
  const multiLabel = config.multiLabel || (config.task === 'classification' && config.classNames.length === 1);
  const method = methodFor(config.task, multiLabel, options.uncertainty ?? 'entropy');
  if (options.tta) checkTta(config);

  let sources = imageSources(core, datasetId);
  if (onlyUnlabeled) {
    const labelled = labelledImages(core, datasetId, config.task);
    sources = sources.filter((s) => s.status === 'unlabeled' && !labelled.has(`${s.itemId}:${s.frameIndex}`));
  }
  const framesOf = new Map(sources.map((s) => [s.itemId, s.frames]));

  // Class ids in this dataset for the run's class indices (created if the dataset lacks one).
  const classIds = config.classNames.map((n, k) => (config.task === 'segmentation' && k === 0 ? 0 : core.annotations.ensureClass(datasetId, n)));
  const author = `model:run-${runId}`;
  const passAt = new Date().toISOString();
  const pass = proposalPassWriter(core.db);
  const cleared = new Set<number>();
  let replaced = 0;
  let proposed = 0;
  let images = 0;
  const failures: PredictReport['failures'] = [];
  const writeBatch = transaction(core.db, (preds: ImagePrediction[]) => {
    for (const p of preds) {
      const itemId = p.source.itemId;
      if (!cleared.has(itemId)) {
        cleared.add(itemId);
        replaced += pass.deleteItemProposals(runId, datasetId, itemId);
      }
      const frameIndex = (framesOf.get(itemId) ?? 1) > 1 ? p.source.frameIndex : null;
      for (const s of p.shapes) {
        const classId = classIds[s.classIndex];
        if (classId === undefined || classId === 0) continue;
        const geometry = s.kind === 'class' ? null : s.kind === 'box' ? { x: s.x, y: s.y, width: s.width, height: s.height } : { rle: s.rle };
        core.annotations.create({ datasetId, itemId, frameIndex, classId, kind: s.kind, geometry, score: s.score, source: 'model', status: 'proposed', author, runId });
        proposed++;
      }
      pass.upsertUncertainty(runId, itemId, datasetId, p.uncertainty, method, passAt);
    }
  });

  const total = sources.length;
  options.onProgress?.(0, total);
  for await (const preds of predictImages(core, model, sources, {
    ...(options.batchSize ? { batchSize: options.batchSize } : {}),
    minScore,
    uncertainty: options.uncertainty ?? 'entropy',
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.tta ? { tta: true } : {}),
    onFailure: (f) => failures.push(f),
  })) {
    writeBatch.immediate(preds);
    images += preds.length;
    options.onProgress?.(images + failures.length, total);
  }
  throwIfAborted(options.signal);

  // The pass completed: what is left of this run's older proposals and scores in the dataset goes.
  replaced += finishProposalPass(core.db, { runId, datasetId, writtenItemIds: cleared, passAt });

  const report: PredictReport = {
    runId,
    datasetId,
    task: config.task,
    images,
    items: cleared.size,
    proposed,
    replaced,
    onlyUnlabeled,
    uncertaintyMethod: method,
    tta: options.tta ? ttaViews(config) : null,
    failures,
    seconds: (performance.now() - started) / 1000,
  };
  core.audit.append({
    action: 'predict',
    objectType: 'run',
    objectId: runId,
    details: { datasetId, images, proposed, replaced, onlyUnlabeled, failures: failures.length },
  });
  return report;
}

/** Uncompressed counts of a stored mask geometry (COCO RLE, string or counts), or null. */
function uncompressedRle(geometry: unknown): { size: [number, number]; counts: number[] } | null {
  const rle: CocoRle | null = rleOfGeometry(geometry);
  return rle ? { size: [rle.size[0], rle.size[1]], counts: rle.counts.slice() } : null;
}

/**
 * The error gallery: for a few images, the run's prediction (computed now,
 * in image pixels) and the library's active labels of the run's classes.
 */
export async function galleryImages(
  core: Pick<CoreParts, 'db' | 'blobs' | 'ml' | 'runs' | 'training'>,
  runId: number,
  datasetId: number,
  images: readonly { itemId: number; frameIndex: number }[],
): Promise<GalleryImage[]> {
  const model = runModel(core, runId);
  const { config } = model;
  const wanted = new Set(images.map((i) => `${i.itemId}:${i.frameIndex}`));
  const sources = imageSources(core, datasetId, [...new Set(images.map((i) => i.itemId))]).filter((s) => wanted.has(`${s.itemId}:${s.frameIndex}`));
  const predicted = new Map<string, ImagePrediction>();
  for await (const batch of predictImages(core, model, sources, {})) for (const p of batch) predicted.set(`${p.source.itemId}:${p.source.frameIndex}`, p);

  const indexOf = new Map(config.classNames.map((n, k) => [n, k]));
  const meta = itemGalleryReader(core.db);
  const anns = activeLabelsOfImageReader(core.db);
  const out: GalleryImage[] = [];
  const names = itemNamesById(core.db, sources.map((s) => s.itemId));
  for (const s of sources) {
    const m = meta(s.itemId) as ItemGalleryRow;
    const truth: OverlayShape[] = [];
    const rows = anns(s.itemId, m.series_id, s.frameIndex);
    for (const a of rows) {
      const k = indexOf.get(a.name);
      if (k === undefined) continue;
      const g: unknown = a.geometry === null ? null : JSON.parse(a.geometry);
      if (config.task === 'classification' && a.kind === 'class') truth.push({ kind: 'class', classIndex: k, className: a.name, score: null });
      else if (config.task === 'detection' && a.kind === 'box') {
        const b = g as { x: number; y: number; width: number; height: number };
        truth.push({ kind: 'box', classIndex: k, className: a.name, score: null, x: b.x, y: b.y, width: b.width, height: b.height });
      } else if (config.task === 'segmentation' && a.kind === 'mask') {
        const rle = uncompressedRle(g);
        if (rle) truth.push({ kind: 'mask', classIndex: k, className: a.name, score: null, rle });
      }
    }
    const p = predicted.get(`${s.itemId}:${s.frameIndex}`);
    out.push({
      itemId: s.itemId,
      frameIndex: s.frameIndex,
      sourceName: m.source_name,
      displayName: names.get(s.itemId) ?? m.source_name,
      thumbSha256: m.thumb_sha256,
      width: s.width,
      height: s.height,
      truth,
      prediction: p ? p.shapes : [],
    });
  }
  return out;
}
