/**
 * Fovea's MlEngine over TensorFlow.js: `createMlEngine()`.
 *
 * train() runs the training loop in a worker_threads Worker, so the calling
 * thread (Electron's main process, the CLI) stays responsive; the
 * BatchProvider stays on the calling thread (it decodes images from the
 * library) and answers the worker's batch requests. A batch's typed arrays
 * are TRANSFERRED to the worker: a provider must not reuse a Batch's
 * buffers after returning it (views into a larger buffer are copied first).
 *
 * `workerless: true` runs the same loop in this thread (tests, debugging).
 *
 * predict() runs in a long-lived inference worker (the same entry, started
 * with workerData { mode: 'inference' }) on preflight's backend (cpu allowed),
 * which keeps the last two loaded checkpoints; batches are transferred there
 * and predictions back. On the CPU backends the checkpoint runs on ONNX
 * Runtime when onnxruntime-node loads (train/inference.ts; inferenceEngine()
 * says which engine ran a checkpoint and why). The calling thread (Electron's main process) only
 * posts messages. The worker is unref'd while idle (a CLI exits normally) and
 * restarted after it fails; `workerless: true` predicts in the calling thread.
 *
 * The worker entry is resolved next to this module: `train/worker.ts` when
 * running from source under tsx, and `fovea-train-worker.mjs` beside the
 * bundle otherwise (the build must emit native-models/train/worker.ts under
 * that name next to each bundle that includes this engine), or `workerUrl`.
 */
import { Worker } from 'node:worker_threads';
import type { BackendName, MlPreflight } from '../electron/contract/domain';
import type { Batch, BatchProvider, MlEngine, ModelExportArtifacts, ModelExportFormat, Prediction, TrainConfig, TrainOptions, TrainOutcome, WarmStartCheck, WarmStartSourceRef } from '../electron/contract/ml';
import { defaultTrainConfig } from './models/defaults';
import { chooseBackend, threadPreflight } from './train/backend';
import { isOutOfMemory, outOfMemoryMessage } from './train/errors';
import { createInference, disposeQuietly, type Inference, type InferenceEngineUse } from './train/inference';
import { assertNever, transferableBatch, type FromInferenceWorker, type FromWorker, type InferenceWorkerData, type ToInferenceWorker, type ToWorker, type WorkerTrainOptions } from './train/protocol';

/**
 * TensorFlow.js and the trainer load on first use: creating the engine (the
 * app, the CLI and every core test do) costs nothing, and in worker mode the
 * calling thread never loads tfjs unless it exports a model.
 */
const loadTrainer = () => import('./train/trainer');
const loadExport = async () => {
  const [io, trainer, exporter] = await Promise.all([import('./train/checkpoint-io'), loadTrainer(), import('./export/index')]);
  return { loadCheckpointModel: io.loadCheckpointModel, activateBackend: trainer.activateBackend, exportLoadedModel: exporter.exportLoadedModel };
};

/** File name of the bundled worker entry, beside the bundle that contains this engine. */
export const TRAIN_WORKER_BUNDLE = 'fovea-train-worker.mjs';

export interface MlEngineOptions {
  /** Train in this thread instead of a worker (tests, debugging). */
  workerless?: boolean;
  /** Override the worker entry (a bundler that names it differently). */
  workerUrl?: URL;
  /** This thread's preflight (injectable for tests); default runPreflight(), run once. */
  preflight?: () => Promise<MlPreflight>;
}

/** The engine, plus dispose() for the models predict() keeps loaded. */
export interface FoveaMlEngine extends MlEngine {
  /** Which engine (ONNX Runtime or TF.js) ran the checkpoint's last predictions, and why; null before any. */
  inferenceEngine(checkpoint: string): InferenceEngineUse | null;
  checkWarmStart(source: WarmStartSourceRef, config: TrainConfig): Promise<WarmStartCheck>;
  dispose(): void;
}

/** Where the worker entry is for this module's location. */
export function defaultWorkerUrl(moduleUrl: string = import.meta.url): URL {
  return new URL(moduleUrl).pathname.endsWith('.ts') ? new URL('./train/worker.ts', moduleUrl) : new URL(`./${TRAIN_WORKER_BUNDLE}`, moduleUrl);
}

/**
 * Starts the worker. From source (a .ts entry), Node 20 workers do not apply
 * the parent's `--import tsx` hooks to a worker's entry, and
 * `execArgv: ['--import', 'tsx']` does not either (measured with Node 20.20,
 * tsx 4.23: "Unknown file extension .ts"); registering tsx's ESM hooks from
 * inside the worker before importing the entry does work.
 */
export function spawnWorker(url: URL, workerData?: InferenceWorkerData): Worker {
  const data = workerData ? { workerData } : {};
  if (url.pathname.endsWith('.ts')) {
    const tsxApi = import.meta.resolve('tsx/esm/api');
    const code = `import(${JSON.stringify(tsxApi)}).then((api) => { api.register(); return import(${JSON.stringify(url.href)}); });`;
    return new Worker(code, { eval: true, execArgv: [], ...data });
  }
  return new Worker(url, data);
}

/**
 * The calling thread's side of the inference worker: one worker, started on first use, requests
 * matched by id. Referenced only while requests are pending, so an idle worker never keeps a CLI
 * process alive. If the worker dies (or runs out of memory) every pending request is rejected and
 * the next one starts a fresh worker.
 */
interface LiveWorker {
  worker: Worker;
  pending: Map<number, { checkpoint: string; resolve: (p: Prediction[]) => void; reject: (e: Error) => void }>;
}

class InferenceClient {
  readonly #url: URL;
  /** The live worker and the requests sent to it (a dead worker's requests are rejected, never a new one's). */
  #current: LiveWorker | null = null;
  #nextId = 1;
  /** Which engine ran each checkpoint's last predictions (reported by the worker). */
  readonly engines = new Map<string, InferenceEngineUse>();

  constructor(url: URL) {
    this.#url = url;
  }

  #start(): LiveWorker {
    const worker = spawnWorker(this.#url, { mode: 'inference' });
    const current: LiveWorker = { worker, pending: new Map() };
    const failAll = (message: string): void => {
      if (this.#current === current) this.#current = null;
      for (const p of current.pending.values()) p.reject(new Error(message));
      current.pending.clear();
    };
    worker.on('message', (m: FromInferenceWorker) => {
      const p = current.pending.get(m.requestId);
      current.pending.delete(m.requestId);
      if (current.pending.size === 0) worker.unref();
      if (m.type === 'predictions') {
        if (p && m.engine) this.engines.set(p.checkpoint, m.engine);
        p?.resolve(m.predictions);
      }
      else if (m.type === 'predict-error') {
        p?.reject(new Error(m.message));
        // A wasm abort leaves that backend unusable: start over with a fresh worker.
        if (m.outOfMemory) {
          failAll(`Inference ran out of memory: ${m.message}`);
          void worker.terminate();
        }
      }
    });
    worker.on('error', (e) => failAll(`The inference worker failed: ${e.message}`));
    worker.on('exit', (code) => failAll(`The inference worker exited (code ${code}).`));
    return current;
  }

  predict(backend: BackendName, checkpoint: string, config: TrainConfig, batch: Batch): Promise<Prediction[]> {
    const current = (this.#current ??= this.#start());
    const { worker, pending } = current;
    const requestId = this.#nextId++;
    // A copy of the pixels is transferred: callers read their batch (targets, item ids) afterwards.
    const x = batch.x.slice();
    return new Promise<Prediction[]>((resolve, reject) => {
      pending.set(requestId, { checkpoint, resolve, reject });
      worker.ref();
      const m: ToInferenceWorker = { type: 'predict', requestId, backend, checkpoint, config, x, n: batch.n };
      worker.postMessage(m, [x.buffer]);
    });
  }

  dispose(): void {
    const c = this.#current;
    this.#current = null;
    if (c) void c.worker.terminate();
  }
}

/** A callback that throws must not take the run (or the process) down. */
function safe<A extends unknown[]>(fn: ((...a: A) => void) | undefined): ((...a: A) => void) | undefined {
  if (!fn) return undefined;
  return (...a: A) => {
    try {
      fn(...a);
    } catch (e) {
      console.error('training callback threw:', e);
    }
  };
}

function failed(backend: BackendName, code: 'OUT_OF_MEMORY' | 'BACKEND_UNAVAILABLE' | 'INTERNAL', message: string, progress: { epochsCompleted: number; bestEpoch: number | null; bestValMetrics: Record<string, number> | null }): TrainOutcome {
  return { status: 'failed', ...progress, backend, error: { code, message } };
}

/** What the trainer needs of TrainOptions (callbacks and the signal stay on the calling thread). */
function workerOptions(options: TrainOptions): WorkerTrainOptions {
  return {
    checkpointDir: options.checkpointDir,
    ...(options.resumeAfterEpoch != null ? { resumeAfterEpoch: options.resumeAfterEpoch } : {}),
    ...(options.warmStart ? { warmStart: options.warmStart } : {}),
  };
}

function trainInWorker(url: URL, config: TrainConfig, provider: BatchProvider, options: TrainOptions, fallbackBackend: () => Promise<BackendName>): Promise<TrainOutcome> {
  return new Promise<TrainOutcome>((resolve) => {
    const progress = { epochsCompleted: options.resumeAfterEpoch ?? 0, bestEpoch: null as number | null, bestValMetrics: null as Record<string, number> | null };
    let backend: BackendName | null = null;
    let settled = false;
    let worker: Worker;
    const onBatch = safe(options.onBatch);
    const onEpoch = safe(options.onEpoch);
    const onPhase = safe(options.onPhase);

    const finish = (o: TrainOutcome): void => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      void worker?.terminate();
      resolve(o);
    };
    const fail = (code: 'OUT_OF_MEMORY' | 'INTERNAL', message: string): void => {
      if (settled) return;
      void (backend ? Promise.resolve(backend) : fallbackBackend().catch((): BackendName => 'wasm')).then((b) => finish(failed(b, code, message, progress)));
    };
    const send = (m: ToWorker, transfer?: ArrayBuffer[]): void => {
      if (!settled) worker.postMessage(m, transfer);
    };
    function onAbort(): void {
      send({ type: 'cancel' });
    }

    let batchesPerEpoch: { train: number; val: number };
    try {
      batchesPerEpoch = { train: provider.batchesPerEpoch('train'), val: provider.batchesPerEpoch('val') };
      onPhase?.('loading-backend');
      worker = spawnWorker(url);
    } catch (e) {
      settled = true;
      void fallbackBackend()
        .catch((): BackendName => 'wasm')
        .then((b) => resolve(failed(b, 'INTERNAL', `Could not start training: ${(e as Error).message}`, progress)));
      return;
    }

    worker.on('message', (m: FromWorker) => {
      if (settled) return;
      switch (m.type) {
        case 'started':
          backend = m.backend;
          break;
        case 'need-batch':
          // Through a promise: a provider that throws synchronously must not throw in this handler.
          Promise.resolve()
            .then(() => provider.batch(m.split, m.epoch, m.index))
            .then(
              (b) => {
                const t = transferableBatch(b);
                send({ type: 'batch', requestId: m.requestId, batch: t.batch }, t.transfer);
              },
              (e: unknown) => send({ type: 'batch-error', requestId: m.requestId, message: e instanceof Error ? e.message : String(e) }),
            );
          break;
        case 'phase':
          onPhase?.(m.phase);
          break;
        case 'progress': {
          const { type: _type, ...p } = m;
          onBatch?.(p);
          break;
        }
        case 'epoch': {
          const { type: _type, ...r } = m;
          progress.epochsCompleted = r.epoch;
          if (r.best) {
            progress.bestEpoch = r.epoch;
            progress.bestValMetrics = r.valMetrics;
          }
          onEpoch?.(r);
          break;
        }
        case 'checkpoint':
          // Informational: the contract has no checkpoint callback (epoch results follow each save).
          break;
        case 'done':
          finish(m.outcome);
          break;
        case 'error':
          fail('INTERNAL', `Training failed in the worker: ${m.message}`);
          break;
        default:
          assertNever(m);
      }
    });
    // V8 heap exhaustion in the worker (ERR_WORKER_OUT_OF_MEMORY) or an error
    // that escaped it; the process itself is unaffected.
    worker.on('error', (e) => {
      if (isOutOfMemory(e, backend ?? undefined)) fail('OUT_OF_MEMORY', outOfMemoryMessage(config, e.message));
      else fail('INTERNAL', `The training worker failed: ${e.message}`);
    });
    worker.on('exit', (code) => fail('INTERNAL', `The training worker exited unexpectedly (code ${code}).`));

    options.signal?.addEventListener('abort', onAbort, { once: true });
    send({ type: 'start', config, options: workerOptions(options), batchesPerEpoch });
    if (options.signal?.aborted) onAbort();
  });
}

async function trainInProcess(config: TrainConfig, provider: BatchProvider, options: TrainOptions, preflight: () => Promise<MlPreflight>): Promise<TrainOutcome> {
  let batchesPerEpoch: { train: number; val: number };
  try {
    batchesPerEpoch = { train: provider.batchesPerEpoch('train'), val: provider.batchesPerEpoch('val') };
  } catch (e) {
    const pf = await preflight().catch(() => null);
    return failed(pf?.chosen ?? 'wasm', 'INTERNAL', `Could not start training: ${(e as Error).message}`, { epochsCompleted: options.resumeAfterEpoch ?? 0, bestEpoch: null, bestValMetrics: null });
  }
  const onBatch = safe(options.onBatch);
  const onEpoch = safe(options.onEpoch);
  const onPhase = safe(options.onPhase);
  onPhase?.('loading-backend');
  const { runTraining } = await loadTrainer();
  return runTraining(
    config,
    { batchesPerEpoch, batch: (split, epoch, index) => provider.batch(split, epoch, index) },
    workerOptions(options),
    {
      isCancelled: () => options.signal?.aborted === true,
      ...(onBatch ? { onBatch } : {}),
      ...(onEpoch ? { onEpoch } : {}),
      ...(onPhase ? { onPhase } : {}),
    },
    { preflight, recoverWasmAfterAbort: true },
  );
}

export function createMlEngine(options: MlEngineOptions = {}): FoveaMlEngine {
  const preflight = options.preflight ?? threadPreflight;
  // Predictions: in the inference worker, or in this thread when workerless.
  const local: Inference | null = options.workerless ? createInference() : null;
  const remote = options.workerless ? null : new InferenceClient(options.workerUrl ?? defaultWorkerUrl());

  return {
    preflight,
    defaultConfig: defaultTrainConfig,
    async train(config: TrainConfig, provider: BatchProvider, trainOptions: TrainOptions): Promise<TrainOutcome> {
      if (options.workerless) return trainInProcess(config, provider, trainOptions, preflight);
      return trainInWorker(options.workerUrl ?? defaultWorkerUrl(), config, provider, trainOptions, async () => {
        const pf = await preflight();
        const c = chooseBackend(config.backend, pf, 'train');
        return c.backend;
      });
    },
    async predict(checkpoint: string, config: TrainConfig, batch: Batch): Promise<Prediction[]> {
      const pf = await preflight();
      const choice = chooseBackend(config.backend, pf, 'predict');
      if (!choice.ok) throw new Error(choice.message);
      const want = batch.n * config.inputSize * config.inputSize * config.channels;
      if (batch.x.length !== want) throw new Error(`batch of ${batch.n} images has ${batch.x.length} values; expected ${want}`);
      if (local) return local.predict(choice.backend, checkpoint, config, batch.x, batch.n);
      return (remote as InferenceClient).predict(choice.backend, checkpoint, config, batch);
    },
    async exportModel(checkpoint: string, config: TrainConfig, format: ModelExportFormat): Promise<ModelExportArtifacts> {
      const pf = await preflight();
      const choice = chooseBackend(config.backend, pf, 'predict');
      if (!choice.ok) throw new Error(choice.message);
      const { activateBackend, loadCheckpointModel, exportLoadedModel } = await loadExport();
      await activateBackend(choice.backend);
      // A fresh load (not predict's cache): the export reads every weight once and frees them.
      const model = await loadCheckpointModel(checkpoint);
      try {
        return await exportLoadedModel(model, config, format);
      } finally {
        disposeQuietly(model);
      }
    },
    async checkWarmStart(source: WarmStartSourceRef, config: TrainConfig): Promise<WarmStartCheck> {
      // Builds the new model in this thread to read its layers' shapes (small models; no weights
      // are read from the source), on the backend predict() would use, as exportModel does.
      const pf = await preflight();
      const choice = chooseBackend(config.backend, pf, 'predict');
      if (!choice.ok) throw new Error(choice.message);
      const [{ activateBackend }, { createModel }, ws] = await Promise.all([loadTrainer(), import('./models/index'), import('./train/warm-start')]);
      await activateBackend(choice.backend);
      const model = createModel(config);
      try {
        const opts = { task: config.task, newHead: !ws.sameClasses(source.classNames, config.classNames), label: source.label };
        if (source.format === 'onnx') {
          const ox = await import('./train/onnx-warm-start');
          const m = ox.matchOnnxWarmStart(model, ox.readOnnxFile(source.dir, source.label), opts);
          return { ok: true, loaded: m.loaded, fresh: m.fresh };
        }
        const m = ws.matchWarmStart(model, ws.readWeightShapes(source.dir), opts);
        return { ok: true, loaded: m.loaded, fresh: m.fresh };
      } catch (e) {
        if (e instanceof ws.WarmStartMismatch) return { ok: false, layer: e.layer, message: e.message };
        throw e;
      } finally {
        disposeQuietly(model);
      }
    },
    inferenceEngine(checkpoint: string): InferenceEngineUse | null {
      return local ? local.engineFor(checkpoint) : ((remote as InferenceClient).engines.get(checkpoint) ?? null);
    },
    dispose(): void {
      local?.dispose();
      remote?.dispose();
    },
  };
}
