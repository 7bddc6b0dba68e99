/**
 * Inference through onnxruntime-node: a checkpoint's LayersModel converted in memory to ONNX
 * (export/onnx-export.ts, the same exact conversion as a model export) and run by an
 * InferenceSession on the CPU. ONNX Runtime's CPU kernels (MLAS) are several times faster than
 * the TF.js wasm backend's forward pass, and it runs on several threads where wasm runs on one.
 *
 * onnxruntime-node is loaded on first use and may be missing or fail to load (a platform without
 * its binaries): `loadOnnxRuntime()` then says why, and inference.ts runs TF.js instead. A model
 * with a layer the conversion does not support (UNSUPPORTED) also runs on TF.js. Which engine ran a
 * checkpoint, and why, is reported (`InferenceEngineUse`): never a silent fallback.
 */
import { availableParallelism } from 'node:os';
import type * as tfTypes from '@tensorflow/tfjs';
import type * as OrtTypes from 'onnxruntime-node';

type Ort = typeof OrtTypes;

/** Which engine ran a checkpoint's predictions, and why (a fallback says what failed). */
export interface InferenceEngineUse {
  engine: 'onnxruntime' | 'tfjs';
  /** For a person: the engine, its version and threads, or why ONNX Runtime was not used. */
  detail: string;
}

export type OrtLoad = { ok: true; ort: Ort; version: string } | { ok: false; reason: string };

let loading: Promise<OrtLoad> | null = null;

/** Loads onnxruntime-node once per thread; never throws. */
export function loadOnnxRuntime(): Promise<OrtLoad> {
  loading ??= (async (): Promise<OrtLoad> => {
    try {
      const mod = (await import('onnxruntime-node')) as Ort & { default?: Ort };
      const ort = typeof mod.InferenceSession?.create === 'function' ? mod : (mod.default as Ort);
      const version = (ort.env as { versions?: { common?: string } }).versions?.common ?? 'unknown version';
      return { ok: true, ort, version };
    } catch (e) {
      const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0]?.trim() ?? 'unknown error';
      return { ok: false, reason: `onnxruntime-node failed to load: ${msg}` };
    }
  })();
  return loading;
}

/**
 * Threads for one session: FOVEA_INFERENCE_THREADS when set (the benchmark sets 1 to compare
 * with single-threaded PyTorch), else min(4, cores): inference runs beside the app and training.
 */
export function defaultInferenceThreads(env: NodeJS.ProcessEnv = process.env): number {
  const set = Number(env.FOVEA_INFERENCE_THREADS);
  if (Number.isInteger(set) && set >= 1) return set;
  return Math.max(1, Math.min(4, availableParallelism()));
}

/** A converted model in an InferenceSession; outputs come back in the LayersModel's order. */
export interface OrtModel {
  readonly threads: number;
  readonly version: string;
  /** Runs n NHWC images; each output's values and NHWC/NC shape, in model.outputs order. */
  run(x: Float32Array, n: number): Promise<{ data: Float32Array; shape: number[] }[]>;
  dispose(): Promise<void>;
}

/**
 * Converts `model` and opens a session. Throws UnsupportedModelError (code 'UNSUPPORTED') for a
 * layer the conversion refuses; the caller decides what to fall back to.
 */
export async function createOrtModel(ort: Ort, version: string, model: tfTypes.LayersModel, threads: number): Promise<OrtModel> {
  const { convertToOnnx } = await import('../export/onnx-export');
  const conv = convertToOnnx(model);
  const input = conv.inputs[0];
  if (conv.inputs.length !== 1 || !input) throw new Error(`a model with ${conv.inputs.length} inputs cannot be run for predictions`);
  const session = await ort.InferenceSession.create(conv.bytes, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  const inputDims = input.shape.slice(1) as number[];
  const outputNames = conv.outputs.map((o) => o.name);
  return {
    threads,
    version,
    async run(x, n) {
      const feed = new ort.Tensor('float32', x, [n, ...inputDims]);
      const result = await session.run({ [input.name]: feed });
      return outputNames.map((name) => {
        const t = result[name];
        if (!t || t.type !== 'float32') throw new Error(`ONNX Runtime returned no float32 output "${name}"`);
        return { data: t.data as Float32Array, shape: [...t.dims] };
      });
    },
    dispose: () => session.release(),
  };
}
