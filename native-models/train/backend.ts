/**
 * Which backend a run uses. 'auto' takes preflight's choice; an explicit
 * backend that is not available is refused with preflight's reason (never a
 * silent fallback); the cpu backend refuses to train. No tfjs import: the
 * engine uses this on the calling thread.
 */
import type { BackendName, MlPreflight } from '../../electron/contract/domain';
import type { BackendPreference } from '../../electron/contract/ml';
import { runPreflight } from '../backends/preflight';

let preflightCache: Promise<MlPreflight> | null = null;

/** Preflight of this thread (tfjs and its backends are per thread), run once. */
export function threadPreflight(): Promise<MlPreflight> {
  preflightCache ??= runPreflight();
  return preflightCache;
}

/** `warning`: something a person must be told when the run starts (a software GPU adapter). */
export type BackendChoice = { ok: true; backend: BackendName; warning?: string } | { ok: false; backend: BackendName; message: string };

/**
 * The backend to use for a preference, from a preflight. Training refuses
 * the cpu backend; prediction accepts it.
 */
export function chooseBackend(pref: BackendPreference, pf: MlPreflight, purpose: 'train' | 'predict'): BackendChoice {
  const status = (n: BackendName) => pf.backends.find((b) => b.name === n);
  const cpuRefusal = (why: string): BackendChoice => ({
    ok: false,
    backend: 'cpu',
    message: `${why} The cpu backend (plain JavaScript) is far too slow to train (about 1 image/s for a small CNN); it is used for inference only. Install @tensorflow/tfjs-node or fix the wasm backend (see the backend table in Settings or \`fovea info\`).`,
  });
  switch (pref) {
    case 'auto': {
      if (pf.chosen == null) return { ok: false, backend: 'cpu', message: `No TensorFlow.js backend can run: ${pf.why}` };
      if (pf.chosen === 'cpu' && purpose === 'train') return cpuRefusal(`${pf.why}`);
      return { ok: true, backend: pf.chosen };
    }
    case 'tensorflow': {
      const gpu = status('tensorflow-gpu');
      const cpu = status('tensorflow-cpu');
      if (gpu?.available) return { ok: true, backend: 'tensorflow-gpu' };
      if (cpu?.available) return { ok: true, backend: 'tensorflow-cpu' };
      return {
        ok: false,
        backend: 'tensorflow-gpu',
        message: `The tensorflow backend was asked for but is unavailable. tensorflow-gpu (${gpu?.package ?? '@tensorflow/tfjs-node-gpu'}): ${gpu?.reason ?? 'not probed'} tensorflow-cpu (${cpu?.package ?? '@tensorflow/tfjs-node'}): ${cpu?.reason ?? 'not probed'} Choose 'auto' to use ${pf.chosen ?? 'the best available backend'}.`,
      };
    }
    case 'webgpu': {
      const g = status('webgpu');
      if (!g?.available) return { ok: false, backend: 'webgpu', message: `The webgpu backend was asked for but is unavailable: ${g?.reason ?? 'not probed'} Choose 'auto' to use ${pf.chosen ?? 'the best available backend'}.` };
      if (g.adapter?.software) {
        return {
          ok: true,
          backend: 'webgpu',
          warning: `webgpu runs on a SOFTWARE adapter (${g.adapter.vendor} ${g.adapter.architecture}): no GPU is used and it is slower than the wasm backend. Install the GPU's driver for a hardware adapter.`,
        };
      }
      return { ok: true, backend: 'webgpu' };
    }
    case 'wasm': {
      const w = status('wasm');
      if (w?.available) return { ok: true, backend: 'wasm' };
      return { ok: false, backend: 'wasm', message: `The wasm backend was asked for but is unavailable: ${w?.reason ?? 'not probed'}` };
    }
    case 'cpu': {
      if (purpose === 'train') return cpuRefusal('The cpu backend was asked for training.');
      const c = status('cpu');
      if (c?.available) return { ok: true, backend: 'cpu' };
      return { ok: false, backend: 'cpu', message: `The cpu backend is unavailable: ${c?.reason ?? 'not probed'}` };
    }
  }
}

