/**
 * Model export: a training run's checkpoint as TF.js (model.json + weight
 * shards) or ONNX, plus a model card (model-card.json) and the manifest,
 * into a folder the user chose.
 *
 * - The conversion happens in native-models behind MlEngine.exportModel (the
 *   core never imports TensorFlow.js); every file goes through ExportWriter
 *   (confined, atomic, no silent overwrite, SHA-256 manifest).
 * - Policy: `modelExport: false` refuses (FORBIDDEN, audited as 'refused');
 *   so does an `allowedExportFormats` list without the format. A model
 *   trained on patient data can memorise it: IT decides whether models leave.
 * - The model card holds NO patient data: nothing from DICOM headers, no
 *   item, series or patient ids, no file names or library paths. It has the
 *   dataset's name, class names, counts per split and class (numbers), the
 *   training settings, metrics, and how to feed and read the model.
 * - Audit: 'model.export' with the run id, format, file count and the
 *   manifest's hash (no paths of patient files, no names).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MODEL_EXPORT_FORMATS } from '../../contract/export-formats';
import type { ModelExportArtifacts, ModelExportFormat, ModelTensorSpec, TrainConfig } from '../../contract/ml';
import { mlEngineErrorCode } from '../../contract/ml';
import { FoveaException } from '../../contract/result';
import { foveaVersion } from '../app/versions';
import type { PolicyLoadResult } from '../policy/policy';
import type { AuditLog } from '../store/audit-log';
import type { RunRecord, RunStore } from '../store/run-store';
import type { RunSnapshot } from '../training/training-service';
import { auditExport, ExportWriter, type WrittenFile } from './safe-output';

export const MODEL_CARD_NAME = 'model-card.json';

export interface ModelExportRequest {
  runId: number;
  format: ModelExportFormat;
  /** Absolute path of the folder to write into (created if missing). */
  outDir: string;
  /** Which checkpoint: the best validation epoch (default) or the last one. */
  checkpoint?: 'best' | 'last';
  /** Replace files that exist (the user confirmed). Default: an existing file is a CONFLICT. */
  overwrite?: boolean;
}

export interface ModelExportReport {
  runId: number;
  format: ModelExportFormat;
  outDir: string;
  /** Files written (model files and the model card), with sizes and SHA-256. */
  files: WrittenFile[];
  manifest: string;
  bytes: number;
  card: ModelCard;
}

/** What the export needs of the core (Core has all of it). */
export interface ModelExportCore {
  runs: Pick<RunStore, 'get' | 'snapshot'>;
  training: { checkpointDir(runId: number): string };
  ml: { exportModel(checkpoint: string, config: TrainConfig, format: ModelExportFormat): Promise<ModelExportArtifacts> };
  audit: AuditLog;
  policy: PolicyLoadResult;
  library: { readOnly: boolean; readOnlyReason?: string | null };
}

export interface ModelCard {
  fovea: 'model-card';
  version: 1;
  createdAt: string;
  foveaVersion: string;
  task: TrainConfig['task'];
  classes: string[];
  multiLabel: boolean;
  model: {
    format: ModelExportFormat;
    architecture: string;
    files: string[];
    parameters: number;
    checkpoint: 'best' | 'last';
    onnx: ModelExportArtifacts['onnx'];
    /** A pretrained encoder the model was built on (TrainConfig.encoder): where its weights come from and their licence. */
    encoder?: { name: NonNullable<TrainConfig['encoder']>; provenance: string; license: string };
  };
  /** valueRange null: unbounded (z-scores). channelOrder 'slices': 2.5-D, see preprocessing.slices. */
  input: ModelTensorSpec & { channels: 1 | 3; channelOrder: 'grey' | 'RGB' | 'slices'; valueRange: [number, number] | null };
  preprocessing: {
    normalization: TrainConfig['normalization'] & { description: string };
    letterbox: { size: number; description: string };
    channels: string;
    /** DICOM series: one slice ('2d') or the slice with its neighbours as channels ('2.5d'). */
    slices: { mode: '2d' | '2.5d'; channels: string[] | null; description: string };
  };
  outputs: (ModelTensorSpec & { meaning: string })[];
  decoding: string;
  training: {
    runId: number;
    dataset: string;
    status: RunRecord['status'];
    startedAt: string;
    finishedAt: string | null;
    epochs: number;
    epochsCompleted: number;
    bestEpoch: number | null;
    samples: number | null;
    splits: {
      images: { train: number; val: number; test: number; unassigned: number };
      imagesPerClass: Record<string, { train: number; val: number; test: number; unassigned: number }>;
      patients: { train: number; val: number; test: number } | null;
      patientGrouped: boolean | null;
    } | null;
    settings: Pick<TrainConfig, 'inputSize' | 'channels' | 'epochs' | 'batchSize' | 'learningRate' | 'seed' | 'earlyStoppingPatience' | 'augment' | 'classWeights' | 'labelSmoothing' | 'mixup' | 'cutmix' | 'lrSchedule'>;
  };
  metrics: {
    bestValidation: Record<string, number> | null;
    evaluations: Record<string, unknown>[];
  };
  backend: { training: string | null; tfjsVersion: string };
  privacy: string;
}

const ARCHITECTURES: Record<TrainConfig['task'], string> = {
  classification: 'Fovea compact CNN classifier (conv-BN-ReLU blocks, global average pooling, dense)',
  detection: 'Fovea CenterNet-style anchor-free detector (stride-4 heatmap, log-size and offset heads, FPN-like top-down path)',
  segmentation: 'Fovea U-Net with batch norm (transposed-conv decoder, skip connections)',
};

/** What the card says of a run's pretrained encoder (TrainConfig.encoder): its origin and licence. */
export const ENCODER_CARDS: Record<NonNullable<TrainConfig['encoder']>, { architecture: string; provenance: string; license: string }> = {
  'imagenet-mobilenetv2': {
    architecture: 'Frozen ImageNet MobileNetV2 encoder (alpha 1.0, blocks 0-10, batch norms folded) under a trained Fovea U-Net decoder (segmentation) or CenterNet-style top-down path and heads (detection)',
    provenance:
      "Encoder weights: keras.applications MobileNetV2's ImageNet weights as kept frozen (layers Conv1 .. block_10_project_BN) in nsfwjs 4.3.0's mobilenet_v2 model (uint8-quantized by the TF.js converter), shipped inside Fovea (resources/models/imagenet-mobilenetv2); not trained on this dataset.",
    license: 'nsfwjs: MIT, Copyright (c) 2019 Infinite Red, Inc.; Keras applications weights: Apache License 2.0.',
  },
};

/** The card's words for a normalisation (also train.py's, through plan.json). */
export function normalizationDescription(n: TrainConfig['normalization']): string {
  switch (n.kind) {
    case 'window':
      return `Greyscale DICOM: modality values (Rescale Slope/Intercept or Modality LUT; Hounsfield units for CT), then the linear window y = clamp((x - (${n.center} - 0.5)) / (${n.width} - 1) + 0.5, 0, 1); MONOCHROME1 inverted (1 - y). Plain images: the same window on stored values.`;
    case 'file-window':
    case 'unit':
      return "Greyscale DICOM: modality values, then the file's first window (with its VOI LUT function) to [0, 1], else its VOI LUT, else per-image min/max; MONOCHROME1 inverted. Colour and plain images: stored values / 255 (/ 65535 for 16-bit).";
    case 'per-image':
      return 'Each image min/max-stretched to [0, 1] (DICOM: of its modality values; MONOCHROME1 inverted afterwards).';
    case 'zscore':
      return (
        'Z-score per image, (x - mean) / std (population std), of DICOM modality values or stored values of plain images; values are not bounded. ' +
        'Grey: when at least 25% of the pixels are exactly 0, mean and std over the nonzero pixels and the zero pixels stay 0; else over every pixel. ' +
        'Colour: each channel over every pixel. A constant image gives 0. MONOCHROME1 negated afterwards (y -> -y).'
      );
  }
}

/** The card's word on DICOM series (TrainConfig.slices). */
function slicesCard(c: TrainConfig): ModelCard['preprocessing']['slices'] {
  if (c.slices !== '2.5d') return { mode: '2d', channels: null, description: 'One image (slice) at a time.' };
  return {
    mode: '2.5d',
    channels: ['slice below', 'slice', 'slice above'],
    description:
      'Channel 0 is the slice below, 1 the slice, 2 the slice above, from the same series, ordered by Image Position (Patient) projected on the slice normal ' +
      '(the cross product of the two Image Orientation (Patient) direction cosines), ascending, not by Instance Number; at the ends of a series the edge slice repeats, ' +
      'and a slice without a position (or a plain image) repeats itself. Each slice is decoded and normalised on its own (grey; colour as BT.601 luma).',
  };
}

function outputMeaning(task: TrainConfig['task'], name: string, multiLabel: boolean): string {
  if (task === 'classification') return multiLabel ? 'per-class probability (independent sigmoids)' : 'class probabilities (softmax, sum 1)';
  if (task === 'segmentation') return 'per-pixel class probabilities (softmax over the last axis); index 0 is background';
  if (name === 'heatmap') return 'per-class centre probability on the stride-4 grid (sigmoid)';
  if (name === 'size') return 'log(width), log(height) of the box in output cells (1 cell = 4 input pixels)';
  if (name === 'offset') return 'x, y offset of the box centre within its cell, in cells';
  return 'model output';
}

function decodingFor(task: TrainConfig['task'], multiLabel: boolean): string {
  switch (task) {
    case 'classification':
      return multiLabel ? 'Each class independently: present when its probability >= 0.5.' : 'argmax over the probabilities gives the class index into `classes`.';
    case 'segmentation':
      return 'argmax over the last axis gives each input pixel\'s class index; crop the letterbox padding and scale back by 1/scale to map to the original image.';
    case 'detection':
      return (
        'Boxes, in input pixels: keep heatmap cells equal to the 3x3 max-pool of the heatmap (local peaks, no IoU NMS), ' +
        'take the top 100 per image with score >= 0.05 (score = heatmap value, class = channel). For a peak at cell (cx, cy): ' +
        'w = exp(size[0]) * 4, h = exp(size[1]) * 4 (cap the log at log(2 * grid side)), centre = ((cx + offset[0]) * 4, (cy + offset[1]) * 4), ' +
        'box = centre -/+ (w/2, h/2). Map to the original image by removing the letterbox padding and dividing by its scale.'
      );
  }
}

/** Only aggregate numbers from a stored evaluation: no per-image lists, ids, paths or curves. */
const EVALUATION_KEYS = [
  'task',
  'multiLabel',
  'n',
  'accuracy',
  'macro',
  'perClass',
  'confusionMatrix',
  'multilabelConfusion',
  'auc',
  'averagePrecision',
  'mAP50',
  'mAP75',
  'mAP',
  'mAR1',
  'mAR10',
  'mAR100',
  'dice',
  'iou',
  'meanImageDice',
  'meanImageIou',
  'ignoredPixels',
] as const;

function storedEvaluations(runDir: string): Record<string, unknown>[] {
  if (!existsSync(runDir)) return [];
  const out: Record<string, unknown>[] = [];
  for (const name of readdirSync(runDir).sort()) {
    if (!/^evaluation-[A-Za-z0-9-]+\.json$/.test(name)) continue;
    try {
      const report = JSON.parse(readFileSync(join(runDir, name), 'utf8')) as Record<string, unknown>;
      const source = (report['source'] ?? {}) as Record<string, unknown>;
      const entry: Record<string, unknown> = {
        split: source['split'] ?? null,
        dataset: source['datasetName'] ?? null,
        ownDataset: source['ownDataset'] ?? null,
        evaluatedAt: source['evaluatedAt'] ?? null,
        coordinates: source['coordinates'] ?? null,
      };
      for (const k of EVALUATION_KEYS) if (k in report) entry[k] = report[k];
      out.push(entry);
    } catch {
      // An unreadable evaluation file is left out of the card, not a failed export.
    }
  }
  return out;
}

function splitSummary(snapshot: Partial<RunSnapshot> | null): ModelCard['training']['splits'] {
  const s = snapshot?.splits;
  if (!s) return null;
  const counts = (c: { train: number; val: number; test: number; unassigned?: number }) => ({ train: c.train, val: c.val, test: c.test, unassigned: c.unassigned ?? 0 });
  return {
    images: counts(s.counts),
    imagesPerClass: Object.fromEntries(Object.entries(s.perClass ?? {}).map(([k, v]) => [k === '' ? '(no class)' : k, counts(v)])),
    patients: s.patients ? { train: s.patients.train, val: s.patients.val, test: s.patients.test } : null,
    patientGrouped: typeof s.patientGrouped === 'boolean' ? s.patientGrouped : null,
  };
}

/** The card's input words for a config (also written by the PyTorch export's train.py, through plan.json). */
export function cardInputWords(c: TrainConfig): Pick<ModelCard['input'], 'channels' | 'channelOrder' | 'valueRange'> {
  return { channels: c.channels, channelOrder: c.slices === '2.5d' ? 'slices' : c.channels === 1 ? 'grey' : 'RGB', valueRange: c.normalization.kind === 'zscore' ? null : [0, 1] };
}

/** The card's preprocessing for a config: one wording for Fovea's cards and train.py's (through plan.json). */
export function cardPreprocessing(c: TrainConfig): ModelCard['preprocessing'] {
  return {
    normalization: { ...c.normalization, description: normalizationDescription(c.normalization) },
    letterbox: { size: c.inputSize, description: letterboxDescription(c.inputSize) },
    channels: c.slices === '2.5d' ? 'Three slices of a series (see slices).' : c.channels === 1 ? 'Colour images become grey as BT.601 luma (0.299 R + 0.587 G + 0.114 B).' : 'Grey images repeat their value in R, G and B.',
    slices: slicesCard(c),
  };
}

/** The letterbox in words for an input side (train.py words it the same for its --input-size). */
export function letterboxDescription(size: number): string {
  return `Scale by s = ${size} / max(width, height) (bilinear, pixel centres at +0.5; large images first box-filtered by floor(max side / ${size})), centre the image, pad the rest with 0 after normalisation.`;
}

/** The model card (pure: from the run, its snapshot and the engine's artifacts). */
export function buildModelCard(run: RunRecord, snapshot: Partial<RunSnapshot> | null, art: ModelExportArtifacts, checkpoint: 'best' | 'last', evaluations: Record<string, unknown>[], fileNames: string[]): ModelCard {
  const c = run.config;
  const multiLabel = c.multiLabel || (c.task === 'classification' && c.classNames.length === 1);
  const input = art.inputs[0];
  if (!input) throw new FoveaException('INTERNAL', 'The exported model has no input.');
  return {
    fovea: 'model-card',
    version: 1,
    createdAt: new Date().toISOString(),
    foveaVersion: foveaVersion(),
    task: c.task,
    classes: [...c.classNames],
    multiLabel,
    model: { format: art.format, architecture: c.encoder ? ENCODER_CARDS[c.encoder].architecture : ARCHITECTURES[c.task], files: fileNames, parameters: art.parameters, checkpoint, onnx: art.onnx, ...(c.encoder ? { encoder: { name: c.encoder, provenance: ENCODER_CARDS[c.encoder].provenance, license: ENCODER_CARDS[c.encoder].license } } : {}) },
    input: { ...input, ...cardInputWords(c) },
    preprocessing: cardPreprocessing(c),
    outputs: art.outputs.map((o) => ({ ...o, meaning: outputMeaning(c.task, o.name, multiLabel) })),
    decoding: decodingFor(c.task, multiLabel),
    training: {
      runId: run.id,
      dataset: run.datasetName,
      status: run.status,
      startedAt: run.createdAt,
      finishedAt: run.finishedAt,
      epochs: c.epochs,
      epochsCompleted: run.epochsCompleted,
      bestEpoch: run.bestEpoch,
      samples: Array.isArray(snapshot?.samples?.samples) ? snapshot.samples.samples.length : null,
      splits: splitSummary(snapshot),
      settings: {
        inputSize: c.inputSize,
        channels: c.channels,
        epochs: c.epochs,
        batchSize: c.batchSize,
        learningRate: c.learningRate,
        seed: c.seed,
        earlyStoppingPatience: c.earlyStoppingPatience,
        augment: { ...c.augment },
        classWeights: c.classWeights ? [...c.classWeights] : null,
        // Classification regularisation, only when the run used it (cards of other runs stay as they were).
        ...(c.labelSmoothing ? { labelSmoothing: c.labelSmoothing } : {}),
        ...(c.mixup ? { mixup: c.mixup } : {}),
        ...(c.cutmix ? { cutmix: c.cutmix } : {}),
        ...(c.lrSchedule ? { lrSchedule: c.lrSchedule } : {}),
      },
    },
    metrics: { bestValidation: run.metrics ? { ...run.metrics } : null, evaluations },
    backend: { training: run.backend, tfjsVersion: art.tfjsVersion },
    privacy: 'This card holds no patient data: no names, identifiers, dates of birth, DICOM attributes, image ids or file names; only the dataset name, class names, counts and metrics. The model weights themselves were learned from the training images.',
  };
}

function policyRefusal(policy: PolicyLoadResult, format: ModelExportFormat): string | null {
  if (policy.policy.modelExport === false) return 'Your IT policy does not allow exporting trained models (policy key modelExport). Ask your IT department if you need a model outside Fovea.';
  const allowed = policy.policy.allowedExportFormats;
  if (allowed && !(allowed as readonly string[]).includes(format)) {
    return `Your IT policy does not allow the ${format} export format (policy key allowedExportFormats allows: ${allowed.join(', ') || 'none'}).`;
  }
  return null;
}

/**
 * Exports a run's checkpoint. Throws FORBIDDEN (policy), NOT_FOUND (run or
 * checkpoint), UNSUPPORTED (a layer the format cannot hold), CONFLICT
 * (files exist), BAD_INPUT / IO (the folder).
 */
export async function exportModel(core: ModelExportCore, req: ModelExportRequest): Promise<ModelExportReport> {
  const checkpoint = req.checkpoint ?? 'best';
  if (!MODEL_EXPORT_FORMATS.includes(req.format)) throw new FoveaException('VALIDATION', `Unknown model format "${String(req.format)}" (${MODEL_EXPORT_FORMATS.join(' or ')}).`);
  const refusal = policyRefusal(core.policy, req.format);
  if (refusal) {
    auditExport(core.audit, { action: 'model.export', objectType: 'run', objectId: req.runId, outcome: 'refused', details: { format: req.format, reason: 'policy' } });
    throw new FoveaException('FORBIDDEN', refusal);
  }
  // Every export is audited: a library that cannot record it cannot export.
  if (core.library.readOnly) throw new FoveaException('LIBRARY_READ_ONLY', `${core.library.readOnlyReason ?? 'The library is open read-only.'} Exports are recorded in the library's audit log, so none can be made now.`);
  const run = core.runs.get(req.runId);
  const runDir = core.training.checkpointDir(run.id);
  const ckptDir = join(runDir, checkpoint);
  if (!existsSync(join(ckptDir, 'model.json')) && !existsSync(join(`${ckptDir}.old`, 'model.json'))) {
    throw new FoveaException(
      'NOT_FOUND',
      `Run ${run.id} has no ${checkpoint} checkpoint (status ${run.status}, ${run.epochsCompleted} epoch(s) completed).${checkpoint === 'best' ? ' Try the last checkpoint, or train the run to the end of an epoch first.' : ''}`,
    );
  }

  let art: ModelExportArtifacts;
  try {
    art = await core.ml.exportModel(ckptDir, run.config, req.format);
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    auditExport(core.audit, { action: 'model.export', objectType: 'run', objectId: run.id, outcome: 'failed', details: { format: req.format, checkpoint } });
    // The engine's typed error says what it is by its code; its message may still carry the old prefix.
    if (mlEngineErrorCode(e) === 'UNSUPPORTED') throw new FoveaException('UNSUPPORTED', `Run ${run.id} cannot be exported as ${req.format}: ${message.replace(/^UNSUPPORTED:\s*/, '')}`);
    throw new FoveaException('INTERNAL', `Exporting run ${run.id} as ${req.format} failed: ${message}`);
  }

  const card = buildModelCard(run, core.runs.snapshot(run.id) as Partial<RunSnapshot> | null, art, checkpoint, storedEvaluations(runDir), art.files.map((f) => f.name));
  let writer: ExportWriter | null = null;
  try {
    writer = await ExportWriter.open(req.outDir, { overwrite: req.overwrite ?? false });
    for (const f of art.files) await writer.write(f.name, f.bytes);
    await writer.write(MODEL_CARD_NAME, `${JSON.stringify(card, null, 2)}\n`);
    const summary = await writer.finish({ kind: 'model', format: req.format, runId: run.id, task: run.config.task });
    const manifestHash = createHash('sha256').update(readFileSync(summary.manifest)).digest('hex');
    auditExport(core.audit, {
      action: 'model.export',
      objectType: 'run',
      objectId: run.id,
      details: { format: req.format, checkpoint, files: summary.files.length, bytes: summary.bytes, manifestSha256: manifestHash },
    });
    return { runId: run.id, format: req.format, outDir: summary.root, files: summary.files, manifest: summary.manifest, bytes: summary.bytes, card };
  } catch (e) {
    const filesRemoved = (await writer?.discard()) ?? 0;
    auditExport(core.audit, { action: 'model.export', objectType: 'run', objectId: run.id, outcome: 'failed', details: { format: req.format, checkpoint, code: e instanceof FoveaException ? e.code : 'INTERNAL', filesRemoved } });
    throw e;
  }
}
