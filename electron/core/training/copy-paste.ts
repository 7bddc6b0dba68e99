/**
 * Simple Copy-Paste for detection (Ghiasi et al., CVPR 2021; AugmentConfig.copyPaste): with
 * probability p a training image gets a random subset of the masked objects of another training
 * image pasted onto it, in input pixels, after both are placed:
 *
 * - The target image is letterboxed and augmented as always (sample-loader.ts). The source image
 *   (another train sample with at least one object mask or polygon) is placed on its own: the
 *   letterbox, a random flip (the run's flips), a random scale in [1 - s, 1 + s] (the run's scale
 *   jitter) and a random position (a shift of up to COPY_PASTE_SHIFT of the input side each way).
 *   No rotation, no photometric jitter on the source: its pixels are its normalised pixels.
 *   Objects land inside the target image only: pasted pixels that fall on the letterbox padding
 *   (or outside the target's crop) are left out, as if outside the input (a person floating on
 *   the padding is a picture no test image shows).
 * - 1..n of the source's n masked objects are chosen (n uniform, then a random subset). Each
 *   object's pixels are those of its instance map (training-samples' rasterizeInstances),
 *   resampled nearest, like a segmentation mask; image pixels bilinear. Under the mask the
 *   output pixel IS the placed source's pixel. A pasted object gets the box of its pasted pixels
 *   and its class. An object of which less than minBoxVisibility of its area lands inside the
 *   input is not pasted at all (its pixels stay the target's): the crops' rule.
 * - Objects of the target that pasted pixels cover lose visible area. Visible fraction = the
 *   crop's (box area left inside the input) times the share of its pixels not covered (its mask's
 *   pixels when it has one, else its box's). Fully covered, or below minBoxVisibility: it becomes
 *   a region to ignore (class -1, its box), as a box the crops leave less visible does. Why not
 *   shrink it to the box of its visible mask: under 40% visible, what is left (a leg, a shoulder)
 *   would train as a whole person; as background it would teach the detector to suppress people.
 *   Above the rule, a masked object's box shrinks to its visible pixels (as a crop clips a box to
 *   the input; COCO's copy-paste recomputes boxes from the visible masks likewise); a plain box
 *   (no mask) keeps its box.
 * - Regions to ignore of the target stay; the source's are not pasted.
 *
 * Randomness: one stream per (seed, epoch, target item, frame), eight numbers always drawn in a fixed
 * order (apply, source, count, flip h, flip v, scale, shift x, shift y), then the subset's shuffle:
 * a batch's pastes do not depend on batch order, prefetching or the decode cache.
 */
import type { AugmentConfig } from '../../contract/ml';
import { createRandom } from '../samples/seeded-random';
import { IGNORE_BOX, renderSample, sampleTransform, transformBox, transformBoxes, type AugmentDraw, type DecodedSample, type LoadedSample, type SampleTransform } from './sample-loader';
import type { Sample } from './training-samples';

/** Largest shift of a pasted image, as a fraction of the input side on each axis. */
export const COPY_PASTE_SHIFT = 0.3;

/** A detection target box in input pixels: [x, y, width, height, classIndex] (-1: region to ignore). */
export type InputBox = [number, number, number, number, number];

/** Box indices of a sample's objects that can be pasted: those with an outline, of a class (instance values are index + 1 < 255). */
export function pasteableObjects(sample: Sample): number[] {
  if (sample.target.task !== 'detection' || !sample.target.masks) return [];
  const { boxes, masks } = sample.target;
  const out: number[] = [];
  for (let i = 0; i < Math.min(boxes.length, 254); i++) if (masks[i] && (boxes[i]?.classIndex ?? -1) >= 0) out.push(i);
  return out;
}

export interface CopyPastePlan {
  source: Sample;
  /** Box indices of the source's objects to paste, ascending. */
  objects: number[];
  /** How the source image is placed (flip, scale, shift; nothing else). */
  draw: AugmentDraw;
}

/**
 * What to paste onto `target` in `epoch`, or null (not drawn, or no other image to paste from).
 * `pool`: the train samples with pasteable objects, in a fixed order; `selfIndex`: the target's
 * index in it (-1 when it has no pasteable object).
 */
export function planCopyPaste(augment: AugmentConfig, seed: number, epoch: number, target: Pick<Sample, 'itemId' | 'frameIndex'>, pool: readonly Sample[], selfIndex: number): CopyPastePlan | null {
  const p = augment.copyPaste ?? 0;
  if (!(p > 0)) return null;
  const r = createRandom(seed).fork(`copy-paste/${epoch}/${target.itemId}/${target.frameIndex}`);
  const u = [r.next(), r.next(), r.next(), r.next(), r.next(), r.next(), r.next(), r.next()] as [number, number, number, number, number, number, number, number];
  if (u[0] >= p) return null;
  const n = pool.length - (selfIndex >= 0 ? 1 : 0);
  if (n <= 0) return null;
  let index = Math.min(n - 1, Math.floor(u[1] * n));
  if (selfIndex >= 0 && index >= selfIndex) index++;
  const source = pool[index] as Sample;
  const candidates = pasteableObjects(source);
  if (candidates.length === 0) return null;
  const count = 1 + Math.min(candidates.length - 1, Math.floor(u[2] * candidates.length));
  const objects = r.shuffle(candidates).slice(0, count).sort((a, b) => a - b);
  const draw: AugmentDraw = {
    flipHorizontal: augment.flipHorizontal && u[3] < 0.5,
    flipVertical: augment.flipVertical && u[4] < 0.5,
    angle: 0,
    scale: 1 + augment.scale * (2 * u[5] - 1),
    contrast: 1,
    brightness: 0,
    shiftX: COPY_PASTE_SHIFT * (2 * u[6] - 1),
    shiftY: COPY_PASTE_SHIFT * (2 * u[7] - 1),
    saturation: 1,
  };
  return { source, objects, draw };
}

/** A decoded sample's instance map resampled into the input (nearest; 0 where no object or outside the image). */
export function renderInstances(decoded: DecodedSample, t: SampleTransform): Uint8Array {
  const S = t.inputSize;
  const out = new Uint8Array(S * S);
  const inst = decoded.instances;
  if (!inst) return out;
  const f = decoded.reduction;
  const w = decoded.image.width;
  const h = decoded.image.height;
  const [ia, ib, ic, id, ie, iff] = t.inverse;
  for (let v = 0; v < S; v++) {
    const qy = v + 0.5;
    for (let u = 0; u < S; u++) {
      const qx = u + 0.5;
      const px = ia * qx + ib * qy + ic;
      const py = id * qx + ie * qy + iff;
      if (!(px >= 0 && px < decoded.sourceWidth && py >= 0 && py < decoded.sourceHeight)) continue;
      out[v * S + u] = inst[Math.min(h - 1, Math.floor(py / f)) * w + Math.min(w - 1, Math.floor(px / f))] as number;
    }
  }
  return out;
}

/** Where a decoded sample's image lies in the input (1), as opposed to padding (0). */
export function imageArea(decoded: Pick<DecodedSample, 'sourceWidth' | 'sourceHeight'>, t: SampleTransform): Uint8Array {
  const S = t.inputSize;
  const out = new Uint8Array(S * S);
  const [ia, ib, ic, id, ie, iff] = t.inverse;
  for (let v = 0; v < S; v++) {
    for (let u = 0; u < S; u++) {
      const px = ia * (u + 0.5) + ib * (v + 0.5) + ic;
      const py = id * (u + 0.5) + ie * (v + 0.5) + iff;
      if (px >= 0 && px < decoded.sourceWidth && py >= 0 && py < decoded.sourceHeight) out[v * S + u] = 1;
    }
  }
  return out;
}

/** A target object before the paste: its box in input pixels, its crop visibility and its instance value (0: no mask). */
export interface TargetObject {
  box: InputBox;
  visible: number;
  instance: number;
}

export interface PasteInput {
  /** Input side and channels. */
  size: number;
  channels: number;
  /** The target image [size, size, channels] (not modified) and its objects. */
  x: Float32Array;
  objects: readonly TargetObject[];
  /** The target's instance map in the input (0: none), or null when it has no masks. */
  instances: Uint8Array | null;
  /** The target's regions to ignore (kept as they are). */
  ignore: readonly InputBox[];
  /** The placed source image and its instance map, on the same grid. */
  sourceX: Float32Array;
  sourceInstances: Uint8Array;
  /** Where the target image is (1) in the input, as opposed to padding (0); null: everywhere. Nothing is pasted outside it. */
  canvas?: Uint8Array | null;
  /** Instance values of the source to paste, their classes and their whole areas in input pixels (for the visibility rule). */
  pasted: readonly { instance: number; classIndex: number; area: number }[];
  minVisibility: number;
}

/**
 * The paste itself, in input pixels (see the file header): the new image, the target's boxes
 * (some turned into regions to ignore or shrunk), the pasted objects' boxes and the regions to ignore.
 */
export function pasteObjects(input: PasteInput): { x: Float32Array; boxes: InputBox[]; pastedObjects: number } {
  const { size: S, channels: C, minVisibility } = input;
  const N = S * S;
  const canvas = input.canvas ?? null;
  // The source's instance at a pixel, where something may be pasted (0: none).
  const sourceAt = (i: number): number => (canvas && !canvas[i] ? 0 : (input.sourceInstances[i] as number));
  // Pixels of each pasted instance inside the input, and their bounding boxes.
  const byInstance = new Map(input.pasted.map((p) => [p.instance, { ...p, pixels: 0, x0: S, y0: S, x1: -1, y1: -1 }]));
  for (let i = 0; i < N; i++) {
    const e = byInstance.get(sourceAt(i));
    if (!e) continue;
    const u = i % S;
    const v = (i - u) / S;
    e.pixels++;
    if (u < e.x0) e.x0 = u;
    if (u > e.x1) e.x1 = u;
    if (v < e.y0) e.y0 = v;
    if (v > e.y1) e.y1 = v;
  }
  const kept = new Set<number>();
  const boxes: InputBox[] = [];
  for (const e of byInstance.values()) {
    if (e.pixels === 0) continue;
    const visible = Math.min(1, e.pixels / Math.max(1, e.area));
    if (visible < minVisibility) continue;
    kept.add(e.instance);
    boxes.push([e.x0, e.y0, e.x1 - e.x0 + 1, e.y1 - e.y0 + 1, e.classIndex]);
  }
  const x = input.x.slice();
  const covered = new Uint8Array(N);
  for (let i = 0; i < N; i++) {
    if (!kept.has(sourceAt(i))) continue;
    covered[i] = 1;
    for (let c = 0; c < C; c++) x[i * C + c] = input.sourceX[i * C + c] as number;
  }
  const own: InputBox[] = input.objects.map((o) => {
    const [bx, by, bw, bh, cls] = o.box;
    if (cls < 0 || kept.size === 0) return o.box;
    let before = 0;
    let after = 0;
    let x0 = S;
    let y0 = S;
    let x1 = -1;
    let y1 = -1;
    if (o.instance > 0 && input.instances) {
      for (let i = 0; i < N; i++) {
        if (input.instances[i] !== o.instance) continue;
        before++;
        if (covered[i]) continue;
        after++;
        const u = i % S;
        const v = (i - u) / S;
        if (u < x0) x0 = u;
        if (u > x1) x1 = u;
        if (v < y0) y0 = v;
        if (v > y1) y1 = v;
      }
    } else {
      // A plain box: the pixels whose centres it holds.
      for (let v = Math.max(0, Math.ceil(by - 0.5)); v < Math.min(S, by + bh - 0.5); v++) {
        for (let u = Math.max(0, Math.ceil(bx - 0.5)); u < Math.min(S, bx + bw - 0.5); u++) {
          before++;
          if (!covered[v * S + u]) after++;
        }
      }
    }
    if (before === 0 || after === before) return o.box;
    if (after === 0 || o.visible * (after / before) < minVisibility) return [bx, by, bw, bh, IGNORE_BOX];
    return o.instance > 0 && input.instances ? [x0, y0, x1 - x0 + 1, y1 - y0 + 1, cls] : o.box;
  });
  return { x, boxes: [...own, ...boxes, ...input.ignore], pastedObjects: kept.size };
}

/**
 * Copy-paste onto an assembled training sample: the plan's source objects placed and pasted, the
 * target's boxes updated (see the file header). `target` was assembled from `targetDecoded` with
 * `minVisibility` as its crops' rule; both decoded samples carry instance maps where they have masks.
 */
export function applyCopyPaste(
  targetSample: Sample,
  targetDecoded: DecodedSample,
  target: LoadedSample,
  plan: CopyPastePlan,
  sourceDecoded: DecodedSample,
  minVisibility: number,
): LoadedSample & { pastedObjects: number } {
  const t = target.transform;
  const S = t.inputSize;
  const st = targetSample.target;
  const src = plan.source.target;
  if (st.task !== 'detection' || src.task !== 'detection' || !sourceDecoded.instances) return { ...target, pastedObjects: 0 };
  const objects: TargetObject[] = [];
  st.boxes.forEach((b, i) => {
    const placed = transformBox(b, t);
    if (!placed) return;
    const cls = b.classIndex >= 0 && placed.visible < minVisibility ? IGNORE_BOX : b.classIndex;
    const instance = targetDecoded.instances && st.masks?.[i] && i < 254 ? i + 1 : 0;
    objects.push({ box: [placed.box[0], placed.box[1], placed.box[2], placed.box[3], cls], visible: placed.visible, instance });
  });
  const ts = sampleTransform(sourceDecoded.sourceWidth, sourceDecoded.sourceHeight, S, plan.draw);
  const sourceX = renderSample({ ...sourceDecoded, classMap: null }, ts).x;
  const sourceInstances = renderInstances(sourceDecoded, ts);
  // An object's whole area in the input: its pixels on the stored grid, scaled by the reduction and the placement.
  const [a, b, , d, e] = ts.forward;
  const pixelArea = sourceDecoded.reduction * sourceDecoded.reduction * Math.abs(a * e - b * d);
  const stored = new Map(plan.objects.map((i) => [i + 1, 0]));
  for (const v of sourceDecoded.instances) {
    const n = stored.get(v);
    if (n !== undefined) stored.set(v, n + 1);
  }
  const pasted = plan.objects.map((i) => ({ instance: i + 1, classIndex: (src.boxes[i] as { classIndex: number }).classIndex, area: (stored.get(i + 1) ?? 0) * pixelArea }));
  const r = pasteObjects({
    size: S,
    channels: target.x.length / (S * S),
    x: target.x,
    objects,
    instances: targetDecoded.instances ? renderInstances(targetDecoded, t) : null,
    ignore: transformBoxes(st.ignore ?? [], t),
    canvas: imageArea(targetDecoded, t),
    sourceX,
    sourceInstances,
    pasted,
    minVisibility,
  });
  return { ...target, x: r.x, target: { task: 'detection', boxes: r.boxes }, pastedObjects: r.pastedObjects };
}
