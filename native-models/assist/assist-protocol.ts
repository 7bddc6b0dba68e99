/**
 * The inference worker's model-assistance messages (protocol.ts folds them into its unions).
 * One request, one reply, matched by requestId; buffers (images, embeddings, masks, batches) are
 * transferred, not copied. The engine (assist-engine.ts) starts two workers from the same entry:
 * one ENCODES images (seconds per image), the other DECODES prompts on the embeddings it caches,
 * inspects and runs imported models (milliseconds), so a click is never stuck behind an encode.
 */
import type { DecodeOptions, EmbeddingCacheStats, ModelOutput, OnnxGraphInfo, OnnxModelRef, PromptModelRef, PromptSegmentation, RgbImage, SegmentPrompt } from '../../electron/contract/assist-engine';

/** workerData.assist of an assistance worker (absent in the predict-only inference worker). */
export interface AssistWorkerConfig {
  /** ONNX Runtime intra-op threads of this worker's sessions. */
  threads: number;
  /** Bound of the embedding cache (decoder worker). */
  cacheBytes: number;
}

export type ToAssistWorker =
  | { type: 'assist-encode'; requestId: number; model: PromptModelRef; image: RgbImage }
  /** Put an embedding into the decoder worker's cache (`prefetched`: computed ahead of need). */
  | { type: 'assist-store'; requestId: number; model: PromptModelRef; key: string; embedding: Float32Array; width: number; height: number; prefetched: boolean }
  | { type: 'assist-decode'; requestId: number; model: PromptModelRef; key: string; prompt: SegmentPrompt }
  | { type: 'assist-inspect'; requestId: number; path: string }
  | { type: 'assist-run'; requestId: number; model: OnnxModelRef; x: Float32Array; n: number; options: DecodeOptions }
  /** Finish the request in progress, answer the queued ones with an error, release the sessions, exit the thread. */
  | { type: 'assist-close'; requestId: number };

export type FromAssistWorker =
  | { type: 'assist-encoded'; requestId: number; embedding: Float32Array; encodeMs: number }
  | { type: 'assist-stored'; requestId: number; evicted: string[]; stats: EmbeddingCacheStats }
  /** `result` null: the embedding is not cached (evicted meanwhile): encode again. */
  | { type: 'assist-decoded'; requestId: number; result: Omit<PromptSegmentation, 'encodeMs'> | null; stats: EmbeddingCacheStats }
  | { type: 'assist-inspected'; requestId: number; info: OnnxGraphInfo }
  | { type: 'assist-ran'; requestId: number; outputs: ModelOutput[] }
  | { type: 'assist-error'; requestId: number; message: string };

export function isAssistMessage(m: { type: string }): m is ToAssistWorker {
  return m.type.startsWith('assist-');
}

/** The buffers of a reply to transfer. */
export function assistTransfer(m: FromAssistWorker): ArrayBuffer[] {
  const own = (a: Float32Array | Uint8Array): ArrayBuffer[] => (a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer ? [a.buffer] : []);
  switch (m.type) {
    case 'assist-encoded':
      return own(m.embedding);
    case 'assist-decoded':
      return m.result ? [...own(m.result.mask), ...own(m.result.lowRes)] : [];
    case 'assist-ran':
      return m.outputs.flatMap((o) => (o.task === 'segmentation' ? [...own(o.classes), ...own(o.confidence)] : []));
    default:
      return [];
  }
}
