/**
 * Segment Anything on ONNX Runtime, split the way SAM is meant to run interactively: the heavy
 * image ENCODER once per image (seconds), the light prompt DECODER once per click (milliseconds).
 * They run in two different worker threads (assist-engine.ts): ONNX Runtime's run() blocks its
 * thread, so a decoder sharing a thread with an encoder would wait out a whole encode.
 *
 * The decoder is the standard exported SAM decoder (segment_anything/utils/onnx.py SamOnnxModel,
 * single-mask output): inputs image_embeddings [1,256,64,64], point_coords [1,N,2],
 * point_labels [1,N] (1 on, 0 off, 2/3 box corners, -1 padding), mask_input [1,1,256,256],
 * has_mask_input [1], orig_im_size [2] = (h, w); outputs masks (logits at the original size),
 * iou_predictions, low_res_masks.
 *
 * Coordinates: ours are continuous image pixels (pixel (c, r) covers [c, c+1) x [r, r+1)); SAM's
 * are pixel indices (it adds 0.5 itself), on the resized image. So a point p goes in as
 * p * s - 0.5, with s the resize factor per axis (sam-preprocess.ts resizedSize).
 */
import type * as OrtTypes from 'onnxruntime-node';
import type { PromptModelRef, PromptSegmentation, RgbImage, SegmentPrompt } from '../../electron/contract/assist-engine';
import { EmbeddingCache } from './embedding-cache';
import { resizedSize, samEncoderInput } from './sam-preprocess';
import { requireOrt, verifiedSession } from './ort-session';

type Ort = typeof OrtTypes;
type Session = OrtTypes.InferenceSession;

export class SamEncoder {
  readonly #ort: Ort;
  readonly #session: Session;
  readonly #model: PromptModelRef;

  private constructor(ort: Ort, session: Session, model: PromptModelRef) {
    this.#ort = ort;
    this.#session = session;
    this.#model = model;
  }

  static async load(model: PromptModelRef, threads: number): Promise<SamEncoder> {
    const ort = await requireOrt();
    return new SamEncoder(ort, await verifiedSession(ort, model.encoder, threads), model);
  }

  /** The image embedding, [1, 256, 64, 64] flattened. */
  async encode(image: RgbImage): Promise<Float32Array> {
    const m = this.#model;
    const x = samEncoderInput(image, m.inputSize, m.mean, m.std);
    const name = this.#session.inputNames[0] as string;
    const out = await this.#session.run({ [name]: new this.#ort.Tensor('float32', x, [1, 3, m.inputSize, m.inputSize]) });
    const t = out[this.#session.outputNames[0] as string];
    if (!t || t.type !== 'float32') throw new Error('the SAM encoder returned no float32 embedding');
    return t.data as Float32Array;
  }

  async dispose(): Promise<void> {
    await this.#session.release();
  }
}

/** The decoder and the embeddings it decodes from (the cache lives here: a click copies nothing). */
export class SamDecoder {
  readonly #ort: Ort;
  readonly #session: Session;
  readonly #model: PromptModelRef;
  readonly cache: EmbeddingCache;

  private constructor(ort: Ort, session: Session, model: PromptModelRef, cacheBytes: number) {
    this.#ort = ort;
    this.#session = session;
    this.#model = model;
    this.cache = new EmbeddingCache(cacheBytes);
  }

  static async load(model: PromptModelRef, threads: number, cacheBytes: number): Promise<SamDecoder> {
    const ort = await requireOrt();
    return new SamDecoder(ort, await verifiedSession(ort, model.decoder, threads), model, cacheBytes);
  }

  /** Decodes a prompt on a cached embedding; null when the embedding is not (or no longer) cached. */
  async decode(key: string, prompt: SegmentPrompt): Promise<Omit<PromptSegmentation, 'encodeMs'> | null> {
    const entry = this.cache.get(key);
    if (!entry) return null;
    const started = performance.now();
    const { width, height } = entry;
    const m = this.#model;
    const size = resizedSize(width, height, m.inputSize);
    const sx = size.width / width;
    const sy = size.height / height;
    const coords: number[] = [];
    const labels: number[] = [];
    for (const p of prompt.points) {
      coords.push(p.x * sx - 0.5, p.y * sy - 0.5);
      labels.push(p.positive ? 1 : 0);
    }
    if (prompt.box) {
      const b = prompt.box;
      coords.push(Math.min(b.x0, b.x1) * sx - 0.5, Math.min(b.y0, b.y1) * sy - 0.5, Math.max(b.x0, b.x1) * sx - 0.5, Math.max(b.y0, b.y1) * sy - 0.5);
      labels.push(2, 3);
    } else {
      // SAM's padding point: without a box the decoder expects one (label -1).
      coords.push(0, 0);
      labels.push(-1);
    }
    const n = labels.length;
    const M = m.maskSize;
    const maskInput = prompt.maskInput;
    if (maskInput && maskInput.length !== M * M) throw new Error(`mask_input has ${maskInput.length} values, not ${M * M}`);
    const T = this.#ort.Tensor;
    const feeds: Record<string, OrtTypes.Tensor> = {
      image_embeddings: new T('float32', entry.data, [1, 256, m.inputSize / 16, m.inputSize / 16]),
      point_coords: new T('float32', Float32Array.from(coords), [1, n, 2]),
      point_labels: new T('float32', Float32Array.from(labels), [1, n]),
      mask_input: new T('float32', maskInput ?? new Float32Array(M * M), [1, 1, M, M]),
      has_mask_input: new T('float32', Float32Array.of(maskInput ? 1 : 0), [1]),
      orig_im_size: new T('float32', Float32Array.of(height, width), [2]),
    };
    const out = await this.#session.run(feeds);
    const masks = out['masks'];
    const iou = out['iou_predictions'];
    const low = out['low_res_masks'];
    if (!masks || !iou || !low) throw new Error('the SAM decoder did not return masks, iou_predictions and low_res_masks');
    const logits = masks.data as Float32Array;
    if (logits.length !== width * height) throw new Error(`the SAM decoder returned ${logits.length} mask values for a ${width}x${height} image`);
    const mask = new Uint8Array(width * height);
    for (let i = 0; i < mask.length; i++) mask[i] = (logits[i] as number) > 0 ? 1 : 0;
    const lowRes = Float32Array.from((low.data as Float32Array).subarray(0, M * M));
    return { width, height, mask, score: (iou.data as Float32Array)[0] as number, lowRes, decodeMs: performance.now() - started };
  }

  async dispose(): Promise<void> {
    this.cache.clear();
    await this.#session.release();
  }
}
