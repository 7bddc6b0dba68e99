/**
 * Initialises TensorFlow.js's wasm backend from the local package files and
 * registers Fovea's training kernels on it.
 *
 * The binaries are loaded from node_modules/@tensorflow/tfjs-backend-wasm/dist
 * on disk, never from a CDN: Fovea runs offline. The folder is resolved through
 * the module resolver so it works from a checkout, a packaged app (asar
 * unpacked) or a hoisted install alike.
 *
 * In Node the backend is single-threaded (tfjs hard-codes
 * WASM_HAS_MULTITHREAD_SUPPORT to false under Node), so the SIMD binary is the
 * one that matters; `wasmBackendInfo()` reports which one was actually loaded.
 */
import { createRequire } from 'node:module';
import { dirname, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { prepareWasmSimdKernels, registerWasmTrainingKernels } from './wasm-kernels';

const require = createRequire(import.meta.url);

const WASM_BINARIES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'] as const;
type WasmBinary = (typeof WASM_BINARIES)[number];

/** Absolute folder holding the tfjs-backend-wasm .wasm binaries, with a trailing separator. */
export function wasmBinaryDir(): string {
  return dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm')) + sep;
}

export interface WasmBackendInfo {
  /** The .wasm file the backend loaded (null until initialised here). */
  binary: WasmBinary | null;
  /** Absolute path of that file. */
  path: string | null;
  simd: boolean;
  threads: number;
}

const state: { binary: WasmBinary | null; path: string | null; init: Promise<void> | null } = { binary: null, path: null, init: null };

/**
 * setWasmPaths reads every entry of the map once to validate it; only reads
 * made while this is set are the backend choosing its binary.
 */
let recording = false;

/**
 * Maps each binary name to its local path. The getters record which one the
 * backend asks for, so we can report the binary in use instead of guessing it
 * from the SIMD flag.
 */
function localFileMap(dir: string): Record<WasmBinary, string> {
  const map = {} as Record<WasmBinary, string>;
  for (const name of WASM_BINARIES) {
    Object.defineProperty(map, name, {
      enumerable: true,
      get: () => {
        if (recording) {
          state.binary = name;
          state.path = dir + name;
        }
        return dir + name;
      },
    });
  }
  return map;
}

async function init(): Promise<void> {
  registerWasmTrainingKernels();
  // Paths can only be set before the backend first initialises; if something
  // else initialised it already, keep it (the binary is then reported unknown).
  if (tf.findBackend('wasm') == null) setWasmPaths(localFileMap(wasmBinaryDir()));
  recording = true;
  try {
    const ok = await tf.setBackend('wasm');
    if (!ok) throw new Error('TensorFlow.js wasm backend failed to initialise from local files');
    await tf.ready();
    await prepareWasmSimdKernels();
  } finally {
    recording = false;
  }
}

/**
 * Makes 'wasm' the active backend, loaded from local files, with the training
 * kernels registered. Idempotent; concurrent calls share one initialisation.
 * If another backend was made active since, it switches back to wasm.
 */
export async function initWasmBackend(): Promise<void> {
  if (state.init == null) {
    state.init = init().catch((e: unknown) => {
      state.init = null;
      throw e;
    });
    return state.init;
  }
  await state.init;
  if (tf.getBackend() !== 'wasm') {
    registerWasmTrainingKernels();
    await tf.setBackend('wasm');
  }
}

/** Which binary the backend loaded, and with what. */
export async function wasmBackendInfo(): Promise<WasmBackendInfo> {
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  let threads: number;
  try {
    threads = getThreadsCount();
  } catch {
    threads = 1; // not initialised yet
  }
  return { binary: state.binary, path: state.path, simd, threads };
}
