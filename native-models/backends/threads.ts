/**
 * How many CPU threads training uses: every core by default (`os.availableParallelism()`), or
 * FOVEA_THREADS (the CLI's `--threads N` sets it before the training worker starts; a worker
 * inherits the environment it was started with).
 *
 * Where the threads go: ONNX Runtime's intra-op pool for the convolutions (forward and both
 * gradients), which hold most of a training step's time on the wasm backend. TF.js's wasm
 * backend itself is single-threaded under Node (tfjs sets WASM_HAS_MULTITHREAD_SUPPORT false).
 *
 * Reproducibility: MLAS splits a convolution by output blocks, each summed by one thread in a
 * fixed order, so a run is reproducible for a given seed AND thread count; results of different
 * thread counts may differ in the last bits (ORT's blocking depends on the pool size).
 */
import { availableParallelism } from 'node:os';

export function cpuThreads(env: NodeJS.ProcessEnv = process.env): number {
  const t = Number(env['FOVEA_THREADS']);
  if (Number.isInteger(t) && t >= 1) return t;
  return Math.max(1, availableParallelism());
}
