/**
 * How many CPU threads training uses: every core by default (`os.availableParallelism()`), or
 * FOVEA_THREADS (the CLI's `--threads N` sets it before the training worker starts; a worker
 * inherits the environment it was started with).
 *
 * Where the threads go (wasm backend), one of two ways:
 * - Default: one TF.js thread (TF.js's wasm backend is single-threaded under Node: tfjs sets
 *   WASM_HAS_MULTITHREAD_SUPPORT false) with the convolutions (forward and both gradients) on
 *   ONNX Runtime's intra-op pool of N threads. Only the convolutions use the other cores.
 * - Data parallel (FOVEA_DATA_PARALLEL=1; the CLI's `--data-parallel`): N threads each run a whole
 *   forward and backward pass on 1/N of the batch (native-models/train/data-parallel.ts): the
 *   leader thread plus N-1 replica worker threads, each with ONNX Runtime on 1 intra-op thread,
 *   so N replicas x 1 thread = N cores. Classification and segmentation only (detection trains
 *   the first way). FOVEA_DATA_PARALLEL=0 turns it off; `--threads 1` never starts replicas.
 * Other backends (webgpu, tensorflow) manage their own threads; neither way applies.
 *
 * Reproducibility: a run is reproducible for a given seed AND thread count, either way. MLAS
 * splits a convolution by output blocks, each summed by one thread in a fixed order; data-parallel
 * shards, their dropout seeds and the order gradients are summed in are fixed by (seed, epoch,
 * batch, shard). Different thread counts give different results: ORT's blocking depends on its
 * pool size (last bits), and with data parallelism batch norm normalises each shard by its own
 * statistics (as PyTorch DDP without SyncBN) and the segmentation loss (batch Dice) is per shard,
 * so the weights differ more than rounding. Without batch norm, the classifier's averaged
 * gradient equals the whole batch's to float32 rounding.
 */
import { availableParallelism } from 'node:os';

export function cpuThreads(env: NodeJS.ProcessEnv = process.env): number {
  const t = Number(env['FOVEA_THREADS']);
  if (Number.isInteger(t) && t >= 1) return t;
  return Math.max(1, availableParallelism());
}

/**
 * Whether data-parallel training is the default when FOVEA_DATA_PARALLEL is unset: not yet, it was
 * not faster where measured. 2026-12-07, this 2-core machine under other work (load average 4-16),
 * A/B interleaved in-process runTraining on synthetic batches, 7 rounds each, 2 threads, median
 * (range) in img/s: classifier 64x64 b32, ONNX Runtime pool 84 (60-103) vs data-parallel 51 (42-100);
 * U-Net 128x128 b8, pool 4.5 (3.8-12.4) vs data-parallel 3.3 (3.0-14.6). Images per CPU-second
 * (all threads): data-parallel about 0.9x the single thread's (classifier) and 0.8x (U-Net): half
 * batches run the wasm kernels less efficiently, and each step waits for the slower shard, which a
 * loaded machine stretches. Re-measure on a quiet machine (`npm run bench -- training` prints both
 * with their thread counts) before turning this on.
 */
export const DATA_PARALLEL_BY_DEFAULT = false;

/**
 * Threads that compute shards of each training batch (1: no data parallelism): the training
 * threads when data parallelism is on for this run (wasm backend, classification or segmentation).
 */
export function dataParallelThreads(backend: string, task: string, env: NodeJS.ProcessEnv = process.env): number {
  if (backend !== 'wasm' || task === 'detection') return 1;
  const flag = env['FOVEA_DATA_PARALLEL'];
  const on = flag === '1' ? true : flag === '0' ? false : DATA_PARALLEL_BY_DEFAULT;
  return on ? cpuThreads(env) : 1;
}
