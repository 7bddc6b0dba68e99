/**
 * Data-parallel training on the CPU: PyTorch DDP's design inside one process, over worker_threads.
 *
 * Why: TF.js's wasm backend is single-threaded under Node, and ONNX Runtime's intra-op pool only
 * speeds up the convolutions; the elementwise ops, batch norm, the loss, Adam and the data path
 * stay on one core (2 threads trained the classifier at 153 img/s against 154 with 1). Here every
 * core runs a whole forward and backward pass on its share of the batch instead.
 *
 * Shards: S = the training threads (threads.ts), the batch split into S contiguous shards as even
 * as possible (the first n mod S one image larger; fewer shards when the batch has fewer images).
 * The leader (the thread that runs trainer.ts) computes shard 0 itself and S-1 replicas (worker
 * threads) the others: S shards rather than S+1 because the leader would otherwise idle on its
 * core while the replicas compute, and S rather than S-1 replicas for the same reason. Every
 * thread runs ONNX Runtime's convolutions with 1 intra-op thread, so S threads = the cores.
 *
 * One step:
 *  1. the leader snapshots every weight of its model (trainable, and batch norm's moving mean and
 *     variance: rank 0's buffers, as DDP broadcasts them) and sends each replica the snapshot with
 *     its shard (pixels and targets, transferred, not copied twice);
 *  2. every thread computes its shard's loss and gradients (tf.variableGrads), with dropout masks
 *     seeded by (seed, epoch, batch, shard, layer), so a run is reproducible for a seed and a
 *     thread count;
 *  3. the leader averages the gradients weighted by shard size (in shard order, in float64),
 *     applies its optimizer (fused Adam) once, and the next step's snapshot carries the new
 *     weights. Loss: the shard losses weighted by shard size; statistics (counts) summed.
 *
 * What differs from one thread on the whole batch (as in DDP without SyncBN): batch norm
 * normalises each shard by the shard's own statistics, and its moving statistics are the leader's
 * shard's; the segmentation loss (cross-entropy over the batch's labelled pixels plus a batch Dice)
 * is computed per shard. With neither (a classifier without batch norm) the averaged gradient is
 * the whole batch's gradient (to float32 rounding). Detection is not split (its loss normalises by
 * the batch's objects): it trains on the leader alone.
 *
 * Failures: a replica that throws (out of memory included) or dies ends the step with a
 * ReplicaFailure (the trainer turns it into the run's error; the last checkpoint is intact) and
 * never hangs: a dead thread's 'exit' rejects what it owed. close() terminates every replica on
 * every exit path of the run.
 */
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import type { Batch, BatchTargets, TrainConfig } from '../../electron/contract/ml';
import { setOrtKernelThreads } from '../backends/ort-conv';
import type { TaskHooks } from '../models/index';

/** workerData of a replica (the training worker's entry, worker.ts, runs it). */
export interface ReplicaWorkerData {
  mode: 'replica';
  rank: number;
  config: TrainConfig;
  /** The leader's model.toJSON(): the same architecture, whatever built it (factory, checkpoint, warm start). */
  topology: unknown;
  /** Tests only: make this replica fail at this step (1-based), by throwing or by exiting its thread. */
  fault?: { atStep: number; kind: 'throw' | 'exit' };
}

export interface ShardWhere {
  seed: number;
  epoch: number;
  index: number;
  shard: number;
}

export type ToReplica = { type: 'step'; step: number; weights: Float32Array[]; x: Float32Array; n: number; inputSize?: number; targets: BatchTargets; where: ShardWhere };

export type FromReplica =
  | { type: 'ready'; shapes: number[][] }
  | { type: 'grads'; step: number; grads: Float32Array[]; loss: number; stats: Float32Array | null }
  | { type: 'error'; step: number | null; message: string; outOfMemory: boolean };

/** A replica threw or died: the run ends with this message. */
export class ReplicaFailure extends Error {
  constructor(
    message: string,
    readonly outOfMemory: boolean,
  ) {
    super(message);
    this.name = 'ReplicaFailure';
  }
}

/** Replica threads started and not yet exited (in this thread): tests check none is left. */
let live = 0;
export function liveReplicaThreads(): number {
  return live;
}

/** Shard sizes of a batch of n over at most `shards` threads: as even as possible, larger first. */
export function shardSizes(n: number, shards: number): number[] {
  const s = Math.max(1, Math.min(shards, n));
  const base = Math.floor(n / s);
  return Array.from({ length: s }, (_, k) => base + (k < n % s ? 1 : 0));
}

/** Images [start, start + count) of a batch, targets included. */
export function sliceBatch(b: Batch, start: number, count: number, configSide: number): Batch {
  const side = b.inputSize ?? configSide;
  const per = b.x.length / b.n;
  const t = b.targets;
  let targets: BatchTargets;
  switch (t.task) {
    case 'classification': {
      const k = t.labels.length / b.n;
      targets = { task: 'classification', labels: t.labels.slice(start * k, (start + count) * k) };
      break;
    }
    case 'segmentation':
      targets = { task: 'segmentation', masks: t.masks.slice(start * side * side, (start + count) * side * side) };
      break;
    case 'detection':
      targets = { task: 'detection', boxes: t.boxes.slice(start, start + count) };
      break;
  }
  return { x: b.x.slice(start * per, (start + count) * per), n: count, targets, itemIds: b.itemIds.slice(start, start + count), ...(b.inputSize !== undefined ? { inputSize: b.inputSize } : {}) };
}

/** Dropout seed of one layer for one shard of one step (a fixed hash: reproducible per seed and thread count). */
export function shardDropoutSeed(w: ShardWhere, layer: number): number {
  let h = Math.imul(w.seed | 0, 0x85ebca6b) ^ Math.imul(w.epoch + 1, 0xc2b2ae35) ^ Math.imul(w.index + 1, 0x27d4eb2f) ^ Math.imul(layer + 1, 0x165667b1) ^ Math.imul(w.shard + 1, 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return (h >>> 0) % 2147483647;
}

export function setShardDropoutSeeds(model: tf.LayersModel, w: ShardWhere): void {
  model.layers.forEach((layer, j) => {
    if (layer.getClassName() === 'Dropout') (layer as unknown as { seed?: number }).seed = shardDropoutSeed(w, j);
  });
}

export interface ShardResult {
  /** Per trainable weight, in model.trainableWeights order. */
  grads: Float32Array[];
  loss: number;
  stats: Float32Array | null;
}

/** One shard's loss, statistics and gradients (copies, in varList order); the model is left as the step left it. */
export function shardGradients(model: tf.LayersModel, hooks: TaskHooks, varList: tf.Variable[], b: Batch, configSide: number, channels: number): ShardResult {
  const side = b.inputSize ?? configSide;
  const x = tf.tensor4d(b.x, [b.n, side, side, channels]);
  const targets = hooks.targets(b);
  let stats: tf.Tensor | null = null;
  let grads: tf.NamedTensorMap = {};
  let value: tf.Scalar | null = null;
  try {
    ({ value, grads } = tf.variableGrads(() => {
      const o = model.apply(x, { training: true }) as tf.Tensor | tf.Tensor[];
      const r = hooks.lossAndStats(Array.isArray(o) ? o : [o], targets, true);
      if (r.stats) stats = tf.keep(r.stats);
      return r.loss;
    }, varList));
    const out = varList.map((v) => {
      const g = grads[v.name];
      // A weight the loss does not reach has no gradient: zeros (as a DDP bucket holds).
      return g ? Float32Array.from(g.dataSync() as Float32Array) : new Float32Array(v.size);
    });
    const s = stats as tf.Tensor | null;
    return { grads: out, loss: (value.dataSync() as Float32Array)[0] as number, stats: s ? Float32Array.from(s.dataSync() as Float32Array) : null };
  } finally {
    tf.dispose([x, ...targets, ...Object.values(grads)]);
    value?.dispose();
    (stats as tf.Tensor | null)?.dispose();
  }
}

/** Where the replica's entry is: the training worker's (worker.ts from source, its bundle beside a bundle). */
function replicaUrl(): URL {
  // 'fovea-train-worker.mjs': engine.ts's TRAIN_WORKER_BUNDLE (not imported: engine.ts imports the trainer).
  return new URL(import.meta.url).pathname.endsWith('.ts') ? new URL('./worker.ts', import.meta.url) : new URL('./fovea-train-worker.mjs', import.meta.url);
}

function spawnReplica(data: ReplicaWorkerData): Worker {
  const url = replicaUrl();
  // Each replica's convolutions on 1 ONNX Runtime thread: the replicas are the parallelism.
  const env = { ...process.env, FOVEA_ORT_KERNEL_THREADS: '1' };
  if (url.pathname.endsWith('.ts')) {
    // As engine.ts's spawnWorker: tsx's hooks are registered inside the worker before the entry loads.
    const tsxApi = import.meta.resolve('tsx/esm/api');
    const code = `import(${JSON.stringify(tsxApi)}).then((api) => { api.register(); return import(${JSON.stringify(url.href)}); });`;
    return new Worker(code, { eval: true, execArgv: [], workerData: data, env });
  }
  return new Worker(url, { workerData: data, env });
}

interface Pending {
  resolve: (r: ShardResult) => void;
  reject: (e: ReplicaFailure) => void;
}

class Replica {
  readonly worker: Worker;
  readonly ready: Promise<number[][]>;
  #failure: ReplicaFailure | null = null;
  #closing = false;
  #pending = new Map<number, Pending>();
  #readyWaiter: { resolve: (s: number[][]) => void; reject: (e: ReplicaFailure) => void } | null = null;
  readonly exited: Promise<void>;

  constructor(
    readonly rank: number,
    readonly of: number,
    data: ReplicaWorkerData,
  ) {
    this.ready = new Promise((resolve, reject) => (this.#readyWaiter = { resolve, reject }));
    this.ready.catch(() => undefined);
    this.worker = spawnReplica(data);
    live++;
    let exitedResolve: () => void = () => undefined;
    this.exited = new Promise((r) => (exitedResolve = r));
    this.worker.on('message', (m: FromReplica) => this.#onMessage(m));
    this.worker.on('error', (e) => this.#fail(`it threw ${e instanceof Error ? e.message : String(e)}`, e instanceof Error && /out of memory|ERR_WORKER_OUT_OF_MEMORY/i.test(`${e.message} ${(e as NodeJS.ErrnoException).code ?? ''}`)));
    this.worker.on('messageerror', (e) => this.#fail(`a message could not be read (${e.message})`, false));
    this.worker.on('exit', (code) => {
      live--;
      exitedResolve();
      if (!this.#closing) this.#fail(`its thread exited (code ${code})`, false);
    });
  }

  get name(): string {
    return `data-parallel replica ${this.rank} of ${this.of - 1} (thread ${this.rank + 1} of ${this.of})`;
  }

  get failure(): ReplicaFailure | null {
    return this.#failure;
  }

  #fail(why: string, outOfMemory: boolean): void {
    if (this.#failure) return;
    this.#failure = new ReplicaFailure(`The ${this.name} failed: ${why}`, outOfMemory);
    this.#readyWaiter?.reject(this.#failure);
    for (const p of this.#pending.values()) p.reject(this.#failure);
    this.#pending.clear();
    // A replica that failed is not trusted for another step: stop it.
    if (!this.#closing) void this.worker.terminate();
  }

  #onMessage(m: FromReplica): void {
    switch (m.type) {
      case 'ready':
        this.#readyWaiter?.resolve(m.shapes);
        break;
      case 'grads': {
        const p = this.#pending.get(m.step);
        this.#pending.delete(m.step);
        p?.resolve({ grads: m.grads, loss: m.loss, stats: m.stats });
        break;
      }
      case 'error':
        this.#fail(m.message, m.outOfMemory);
        break;
    }
  }

  request(m: ToReplica, transfer: ArrayBuffer[]): Promise<ShardResult> {
    if (this.#failure) return Promise.reject(this.#failure);
    const p = new Promise<ShardResult>((resolve, reject) => this.#pending.set(m.step, { resolve, reject }));
    p.catch(() => undefined);
    this.worker.postMessage(m, transfer);
    return p;
  }

  async close(): Promise<void> {
    this.#closing = true;
    await this.worker.terminate();
    await this.exited;
  }
}

export interface DataParallelOptions {
  /** Tests only: a fault for one replica (ReplicaWorkerData.fault), by rank. */
  fault?: { rank: number; atStep: number; kind: 'throw' | 'exit' };
}

/**
 * The leader's side: S-1 replicas started for `model` (any model; they rebuild it from its
 * topology), shard 0 computed here. Start it after the model exists; close() on every exit path.
 */
export class DataParallel {
  readonly #replicas: Replica[];
  readonly #threads: number;
  #step = 0;
  #readyChecked = false;

  constructor(config: TrainConfig, model: tf.LayersModel, threads: number, opts: DataParallelOptions = {}) {
    this.#threads = threads;
    const topology = model.toJSON(null, false);
    this.#replicas = [];
    try {
      for (let rank = 1; rank < threads; rank++) {
        const fault = opts.fault?.rank === rank ? { atStep: opts.fault.atStep, kind: opts.fault.kind } : undefined;
        this.#replicas.push(new Replica(rank, threads, { mode: 'replica', rank, config, topology, ...(fault ? { fault } : {}) }));
      }
    } catch (e) {
      // A thread that could not start: those that did are stopped (the run fails with this error).
      for (const r of this.#replicas) void r.close();
      throw new ReplicaFailure(`A data-parallel replica thread could not start: ${e instanceof Error ? e.message : String(e)}`, false);
    }
    // The leader's own convolutions on 1 ONNX Runtime thread too (restored by close()).
    setOrtKernelThreads(1);
  }

  /** Threads computing shards (the leader included). */
  get threads(): number {
    return this.#threads;
  }

  async #checkReady(model: tf.LayersModel): Promise<void> {
    if (this.#readyChecked) return;
    const want = model.weights.map((w) => w.shape.join('x')).join(',');
    for (const r of this.#replicas) {
      const shapes = await r.ready;
      if (shapes.map((s) => s.join('x')).join(',') !== want) throw new ReplicaFailure(`The ${r.name} built a model with other weights than the leader's.`, false);
    }
    this.#readyChecked = true;
  }

  /**
   * The batch's gradients (per trainable weight, averaged over shards weighted by their size),
   * loss (weighted) and statistics (summed), computed on every thread. The leader's model is left
   * with its shard's batch norm statistics updated; its weights are not changed.
   */
  async gradients(model: tf.LayersModel, hooks: TaskHooks, varList: tf.Variable[], batch: Batch, config: TrainConfig, at: { epoch: number; index: number }): Promise<ShardResult> {
    await this.#checkReady(model);
    const step = ++this.#step;
    const sizes = shardSizes(batch.n, this.#threads);
    // Every weight before this step (rank 0's batch norm buffers included), for the replicas.
    const snapshot = sizes.length > 1 ? model.weights.map((w) => w.read().dataSync() as Float32Array) : [];
    const requests: Promise<ShardResult>[] = [];
    let start = sizes[0] as number;
    for (let k = 1; k < sizes.length; k++) {
      const n = sizes[k] as number;
      const r = this.#replicas[k - 1] as Replica;
      const shard = sliceBatch(batch, start, n, config.inputSize);
      start += n;
      const weights = k === sizes.length - 1 ? snapshot : snapshot.map((a) => a.slice());
      const t = shard.targets;
      const targetBuffers = t.task === 'classification' ? [t.labels.buffer as ArrayBuffer] : t.task === 'segmentation' ? [t.masks.buffer as ArrayBuffer] : [];
      const msg: ToReplica = { type: 'step', step, weights, x: shard.x, n, targets: t, where: { seed: config.seed, epoch: at.epoch, index: at.index, shard: k }, ...(shard.inputSize !== undefined ? { inputSize: shard.inputSize } : {}) };
      requests.push(r.request(msg, [...weights.map((a) => a.buffer as ArrayBuffer), shard.x.buffer as ArrayBuffer, ...targetBuffers]));
    }
    setShardDropoutSeeds(model, { seed: config.seed, epoch: at.epoch, index: at.index, shard: 0 });
    let own: ShardResult;
    try {
      own = shardGradients(model, hooks, varList, sizes.length > 1 ? sliceBatch(batch, 0, sizes[0] as number, config.inputSize) : batch, config.inputSize, config.channels);
    } catch (e) {
      await Promise.allSettled(requests);
      throw e;
    }
    const settled = await Promise.allSettled(requests);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) {
      const e = failed.reason;
      throw e instanceof ReplicaFailure ? new ReplicaFailure(`${e.message} (epoch ${at.epoch}, batch ${at.index + 1})`, e.outOfMemory) : e;
    }
    const results = [own, ...settled.map((s) => (s as PromiseFulfilledResult<ShardResult>).value)];
    return combine(results, sizes, batch.n);
  }

  /** One training step: gradients(), then the optimizer once on the averaged gradients. */
  async step(model: tf.LayersModel, optimizer: tf.Optimizer, hooks: TaskHooks, varList: tf.Variable[], batch: Batch, config: TrainConfig, at: { epoch: number; index: number }): Promise<{ loss: number; stats: Float32Array | null }> {
    const r = await this.gradients(model, hooks, varList, batch, config, at);
    const named: tf.NamedTensorMap = {};
    varList.forEach((v, i) => (named[v.name] = tf.tensor(r.grads[i] as Float32Array, v.shape, 'float32')));
    try {
      optimizer.applyGradients(named);
    } finally {
      tf.dispose(Object.values(named));
    }
    return { loss: r.loss, stats: r.stats };
  }

  /** Terminates every replica and waits for their threads to end. */
  async close(): Promise<void> {
    setOrtKernelThreads(null);
    await Promise.allSettled(this.#replicas.map((r) => r.close()));
  }
}

/** Gradients weighted by shard size (float64, shard order), loss weighted, statistics summed. */
function combine(results: ShardResult[], sizes: number[], n: number): ShardResult {
  if (results.length === 1) return results[0] as ShardResult;
  const w = sizes.map((s) => s / n);
  const grads = (results[0] as ShardResult).grads.map((g0, i) => {
    const parts = results.map((r) => r.grads[i] as Float32Array);
    const out = new Float32Array(g0.length);
    for (let j = 0; j < g0.length; j++) {
      let s = 0;
      for (let k = 0; k < parts.length; k++) s += (w[k] as number) * ((parts[k] as Float32Array)[j] as number);
      out[j] = s;
    }
    return out;
  });
  let loss = 0;
  results.forEach((r, k) => (loss += (w[k] as number) * r.loss));
  let stats: Float32Array | null = null;
  for (const r of results) {
    if (!r.stats) continue;
    stats ??= new Float32Array(r.stats.length);
    for (let j = 0; j < r.stats.length; j++) stats[j] = (stats[j] as number) + (r.stats[j] as number);
  }
  return { grads, loss, stats };
}
