/**
 * The training loop, shared by the worker and the workerless engine.
 *
 * A custom loop (tf.variableGrads + optimizer.applyGradients per batch), not
 * model.fit: detection needs its own loss, batches stream from a provider on
 * another thread, and checkpoints must hold the optimizer state to resume.
 *
 * Epochs are numbered from 1; the provider is asked for batch `index` of
 * `epoch` with those numbers. After epoch N:
 *   checkpointDir/epoch-N   model + optimizer + state.json (for resume); only
 *                           the last two are kept, to bound disk use
 *   checkpointDir/best      model + state.json of the best epoch so far
 *   checkpointDir/last      (when train returns) the last completed epoch's model
 *
 * Monitor (what picks the best epoch, and what early stopping waits on): the
 * validation loss (lower is better), defined for every task and smooth from
 * the first epoch, where accuracy or Dice on a small validation set move in
 * steps. Detection with validation images is the exception: its best epoch
 * is the one with the highest validation AP@0.5 (ties: the lower validation
 * loss), the measure a detector is judged by, which its loss (focal heatmap
 * plus box regression) follows loosely (monitorFor). Measured on Penn-Fudan
 * (`npm run bench -- targets --sets pennfudan`, 15 minutes, seeds 1-3, both
 * checkpoints of the same run, each with its own decoding tuned on
 * validation, on the 24 held-out images): AP@0.5 0.851 / 0.732 / 0.685 for
 * the AP-best epoch against 0.721 / 0.705 / 0.555 for the loss-best one (the
 * validation loss still fell at the end; AP had peaked earlier on seed 1).
 * Without validation batches the training loss is monitored instead (and
 * reported as valLoss).
 *
 * Classification recipe: each training batch is mixed (mixup / CutMix, batch-mix.ts) just
 * before its step when the config asks for it, seeded by (seed, epoch, batch) so a resumed run
 * mixes the same way; label smoothing applies to the training loss only (the validation loss,
 * the monitor, stays the plain cross-entropy, comparable between runs).
 *
 * Backends: 'auto' takes preflight's choice; an explicit backend that is not
 * available fails with BACKEND_UNAVAILABLE and preflight's reason (never a
 * silent fallback); the cpu backend refuses to train.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { BackendName, MlPreflight } from '../../electron/contract/domain';
import type { Batch, BatchProgress, EpochResult, TrainConfig, TrainOutcome, TrainPhase } from '../../electron/contract/ml';
import { dataParallelThreads } from '../backends/threads';
import { initWasmBackend } from '../backends/wasm-setup';
import { initWebGpuBackend, takeWebGpuFault } from '../backends/webgpu-setup';
import { createModel, taskHooks, validateConfig, type TaskHooks } from '../models/index';
import { checkpointExists, copyCheckpoint, loadCheckpointModel, loadOptimizerState, readCheckpointState, saveCheckpoint } from './checkpoint-io';
import type { WorkerTrainOptions } from './protocol';
import { chooseBackend, threadPreflight } from './backend';
import { isOutOfMemory, outOfMemoryMessage } from './errors';
import { mixBatch } from './batch-mix';
import { DataParallel, ReplicaFailure, type DataParallelOptions } from './data-parallel';
import { adam, type FusedAdamOptimizer } from './fused-adam';
import { scheduledLearningRate, scheduleProgress } from './lr-schedule';
import { TrainingBudget } from './time-budget';
import { calibrateFoldedBatchNorms } from './onnx-warm-start';
import { applyWarmStart, WarmStartMismatch } from './warm-start';
import { tuneDetectionDecoding } from './tune-decoding';

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------
// Backends

/** Makes `name` the active tfjs backend of this thread. */
export async function activateBackend(name: BackendName): Promise<void> {
  switch (name) {
    case 'tensorflow-gpu':
    case 'tensorflow-cpu':
      // Preflight loaded the binding in this thread (registering 'tensorflow');
      // requiring it again is a no-op then, and loads it if preflight was injected.
      if (tf.findBackend('tensorflow') == null) require(name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node');
      if (!(await tf.setBackend('tensorflow'))) throw new Error(`the ${name} backend failed to initialise`);
      break;
    case 'webgpu':
      await initWebGpuBackend();
      break;
    case 'wasm':
      await initWasmBackend();
      break;
    case 'cpu':
      if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend failed to initialise');
      break;
  }
  await tf.ready();
}

/**
 * After the wasm module aborted (its heap exhausted), every later call into
 * it aborts too. Registers a fresh instance so this thread can go on; the
 * dead module's memory is freed once nothing references it. (In a worker,
 * the worker is simply discarded instead.)
 */
let backendResets = 0;

/** How many times this thread replaced its wasm backend: tensors and models from before a reset are dead. */
export function backendGeneration(): number {
  return backendResets;
}

export async function resetWasmBackendAfterAbort(): Promise<void> {
  backendResets++;
  const engine = tf.engine() as unknown as {
    registryFactory: Record<string, { factory: () => tf.KernelBackend | Promise<tf.KernelBackend>; priority: number } | undefined>;
    registry: Record<string, tf.KernelBackend | undefined>;
    backendName: string | null;
    backendInstance: tf.KernelBackend | null;
    pendingBackendInit: Promise<boolean> | null;
  };
  const entry = engine.registryFactory['wasm'];
  if (!entry) return;
  try {
    tf.removeBackend('wasm');
  } catch {
    // Disposing the dead module aborts again: drop it by hand.
    delete engine.registry['wasm'];
    delete engine.registryFactory['wasm'];
    if (engine.backendName === 'wasm') {
      engine.backendName = null;
      engine.backendInstance = null;
      engine.pendingBackendInit = null;
    }
  }
  tf.registerBackend('wasm', entry.factory, entry.priority);
  await tf.setBackend('wasm');
}

// ---------------------------------------------------------------------------
// Errors

/** The wasm backend's heap: 32-bit addresses, grown up to 4 GiB. */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;

/**
 * A lower bound of the memory one training step needs: every layer's output
 * for the batch (kept for the backward pass), the largest one again (its
 * gradient), and weights, gradients and Adam's two moments.
 */
export function estimateTrainingBytes(model: tf.LayersModel, batchSize: number): number {
  let forward = 0;
  let largest = 0;
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const shapes = (Array.isArray(layer.outputShape[0]) || layer.outputShape.length === 0 ? layer.outputShape : [layer.outputShape]) as (number | null)[][];
    for (const shape of shapes) {
      const bytes = shape.slice(1).reduce<number>((a, d) => a * (d ?? 1), 1) * batchSize * 4;
      forward += bytes;
      largest = Math.max(largest, bytes);
    }
  }
  return forward + largest + model.countParams() * 4 * 4;
}

class TrainingError extends Error {
  constructor(
    readonly code: 'OUT_OF_MEMORY' | 'BACKEND_UNAVAILABLE' | 'INTERNAL',
    message: string,
  ) {
    super(message);
  }
}

/**
 * A GPU fault (device lost, out of GPU memory, a shader that failed to compile) stops the run: the
 * step that saw it is not trusted, the last checkpoint (written before this epoch) stays intact,
 * and the message says how to go on. Never a silent switch to the CPU.
 */
function checkGpuFault(backend: BackendName, config: TrainConfig, epoch: number): void {
  if (backend !== 'webgpu') return;
  const fault = takeWebGpuFault();
  if (fault == null) return;
  const resume = epoch > 1 ? ` The checkpoint of epoch ${epoch - 1} is intact: resume with \`fovea train --resume RUN\` (add \`--backend wasm\` to continue on the CPU).` : ' No epoch had completed.';
  if (/out of GPU memory/i.test(fault)) throw new TrainingError('OUT_OF_MEMORY', `${outOfMemoryMessage(config, fault)}${resume}`);
  throw new TrainingError('BACKEND_UNAVAILABLE', `Training stopped at epoch ${epoch}: ${fault}${resume}`);
}

// ---------------------------------------------------------------------------
// Run state kept with every checkpoint (state.json)

/** What picks the best epoch (see the header). */
export type Monitor = 'valLoss' | 'valAp50';

/** Detection with validation batches: validation AP@0.5; every other run: the validation loss. */
export function monitorFor(task: TrainConfig['task'], valBatches: number): Monitor {
  return task === 'detection' && valBatches > 0 ? 'valAp50' : 'valLoss';
}

/** Whether `epoch` beats the run's best epoch so far under `monitor`. */
export function isBetterEpoch(monitor: Monitor, epoch: Pick<EpochResult, 'valLoss' | 'valMetrics'>, run: Pick<RunBookkeeping, 'bestEpoch' | 'bestMonitor' | 'history'>): boolean {
  if (run.bestEpoch == null || run.bestMonitor == null) return true;
  if (monitor === 'valLoss') return epoch.valLoss < run.bestMonitor;
  const ap = epoch.valMetrics['ap50'] ?? 0;
  if (ap !== run.bestMonitor) return ap > run.bestMonitor;
  const bestLoss = run.history.find((h) => h.epoch === run.bestEpoch)?.valLoss ?? Infinity;
  return epoch.valLoss < bestLoss;
}

/** Early-stopping and best-epoch bookkeeping; restored on resume. */
export interface RunBookkeeping {
  bestEpoch: number | null;
  /** Monitor value of the best epoch (valLoss: lower is better; valAp50: higher is better). */
  bestMonitor: number | null;
  bestValMetrics: Record<string, number> | null;
  epochsSinceBest: number;
  stoppedEarly: boolean;
  history: EpochResult[];
}

export interface CheckpointState {
  format: 'fovea-checkpoint';
  version: 1;
  /** The epoch whose end this checkpoint is. */
  epoch: number;
  monitor: Monitor;
  config: TrainConfig;
  backend: BackendName;
  tfjs: string;
  savedAt: string;
  run: RunBookkeeping;
}

export const epochDir = (checkpointDir: string, epoch: number): string => join(checkpointDir, `epoch-${epoch}`);

// ---------------------------------------------------------------------------
// The loop

export interface TrainerProvider {
  batchesPerEpoch: { train: number; val: number };
  batch(split: 'train' | 'val', epoch: number, index: number): Promise<Batch>;
}

export interface TrainerCallbacks {
  onBatch?: (p: BatchProgress) => void;
  onEpoch?: (r: EpochResult) => void;
  onCheckpoint?: (epoch: number, path: string) => void;
  /** The backend is active (before the first batch). */
  onStarted?: (backend: BackendName) => void;
  /** Before the first batch has trained: 'building-model', 'waiting-for-data', 'first-step', once each. */
  onPhase?: (phase: TrainPhase) => void;
  /** Polled at every batch boundary. */
  isCancelled: () => boolean;
}

export interface TrainerDeps {
  /** This thread's preflight (injectable for tests). */
  preflight?: () => Promise<MlPreflight>;
  /** Whether a wasm abort may be recovered in this thread (workerless); a worker is discarded instead. */
  recoverWasmAfterAbort?: boolean;
  /** Tests only: a fault injected into a data-parallel replica. */
  dataParallel?: DataParallelOptions;
}

const toArray = (t: tf.Tensor | tf.Tensor[]): tf.Tensor[] => (Array.isArray(t) ? t : [t]);

/** A batch's input side: its own (detection multi-scale training, fully convolutional) or the config's. */
const sideOf = (b: Batch, config: TrainConfig): number => b.inputSize ?? config.inputSize;

function checkBatch(b: Batch, config: TrainConfig): void {
  const side = sideOf(b, config);
  const want = b.n * side * side * config.channels;
  if (!(b.n >= 1)) throw new TrainingError('INTERNAL', `the data pipeline produced an empty batch`);
  if (b.inputSize !== undefined && (config.task !== 'detection' || b.inputSize % 16 !== 0)) throw new TrainingError('INTERNAL', `a batch of side ${b.inputSize} for a ${config.task} run of ${config.inputSize} px (only detection trains at other sides, multiples of 16)`);
  if (b.x.length !== want) throw new TrainingError('INTERNAL', `batch of ${b.n} images has ${b.x.length} values; expected ${want} (${side}x${side}x${config.channels} each)`);
  if (b.targets.task !== config.task) throw new TrainingError('INTERNAL', `a ${b.targets.task} batch for a ${config.task} run`);
}

/** Deterministic per-step dropout seeds (see setDropoutSeeds). */
function stepSeed(seed: number, epoch: number, index: number, layer: number): number {
  let h = Math.imul(seed | 0, 0x85ebca6b) ^ Math.imul(epoch + 1, 0xc2b2ae35) ^ Math.imul(index + 1, 0x27d4eb2f) ^ Math.imul(layer + 1, 0x165667b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return (h >>> 0) % 2147483647;
}

/**
 * tfjs's Dropout draws its mask from `layer.seed` when set (the same mask at
 * every step) or from Math.random. Setting a seed derived from (run seed,
 * epoch, batch) before each step gives fresh masks every step that a run,
 * and a resumed run, reproduce exactly.
 */
function setDropoutSeeds(model: tf.LayersModel, seed: number, epoch: number, index: number): void {
  model.layers.forEach((layer, j) => {
    if (layer.getClassName() === 'Dropout') (layer as unknown as { seed?: number }).seed = stepSeed(seed, epoch, index, j);
  });
}

/** Read-backs are asynchronous: a synchronous read of a GPU tensor throws in Node (webgpu). */
async function trainStep(model: tf.LayersModel, optimizer: tf.Optimizer, hooks: TaskHooks, varList: tf.Variable[], batch: Batch, config: TrainConfig): Promise<{ loss: number; stats: Float32Array | null }> {
  const x = tf.tensor4d(batch.x, [batch.n, sideOf(batch, config), sideOf(batch, config), config.channels]);
  const targets = hooks.targets(batch);
  let stats: tf.Tensor | null = null;
  try {
    const { value, grads } = tf.variableGrads(() => {
      const outs = toArray(model.apply(x, { training: true }) as tf.Tensor | tf.Tensor[]);
      const r = hooks.lossAndStats(outs, targets, true);
      if (r.stats) stats = tf.keep(r.stats);
      return r.loss;
    }, varList);
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
    const loss = ((await value.data()) as Float32Array)[0] as number;
    value.dispose();
    const s = stats as tf.Tensor | null;
    return { loss, stats: s ? Float32Array.from((await s.data()) as Float32Array) : null };
  } finally {
    tf.dispose([x, ...targets]);
    (stats as tf.Tensor | null)?.dispose();
  }
}

async function evalStep(model: tf.LayersModel, hooks: TaskHooks, batch: Batch, config: TrainConfig, acc: ReturnType<TaskHooks['newMetrics']>): Promise<number> {
  const { outs, loss, stats } = tf.tidy(() => {
    const x = tf.tensor4d(batch.x, [batch.n, config.inputSize, config.inputSize, config.channels]);
    const targets = hooks.targets(batch);
    const outs = toArray(model.apply(x, { training: false }) as tf.Tensor | tf.Tensor[]);
    const r = hooks.lossAndStats(outs, targets);
    return { outs, loss: r.loss as tf.Tensor, stats: r.stats ? [r.stats] : [] };
  });
  try {
    const lossValue = ((await loss.data()) as Float32Array)[0] as number;
    const st = stats[0];
    await acc.add(st ? Float32Array.from((await st.data()) as Float32Array) : null, batch, outs);
    return lossValue;
  } finally {
    tf.dispose([...outs, loss, ...stats]);
  }
}

/** Training batches the calibration of folded batch norms reads (epoch 1's first ones). */
const CALIBRATION_BATCHES = 8;

async function* calibrationBatches(provider: TrainerProvider, config: TrainConfig, n: number): AsyncGenerator<tf.Tensor4D> {
  for (let i = 0; i < n; i++) {
    const b = await provider.batch('train', 1, i);
    const x = tf.tensor4d(b.x, [b.n, sideOf(b, config), sideOf(b, config), config.channels]);
    try {
      yield x;
    } finally {
      x.dispose();
    }
  }
}

/** Fetches a batch; a prefetched promise that is never awaited (cancel) must not be an unhandled rejection. */
function fetchBatch(provider: TrainerProvider, split: 'train' | 'val', epoch: number, index: number): Promise<Batch> {
  const p = provider.batch(split, epoch, index);
  p.catch(() => undefined);
  return p;
}

function pruneEpochCheckpoints(checkpointDir: string, keep: Set<number>): void {
  if (!existsSync(checkpointDir)) return;
  for (const e of readdirSync(checkpointDir)) {
    const m = /^epoch-(\d+)(\.tmp|\.old)?$/.exec(e);
    if (m && !keep.has(Number(m[1]))) rmSync(join(checkpointDir, e), { recursive: true, force: true });
  }
}

/**
 * Trains per config. Never throws for training failures: they come back as
 * the outcome's error (OUT_OF_MEMORY, BACKEND_UNAVAILABLE, INTERNAL).
 */
export async function runTraining(config: TrainConfig, provider: TrainerProvider, options: WorkerTrainOptions, cb: TrainerCallbacks, deps: TrainerDeps = {}): Promise<TrainOutcome> {
  let backend: BackendName = 'wasm';
  let warning: string | undefined;
  let decoding: TrainOutcome['decoding'];
  let epochsCompleted = options.resumeAfterEpoch ?? 0;
  let run: RunBookkeeping = { bestEpoch: null, bestMonitor: null, bestValMetrics: null, epochsSinceBest: 0, stoppedEarly: false, history: [] };
  const outcome = (status: TrainOutcome['status'], error: TrainOutcome['error'] = null): TrainOutcome => ({
    status,
    epochsCompleted,
    bestEpoch: run.bestEpoch,
    bestValMetrics: run.bestValMetrics,
    backend,
    error,
    ...(warning ? { warning } : {}),
    ...(decoding ? { decoding } : {}),
  });

  const invalid = validateConfig(config);
  if (invalid) return outcome('failed', { code: 'INTERNAL', message: `Invalid training settings: ${invalid}` });

  // Backend first: nothing else is worth doing without one.
  try {
    const pf = await (deps.preflight ?? threadPreflight)();
    const choice = chooseBackend(config.backend, pf, 'train');
    backend = choice.backend;
    if (!choice.ok) return outcome('failed', { code: 'BACKEND_UNAVAILABLE', message: choice.message });
    await activateBackend(choice.backend);
    if (choice.warning) warning = choice.warning;
    cb.onStarted?.(choice.backend);
    cb.onPhase?.('building-model');
  } catch (e) {
    return outcome('failed', { code: 'BACKEND_UNAVAILABLE', message: `The ${backend} backend failed to start: ${(e as Error).message}` });
  }

  let model: tf.LayersModel | null = null;
  let optimizer: FusedAdamOptimizer | null = null;
  // Data-parallel training (data-parallel.ts; threads.ts says when): replicas of the model in worker threads.
  let dp: DataParallel | null = null;
  try {
    const hooks = taskHooks(config);
    const nTrain = provider.batchesPerEpoch.train;
    const nVal = provider.batchesPerEpoch.val;
    if (!(nTrain >= 1)) throw new TrainingError('INTERNAL', 'There are no training batches: the training split is empty.');

    optimizer = adam(config.learningRate);
    let monitor = monitorFor(config.task, nVal);
    const start = options.resumeAfterEpoch ?? 0;
    if (start > 0) {
      const dir = epochDir(options.checkpointDir, start);
      if (!checkpointExists(dir)) throw new TrainingError('INTERNAL', `Cannot resume: there is no checkpoint for epoch ${start} in ${options.checkpointDir}.`);
      const state = readCheckpointState<CheckpointState>(dir);
      if (!state || state.format !== 'fovea-checkpoint') throw new TrainingError('INTERNAL', `Cannot resume: ${dir} has no Fovea run state.`);
      const c = state.config;
      if (c.task !== config.task || c.inputSize !== config.inputSize || c.channels !== config.channels || c.classNames.length !== config.classNames.length || c.multiLabel !== config.multiLabel) {
        throw new TrainingError('INTERNAL', `Cannot resume: the checkpoint was trained with different settings (${c.task}, ${c.inputSize}px, ${c.channels} channels, ${c.classNames.length} classes).`);
      }
      model = await loadCheckpointModel(dir);
      if (!(await loadOptimizerState(dir, optimizer))) throw new TrainingError('INTERNAL', `Cannot resume: ${dir} has no optimizer state.`);
      run = state.run;
      // A run continues with the monitor its best epoch so far was chosen by.
      monitor = state.monitor ?? 'valLoss';
      epochsCompleted = start;
      if (run.stoppedEarly) return outcome('stopped-early');
    } else {
      model = createModel(config);
      if (options.warmStart) {
        try {
          const loaded = await applyWarmStart(model, options.warmStart, config);
          // Batch norms an ONNX exporter folded into their convs: their statistics, measured on a few training batches.
          if (loaded.folded?.length) await calibrateFoldedBatchNorms(model, loaded.folded, calibrationBatches(provider, config, Math.min(nTrain, CALIBRATION_BATCHES)));
        } catch (e) {
          if (e instanceof WarmStartMismatch) throw new TrainingError('INTERNAL', `Cannot start from ${options.warmStart.label}: ${e.message}`);
          throw e;
        }
      }
    }
    if (backend === 'wasm') {
      // Multi-scale detection: the largest side a batch may have (activations grow with its square).
      const largest = config.task === 'detection' ? Math.floor((config.inputSize * (1 + (config.augment.multiScale ?? 0))) / 32) * 32 : config.inputSize;
      const need = estimateTrainingBytes(model, config.batchSize) * Math.max(1, (largest / config.inputSize) ** 2);
      if (need > WASM_HEAP_BYTES) {
        throw new TrainingError('OUT_OF_MEMORY', outOfMemoryMessage(config, `one training step needs at least ${(need / 2 ** 30).toFixed(1)} GiB; the wasm backend's memory is limited to 4 GiB`));
      }
    }
    const varList = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const dpThreads = dataParallelThreads(backend, config.task);
    if (dpThreads > 1) dp = new DataParallel(config, model, dpThreads, deps.dataParallel);
    cb.onPhase?.('waiting-for-data');
    let firstStep = true;

    // Timing over this call's training steps (waiting for batches included), for the ETA.
    let trainSeconds = 0;
    let trainBatches = 0;
    let valSecondsPerBatch: number | null = null;
    // A time budget (time-budget.ts) ends the run in time; a resumed run gets its budget afresh.
    const budget = config.timeBudgetSeconds ? new TrainingBudget(config.timeBudgetSeconds) : null;
    // Detection validates once more after the last epoch, to tune its decoding: the budget keeps time for it.
    const valPasses = config.task === 'detection' && nVal > 0 ? 2 : 1;

    for (let epoch = start + 1; epoch <= config.epochs; epoch++) {
      if (budget) {
        const perBatch = trainBatches > 0 ? trainSeconds / trainBatches : 0;
        if (!budget.nextEpochFits(perBatch, valPasses * nVal * (valSecondsPerBatch ?? perBatch / 3))) break;
      }
      const epochT0 = performance.now();
      const trainAcc = hooks.newMetrics('train');
      let lossSum = 0;
      let lossCount = 0;
      let epochImages = 0;
      let epochTrainSeconds = 0;
      let epochLearningRate = config.learningRate;
      let next = fetchBatch(provider, 'train', epoch, 0);
      for (let i = 0; i < nTrain; i++) {
        if (cb.isCancelled()) return outcome('cancelled');
        if (budget) {
          const perBatch = trainBatches > 0 ? trainSeconds / trainBatches : 0;
          if (!budget.takeBatch(i, perBatch, valPasses * nVal * (valSecondsPerBatch ?? perBatch / 3))) break;
        }
        const t0 = performance.now();
        const batch = await next;
        if (cb.isCancelled()) return outcome('cancelled');
        if (i + 1 < nTrain) next = fetchBatch(provider, 'train', epoch, i + 1);
        checkBatch(batch, config);
        setDropoutSeeds(model, config.seed, epoch, i);
        if (firstStep) {
          firstStep = false;
          cb.onPhase?.('first-step');
        }
        // The learning-rate schedule (lr-schedule.ts): the rate of this step.
        epochLearningRate = scheduledLearningRate(config.lrSchedule, config.learningRate, scheduleProgress({ budgetSeconds: budget ? budget.seconds : null, elapsedSeconds: budget ? budget.elapsed() : 0, epoch, batch: i, batchesPerEpoch: nTrain, epochs: config.epochs }));
        optimizer.setLearningRate(epochLearningRate);
        // Mixup / CutMix (classification, when asked for): deterministic per (seed, epoch, batch).
        const mixed = mixBatch(batch, config, epoch, i).batch;
        const r = dp ? await dp.step(model, optimizer, hooks, varList, mixed, config, { epoch, index: i }) : await trainStep(model, optimizer, hooks, varList, mixed, config);
        checkGpuFault(backend, config, epoch);
        if (!Number.isFinite(r.loss)) throw new TrainingError('INTERNAL', `Training diverged (loss ${r.loss} at epoch ${epoch}, batch ${i + 1}). Try a lower learning rate (e.g. ${config.learningRate / 10}).`);
        trainAcc.add(r.stats, batch, null);
        lossSum += r.loss * batch.n;
        lossCount += batch.n;
        const dt = (performance.now() - t0) / 1000;
        epochTrainSeconds += dt;
        trainSeconds += dt;
        epochImages += batch.n;
        trainBatches++;
        const secPerTrainBatch = trainSeconds / trainBatches;
        const remainingEpochs = config.epochs - epoch;
        const valPerBatch = valSecondsPerBatch ?? secPerTrainBatch / 3;
        cb.onBatch?.({
          epoch,
          batch: i + 1,
          batchesPerEpoch: nTrain,
          loss: lossSum / lossCount,
          metrics: trainAcc.result(),
          imagesPerSecond: epochImages / Math.max(1e-9, epochTrainSeconds),
          etaSeconds: Math.min(budget ? budget.left() : Infinity, (nTrain - i - 1 + nTrain * remainingEpochs) * secPerTrainBatch + nVal * (remainingEpochs + 1) * valPerBatch),
          ...(budget ? { budgetLeftSeconds: budget.left() } : {}),
        });
      }
      const trainLoss = lossSum / lossCount;
      const trainMetrics = trainAcc.result();

      // Validation over every val batch.
      const valAcc = hooks.newMetrics('val');
      let valLossSum = 0;
      let valCount = 0;
      const valT0 = performance.now();
      if (nVal > 0) {
        let nextVal = fetchBatch(provider, 'val', epoch, 0);
        for (let i = 0; i < nVal; i++) {
          if (cb.isCancelled()) return outcome('cancelled');
          const batch = await nextVal;
          if (cb.isCancelled()) return outcome('cancelled');
          if (i + 1 < nVal) nextVal = fetchBatch(provider, 'val', epoch, i + 1);
          checkBatch(batch, config);
          valLossSum += (await evalStep(model, hooks, batch, config, valAcc)) * batch.n;
          checkGpuFault(backend, config, epoch);
          valCount += batch.n;
        }
        valSecondsPerBatch = (performance.now() - valT0) / 1000 / nVal;
      }
      const valLoss = valCount > 0 ? valLossSum / valCount : trainLoss;
      const valMetrics = valCount > 0 ? valAcc.result() : {};
      if (!Number.isFinite(valLoss)) throw new TrainingError('INTERNAL', `Validation loss is ${valLoss} at epoch ${epoch}. Try a lower learning rate (e.g. ${config.learningRate / 10}).`);

      const best = isBetterEpoch(monitor, { valLoss, valMetrics }, run);
      if (best) {
        run.bestEpoch = epoch;
        run.bestMonitor = monitor === 'valAp50' ? (valMetrics['ap50'] ?? 0) : valLoss;
        run.bestValMetrics = valMetrics;
        run.epochsSinceBest = 0;
      } else {
        run.epochsSinceBest++;
      }
      const result: EpochResult = { epoch, trainLoss, trainMetrics, valLoss, valMetrics, best, seconds: (performance.now() - epochT0) / 1000, ...(config.lrSchedule === 'cosine' ? { learningRate: epochLearningRate } : {}) };
      budget?.epochDone();
      run.history.push(result);
      run.stoppedEarly = config.earlyStoppingPatience > 0 && run.epochsSinceBest >= config.earlyStoppingPatience && epoch < config.epochs;

      // Nothing of this epoch is saved if the GPU faulted while it ran.
      checkGpuFault(backend, config, epoch);
      const state: CheckpointState = { format: 'fovea-checkpoint', version: 1, epoch, monitor, config, backend, tfjs: tf.version.tfjs, savedAt: new Date().toISOString(), run };
      const dir = epochDir(options.checkpointDir, epoch);
      await saveCheckpoint(dir, model, { optimizer, state });
      cb.onCheckpoint?.(epoch, dir);
      if (best) {
        const bestDir = join(options.checkpointDir, 'best');
        await saveCheckpoint(bestDir, model, { state });
        cb.onCheckpoint?.(epoch, bestDir);
      }
      pruneEpochCheckpoints(options.checkpointDir, new Set([epoch, epoch - 1]));
      epochsCompleted = epoch;
      cb.onEpoch?.(result);
      if (run.stoppedEarly) break;
    }
    // Detection: the decoding that maximises validation AP on the best checkpoint (tune-decoding.ts).
    // The run itself succeeded: a failure here leaves the default decoding and says so.
    if (config.task === 'detection' && run.bestEpoch != null && nVal > 0) {
      try {
        decoding = (await tuneDetectionDecoding(join(options.checkpointDir, 'best'), run.bestEpoch, provider, config, cb.isCancelled)) ?? undefined;
      } catch (e) {
        const why = `Tuning the detection decoding on the validation split failed (${e instanceof Error ? e.message : String(e)}); the run keeps the default decoding.`;
        warning = warning ? `${warning} ${why}` : why;
      }
      if (cb.isCancelled()) return outcome('cancelled');
    }
    return outcome(run.stoppedEarly ? 'stopped-early' : 'done');
  } catch (e) {
    if (e instanceof TrainingError) return outcome('failed', { code: e.code, message: e.message });
    if (e instanceof ReplicaFailure) {
      const resume = epochsCompleted > 0 ? ` The checkpoint of epoch ${epochsCompleted} is intact: resume with \`fovea train --resume RUN\` (add \`--threads 1\` to train without replicas).` : ' No epoch had completed.';
      return outcome('failed', e.outOfMemory ? { code: 'OUT_OF_MEMORY', message: outOfMemoryMessage(config, e.message) } : { code: 'INTERNAL', message: `Training failed: ${e.message}.${resume}` });
    }
    if (isOutOfMemory(e, backend)) {
      const message = outOfMemoryMessage(config, e instanceof Error ? e.message : String(e));
      // A wasm module that trapped or aborted (its heap exhausted) stays unusable.
      if (backend === 'wasm' && deps.recoverWasmAfterAbort) {
        model = null; // its memory died with the module: nothing to dispose
        optimizer = null;
        await resetWasmBackendAfterAbort().catch(() => undefined);
      }
      return outcome('failed', { code: 'OUT_OF_MEMORY', message });
    }
    const err = e as Error;
    return outcome('failed', { code: 'INTERNAL', message: `Training failed: ${err?.message ?? String(e)}` });
  } finally {
    // Every replica thread ends with the run, whatever ended it.
    await dp?.close();
    try {
      optimizer?.dispose();
      model?.dispose();
    } catch {
      /* a dead backend: nothing left to free */
    }
    if (epochsCompleted > 0) {
      try {
        const src = epochDir(options.checkpointDir, epochsCompleted);
        if (checkpointExists(src)) copyCheckpoint(src, join(options.checkpointDir, 'last'));
      } catch {
        /* last/ is a convenience copy; epoch-N stays */
      }
    }
  }
}
