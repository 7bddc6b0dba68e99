/**
 * The model-assistance engine of the calling thread (Electron's main process, the CLI): the
 * contract's AssistEngine over two inference workers started from the same entry as the predict
 * worker (train/worker.ts, workerData { mode: 'inference', assist }):
 * - the ENCODER worker computes image embeddings, one at a time, 'now' requests before 'ahead'
 *   ones (the next images in browse order); an image already queued is never encoded twice;
 * - the DECODER worker keeps the embeddings in a byte-bounded LRU (embedding-cache.ts), decodes
 *   prompts on them, and inspects and runs imported ONNX models.
 * ONNX Runtime's run() blocks the thread it runs on; with one worker a click would wait for a
 * whole encode of the next image. Embeddings cross from one worker to the other once, transferred.
 *
 * This side mirrors which keys the decoder caches (from its replies: what it stored, what it
 * evicted) to know when to encode. If the mirror is stale (an eviction raced a click) the decoder
 * answers "not cached" and the image is encoded again. A worker that dies rejects what it had and
 * is started afresh by the next request. Workers are unref'd while idle, so a CLI exits normally.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type {
  AssistEngine,
  DecodeOptions,
  EmbeddingCacheStats,
  ImageSupplier,
  ModelOutput,
  OnnxGraphInfo,
  OnnxModelRef,
  PromptModelRef,
  PromptSegmentation,
  SegmentPrompt,
} from '../../electron/contract/assist-engine';
import { spawnWorker, TRAIN_WORKER_BUNDLE } from '../engine';
import type { AssistWorkerConfig, FromAssistWorker, ToAssistWorker } from './assist-protocol';

/** 64 SAM embeddings (4 MiB each). */
export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;

export interface AssistEngineOptions {
  /** Bound of the embedding cache in bytes (default 256 MiB; FOVEA_ASSIST_CACHE_MB overrides). */
  cacheBytes?: number;
  /** ONNX Runtime threads of the encoder (default min(4, cores)). */
  encoderThreads?: number;
  /** ONNX Runtime threads of the decoder and imported models (default 1: a click's decode is small, and 1 thread held up best on a loaded 2-core machine). */
  decoderThreads?: number;
  /** The worker entry (default: train/worker.ts from source, fovea-train-worker.mjs beside a bundle). */
  workerUrl?: URL;
}

export function defaultAssistWorkerUrl(moduleUrl: string = import.meta.url): URL {
  return new URL(moduleUrl).pathname.endsWith('.ts') ? new URL('../train/worker.ts', moduleUrl) : new URL(`./${TRAIN_WORKER_BUNDLE}`, moduleUrl);
}

type Omit2<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Request = Omit2<ToAssistWorker, 'requestId'>;
type ReplyOf<T extends FromAssistWorker['type']> = Extract<FromAssistWorker, { type: T }>;

/** One worker, started on first use, restarted after it dies; requests matched by id. */
class WorkerChannel {
  readonly #url: URL;
  readonly #config: AssistWorkerConfig;
  readonly #onDeath: () => void;
  #worker: Worker | null = null;
  readonly #pending = new Map<number, { resolve: (m: FromAssistWorker) => void; reject: (e: Error) => void }>();
  #next = 1;

  constructor(url: URL, config: AssistWorkerConfig, onDeath: () => void) {
    this.#url = url;
    this.#config = config;
    this.#onDeath = onDeath;
  }

  #start(): Worker {
    const worker = spawnWorker(this.#url, { mode: 'inference', assist: this.#config });
    const fail = (message: string): void => {
      if (this.#worker !== worker) return;
      this.#worker = null;
      for (const p of this.#pending.values()) p.reject(new Error(message));
      this.#pending.clear();
      this.#onDeath();
    };
    worker.on('message', (m: FromAssistWorker) => {
      const p = this.#pending.get(m.requestId);
      this.#pending.delete(m.requestId);
      // A closing worker stays referenced until it has exited (see dispose).
      if (this.#pending.size === 0 && this.#worker === worker) worker.unref();
      if (!p) return;
      if (m.type === 'assist-error') p.reject(new Error(m.message));
      else p.resolve(m);
    });
    worker.on('error', (e) => fail(`The model-assistance worker failed: ${e.message}`));
    worker.on('exit', (code) => fail(`The model-assistance worker exited (code ${code}).`));
    return worker;
  }

  send<T extends FromAssistWorker['type']>(request: Request, expect: T, transfer: ArrayBuffer[] = []): Promise<ReplyOf<T>> {
    const worker = (this.#worker ??= this.#start());
    const requestId = this.#next++;
    return new Promise<ReplyOf<T>>((resolve, reject) => {
      this.#pending.set(requestId, {
        resolve: (m) => (m.type === expect ? resolve(m as ReplyOf<T>) : reject(new Error(`the worker answered ${m.type} to a request expecting ${expect}`))),
        reject,
      });
      worker.ref();
      worker.postMessage({ ...request, requestId } as ToAssistWorker, transfer);
    });
  }

  /**
   * Lets the worker finish the run in progress and exit (worker.terminate() in the middle of ONNX
   * Runtime's native run aborts the whole process); held referenced until it has, so a process
   * waits for it. After CLOSE_GRACE_MS it is terminated anyway.
   */
  dispose(): Promise<void> {
    const w = this.#worker;
    this.#worker = null;
    for (const p of this.#pending.values()) p.reject(new Error('The model-assistance engine was closed.'));
    this.#pending.clear();
    if (!w) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => void w.terminate(), CLOSE_GRACE_MS);
      w.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      w.ref();
      w.postMessage({ type: 'assist-close', requestId: 0 } satisfies ToAssistWorker);
    });
  }
}

/** How long a closing worker may take to finish its run (a slow encode on a loaded machine). */
const CLOSE_GRACE_MS = 120_000;

interface EncodeTask {
  model: PromptModelRef;
  key: string;
  supply: ImageSupplier;
  priority: 'now' | 'ahead';
  waiters: { resolve: (r: { encodeMs: number | null }) => void; reject: (e: Error) => void }[];
}

function envCacheBytes(): number | null {
  const mb = Number(process.env['FOVEA_ASSIST_CACHE_MB']);
  return Number.isFinite(mb) && mb > 0 ? Math.round(mb * 1024 * 1024) : null;
}

function transferable(a: Float32Array | Uint8Array): ArrayBuffer[] {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer ? [a.buffer] : [];
}

export function createAssistEngine(options: AssistEngineOptions = {}): AssistEngine {
  const url = options.workerUrl ?? defaultAssistWorkerUrl();
  const cacheBytes = options.cacheBytes ?? envCacheBytes() ?? DEFAULT_CACHE_BYTES;
  const cached = new Set<string>();
  let stats: EmbeddingCacheStats = { entries: 0, bytes: 0, maxBytes: cacheBytes, prefetched: 0 };
  const encoder = new WorkerChannel(url, { threads: options.encoderThreads ?? Math.max(1, Math.min(4, availableParallelism())), cacheBytes: 0 }, () => undefined);
  const decoder = new WorkerChannel(url, { threads: options.decoderThreads ?? 1, cacheBytes }, () => {
    // The cache died with its worker.
    cached.clear();
    stats = { entries: 0, bytes: 0, maxBytes: cacheBytes, prefetched: 0 };
  });

  const queue: EncodeTask[] = [];
  let running: EncodeTask | null = null;
  let disposed = false;

  const absorb = (evicted: readonly string[], s: EmbeddingCacheStats): void => {
    for (const k of evicted) cached.delete(k);
    stats = s;
  };

  async function runTask(task: EncodeTask): Promise<number> {
    const image = await task.supply();
    const expected = image.width * image.height * 3;
    if (image.data.length !== expected) throw new Error(`the image supplier gave ${image.data.length} bytes for a ${image.width}x${image.height} RGB image`);
    const data = image.data.byteOffset === 0 && image.data.byteLength === image.data.buffer.byteLength ? image.data : image.data.slice();
    const enc = await encoder.send({ type: 'assist-encode', model: task.model, image: { ...image, data } }, 'assist-encoded', transferable(data));
    const stored = await decoder.send(
      { type: 'assist-store', model: task.model, key: task.key, embedding: enc.embedding, width: image.width, height: image.height, prefetched: task.priority === 'ahead' },
      'assist-stored',
      transferable(enc.embedding),
    );
    cached.add(task.key);
    absorb(stored.evicted, stored.stats);
    return enc.encodeMs;
  }

  function pump(): void {
    if (running || disposed) return;
    const i = queue.findIndex((t) => t.priority === 'now');
    const task = i >= 0 ? queue.splice(i, 1)[0] : queue.shift();
    if (!task) return;
    running = task;
    runTask(task).then(
      (ms) => task.waiters.forEach((w) => w.resolve({ encodeMs: ms })),
      (e: unknown) => task.waiters.forEach((w) => w.reject(e instanceof Error ? e : new Error(String(e)))),
    ).finally(() => {
      running = null;
      pump();
    });
  }

  function encode(model: PromptModelRef, key: string, supply: ImageSupplier, priority: 'now' | 'ahead'): Promise<{ encodeMs: number | null }> {
    if (disposed) return Promise.reject(new Error('The model-assistance engine was closed.'));
    if (cached.has(key)) return Promise.resolve({ encodeMs: null });
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      const same = running?.key === key ? running : queue.find((t) => t.key === key);
      if (same) {
        same.waiters.push(waiter);
        if (priority === 'now') same.priority = 'now';
      } else {
        queue.push({ model, key, supply, priority, waiters: [waiter] });
        pump();
      }
    });
  }

  async function segment(model: PromptModelRef, key: string, supply: ImageSupplier, prompt: SegmentPrompt): Promise<PromptSegmentation> {
    let encodeMs: number | null = null;
    for (let attempt = 0; attempt < 2; attempt++) {
      const e = await encode(model, key, supply, 'now');
      if (e.encodeMs !== null) encodeMs = (encodeMs ?? 0) + e.encodeMs;
      // The prompt's buffer is copied: the caller may keep using its mask_input.
      const p: SegmentPrompt = { ...prompt, maskInput: prompt.maskInput ? prompt.maskInput.slice() : null };
      const r = await decoder.send({ type: 'assist-decode', model, key, prompt: p }, 'assist-decoded', p.maskInput ? transferable(p.maskInput) : []);
      stats = r.stats;
      if (r.result) return { ...r.result, encodeMs };
      cached.delete(key); // evicted before the decode reached it: encode again
    }
    throw new Error('The image embedding was evicted twice in a row: the embedding cache is too small for this use.');
  }

  return {
    encode,
    segment,
    dropAhead(keep) {
      const wanted = new Set(keep);
      for (let i = queue.length - 1; i >= 0; i--) {
        const t = queue[i] as EncodeTask;
        if (t.priority === 'ahead' && !wanted.has(t.key)) {
          queue.splice(i, 1);
          t.waiters.forEach((w) => w.resolve({ encodeMs: null }));
        }
      }
    },
    cacheStats: () => ({ ...stats }),
    async inspect(path: string): Promise<OnnxGraphInfo> {
      return (await decoder.send({ type: 'assist-inspect', path }, 'assist-inspected')).info;
    },
    async run(model: OnnxModelRef, x: Float32Array, n: number, decodeOptions: DecodeOptions = {}): Promise<ModelOutput[]> {
      const copy = x.slice();
      return (await decoder.send({ type: 'assist-run', model, x: copy, n, options: decodeOptions }, 'assist-ran', [copy.buffer])).outputs;
    },
    async dispose() {
      disposed = true;
      for (const t of queue.splice(0)) t.waiters.forEach((w) => w.reject(new Error('The model-assistance engine was closed.')));
      cached.clear();
      await Promise.all([encoder.dispose(), decoder.dispose()]);
    },
  };
}
