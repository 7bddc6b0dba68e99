/**
 * Propagation across slices: from a mask on one slice, the promptable segmenter proposes the same
 * object's mask on the next slice, then the next, in either direction of the stack, until the
 * object ends or the user stops (the job's cancel). The stack is the one the viewer scrolls: the
 * series' slices in display order (PixelService.series), or a multi-frame image's frames.
 *
 * Prompts for slice k+1 come from the mask on slice k: its bounding box (grown by 10%, at least
 * 2 pixels, clipped to the image), one positive click at its most interior pixel, and, from the
 * second step on, the decoder's low-resolution logits of slice k as the mask prompt (SAM's
 * mask_input; the seed is a person's mask, which has no logits).
 *
 * A direction stops at the first slice whose mask is
 * - empty or tiny (under MIN_AREA pixels): the object has ended;
 * - implausible: more than GROWTH_LIMIT times the previous mask's area, or SEED_GROWTH_LIMIT times
 *   the seed's (it leaked into a neighbour), overlapping the previous mask by less than
 *   MIN_OVERLAP of the smaller of the two (it jumped to another object), scored under MIN_SCORE by
 *   the model itself, or of another brightness than the object: its mean displayed luminance is
 *   further from the seed's than half the seed's contrast with its surroundings (at least
 *   MIN_LUMINANCE_TOLERANCE grey levels). Measured on the sample CT (npm run bench -- sam): past a
 *   lesion's last slice the decoder still finds "something" in the box, slowly growing over the
 *   surrounding tissue; only its brightness gives it away;
 * - of another size than the seed's slice (a stack of mixed sizes);
 * and at the stack's ends or after maxSlices.
 * Nothing of a stopping slice is stored.
 *
 * The previous slice's low-resolution logits as SAM's mask prompt are an option (maskPrompt), off
 * by default: on the sample CT they lowered the proposals' IoU with the truth (bench).
 *
 * Each accepted mask is stored at once as a proposal (source 'model', status 'proposed', author
 * 'model:<pack>', the model's score, the seed's class), replacing that model's earlier proposals
 * of the class on that slice; they are accepted, edited or rejected in the viewer like any
 * proposal. A cancelled run keeps what it stored. One audit row per run ('assist.propagate').
 */
import type { PropagationReport } from '../../contract/assist';
import { FoveaException } from '../../contract/result';
import { decodeRle } from '../labels/rle';
import type { CocoRle } from '../labels/label-types';
import type { AnnotationStore } from '../store/annotation-store';
import type { AssistStore } from '../store/assist-store';
import type { AuditLog } from '../store/audit-log';
import type { DisplayWindow } from './assist-images';
import type { ClickSegmentService, ImagePrompt } from './click-segment';
import { maskArea, maskBounds, meanLuminance, mostInteriorPoint, overlap, ringAround } from './mask-geometry';

export const MIN_AREA = 5;
export const GROWTH_LIMIT = 2.5;
export const MIN_OVERLAP = 0.3;
export const MIN_SCORE = 0.35;
export const SEED_GROWTH_LIMIT = 3;
export const MIN_LUMINANCE_TOLERANCE = 12;

/** What the object looks like on the seed slice (for the brightness check). */
export interface ObjectLook {
  area: number;
  /** Mean displayed luminance inside the seed mask. */
  luminance: number;
  /** How far a slice's mask may be from it. */
  tolerance: number;
}

/** The seed's look: its mean luminance and, as the tolerance, half its contrast with a 3-pixel ring around it. */
export function objectLook(rgb: { data: Uint8Array }, seed: Uint8Array, width: number, height: number): ObjectLook {
  const inside = meanLuminance(rgb, seed);
  const around = meanLuminance(rgb, ringAround(seed, width, height, 3));
  const contrast = Number.isFinite(around) ? Math.abs(inside - around) : 0;
  return { area: maskArea(seed), luminance: inside, tolerance: Math.max(MIN_LUMINANCE_TOLERANCE, contrast / 2) };
}

export interface PropagationDeps {
  annotations: Pick<AnnotationStore, 'get' | 'create'>;
  store: Pick<AssistStore, 'item' | 'deleteProposals'>;
  audit: Pick<AuditLog, 'append'>;
  segmenter: Pick<ClickSegmentService, 'model' | 'itemImage' | 'segmentImage'>;
  /** The series' stack in display order (PixelService.series). */
  seriesStack(seriesId: number): { entries: { itemId: number; frame: number }[] };
  library: { readOnly: boolean; readOnlyReason: string | null };
}

export interface PropagationRequest {
  annotationId: number;
  direction: 'forward' | 'backward' | 'both';
  window?: DisplayWindow;
  maxSlices?: number;
  model?: string;
}

export interface PropagationOptions {
  signal?: AbortSignal;
  onSlice?: (s: { done: number; direction: 'forward' | 'backward'; itemId: number; frame: number }) => void;
  /** Use the previous slice's logits as SAM's mask prompt (default false; the bench compares both). */
  maskPrompt?: boolean;
}

interface Slot {
  itemId: number;
  frame: number;
  /** The annotation's frame_index: the frame of a multi-frame image, null for a single-frame one. */
  frameIndex: number | null;
}

/** Why a mask ends the direction, or null when it continues it. `luminance`: the new mask's mean displayed luminance. */
export function stopReason(mask: Uint8Array, previous: Uint8Array, score: number, look?: ObjectLook, luminance?: number): string | null {
  const area = maskArea(mask);
  if (area < MIN_AREA) return 'the object ended (empty mask)';
  const o = overlap(mask, previous);
  if (area > GROWTH_LIMIT * o.b) return `implausible mask: ${(area / Math.max(1, o.b)).toFixed(1)} times the previous slice's area`;
  if (look && area > SEED_GROWTH_LIMIT * look.area) return `implausible mask: ${(area / look.area).toFixed(1)} times the first mask's area`;
  if (o.intersection < MIN_OVERLAP * Math.min(o.a, o.b)) return 'implausible mask: it does not overlap the previous slice\'s';
  if (score < MIN_SCORE) return `the model is unsure (score ${score.toFixed(2)})`;
  if (look && luminance !== undefined && Number.isFinite(luminance) && Math.abs(luminance - look.luminance) > look.tolerance) {
    return `the object ended (the mask is ${luminance > look.luminance ? 'brighter' : 'darker'} than the object: ${luminance.toFixed(0)} vs ${look.luminance.toFixed(0)} grey levels)`;
  }
  return null;
}

/** The prompt for the next slice from the mask on this one (see the file header), or null for an empty mask. */
export function nextPrompt(previous: Uint8Array, width: number, height: number): ImagePrompt | null {
  const bounds = maskBounds(previous, width, height);
  const centre = mostInteriorPoint(previous, width, height);
  if (!bounds || !centre) return null;
  return { points: [{ x: centre.x, y: centre.y, positive: true }], box: growBox(bounds, width, height) };
}

function growBox(b: { x0: number; y0: number; x1: number; y1: number }, width: number, height: number): { x: number; y: number; width: number; height: number } {
  // Pixel bounds are inclusive; the box is continuous [x0, x1 + 1).
  const w = b.x1 + 1 - b.x0;
  const h = b.y1 + 1 - b.y0;
  const gx = Math.max(2, 0.1 * w);
  const gy = Math.max(2, 0.1 * h);
  const x0 = Math.max(0, b.x0 - gx);
  const y0 = Math.max(0, b.y0 - gy);
  const x1 = Math.min(width, b.x1 + 1 + gx);
  const y1 = Math.min(height, b.y1 + 1 + gy);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** The stack an annotation's image belongs to, and where it is in it. */
function stackOf(deps: PropagationDeps, itemId: number, frameIndex: number | null): { slots: Slot[]; at: number } {
  const item = deps.store.item(itemId);
  if (!item) throw new FoveaException('NOT_FOUND', `There is no item ${itemId}.`);
  let slots: Slot[];
  if (item.seriesId !== null) {
    const entries = deps.seriesStack(item.seriesId).entries;
    slots = entries.map((e) => {
      const frames = e.itemId === itemId ? item.frames : (deps.store.item(e.itemId)?.frames ?? 1);
      return { itemId: e.itemId, frame: e.frame, frameIndex: frames > 1 ? e.frame : null };
    });
  } else {
    slots = Array.from({ length: Math.max(1, item.frames) }, (_, f) => ({ itemId, frame: f, frameIndex: item.frames > 1 ? f : null }));
  }
  const at = slots.findIndex((s) => s.itemId === itemId && s.frame === (frameIndex ?? 0));
  if (at < 0) throw new FoveaException('INTERNAL', `Item ${itemId} is not in its own stack.`);
  return { slots, at };
}

export async function propagate(deps: PropagationDeps, req: PropagationRequest, options: PropagationOptions = {}): Promise<PropagationReport> {
  if (deps.library.readOnly) throw new FoveaException('LIBRARY_READ_ONLY', deps.library.readOnlyReason ?? 'The library is read-only.');
  const started = performance.now();
  const seed = deps.annotations.get(req.annotationId);
  if (!seed || seed.status === 'deleted' || seed.status === 'rejected') throw new FoveaException('NOT_FOUND', `There is no annotation ${req.annotationId} to propagate from.`);
  const g = seed.geometry as { rle?: CocoRle } | null;
  if (seed.kind !== 'mask' || seed.itemId === null || !g?.rle) {
    throw new FoveaException('VALIDATION', 'Propagation starts from a mask on an image (draw one with the brush or click-to-mask, then propagate).');
  }
  const [height, width] = g.rle.size;
  const seedMask = decodeRle(g.rle);
  if (maskArea(seedMask) < MIN_AREA) throw new FoveaException('VALIDATION', 'The mask to propagate from is empty.');
  const model = await deps.segmenter.model(req.model);
  const author = `model:${model.name}`;
  const { slots, at } = stackOf(deps, seed.itemId, seed.frameIndex);
  const seedImage = deps.segmenter.itemImage(model.ref.id, seed.itemId, seed.frameIndex ?? 0, req.window);
  const look = objectLook(await seedImage.supply(), seedMask, width, height);
  const maxSlices = req.maxSlices ?? slots.length;
  const directions: ('forward' | 'backward')[] = req.direction === 'both' ? ['forward', 'backward'] : [req.direction];
  const report: PropagationReport = {
    seedAnnotationId: seed.id,
    classId: seed.classId,
    model: model.name,
    proposed: 0,
    replaced: 0,
    slices: [],
    stopped: { forward: null, backward: null },
    seconds: 0,
  };
  let done = 0;
  let failed = false;
  try {
    for (const direction of directions) {
      const step = direction === 'forward' ? 1 : -1;
      let previous = seedMask;
      let logits: Float32Array | null = null;
      let count = 0;
      for (let i = at + step; ; i += step) {
        if (options.signal?.aborted) throw new FoveaException('CANCELLED', 'Propagation was stopped.');
        const slot = slots[i];
        if (!slot) {
          report.stopped[direction] = 'the end of the stack';
          break;
        }
        if (count >= maxSlices) {
          report.stopped[direction] = `the limit of ${maxSlices} slice${maxSlices === 1 ? '' : 's'}`;
          break;
        }
        const image = deps.segmenter.itemImage(model.ref.id, slot.itemId, slot.frame, req.window);
        if (image.width !== width || image.height !== height) {
          report.stopped[direction] = `the next slice is ${image.width}x${image.height}, not ${width}x${height}`;
          break;
        }
        const prompt = nextPrompt(previous, width, height);
        if (!prompt) break;
        const r = await deps.segmenter.segmentImage(image, model, prompt, false, options.maskPrompt === true ? logits : null);
        const why = stopReason(r.mask, previous, r.score, look, meanLuminance(await image.supply(), r.mask));
        if (why) {
          report.stopped[direction] = why;
          break;
        }
        if (options.signal?.aborted) throw new FoveaException('CANCELLED', 'Propagation was stopped.');
        report.replaced += deps.store.deleteProposals({ datasetId: seed.datasetId, itemId: slot.itemId, frameIndex: slot.frameIndex, classId: seed.classId, author });
        const id = deps.annotations.create({
          datasetId: seed.datasetId,
          itemId: slot.itemId,
          frameIndex: slot.frameIndex,
          classId: seed.classId,
          kind: 'mask',
          geometry: { rle: r.rle },
          score: r.score,
          source: 'model',
          status: 'proposed',
          author,
        });
        report.proposed++;
        report.slices.push({ itemId: slot.itemId, frame: slot.frame, annotationId: id, area: r.area, score: r.score });
        previous = r.mask;
        logits = r.lowRes;
        count++;
        done++;
        options.onSlice?.({ done, direction, itemId: slot.itemId, frame: slot.frame });
      }
    }
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    report.seconds = (performance.now() - started) / 1000;
    deps.audit.append({
      action: 'assist.propagate',
      objectType: 'annotation',
      objectId: seed.id,
      outcome: options.signal?.aborted ? 'cancelled' : failed ? 'failed' : 'ok',
      details: { model: model.name, proposed: report.proposed, replaced: report.replaced, direction: req.direction },
    });
  }
  return report;
}
