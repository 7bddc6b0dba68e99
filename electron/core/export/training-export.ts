/**
 * Training export (`fovea export-training --target pytorch`): a dataset's labelled images, labels,
 * the exact split, the class list and the training plan, with a `train.py` that trains Fovea's
 * model families with Fovea's preprocessing on PyTorch (one process or `torchrun`, DDP) and writes
 * a model pack that `fovea import-model` takes back.
 *
 * Layout of the folder:
 *   images/item-<id>-f<frame>.png      one per labelled image (frame 0 unless multi-frame); 2.5-D:
 *                                      also each unlabelled slice that neighbours a labelled one
 *   masks/...png                       segmentation: class index per pixel, 0 background, 255 ignore
 *                                      (the truth Fovea's evaluation rasterises: later shapes win,
 *                                      ignore-class regions 255)
 *   annotations/<split>.json           detection: COCO per split (image pixels; category_id = class
 *                                      index + 1; image id = the sample's `id` in dataset.json). The
 *                                      boxes are the ground truth Fovea's evaluation scores against
 *                                      (score-images.ts detectionTruth): `area` COCO's, VOC difficult
 *                                      as `ignore: 1`, crowd regions `iscrowd: 1` of their class and
 *                                      void / DontCare regions `iscrowd: 1` of every class. Images
 *                                      marked labelled without boxes are listed (negatives).
 *   dataset.json                       task, classes, multiLabel, and per image: file, split,
 *                                      labels (class indices), size, what its PNG holds (`values`:
 *                                      training-pixels.ts), and for 2.5-D its `neighbours`
 *   labels.csv                         multi-label classification: image, split and one 0/1 column
 *                                      per class (csv-export.ts's cells); train.py reads dataset.json
 *   classes.txt                        one class per line (what `fovea import-model --classes` reads)
 *   plan.json                          the settings train.py uses (see buildPlan)
 *   train.py, README.md                resources/export-templates/pytorch/, copied unchanged
 *   fovea-manifest.json                every file with its SHA-256, and what left the library
 *
 * Pixels: a plain image's PNG holds its stored values (after the same alpha flattening and colour
 * space Fovea's loader uses), which train.py normalises exactly as Fovea does. A DICOM frame is
 * decoded by Fovea (modality LUT, the plan's window or per-image stretch, MONOCHROME1 inverted) and
 * written normalised: greyscale as 16-bit (within 1/131070 of Fovea's value), colour as 8-bit.
 * Under z-score (MR) a greyscale DICOM frame leaves as its modality values through png = a x + b
 * (exact for integer values spanning at most 65535), with the PNG value of 0 (nnU-Net's nonzero
 * rule needs it), and train.py z-scores it as Fovea (training-pixels.ts). 2.5-D: each sample lists
 * the slice below and above it in its series, as Fovea's training picks them (slice-neighbours.ts:
 * by position along the normal, edge slices repeated); train.py stacks them as the 3 channels.
 * plan.json carries Fovea's model-card words for the normalisation and slices (model-export.ts
 * cardPreprocessing), which train.py writes into its card, so an imported model is fed the same.
 * Nothing of the DICOM header leaves; names are item ids, never source file names. With
 * `deidentify`, every DICOM file first goes through the PS3.15 Basic Profile
 * (deid/deidentify.ts); one whose pixels may carry burned-in text is held back and listed by id
 * (with it, a slice whose neighbour was held back).
 *
 * Multi-label classification (a dataset whose images may carry several classes; Fovea trains it
 * with independent sigmoids and binary cross-entropy): train.py does the same (BCE with logits,
 * the class weights on the positive term as Fovea's), its ONNX ends in a sigmoid, its model card
 * says multiLabel, and it prints the multi-label metrics of classification-metrics.ts.
 *
 * The split: the dataset's current patient-grouped split (drawn now, as a training plan draws it,
 * for images that have none), or with `splitFromRun` the exact split and settings a run trained on.
 * A patient in two splits, a split without test images, or no labels at all are refused before
 * anything is written. A failed export removes what it wrote. Audited as 'export.training'.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fsp, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SplitName, TaskKind, TrainConfig } from '../../contract/ml';
import { FoveaException } from '../../contract/result';
import { foveaPackageRoot, foveaVersion } from '../app/versions';
import type { AuditLog } from '../store/audit-log';
import type { DatasetStore } from '../store/dataset-store';
import { TRAINING_EXPORT_TARGETS, type TrainingExportTarget } from '../../contract/export-formats';
import type { Db } from '../store/library-db';
import type { RunStore } from '../store/run-store';
import type { BlobReader } from '../training/sample-loader';
import { withNeighbours } from '../training/slice-neighbours';
import { collectSamples, IGNORE_INDEX, maskReader, rasterizeSegmentation, type Sample } from '../training/training-samples';
import type { PolicyLoadResult } from '../policy/policy';
import { detectionTruth } from '../evaluation/score-images';
import { csvCell } from './csv-export';
import { cardInputWords, cardPreprocessing, normalizationDescription as cardNormalizationDescription, type ModelCard } from './model-export';
import { auditExport, ExportWriter, type WrittenFile } from './safe-output';
import { dicomPng, storedPng, type ExportedPixels } from './training-pixels';

/** The CLI's task names. */
export const TRAINING_EXPORT_TASKS = { classify: 'classification', detect: 'detection', segment: 'segmentation' } as const;

export interface TrainingExportRequest {
  datasetId: number;
  task: TaskKind;
  target: TrainingExportTarget;
  /** Absolute path of a folder that does not exist yet (or is empty). */
  outDir: string;
  /** Use this run's split and settings instead of the dataset's current split and Fovea's defaults. */
  splitFromRun?: number;
  deidentify?: boolean;
}

export interface TrainingExportDeps {
  db: Db;
  blobs: BlobReader;
  datasets: Pick<DatasetStore, 'get'>;
  runs: Pick<RunStore, 'get' | 'snapshot'>;
  audit: AuditLog;
  policy: PolicyLoadResult;
  library: { readOnly: boolean; readOnlyReason?: string | null };
  /** The training plan Fovea would use now (draws and persists the split, as the app's plan does). */
  trainingPlan(datasetId: number, task: TaskKind): { defaults: TrainConfig; classNames: string[] };
  splitMap(datasetId: number): Map<number, SplitName>;
}

export interface TrainingExportReport {
  root: string;
  manifest: string;
  task: TaskKind;
  classes: string[];
  images: { train: number; val: number; test: number };
  /** Labels written: class labels, boxes and regions (COCO annotations), or masks. */
  annotations: number;
  patients: { train: number; val: number; test: number } | null;
  heldBack: { itemId: number; reason: string }[];
  warnings: string[];
  files: WrittenFile[];
  bytes: number;
  plan: TrainingPlanFile;
  seconds: number;
}

export interface TrainingPlanFile {
  fovea: 'training-plan';
  version: 1;
  source: string;
  task: TaskKind;
  dataset: string | null;
  modelName: string;
  classes: string[];
  channels: 1 | 3;
  inputSize: number;
  /** Classification: independent sigmoids (several classes per image) instead of one softmax. */
  multiLabel: boolean;
  normalization: TrainConfig['normalization'];
  normalizationDescription: string;
  letterboxDescription: string;
  channelsDescription: string;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  earlyStoppingPatience: number;
  augment: TrainConfig['augment'];
  classWeights: number[] | null;
  model: { family: string; factory: string };
  /** '2.5d': each sample's 3 channels are [slice below, slice, slice above] (dataset.json `neighbours`). */
  slices: '2d' | '2.5d';
  /** What train.py writes into its model card: Fovea's own card words for this config (model-export.ts). */
  card: { input: Pick<ModelCard['input'], 'channels' | 'channelOrder' | 'valueRange'>; preprocessing: Omit<ModelCard['preprocessing'], 'letterbox'> };
}

interface ExportedSample {
  /** Detection: the image's id in annotations/<split>.json. */
  id?: number;
  image: string;
  mask?: string;
  split: SplitName;
  labels?: number[];
  item: number;
  frame: number;
  width: number;
  height: number;
  values: ExportedPixels['values'];
  /** values 'modality' (z-score): the PNG value of modality value 0 (null: none), and png = a x + b. */
  zero?: number | null;
  affine?: [number, number];
  /** 2.5-D: the images of the slice below and the slice above (training-pixels.ts for their values). */
  neighbours?: [ExportedImage, ExportedImage];
}

/** One exported image as dataset.json names it (a sample's own, or a neighbour slice's). */
interface ExportedImage {
  image: string;
  item: number;
  frame: number;
  values: ExportedPixels['values'];
  zero?: number | null;
  affine?: [number, number];
}

const FAMILIES: Record<TaskKind, { family: string; factory: string }> = {
  classification: { family: 'Fovea compact CNN classifier (conv-BN-ReLU blocks, global average pooling, dropout 0.3, dense, softmax)', factory: 'native-models/models/classifier.ts createClassifier' },
  detection: { family: 'Fovea CenterNet-style detector (stride-2 conv-BN-ReLU backbone, FPN-like top-down to stride 4, heatmap/size/offset heads)', factory: 'native-models/models/detector.ts createDetector' },
  segmentation: { family: 'Fovea U-Net with batch norm (depth 3, 16 base filters, transposed-conv decoder, skip connections, softmax)', factory: 'native-models/models/unet.ts createUnet' },
};

function normalizationDescription(n: TrainConfig['normalization']): string {
  switch (n.kind) {
    case 'window':
      return `Linear window y = clamp((x - (${n.center} - 0.5)) / (${n.width} - 1) + 0.5, 0, 1) of DICOM modality values (Hounsfield units for CT) or of stored values of plain images.`;
    case 'per-image':
      return 'Each image min/max-stretched to [0, 1] (DICOM: of its modality values, MONOCHROME1 inverted afterwards).';
    case 'zscore':
      return `${cardNormalizationDescription(n)} train.py computes it from each PNG (dataset.json: values 'modality' are the modality values through png = a x + b, with zero the PNG value of 0; 'stored' as stored).`;
    default:
      return "DICOM: the file's own window (else its VOI LUT, else min/max); plain images: stored value / 255 (/ 65535 for 16-bit).";
  }
}

/** Multi-label: the classifier's head is Fovea's sigmoid one (native-models/models/classifier.ts). */
const MULTI_LABEL_FAMILY = 'Fovea compact CNN classifier (conv-BN-ReLU blocks, global average pooling, dropout 0.3, dense, sigmoid per class: multi-label)';

/** Why there is no MONAI bundle target: said by the CLI's help and errors and by the README. */
export const MONAI_NOT_OFFERED = "A MONAI bundle target is not offered: it is meant for 3-D segmentation, and Fovea's training plans are never 3-D (2-D, or 2.5-D with neighbouring slices as channels), so the pytorch target serves every plan.";

/** The plan train.py follows: the run's settings, or what Fovea's training code chooses today. */
export function buildPlan(config: TrainConfig, source: string, dataset: string | null, modelName: string): TrainingPlanFile {
  return {
    fovea: 'training-plan',
    version: 1,
    source,
    task: config.task,
    dataset,
    modelName,
    classes: [...config.classNames],
    channels: config.channels,
    inputSize: config.inputSize,
    multiLabel: config.task === 'classification' && config.multiLabel,
    normalization: config.normalization,
    normalizationDescription: normalizationDescription(config.normalization),
    letterboxDescription: 'Scale by s = S / max(width, height) (bilinear, pixel centres at +0.5; large images first box-filtered by floor(max side / S)), centre, pad with 0; S is inputSize.',
    channelsDescription: cardPreprocessing(config).channels,
    epochs: config.epochs,
    batchSize: config.batchSize,
    learningRate: config.learningRate,
    seed: config.seed,
    earlyStoppingPatience: config.earlyStoppingPatience,
    augment: { ...config.augment },
    classWeights: config.classWeights ? [...config.classWeights] : null,
    model: config.task === 'classification' && config.multiLabel ? { ...FAMILIES.classification, family: MULTI_LABEL_FAMILY } : FAMILIES[config.task],
    slices: config.slices === '2.5d' ? '2.5d' : '2d',
    card: { input: cardInputWords(config), preprocessing: (({ letterbox: _letterbox, ...rest }) => rest)(cardPreprocessing(config)) },
  };
}

/** resources/export-templates/<target>/ of the app. */
export function templateDir(target: TrainingExportTarget): string {
  const root = foveaPackageRoot();
  const dir = root ? join(root.dir, 'resources', 'export-templates', target) : null;
  if (!dir || !existsSync(join(dir, 'train.py'))) throw new FoveaException('INTERNAL', `The ${target} export template (resources/export-templates/${target}/train.py) is missing from this installation.`);
  return dir;
}

async function maskPng(classMap: Uint8Array, width: number, height: number): Promise<Buffer> {
  const sharp = (await import('sharp')).default;
  // b-w: one 8-bit channel (sharp would otherwise write the single channel as sRGB).
  return sharp(Buffer.from(classMap.buffer, classMap.byteOffset, classMap.byteLength), { raw: { width, height, channels: 1 } }).toColourspace('b-w').png().toBuffer();
}

const MULTI_LABEL_CSV = 'labels.csv';

/** Multi-label classes as a multi-hot CSV: image, split, then one 0/1 column per class (RFC 4180, CRLF). */
function multiHotCsv(classes: readonly string[], samples: readonly ExportedSample[]): string {
  const rows = [['image', 'split', ...classes].map((c) => csvCell(c).text).join(',')];
  for (const s of samples) {
    const on = new Set(s.labels ?? []);
    rows.push([s.image, s.split, ...classes.map((_, k) => (on.has(k) ? '1' : '0'))].join(','));
  }
  return `${rows.join('\r\n')}\r\n`;
}

function refuse(deps: TrainingExportDeps, datasetId: number, code: FoveaException['code'], message: string, details: Record<string, unknown> = {}): never {
  auditExport(deps.audit, { action: 'export.training', objectType: 'dataset', objectId: datasetId, outcome: 'refused', details: { code, ...details } });
  throw new FoveaException(code, message);
}

/** The folder must be new or empty: a training package is one whole, never merged into another. */
async function assertFreshFolder(outDir: string): Promise<boolean> {
  try {
    const st = await fsp.stat(outDir);
    if (!st.isDirectory()) throw new FoveaException('CONFLICT', `${outDir} exists and is not a folder.`);
    if ((await fsp.readdir(outDir)).length > 0) throw new FoveaException('CONFLICT', `${outDir} exists and is not empty: choose a new folder for the training export.`);
    return false;
  } catch (e) {
    if (e instanceof FoveaException) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw new FoveaException('IO', `Cannot use ${outDir}: ${(e as Error).message}`);
  }
}

/** Export a dataset for training elsewhere (see the file header). */
export async function exportTraining(deps: TrainingExportDeps, req: TrainingExportRequest, signal?: AbortSignal, onProgress?: (done: number, total: number) => void): Promise<TrainingExportReport> {
  const started = performance.now();
  const { datasetId } = req;
  if (!(TRAINING_EXPORT_TARGETS as readonly string[]).includes(req.target)) throw new FoveaException('VALIDATION', `Unknown training target "${String(req.target)}" (known: ${TRAINING_EXPORT_TARGETS.join(', ')}). ${MONAI_NOT_OFFERED}`);
  if (!/^(classification|detection|segmentation)$/.test(req.task)) throw new FoveaException('VALIDATION', `Unknown task "${String(req.task)}" (classify, detect or segment).`);
  const dataset = deps.datasets.get(datasetId); // NOT_FOUND first
  const allowed = deps.policy.policy.allowedExportFormats;
  if (allowed && !allowed.includes(req.target)) {
    refuse(deps, datasetId, 'FORBIDDEN', `Your IT policy does not allow training exports for ${req.target} (policy key allowedExportFormats; add "${req.target}" to allow it).`, { target: req.target, reason: 'policy allowedExportFormats' });
  }
  if (deps.library.readOnly) throw new FoveaException('LIBRARY_READ_ONLY', `${deps.library.readOnlyReason ?? 'The library is open read-only.'} Exports are recorded in the library's audit log, so none can be made now.`);

  // ---- what to export, checked before anything is written
  const probe = collectSamples(deps.db, datasetId, req.task);
  if (probe.samples.length === 0) {
    refuse(deps, datasetId, 'BAD_INPUT', `Dataset "${dataset.name}" has no ${req.task} labels: label some images (or import labels) before exporting it for training.`, { reason: 'no labels' });
  }
  // Images marked labelled without boxes are detection samples (negatives), but a detector needs objects.
  if (req.task === 'detection' && !probe.samples.some((s) => s.target.task === 'detection' && s.target.boxes.length > 0)) {
    refuse(deps, datasetId, 'BAD_INPUT', `Dataset "${dataset.name}" has no boxes (boxes, polygons or masks of a class): a detector learns from boxes. Draw or import some (e.g. \`fovea import-labels --format coco\`) before exporting it for detection.`, { reason: 'no boxes' });
  }
  let config: TrainConfig;
  let source: string;
  let splitOf: Map<number, SplitName>;
  if (req.splitFromRun !== undefined) {
    const run = deps.runs.get(req.splitFromRun);
    if (run.datasetId !== datasetId) refuse(deps, datasetId, 'VALIDATION', `Run ${run.id} trained on dataset "${run.datasetName}", not "${dataset.name}".`);
    if (run.config.task !== req.task) refuse(deps, datasetId, 'VALIDATION', `Run ${run.id} is a ${run.config.task} run; the export asks for ${req.task}.`);
    const snap = deps.runs.snapshot(run.id) as { itemSplits?: [number, SplitName][] } | null;
    if (!snap?.itemSplits) refuse(deps, datasetId, 'UNSUPPORTED', `Run ${run.id} was stored before Fovea kept each image's split with the run; export without --split-from-run.`);
    config = run.config;
    source = `run ${run.id} (its settings and its split)`;
    splitOf = new Map(snap.itemSplits);
  } else {
    config = deps.trainingPlan(datasetId, req.task).defaults;
    // Issue 13's training plan is not built yet: these are the defaults Fovea's trainer picks today.
    source = "Fovea's training defaults for this dataset (native-models/models/defaults.ts) and the dataset's current split";
    splitOf = deps.splitMap(datasetId);
  }
  const multiLabel = req.task === 'classification' && config.multiLabel;
  const classNames = req.task === 'segmentation' ? config.classNames.slice(1) : config.classNames;
  const collected = collectSamples(deps.db, datasetId, req.task, { classNames, channels: config.channels, multiLabel });
  const warnings = [...collected.warnings];
  const samples: { sample: Sample; split: SplitName }[] = [];
  let unsplit = 0;
  for (const s of collected.samples) {
    const split = splitOf.get(s.itemId);
    if (split) samples.push({ sample: s, split });
    else unsplit++;
  }
  if (unsplit > 0) warnings.push(`${unsplit} labelled image(s) have no split${req.splitFromRun !== undefined ? ' in that run' : ''} and were not exported.`);
  const patientSplits = new Map<string, Set<SplitName>>();
  for (const { sample, split } of samples) {
    if (sample.patientKey === null) continue;
    const set = patientSplits.get(sample.patientKey) ?? new Set<SplitName>();
    set.add(split);
    patientSplits.set(sample.patientKey, set);
  }
  const mixed = [...patientSplits.values()].filter((s) => s.size > 1).length;
  if (mixed > 0) refuse(deps, datasetId, 'BAD_INPUT', `${mixed} patient(s) have images in more than one split: a model would be tested on patients it trained on. Redraw the split (patients stay whole) before exporting.`, { reason: 'patient in two splits', patients: mixed });
  const count = (k: SplitName): number => samples.filter((s) => s.split === k).length;
  if (count('test') === 0) refuse(deps, datasetId, 'BAD_INPUT', `The split has no test images (train ${count('train')}, val ${count('val')}): train.py reports its metrics on the test split. Put some images (whole patients) in test first.`, { reason: 'no test images' });
  if (count('train') === 0) refuse(deps, datasetId, 'BAD_INPUT', 'The split has no training images.', { reason: 'no training images' });

  const template = templateDir(req.target);
  const plan = buildPlan(config, source, req.deidentify ? null : dataset.name, `${req.task}-pytorch`);
  const createdRoot = await assertFreshFolder(req.outDir);
  let writer: ExportWriter;
  try {
    writer = await ExportWriter.open(req.outDir);
  } catch (e) {
    auditExport(deps.audit, { action: 'export.training', objectType: 'dataset', objectId: datasetId, outcome: 'failed', details: { error: e instanceof FoveaException ? e.code : 'INTERNAL' } });
    throw e;
  }

  const heldBack: { itemId: number; reason: string }[] = [];
  try {
    const deid = req.deidentify ? await import('../deid/deidentify') : null;
    const deidOptions = deid ? (await import('../deid/deid-export')).parseDeidOptions({}).deid : null;
    const session = deid ? new deid.DeidSession() : null;
    const readMask = maskReader(deps.db);
    const truth = req.task === 'detection' ? detectionTruth(deps.db, datasetId, collected.classNames, samples.map((s) => s.sample)) : null;
    const coco = new Map<SplitName, { images: unknown[]; annotations: unknown[] }>();
    let annotationId = 0;
    const out: ExportedSample[] = [];
    let lossy = 0;
    let lossyModality = 0;
    let labelsWritten = 0;
    const held = new Set<number>();
    // A file's bytes as they may leave (DICOM de-identified first), or why it is held back. Only the
    // verdict is kept per item (not the bytes: an export may hold 100,000 images); `need` false skips
    // reading a file whose verdict is known and whose PNG is written.
    const verdict = new Map<number, string | null>();
    const prepare = (itemId: number, sha: string, kind: 'dicom' | 'image', need: boolean): { bytes: Uint8Array | null } | { reason: string } => {
      const known = verdict.get(itemId);
      if (typeof known === 'string') return { reason: known };
      if (known === null && !need) return { bytes: null };
      let result: { bytes: Uint8Array } | { reason: string } = { bytes: deps.blobs.read(sha) };
      if (kind === 'dicom' && deid && deidOptions && session && 'bytes' in result) {
        try {
          const outcome = deid.deidentifyDicom(result.bytes, deidOptions, session);
          result = outcome.status === 'held-back' ? { reason: `Possible burned-in text: ${outcome.burnedIn.reason}.` } : { bytes: outcome.bytes };
        } catch (e) {
          result = { reason: `It could not be de-identified: ${e instanceof FoveaException ? e.message : 'an internal error'}` };
        }
      }
      verdict.set(itemId, 'reason' in result ? result.reason : null);
      return result;
    };
    // Each image's PNG is written once (a slice may be a sample and its neighbours' neighbour).
    const written = new Map<string, ExportedImage & { width: number; height: number }>();
    const imageName = (ref: { itemId: number; frameIndex: number }): string => `images/item-${ref.itemId}-f${ref.frameIndex}.png`;
    const writeImage = async (ref: { itemId: number; frameIndex: number; blobSha256: string }, kind: 'dicom' | 'image', channels: 1 | 3, bytes: Uint8Array | null): Promise<ExportedImage & { width: number; height: number }> => {
      const name = imageName(ref);
      const known = written.get(name);
      if (known) return known;
      if (!bytes) throw new FoveaException('INTERNAL', `The pixels of item ${ref.itemId} were not read.`);
      const px = kind === 'image' ? await storedPng(bytes) : await dicomPng(bytes, ref, config.normalization, channels);
      if (px.lossy && px.values === 'modality') lossyModality++;
      else if (px.lossy) lossy++;
      await writer.write(name, px.png);
      const entry = { image: name, item: ref.itemId, frame: ref.frameIndex, values: px.values, ...(px.values === 'modality' ? { zero: px.zero ?? null, affine: px.affine } : {}), width: px.width, height: px.height };
      written.set(name, entry);
      return entry;
    };
    const imageFields = (e: ExportedImage): ExportedImage => ({ image: e.image, item: e.item, frame: e.frame, values: e.values, ...(e.zero !== undefined ? { zero: e.zero, affine: e.affine } : {}) });
    // 2.5-D: each slice's neighbours in its series, by position along the normal (slice-neighbours.ts, Fovea's own order).
    const fed = config.slices === '2.5d' ? withNeighbours(deps.db, samples.map((x) => x.sample)) : samples.map((x) => x.sample);
    for (const [i, { sample, split }] of samples.entries()) {
      if (signal?.aborted) throw new FoveaException('CANCELLED', 'The training export was cancelled.');
      if (held.has(sample.itemId)) continue;
      const own = prepare(sample.itemId, sample.blobSha256, sample.kind, !written.has(imageName(sample)));
      if ('reason' in own) {
        held.add(sample.itemId);
        heldBack.push({ itemId: sample.itemId, reason: own.reason });
        continue;
      }
      const around = fed[i]?.neighbours;
      // A slice at the end of its series (or a plain image) is its own neighbour: already prepared.
      const isSelf = (n: { itemId: number; frameIndex: number }): boolean => n.itemId === sample.itemId && n.frameIndex === sample.frameIndex;
      const sides = around ? [around.below, around.above].map((n) => ({ n, p: isSelf(n) ? own : prepare(n.itemId, n.blobSha256, 'dicom', !written.has(imageName(n))) })) : [];
      const heldSide = sides.find((x) => 'reason' in x.p);
      if (heldSide) {
        held.add(sample.itemId);
        heldBack.push({ itemId: sample.itemId, reason: `Not a training sample (its pixels may still leave as another slice's neighbour): its neighbour slice (item ${heldSide.n.itemId}) was held back: ${(heldSide.p as { reason: string }).reason}` });
        continue;
      }
      // 2.5-D slices are grey (colour as BT.601 luma after normalising, in train.py as in Fovea).
      const centre = await writeImage(sample, sample.kind, around ? 1 : sample.colour ? 3 : 1, own.bytes);
      const name = centre.image.slice('images/'.length);
      const entry: ExportedSample = { image: centre.image, split, item: sample.itemId, frame: sample.frameIndex, width: sample.width, height: sample.height, values: centre.values, ...(centre.zero !== undefined ? { zero: centre.zero, affine: centre.affine } : {}) };
      if (around) {
        const images: ExportedImage[] = [];
        for (const { n, p } of sides) {
          const img = isSelf(n) ? centre : await writeImage(n, 'dicom', 1, (p as { bytes: Uint8Array | null }).bytes);
          // A neighbour of another size than the slice is replaced by the slice (sample-loader.ts decodeImage).
          images.push(imageFields(img.width === centre.width && img.height === centre.height ? img : centre));
        }
        entry.neighbours = [images[0] as ExportedImage, images[1] as ExportedImage];
      }
      if (sample.target.task === 'classification') {
        entry.labels = [...sample.target.classIndices];
        labelsWritten += entry.labels.length;
      }
      else if (sample.target.task === 'segmentation') {
        const r = rasterizeSegmentation(sample.target.shapes, sample.height, sample.width, readMask);
        if (r.missing.length > 0) warnings.push(`Item ${sample.itemId}: ${r.missing.length} mask(s) changed while exporting and were left out.`);
        await writer.write(`masks/${name}`, await maskPng(r.classMap, sample.width, sample.height));
        entry.mask = `masks/${name}`;
        labelsWritten++;
      } else if (truth) {
        entry.id = out.length + 1;
        const cocoSplit = coco.get(split) ?? { images: [], annotations: [] };
        coco.set(split, cocoSplit);
        cocoSplit.images.push({ id: entry.id, file_name: entry.image, width: sample.width, height: sample.height, item: sample.itemId, frame: sample.frameIndex });
        for (const g of truth.get(`${sample.itemId}:${sample.frameIndex}`) ?? []) {
          labelsWritten++;
          cocoSplit.annotations.push({ id: ++annotationId, image_id: entry.id, category_id: g.classIndex + 1, bbox: [g.x, g.y, g.width, g.height], area: g.area ?? g.width * g.height, iscrowd: g.crowd ? 1 : 0, ...(g.ignore ? { ignore: 1 } : {}) });
        }
      }
      out.push(entry);
      onProgress?.(i + 1, samples.length);
    }
    if (lossyModality > 0) warnings.push(`${lossyModality} DICOM frame(s) have modality values that are not integers within a 16-bit span: written in 65536 steps of their range, so train.py's z-scores differ from Fovea's by up to half a step over the standard deviation.`);
    if (lossy > 0) warnings.push(`${lossy} colour image(s) with values between 8-bit steps were written as 8-bit PNG: train.py sees them within 1/510 of Fovea's values.`);
    const kept = (k: SplitName): number => out.filter((s) => s.split === k).length;
    if (kept('test') === 0) throw new FoveaException('BAD_INPUT', 'Every test image was held back (possible burned-in text): nothing is left to test on.');

    const classes = collected.classNames;
    for (const split of ['train', 'val', 'test'] as const) {
      if (!truth) break;
      const c = coco.get(split) ?? { images: [], annotations: [] };
      await writer.write(`annotations/${split}.json`, `${JSON.stringify({ info: { description: `Fovea training export, ${split} split`, note: 'bbox [x, y, width, height] in image pixels; category_id = class index + 1' }, images: c.images, annotations: c.annotations, categories: classes.map((name, k) => ({ id: k + 1, name })) })}\n`);
    }
    await writer.write('dataset.json', `${JSON.stringify({ fovea: 'training-dataset', version: 1, task: req.task, classes, multiLabel, channels: config.channels, ignoreIndex: IGNORE_INDEX, samples: out }, null, 1)}\n`);
    if (multiLabel) await writer.write(MULTI_LABEL_CSV, multiHotCsv(classes, out));
    await writer.write('classes.txt', `${classes.join('\n')}\n`);
    await writer.write('plan.json', `${JSON.stringify(plan, null, 2)}\n`);
    // Only the template's own files (a __pycache__ a check left behind is not part of it).
    for (const e of readdirSync(template, { withFileTypes: true }).filter((d) => d.isFile() && /\.(py|md)$/.test(d.name)).sort((a, b) => a.name.localeCompare(b.name))) {
      await writer.write(e.name, readFileSync(join(template, e.name)));
    }

    const patientsIn = (k: SplitName): number => new Set(samples.filter((s) => s.split === k && s.sample.patientKey !== null && !held.has(s.sample.itemId)).map((s) => s.sample.patientKey)).size;
    const anyPatients = samples.some((s) => s.sample.patientKey !== null);
    const images = { train: kept('train'), val: kept('val'), test: kept('test') };
    const patients = anyPatients ? { train: patientsIn('train'), val: patientsIn('val'), test: patientsIn('test') } : null;
    const summary = await writer.finish({
      kind: 'training',
      target: req.target,
      task: req.task,
      // A de-identified export names nothing of the source: a dataset may be named after a patient.
      ...(req.deidentify ? {} : { dataset: dataset.name }),
      splitFrom: req.splitFromRun !== undefined ? { run: req.splitFromRun } : 'dataset',
      whatLeft: {
        images: written.size,
        ...(config.slices === '2.5d' ? { neighbourSlices: `${written.size - out.length} unlabelled slice(s) exported as the neighbours (2.5-D channels) of labelled ones` } : {}),
        pixels: 'PNG pixel data only: no DICOM header, no file names (images are named by library item id), no patient data',
        dicomDeidentified: req.deidentify === true ? 'DICOM files went through the PS3.15 Basic Profile first; possible burned-in text held back' : false,
        labels: req.task === 'segmentation' ? 'class-index masks' : req.task === 'detection' ? 'COCO boxes per split (annotations/)' : multiLabel ? `class indices, several per image (multi-label), and ${MULTI_LABEL_CSV} with one 0/1 column per class` : 'class indices',
        splits: images,
        patients,
        heldBack: heldBack.length,
      },
      classes,
      fovea: foveaVersion(),
    });
    const manifestSha256 = createHash('sha256').update(await fsp.readFile(summary.manifest)).digest('hex');
    auditExport(deps.audit, {
      action: 'export.training',
      objectType: 'dataset',
      objectId: datasetId,
      details: { target: req.target, task: req.task, outDir: summary.root, files: summary.files.length, bytes: summary.bytes, images: out.length, heldBack: heldBack.map((h) => h.itemId), deidentified: req.deidentify === true, splitFromRun: req.splitFromRun ?? null, manifestSha256 },
    });
    return { root: summary.root, manifest: summary.manifest, task: req.task, classes, images, annotations: labelsWritten, patients, heldBack, warnings, files: summary.files, bytes: summary.bytes, plan, seconds: (performance.now() - started) / 1000 };
  } catch (e) {
    const removed = await writer.discard();
    if (createdRoot) await fsp.rmdir(writer.root).catch(() => undefined);
    const code = e instanceof FoveaException ? e.code : 'INTERNAL';
    auditExport(deps.audit, { action: 'export.training', objectType: 'dataset', objectId: datasetId, outcome: code === 'CANCELLED' ? 'cancelled' : 'failed', details: { error: code, filesRemoved: removed } });
    throw e;
  }
}
