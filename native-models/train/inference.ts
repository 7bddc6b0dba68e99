/**
 * Inference with a checkpoint: loads models (the last two used stay loaded, re-read when the
 * checkpoint's model.json changes or the wasm backend was reset) and decodes their outputs per
 * task. Used in the inference worker (engine.ts predict(), the default) and in the calling thread
 * (`workerless`).
 *
 * Engine: on the CPU backends (wasm, cpu, tensorflow-cpu) a checkpoint runs on ONNX Runtime when
 * onnxruntime-node loads: the model is converted to ONNX once, in memory (onnx-inference.ts), and
 * its outputs are decoded by the same task hooks as TF.js's (wrapped as TF.js tensors). TF.js runs
 * instead when onnxruntime-node is missing or fails to load, when the model has a layer the
 * conversion does not support, on tensorflow-gpu (the GPU), or when `engine: 'tfjs'` is asked for.
 * `engineFor(checkpoint)` says which engine ran a checkpoint and why.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import type { BackendName } from '../../electron/contract/domain';
import type { Prediction, TrainConfig } from '../../electron/contract/ml';
import { createOrtModel, defaultInferenceThreads, loadOnnxRuntime, type InferenceEngineUse, type OrtModel } from './onnx-inference';

export type { InferenceEngineUse } from './onnx-inference';

const loadParts = async () => {
  const [tf, models, io, trainer] = await Promise.all([import('@tensorflow/tfjs'), import('../models/index'), import('./checkpoint-io'), import('./trainer')]);
  return {
    tf,
    taskHooks: models.taskHooks,
    loadCheckpointModel: io.loadCheckpointModel,
    MODEL_JSON: io.MODEL_JSON,
    resolveCheckpointDir: io.resolveCheckpointDir,
    activateBackend: trainer.activateBackend,
    backendGeneration: trainer.backendGeneration,
  };
};

/** A loaded checkpoint: a TF.js model, or an ONNX Runtime session (the TF.js model then freed). */
type Runner = { kind: 'tfjs'; model: tfTypes.LayersModel } | { kind: 'onnxruntime'; ort: OrtModel };

interface CachedModel {
  runner: Runner;
  use: InferenceEngineUse;
  mtimeMs: number;
  /** The backend generation it was loaded on (a wasm reset after an out-of-memory kills it). */
  generation: number;
  /** The engine asked for when it was loaded. */
  engine: InferenceEnginePreference;
}

/** Frees a model; one whose backend was replaced cannot be freed, and need not be. */
export function disposeQuietly(model: tfTypes.LayersModel): void {
  try {
    model.dispose();
  } catch {
    /* its backend is gone */
  }
}

function disposeRunner(r: Runner): void {
  if (r.kind === 'tfjs') disposeQuietly(r.model);
  else void r.ort.dispose().catch(() => undefined);
}

/** 'auto': ONNX Runtime where it can run the model (CPU backends), else TF.js. */
export type InferenceEnginePreference = 'auto' | 'tfjs';

export interface InferenceOptions {
  maxModels?: number;
  engine?: InferenceEnginePreference;
  /** ONNX Runtime's intra-op threads (default: defaultInferenceThreads()). */
  threads?: number;
}

export interface Inference {
  /** `x`: n images, NHWC, config.inputSize square, config.channels. */
  predict(backend: BackendName, checkpoint: string, config: TrainConfig, x: Float32Array, n: number): Promise<Prediction[]>;
  /** Which engine ran the checkpoint's last predictions, and why; null before any. */
  engineFor(checkpoint: string): InferenceEngineUse | null;
  dispose(): void;
}

export function createInference(options: InferenceOptions | number = {}): Inference {
  const opts: InferenceOptions = typeof options === 'number' ? { maxModels: options } : options;
  const maxModels = opts.maxModels ?? 2;
  const preference = opts.engine ?? 'auto';
  const threads = opts.threads ?? defaultInferenceThreads();
  // Keyed by the checkpoint folder; re-read when model.json changed (best/ is rewritten while training).
  const models = new Map<string, CachedModel>();
  const uses = new Map<string, InferenceEngineUse>();

  async function load(backend: BackendName, checkpoint: string): Promise<{ runner: Runner; use: InferenceEngineUse }> {
    const { loadCheckpointModel } = await loadParts();
    const model = await loadCheckpointModel(checkpoint);
    const tfjs = (why: string): { runner: Runner; use: InferenceEngineUse } => ({ runner: { kind: 'tfjs', model }, use: { engine: 'tfjs', detail: `TF.js on ${backend}: ${why}` } });
    if (preference === 'tfjs') return tfjs('TF.js was asked for');
    if (backend === 'tensorflow-gpu' || backend === 'webgpu') return tfjs('the GPU backend runs inference');
    const ort = await loadOnnxRuntime();
    if (!ort.ok) return tfjs(ort.reason);
    try {
      const session = await createOrtModel(ort.ort, ort.version, model, threads);
      disposeQuietly(model); // the session holds its own copy of the weights
      return { runner: { kind: 'onnxruntime', ort: session }, use: { engine: 'onnxruntime', detail: `ONNX Runtime ${ort.version} on the CPU, ${threads} thread${threads === 1 ? '' : 's'}` } };
    } catch (e) {
      const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? 'unknown error';
      return tfjs(`ONNX Runtime cannot run this model (${msg})`);
    }
  }

  async function runnerFor(backend: BackendName, checkpoint: string): Promise<CachedModel> {
    const { resolveCheckpointDir, MODEL_JSON, backendGeneration } = await loadParts();
    const dir = resolveCheckpointDir(checkpoint);
    const mtimeMs = statSync(join(dir, MODEL_JSON)).mtimeMs;
    const generation = backendGeneration();
    const hit = models.get(checkpoint);
    // An ONNX Runtime session does not live on the TF.js backend: a wasm reset does not kill it.
    if (hit && hit.mtimeMs === mtimeMs && hit.engine === preference && (hit.runner.kind === 'onnxruntime' || hit.generation === generation)) {
      models.delete(checkpoint);
      models.set(checkpoint, hit); // most recently used last
      return hit;
    }
    if (hit) disposeRunner(hit.runner);
    models.delete(checkpoint);
    const { runner, use } = await load(backend, checkpoint);
    const entry: CachedModel = { runner, use, mtimeMs, generation, engine: preference };
    models.set(checkpoint, entry);
    while (models.size > maxModels) {
      const [oldest, old] = models.entries().next().value as [string, CachedModel];
      disposeRunner(old.runner);
      models.delete(oldest);
    }
    return entry;
  }

  return {
    async predict(backend, checkpoint, config, x, n) {
      const { tf, taskHooks, activateBackend } = await loadParts();
      // TF.js decodes the outputs (and runs the model when ONNX Runtime does not).
      await activateBackend(backend);
      const want = n * config.inputSize * config.inputSize * config.channels;
      if (x.length !== want) throw new Error(`batch of ${n} images has ${x.length} values; expected ${want}`);
      const entry = await runnerFor(backend, checkpoint);
      uses.set(checkpoint, entry.use);
      const hooks = taskHooks(config);
      const { runner } = entry;
      let outs: tfTypes.Tensor[];
      if (runner.kind === 'onnxruntime') {
        const ortOuts = await runner.ort.run(x, n);
        outs = ortOuts.map((o) => tf.tensor(o.data, o.shape, 'float32'));
      } else {
        outs = tf.tidy(() => {
          const input = tf.tensor4d(x, [n, config.inputSize, config.inputSize, config.channels]);
          const out = runner.model.apply(input, { training: false }) as tfTypes.Tensor | tfTypes.Tensor[];
          return Array.isArray(out) ? out : [out];
        });
      }
      // Decoding reads back asynchronously (a GPU tensor cannot be read synchronously), so no tidy here.
      try {
        return await hooks.decode(outs, n);
      } finally {
        tf.dispose(outs);
      }
    },
    engineFor: (checkpoint) => uses.get(checkpoint) ?? null,
    dispose() {
      for (const { runner } of models.values()) disposeRunner(runner);
      models.clear();
    },
  };
}

/** The buffers of predictions to transfer back from the worker (segmentation maps). */
export function predictionTransfer(predictions: readonly Prediction[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const p of predictions) {
    if (p.task !== 'segmentation') continue;
    for (const a of [p.classes, p.confidence]) {
      if (a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer && !out.includes(a.buffer)) out.push(a.buffer);
    }
  }
  return out;
}
