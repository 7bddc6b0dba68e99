/**
 * Training runs end to end: which labelled images (and which label
 * versions) train the model, the patient-grouped split, the run's record,
 * its checkpoints under <library>/runs/<id>/, progress, cancel (from this
 * process or another: `fovea runs cancel`) and resume after a crash.
 * The model side is the injected MlEngine (native-models): the core never
 * imports TensorFlow.js.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import type { AugmentConfig, BackendPreference, BatchProgress, EpochResult, MlEngine, SplitName, TaskKind, TrainConfig, TrainOutcome, WarmStartInfo, WarmStartSourceRef } from '../../contract/ml';
import type { RecipePlan } from '../../contract/recipe';
import { FoveaException } from '../../contract/result';
import * as v from 'valibot';
import { MANIFEST_FILE, ModelManifestSchema } from '../../contract/assist';
import { isFoveaCard } from '../assist/model-layouts';
import type { VerifiedModel } from '../assist/model-registry';
import { COPY_PASTE_NEEDS_MASKS, copyPasteProblem, encoderProblem, regularisationProblem } from '../../contract/runs';
import type { AuditLog } from '../store/audit-log';
import type { BlobStore } from '../store/blob-store';
import type { Db } from '../store/library-db';
import type { RunStore } from '../store/run-store';
import { pasteableObjects } from './copy-paste';
import { createLibraryBatchProvider } from './library-batch-provider';
import { measureDatasetFacts } from './recipe-facts';
import { StartPhases, type StartPhase } from './start-phases';
import { applyPlan, planRecipe } from './recipe-plan';
import { labelStratifier, type SplitService, type SplitSummary } from './splits';
import { withNeighbours } from './slice-neighbours';
import { maskReader, type Sample } from './training-samples';
import { collectSamples, type CollectedSamples, type SampleSnapshot } from './training-samples';

export const RUNS_DIR = 'runs';

/** What a user may set; everything else comes from the task's defaults. */
export type TrainOverrides = Partial<Pick<TrainConfig, 'epochs' | 'batchSize' | 'inputSize' | 'backend' | 'learningRate' | 'lrSchedule' | 'encoder' | 'seed' | 'earlyStoppingPatience' | 'unlabeledPixels' | 'timeBudgetSeconds' | 'labelSmoothing' | 'mixup' | 'cutmix'>>;

/** What to train on: the overrides, and optionally a subset of the dataset's classes. */
export type TrainRequest = TrainOverrides & {
  /** Train only these classes (see `collectForClasses`); default every class with a usable label. */
  classNames?: readonly string[] | undefined;
  /**
   * 'planned': the recipe planned from the data (recipe-plan.ts) replaces the task's defaults
   * (the overrides still win) and is stored with the run; 'defaults' (default): the task's defaults.
   * A time budget (timeBudgetSeconds) always plans.
   */
  recipe?: 'planned' | 'defaults' | undefined;
  /** The plan assumes a GPU or native TensorFlow backend (larger inputs). */
  accelerator?: boolean | undefined;
  /** Augmentation choices over the task's (or plan's) defaults; what is left out keeps its default. */
  augment?: Partial<AugmentConfig> | undefined;
  /** The run's name ('' or absent: none) and notes, stored with it. */
  name?: string | undefined;
  notes?: string | undefined;
  /**
   * Warm start: begin from this finished run's best checkpoint (same task). Same classes: every
   * layer is loaded; other classes: every layer but the head. The input size defaults to that
   * run's. Layers that do not fit by name and shape are refused (VALIDATION) before a run exists.
   */
  warmStartRunId?: number | undefined;
  /**
   * Warm start from a TF.js layers model folder instead (absolute path to the folder or its
   * model.json; a Fovea TF.js export's model-card.json gives its classes and input size): the
   * same matching by layer name and shape. A path to a .onnx file is an ONNX source (see
   * warmStartModelName). Not with warmStartRunId.
   */
  warmStartModelPath?: string | undefined;
  /**
   * Warm start from a model of the library by its name (`fovea models`, the Models screen): an
   * imported ONNX model, matched by layer order and shape (native-models/train/onnx-warm-start.ts).
   * Classes and input size from its manifest. Not with the other two.
   */
  warmStartModelName?: string | undefined;
};

/** Where a warm start loads from: a run's best checkpoint or a TF.js model folder. */
interface WarmSource {
  runId: number | null;
  /** The folder's name, for a model folder. */
  model?: string;
  dir: string;
  classNames: string[] | null;
  /** The input size it was trained at, when known (the new run's default). */
  inputSize: number | null;
  label: string;
  /** An ONNX source: a model of the library, or a .onnx file (`dir` is the file). */
  onnx?: 'imported' | 'file';
}

/**
 * Label smoothing, mixup and CutMix are for classification, in their ranges (contract/runs.ts):
 * VALIDATION with the contract's message otherwise, before anything starts.
 */
export function checkRegularisation(task: TaskKind, request: Pick<TrainOverrides, 'labelSmoothing' | 'mixup' | 'cutmix' | 'encoder'>): void {
  const problem = regularisationProblem(task, { labelSmoothing: request.labelSmoothing, mixup: request.mixup, cutmix: request.cutmix }) ?? encoderProblem(task, request.encoder);
  if (problem) throw new FoveaException('VALIDATION', problem);
}

/** The least number of classes a model of this kind can learn: a single-label classifier must tell two apart. */
export function minClassesFor(task: TaskKind, multiLabel: boolean): number {
  return task === 'classification' && !multiLabel ? 2 : 1;
}

export interface ClassSelection {
  /** The samples for the chosen classes (all of them when no subset was asked for). */
  collected: CollectedSamples;
  /** Every class with a usable label for the task, in the dataset's order (segmentation: without 'background'). */
  available: string[];
  minClasses: number;
}

/**
 * The samples of a dataset for a task, restricted to a subset of its classes. The subset must
 * name classes that have a usable label for the task (segmentation: 'background' is always
 * class 0 and may be left out or named), without duplicates, and at least `minClassesFor` of
 * them: else VALIDATION, naming the problem. The classes keep the dataset's order, whatever
 * the order asked for. Labels of the other classes are left out and counted
 * (`excluded.unknownClass`, with a warning); images left without a label are left out.
 */
export function collectForClasses(db: Db, datasetId: number, task: TaskKind, classNames?: readonly string[], options: { objectMasks?: boolean } = {}): ClassSelection {
  const all = collectSamples(db, datasetId, task, options.objectMasks ? { objectMasks: true } : {});
  const available = task === 'segmentation' ? all.classNames.slice(1) : all.classNames;
  const minClasses = minClassesFor(task, all.multiLabel);
  if (classNames === undefined) return { collected: all, available, minClasses };

  const asked = task === 'segmentation' ? classNames.filter((n) => n.toLowerCase() !== 'background') : [...classNames];
  const seen = new Set<string>();
  for (const n of asked) {
    if (seen.has(n)) throw new FoveaException('VALIDATION', `The class "${n}" is named twice.`);
    seen.add(n);
  }
  const unknown = asked.filter((n) => !available.includes(n));
  if (unknown.length > 0) {
    throw new FoveaException(
      'VALIDATION',
      `${unknown.map((n) => `"${n}"`).join(', ')} ${unknown.length === 1 ? 'is not a class' : 'are not classes'} with usable ${task} labels in this dataset. ` +
        `Choose from: ${available.length > 0 ? available.join(', ') : '(none)'}.`,
      { unknown, available },
    );
  }
  if (seen.size < minClasses) {
    throw new FoveaException(
      'VALIDATION',
      minClasses === 2
        ? 'A single-label classifier needs at least two classes to tell apart; choose another class (or make the dataset multi-label).'
        : `Choose at least one class to train${task === 'segmentation' ? ' besides background' : ''}.`,
      { minClasses },
    );
  }
  const chosen = available.filter((n) => seen.has(n));
  if (chosen.length === available.length) return { collected: all, available, minClasses };
  return { collected: collectSamples(db, datasetId, task, { classNames: chosen, ...(options.objectMasks ? { objectMasks: true } : {}) }), available, minClasses };
}

/**
 * Copy-paste asked for (augment.copyPaste > 0): detection only, in [0, 1], and on a dataset with
 * at least one object (of the chosen classes) that has an instance mask or a polygon: VALIDATION
 * with the contract's message otherwise, before anything starts. (Training checks the train split again.)
 */
export function checkCopyPaste(db: Db, datasetId: number, task: TaskKind, request: { augment?: Partial<AugmentConfig> | undefined; classNames?: readonly string[] | undefined }): void {
  const p = request.augment?.copyPaste;
  const problem = copyPasteProblem(task, p);
  if (problem) throw new FoveaException('VALIDATION', problem);
  if (!((p ?? 0) > 0)) return;
  const { collected } = collectForClasses(db, datasetId, task, request.classNames, { objectMasks: true });
  if (!collected.samples.some((s) => pasteableObjects(s).length > 0)) throw new FoveaException('VALIDATION', COPY_PASTE_NEEDS_MASKS, { copyPaste: p });
}

export interface TrainCallbacks {
  signal?: AbortSignal;
  /** Called once the run exists (its id is known). */
  onStart?: (info: { runId: number; config: TrainConfig; splits: SplitSummary; samples: number; warnings: string[] }) => void;
  onBatch?: (runId: number, p: BatchProgress) => void;
  onEpoch?: (runId: number, r: EpochResult) => void;
  /** Between Start and the first trained batch: what the run is doing (collecting, loading, building, decoding). */
  onPhase?: (p: StartPhase) => void;
}

export interface RunSnapshot {
  samples: SampleSnapshot;
  splits: SplitSummary;
  /**
   * [itemId, split] of every item the run trained, validated or tested on, as it was at the
   * start: a resume uses it, so a split redrawn in between does not move images under the run.
   * Absent in runs stored before it existed.
   */
  itemSplits?: [number, SplitName][];
}

export interface TrainingServiceDeps {
  db: Db;
  blobs: BlobStore;
  audit: AuditLog;
  runs: RunStore;
  splits: SplitService;
  ml: MlEngine;
  libraryDir: string;
  /** The library's models by name (ModelRegistry.get: verified, NOT_FOUND otherwise), for warm starts from an imported model. */
  model?: (name: string) => Promise<Pick<VerifiedModel, 'manifest' | 'files'>>;
}

/** How often a running run writes its heartbeat and looks for a cancel request from another process. */
const HEARTBEAT_MS = 1000;

export class TrainingService {
  readonly #d: TrainingServiceDeps;
  constructor(deps: TrainingServiceDeps) {
    this.#d = deps;
  }

  checkpointDir(runId: number): string {
    return join(this.#d.libraryDir, RUNS_DIR, String(runId));
  }

  /**
   * The recipe for a dataset and task, planned from its labelled data (no run is created), and the
   * config a planned run would start with (user overrides applied). Deterministic.
   */
  async plan(datasetId: number, task: TaskKind, request: TrainRequest = {}): Promise<{ plan: RecipePlan; config: TrainConfig }> {
    const { db, ml } = this.#d;
    const { collected } = collectForClasses(db, datasetId, task, request.classNames);
    if (collected.samples.length === 0) {
      throw new FoveaException('BAD_INPUT', `The dataset has no images labelled for ${task}. ${collected.warnings.join(' ')} Label some images (or import labels) first.`);
    }
    const defaults = ml.defaultConfig(task, collected.classNames, collected.channels);
    const facts = await measureDatasetFacts(
      { db, blobs: this.#d.blobs, readMask: maskReader(db) },
      { task, classNames: collected.classNames, channels: collected.channels, samples: collected.samples, ...(request.unlabeledPixels ? { unlabeledPixels: request.unlabeledPixels } : {}) },
    );
    // The plan's reasons name the patience the run will use (the user's, else the task's).
    const patience = request.earlyStoppingPatience ?? defaults.earlyStoppingPatience;
    const plan = planRecipe(facts, { defaults: { ...defaults, earlyStoppingPatience: patience }, accelerator: request.accelerator === true, timeBudgetSeconds: request.timeBudgetSeconds ?? null, patienceChosen: request.earlyStoppingPatience !== undefined, ...(request.lrSchedule ? { lrSchedule: request.lrSchedule } : {}), ...(request.encoder !== undefined ? { encoder: request.encoder } : {}) });
    const { classNames: _c, recipe: _r, accelerator: _a, augment, name: _n, notes: _t, warmStartRunId: _w, warmStartModelPath: _m, warmStartModelName: _mn, ...overrides } = request;
    const planned = applyPlan(defaults, plan);
    return { plan, config: { ...planned, ...definedOnly(overrides), augment: withAugment(planned.augment, augment), multiLabel: collected.multiLabel } };
  }

  /** Train a new model on a dataset. Resolves when the run ends (done, cancelled, stopped early or failed). */
  async train(datasetId: number, task: TaskKind, request: TrainRequest, cb: TrainCallbacks = {}): Promise<{ runId: number; outcome: TrainOutcome }> {
    const { db, ml, splits } = this.#d;
    const phases = new StartPhases((p) => cb.onPhase?.(p), { resumed: false });
    checkRegularisation(task, request);
    phases.collecting();
    const { classNames, recipe, accelerator: _accelerator, augment, name, notes, warmStartRunId: _warmRun, warmStartModelPath: _warmModel, warmStartModelName: _warmName, ...rest } = request;
    const source = await this.#warmSource(request, task);
    // A warm start keeps the source's input size unless another is asked for (a conv body fits either way; a classifier's depth follows the size).
    const overrides = source?.inputSize && rest.inputSize === undefined ? { ...rest, inputSize: source.inputSize } : rest;
    checkCopyPaste(db, datasetId, task, request);
    // Copy-paste (asked for, or on in the task's defaults): the samples carry their objects' outlines.
    const askedCopyPaste = request.augment?.copyPaste;
    const copyPaste = task === 'detection' && (askedCopyPaste ?? ml.defaultConfig(task, [], 1).augment.copyPaste ?? 0) > 0;
    const { collected } = collectForClasses(db, datasetId, task, classNames, { objectMasks: copyPaste });
    if (collected.samples.length === 0) {
      throw new FoveaException(
        'BAD_INPUT',
        `The dataset has no images labelled for ${task}. ${collected.warnings.join(' ')} Label some images (or import labels) first.`,
      );
    }
    const defaults = ml.defaultConfig(task, collected.classNames, collected.channels);
    // A time budget is a planned run: the plan fits the recipe to it.
    const planned = recipe === 'planned' || (request.timeBudgetSeconds ?? null) !== null;
    const config: TrainConfig = planned
      ? (await this.plan(datasetId, task, { ...request, ...(overrides.inputSize !== undefined ? { inputSize: overrides.inputSize } : {}) })).config
      : { ...defaults, ...definedOnly(overrides), augment: withAugment(defaults.augment, augment), multiLabel: collected.multiLabel };
    if (config.encoder && config.inputSize % 32 !== 0) {
      throw new FoveaException('VALIDATION', `With the pretrained encoder the input (or patch) size must be a multiple of 32 (got ${config.inputSize}).`, { inputSize: config.inputSize });
    }
    // Before anything is created: a source that does not fit is the request's VALIDATION error.
    if (source) config.warmStart = await this.#checkWarmStart(source, config);
    const split = splits.ensureSplits(datasetId, { seed: config.seed, stratifyBy: labelStratifier(db, datasetId) });
    const splitMap = splits.splitMap(datasetId);
    if ((config.augment.copyPaste ?? 0) > 0 && !collected.samples.some((s) => splitMap.get(s.itemId) === 'train' && pasteableObjects(s).length > 0)) {
      // Asked for: refused. On by default: off for this run, with a warning (a dataset of boxes only still trains).
      if ((askedCopyPaste ?? 0) > 0) throw new FoveaException('VALIDATION', `${COPY_PASTE_NEEDS_MASKS} (None in the train split.)`, { copyPaste: askedCopyPaste });
      config.augment = { ...config.augment, copyPaste: 0 };
      collected.warnings.push('Copy-paste is off for this run: no training image has an object with an instance mask or a polygon to paste.');
    }
    const provider = createLibraryBatchProvider({ blobs: this.#d.blobs, db }, { samples: samplesFor(db, config, collected.samples), splits: splitMap, config, onDecoded: (n) => phases.decoded(n) });
    if (provider.sampleCounts.train === 0 || provider.sampleCounts.val === 0) {
      provider.dispose();
      throw new FoveaException(
        'BAD_INPUT',
        `Training needs labelled images in both the train and the validation split (now ${provider.sampleCounts.train} and ${provider.sampleCounts.val}). ` +
          'Label more images, or assign some to the validation split.',
      );
    }
    // A plan that found the classes balanced keeps its 'no weights'.
    const weighted = config.plan ? config.plan.classWeights.value !== null : true;
    if (task !== 'detection' && config.classWeights === null && weighted) config.classWeights = provider.classWeights();
    const itemSplits: [number, SplitName][] = [];
    for (const id of new Set(collected.samples.map((s) => s.itemId))) {
      const sp = splitMap.get(id);
      if (sp !== undefined) itemSplits.push([id, sp]);
    }
    const snapshot: RunSnapshot = { samples: collected.snapshot, splits: split, itemSplits };
    const label = { name: name?.trim() ? name.trim() : null, notes: notes ?? '' };
    const runId = this.#d.runs.create(datasetId, config, snapshot, label);
    this.#d.audit.append({
      action: 'train.start',
      objectType: 'run',
      objectId: runId,
      details: {
        datasetId,
        task,
        samples: collected.samples.length,
        classNames: config.classNames,
        name: label.name,
        learningRate: config.learningRate,
        augment: config.augment,
        // The source's run or folder name (no path), and what was loaded.
        ...(config.warmStart
          ? { warmStart: { runId: config.warmStart.runId, ...(config.warmStart.model !== undefined ? { model: config.warmStart.model } : {}), ...(config.warmStart.onnx ? { onnx: config.warmStart.onnx } : {}), layersLoaded: config.warmStart.layersLoaded, layersNew: config.warmStart.layersNew } }
          : {}),
        ...(config.labelSmoothing ? { labelSmoothing: config.labelSmoothing } : {}),
        ...(config.mixup ? { mixup: config.mixup } : {}),
        ...(config.cutmix ? { cutmix: config.cutmix } : {}),
      },
    });
    cb.onStart?.({ runId, config, splits: split, samples: collected.samples.length, warnings: collected.warnings });
    try {
      phases.prepared(Math.min(config.batchSize, provider.sampleCounts.train), config.backend);
      return { runId, outcome: await this.#run(runId, config, provider, undefined, cb, phases) };
    } finally {
      provider.dispose();
    }
  }

  /**
   * The run a warm start loads: it must exist (NOT_FOUND), be of the same task and have a best
   * checkpoint (VALIDATION otherwise).
   */
  warmStartSource(runId: number, task: TaskKind): WarmSource {
    const run = this.#d.runs.get(runId);
    if (run.task !== task) throw new FoveaException('VALIDATION', `Run ${runId} is a ${run.task} run: a ${task} run can only start from a ${task} run.`, { warmStartRunId: runId });
    const dir = join(this.checkpointDir(runId), 'best');
    if (!existsSync(join(dir, 'model.json')) && !existsSync(join(`${dir}.old`, 'model.json'))) {
      throw new FoveaException('VALIDATION', `Run ${runId} has no trained weights to start from (${run.status}, ${run.epochsCompleted} epoch(s) completed).`, { warmStartRunId: runId });
    }
    return { runId, dir, classNames: run.config.classNames, inputSize: run.config.inputSize, label: `run ${runId}` };
  }

  /**
   * A TF.js layers model folder to warm-start from (absolute path to it or its model.json): its
   * classes and input size from a Fovea model card beside it, when there is one (VALIDATION for a
   * card of another task, a relative path, a folder without model.json or a graph model).
   */
  warmStartModel(path: string, task: TaskKind): WarmSource {
    if (!isAbsolute(path)) throw new FoveaException('VALIDATION', `${path} is not an absolute path: give the full path of the TF.js model folder or ONNX file.`);
    if (/\.onnx$/i.test(path)) return onnxFileSource(path, task);
    const dir = basename(path) === 'model.json' ? dirname(path) : path;
    const modelJson = join(dir, 'model.json');
    if (!existsSync(modelJson)) {
      throw new FoveaException('VALIDATION', `There is no TF.js model at ${dir} (no model.json). An ONNX model is given by its .onnx file, or imported and chosen by name.`);
    }
    let format: unknown;
    try {
      format = (JSON.parse(readFileSync(modelJson, 'utf8')) as { format?: unknown }).format;
    } catch (e) {
      throw new FoveaException('VALIDATION', `${modelJson} is not JSON: ${(e as Error).message}`);
    }
    if (format !== undefined && format !== 'layers-model') throw new FoveaException('VALIDATION', `${modelJson} is a TF.js ${String(format)}: only layers models have layer names to match.`);
    let classNames: string[] | null = null;
    let inputSize: number | null = null;
    const cardPath = join(dir, 'model-card.json');
    if (existsSync(cardPath)) {
      try {
        const card = JSON.parse(readFileSync(cardPath, 'utf8')) as unknown;
        if (isFoveaCard(card)) {
          if (card.task !== task) throw new FoveaException('VALIDATION', `The model at ${dir} is a ${card.task} model: a ${task} run can only start from a ${task} model.`);
          classNames = card.classes;
          const side = card.input.shape[1];
          inputSize = typeof side === 'number' ? side : null;
        }
      } catch (e) {
        if (e instanceof FoveaException) throw e;
      }
    }
    const model = basename(dir);
    return { runId: null, model, dir, classNames, inputSize, label: `model ${model}` };
  }

  /**
   * A model of the library to warm-start from, by name (an imported ONNX model): verified by the
   * registry (NOT_FOUND, or UNSUPPORTED with the reason it was refused), of the same task
   * (VALIDATION), its classes and input size from its manifest.
   */
  async warmStartImported(name: string, task: TaskKind): Promise<WarmSource> {
    if (!this.#d.model) throw new FoveaException('UNSUPPORTED', 'This library has no models to start a run from.');
    const vm = await this.#d.model(name);
    const m = vm.manifest;
    if (m.task !== task) throw new FoveaException('VALIDATION', `Model "${name}" is a ${m.task} model: a ${task} run can only start from a ${task} model.`, { warmStartModel: name });
    const file = vm.files['model'];
    if (!file) throw new FoveaException('VALIDATION', `Model "${name}" has no single model file to start from.`, { warmStartModel: name });
    return { runId: null, model: m.name, dir: file.path, classNames: [...(m.classes ?? [])], inputSize: m.input.width === m.input.height ? m.input.width : null, label: `model ${m.name}`, onnx: 'imported' };
  }

  async #warmSource(request: TrainRequest, task: TaskKind): Promise<WarmSource | null> {
    const given = [request.warmStartRunId, request.warmStartModelPath, request.warmStartModelName].filter((x) => x !== undefined).length;
    if (given > 1) throw new FoveaException('VALIDATION', 'Start from one run or one model, not several.');
    if (request.warmStartRunId !== undefined) return this.warmStartSource(request.warmStartRunId, task);
    if (request.warmStartModelPath !== undefined) return this.warmStartModel(request.warmStartModelPath, task);
    if (request.warmStartModelName !== undefined) return this.warmStartImported(request.warmStartModelName, task);
    return null;
  }

  /**
   * Whether a training request's warm start fits (a VALIDATION error naming the first layer that
   * does not), without creating anything: the request handler asks it before starting the job.
   */
  async checkWarmStartRequest(datasetId: number, task: TaskKind, request: TrainRequest): Promise<WarmStartInfo | null> {
    const source = await this.#warmSource(request, task);
    if (!source) return null;
    const { collected } = collectForClasses(this.#d.db, datasetId, task, request.classNames);
    if (collected.samples.length === 0) return null; // train() refuses it with its own message
    const { classNames: _c, recipe: _r, accelerator: _a, augment: _g, name: _n, notes: _t, warmStartRunId: _w, warmStartModelPath: _m, warmStartModelName: _mn, ...overrides } = request;
    const config: TrainConfig = { ...this.#d.ml.defaultConfig(task, collected.classNames, collected.channels), ...definedOnly(overrides), multiLabel: collected.multiLabel };
    if (overrides.inputSize === undefined && source.inputSize) config.inputSize = source.inputSize;
    return this.#checkWarmStart(source, config);
  }

  async #checkWarmStart(source: WarmSource, config: TrainConfig): Promise<WarmStartInfo> {
    const { ml } = this.#d;
    if (!ml.checkWarmStart) throw new FoveaException('UNSUPPORTED', 'This ML engine cannot start a run from another model.');
    const r = await ml.checkWarmStart(warmStartRef(source), config);
    if (!r.ok) {
      const label = source.label.charAt(0).toUpperCase() + source.label.slice(1);
      const size = source.inputSize && source.inputSize !== config.inputSize ? ` ${label} was trained at ${source.inputSize} px: leave the input size empty to use it.` : '';
      throw new FoveaException('VALIDATION', `Cannot start from ${source.label}: ${r.message}${size}`, { ...(source.runId !== null ? { warmStartRunId: source.runId } : {}), layer: r.layer });
    }
    return {
      runId: source.runId,
      ...(source.model !== undefined ? { model: source.model, modelDir: source.dir } : {}),
      ...(source.onnx ? { onnx: source.onnx } : {}),
      layersLoaded: r.loaded.length,
      layersNew: r.fresh.length,
      newLayers: r.fresh,
    };
  }

  /**
   * Continue an interrupted or cancelled run from its last completed epoch, on the same data;
   * `overrides.backend` continues it on another backend (checkpoints are backend-neutral).
   */
  async resume(runId: number, cb: TrainCallbacks = {}, overrides: { backend?: BackendPreference } = {}): Promise<{ runId: number; outcome: TrainOutcome }> {
    const { db, runs, splits } = this.#d;
    const phases = new StartPhases((p) => cb.onPhase?.(p), { resumed: true });
    runs.markInterrupted();
    const record = runs.get(runId);
    if (record.status === 'running') throw new FoveaException('CONFLICT', `Run ${runId} is still running (process alive); cancel it first.`);
    if (record.status === 'done' || record.status === 'stopped-early') {
      throw new FoveaException('CONFLICT', `Run ${runId} already finished (${record.status}); start a new run to train more.`);
    }
    const after = record.epochsCompleted;
    if (after > 0 && !existsSync(join(this.checkpointDir(runId), `epoch-${after}`))) {
      throw new FoveaException('NOT_FOUND', `The checkpoint of epoch ${after} of run ${runId} is missing from ${this.checkpointDir(runId)}; the run cannot be resumed.`);
    }
    const snapshot = runs.snapshot(runId) as RunSnapshot;
    const config = overrides.backend ? { ...record.config, backend: overrides.backend } : record.config;
    const classNames = config.task === 'segmentation' ? snapshot.samples.classNames.slice(1) : snapshot.samples.classNames;
    const collected = collectSamples(db, record.datasetId, config.task, {
      itemIds: [...new Set(snapshot.samples.samples.map((s) => s.itemId))],
      classNames,
      channels: config.channels,
      multiLabel: config.multiLabel,
      ...(config.task === 'detection' && (config.augment.copyPaste ?? 0) > 0 ? { objectMasks: true } : {}),
    });
    // The split the run started with (a redraw since then must not move its images); older runs: today's.
    const splitMap = snapshot.itemSplits ? new Map(snapshot.itemSplits) : splits.splitMap(record.datasetId);
    phases.collecting();
    const provider = createLibraryBatchProvider({ blobs: this.#d.blobs, db }, { samples: samplesFor(db, config, collected.samples), splits: splitMap, config, onDecoded: (n) => phases.decoded(n) });
    runs.reopen(runId);
    this.#d.audit.append({ action: 'train.resume', objectType: 'run', objectId: runId, details: { afterEpoch: after } });
    cb.onStart?.({ runId, config, splits: snapshot.splits, samples: collected.samples.length, warnings: collected.warnings });
    try {
      phases.prepared(Math.min(config.batchSize, provider.sampleCounts.train), config.backend);
      return { runId, outcome: await this.#run(runId, config, provider, after > 0 ? after : undefined, cb, phases) };
    } finally {
      provider.dispose();
    }
  }

  async #run(
    runId: number,
    config: TrainConfig,
    provider: ReturnType<typeof createLibraryBatchProvider>,
    resumeAfterEpoch: number | undefined,
    cb: TrainCallbacks,
    phases: StartPhases,
  ): Promise<TrainOutcome> {
    const { runs, ml, audit } = this.#d;
    const dir = this.checkpointDir(runId);
    mkdirSync(dir, { recursive: true });
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    cb.signal?.addEventListener('abort', onAbort);
    let lastBeat = 0;
    const beat = (): void => {
      const now = Date.now();
      if (now - lastBeat < HEARTBEAT_MS) return;
      lastBeat = now;
      if (runs.heartbeat(runId)) controller.abort();
    };
    const timer = setInterval(beat, HEARTBEAT_MS);
    // A run that starts afresh (not after a completed epoch) loads its warm start's weights again.
    const ws = resumeAfterEpoch === undefined ? (config.warmStart ?? null) : null;
    const warmStart = !ws
      ? null
      : ws.runId !== null
        ? warmStartRef(this.warmStartSource(ws.runId, config.task))
        : ws.onnx === 'imported' && ws.model !== undefined
          ? warmStartRef(await this.warmStartImported(ws.model, config.task))
          : ws.modelDir !== undefined
            ? warmStartRef(this.warmStartModel(ws.modelDir, config.task))
            : null;
    try {
      const outcome = await ml.train(config, provider, {
        checkpointDir: dir,
        ...(resumeAfterEpoch !== undefined ? { resumeAfterEpoch } : {}),
        ...(warmStart ? { warmStart } : {}),
        signal: controller.signal,
        onPhase: (phase) => phases.engine(phase),
        onBatch: (p) => {
          phases.trained();
          runs.recordBatch(runId, p);
          beat();
          cb.onBatch?.(runId, p);
        },
        onEpoch: (r) => {
          runs.recordEpoch(runId, r);
          cb.onEpoch?.(runId, r);
        },
      });
      runs.finish(runId, outcome);
      audit.append({ action: 'train.finish', objectType: 'run', objectId: runId, outcome: outcome.status === 'failed' ? 'failed' : outcome.status === 'cancelled' ? 'cancelled' : 'ok', details: { status: outcome.status, epochs: outcome.epochsCompleted, backend: outcome.backend } });
      return outcome;
    } finally {
      clearInterval(timer);
      cb.signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** The samples as the model sees them: 2.5-D runs get each slice's neighbours (slice-neighbours.ts). */
function samplesFor(db: Db, config: TrainConfig, samples: readonly Sample[]): readonly Sample[] {
  return config.slices === '2.5d' ? withNeighbours(db, samples) : samples;
}

/** The engine's view of a warm-start run: its best checkpoint and classes. */
function warmStartRef(source: WarmSource): WarmStartSourceRef {
  return { dir: source.dir, classNames: source.classNames, label: source.label, ...(source.onnx ? { format: 'onnx' as const } : {}) };
}

/**
 * An ONNX file to warm-start from (`--from-model PATH.onnx`): what it is from a Fovea model card
 * beside it (train.py's pack and Fovea's ONNX export write one), else from a pack manifest
 * (fovea-model.json) beside it; without either, its classes are unknown (a new head) and the
 * input size is the run's. VALIDATION for a missing file or a model of another task.
 */
function onnxFileSource(path: string, task: TaskKind): WarmSource {
  if (!existsSync(path)) throw new FoveaException('VALIDATION', `There is no ONNX model at ${path}.`);
  const dir = dirname(path);
  const readJson = (name: string): unknown => {
    try {
      return JSON.parse(readFileSync(join(dir, name), 'utf8')) as unknown;
    } catch {
      return null;
    }
  };
  let classNames: string[] | null = null;
  let inputSize: number | null = null;
  let srcTask: string | null = null;
  const card = existsSync(join(dir, 'model-card.json')) ? readJson('model-card.json') : null;
  const pack = existsSync(join(dir, MANIFEST_FILE)) ? v.safeParse(ModelManifestSchema, readJson(MANIFEST_FILE)) : null;
  if (isFoveaCard(card)) {
    srcTask = card.task;
    classNames = card.classes;
    const side = card.input.shape[1];
    inputSize = typeof side === 'number' ? side : null;
  } else if (pack?.success) {
    srcTask = pack.output.task;
    classNames = pack.output.classes ? [...pack.output.classes] : null;
    inputSize = pack.output.input.width === pack.output.input.height ? pack.output.input.width : null;
  }
  if (srcTask !== null && srcTask !== task) throw new FoveaException('VALIDATION', `The model at ${path} is a ${srcTask} model: a ${task} run can only start from a ${task} model.`);
  const stem = basename(path).replace(/\.onnx$/i, '');
  const model = pack?.success ? pack.output.name : stem === 'model' ? basename(dir) : stem;
  return { runId: null, model, dir: path, classNames, inputSize, label: `model ${model}`, onnx: 'file' };
}

/** The default augmentation with the choices made over it. */
function withAugment(defaults: AugmentConfig, choices: Partial<AugmentConfig> | undefined): AugmentConfig {
  return { ...defaults, ...definedOnly(choices ?? {}) };
}

/**
 * Rename a run and/or change its notes (one door: the request 'runs.update' and `fovea runs
 * rename|note` both call it). Audited with the old and new values.
 */
export function updateRunLabel(deps: { runs: RunStore; audit: AuditLog }, runId: number, change: { name?: string | undefined; notes?: string | undefined }): void {
  const before = deps.runs.get(runId); // NOT_FOUND first
  const name = change.name === undefined ? undefined : change.name.trim() ? change.name.trim() : null;
  deps.runs.setLabel(runId, { ...(name !== undefined ? { name } : {}), ...(change.notes !== undefined ? { notes: change.notes } : {}) });
  deps.audit.append({
    action: 'run.update',
    objectType: 'run',
    objectId: runId,
    details: {
      ...(name !== undefined ? { name: { from: before.name, to: name } } : {}),
      ...(change.notes !== undefined ? { notes: { fromChars: before.notes.length, toChars: change.notes.length } } : {}),
    },
  });
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
