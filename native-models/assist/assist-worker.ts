/**
 * The model-assistance side of the inference worker (train/worker.ts routes 'assist-*' messages
 * here). Requests run one after another in arrival order: ONNX Runtime's run() holds the thread
 * anyway, and order keeps the embedding cache's answers consistent with what was stored.
 */
import type { MessagePort } from 'node:worker_threads';
import type { EmbeddingCacheStats, PromptModelRef } from '../../electron/contract/assist-engine';
import { assistTransfer, type AssistWorkerConfig, type FromAssistWorker, type ToAssistWorker } from './assist-protocol';
import { inspectOnnxFile } from './onnx-inspect';
import { OnnxRunner } from './onnx-runner';
import { SamDecoder, SamEncoder } from './sam';

const DEFAULT_CONFIG: AssistWorkerConfig = { threads: 1, cacheBytes: 256 * 1024 * 1024 };

export function createAssistHandler(port: Pick<MessagePort, 'postMessage'>, config: AssistWorkerConfig = DEFAULT_CONFIG): (m: ToAssistWorker) => void {
  let encoder: { id: string; enc: Promise<SamEncoder> } | null = null;
  let decoder: { id: string; dec: Promise<SamDecoder> } | null = null;
  const runner = new OnnxRunner(config.threads);
  let queue: Promise<void> = Promise.resolve();

  const encoderFor = (model: PromptModelRef): Promise<SamEncoder> => {
    if (encoder?.id !== model.id) {
      const old = encoder;
      encoder = { id: model.id, enc: SamEncoder.load(model, config.threads) };
      void old?.enc.then((e) => e.dispose()).catch(() => undefined);
      // A failed load is not kept: the next request tries again (and says why again).
      const mine = encoder;
      mine.enc.catch(() => {
        if (encoder === mine) encoder = null;
      });
    }
    return encoder.enc;
  };
  const decoderFor = (model: PromptModelRef): Promise<SamDecoder> => {
    if (decoder?.id !== model.id) {
      const old = decoder;
      decoder = { id: model.id, dec: SamDecoder.load(model, config.threads, config.cacheBytes) };
      void old?.dec.then((d) => d.dispose()).catch(() => undefined);
      const mine = decoder;
      mine.dec.catch(() => {
        if (decoder === mine) decoder = null;
      });
    }
    return decoder.dec;
  };
  const stats = (d: SamDecoder): EmbeddingCacheStats => ({ entries: d.cache.size, bytes: d.cache.bytes, maxBytes: d.cache.maxBytes, prefetched: d.cache.prefetched });

  async function handle(m: Exclude<ToAssistWorker, { type: 'assist-close' }>): Promise<FromAssistWorker> {
    switch (m.type) {
      case 'assist-encode': {
        const enc = await encoderFor(m.model);
        const t = performance.now();
        const embedding = await enc.encode(m.image);
        return { type: 'assist-encoded', requestId: m.requestId, embedding, encodeMs: performance.now() - t };
      }
      case 'assist-store': {
        const d = await decoderFor(m.model);
        const evicted = d.cache.set(m.key, { data: m.embedding, width: m.width, height: m.height, prefetched: m.prefetched });
        return { type: 'assist-stored', requestId: m.requestId, evicted, stats: stats(d) };
      }
      case 'assist-decode': {
        const d = await decoderFor(m.model);
        const result = await d.decode(m.key, m.prompt);
        return { type: 'assist-decoded', requestId: m.requestId, result, stats: stats(d) };
      }
      case 'assist-inspect':
        return { type: 'assist-inspected', requestId: m.requestId, info: await inspectOnnxFile(m.path) };
      case 'assist-run':
        return { type: 'assist-ran', requestId: m.requestId, outputs: await runner.run(m.model, m.x, m.n, m.options) };
    }
  }

  let closing = false;
  return (m) => {
    if (m.type === 'assist-close') {
      // Ends the thread between runs: a thread stopped inside ONNX Runtime's native run aborts the process.
      closing = true;
      queue = queue.then(async () => {
        await runner.dispose().catch(() => undefined);
        await encoder?.enc.then((e) => e.dispose()).catch(() => undefined);
        await decoder?.dec.then((d) => d.dispose()).catch(() => undefined);
        process.exit(0);
      });
      return;
    }
    queue = queue.then(async () => {
      let reply: FromAssistWorker;
      try {
        if (closing) throw new Error('The model-assistance engine is closing.');
        reply = await handle(m);
      } catch (e) {
        reply = { type: 'assist-error', requestId: m.requestId, message: e instanceof Error ? e.message : String(e) };
      }
      port.postMessage(reply, assistTransfer(reply));
    });
  };
}
