/**
 * A small single-stage, anchor-free detector after CenterNet ("Objects as
 * Points", Zhou et al. 2019): every object is the peak of a per-class
 * heatmap at its box centre, with the box size and the sub-cell centre
 * offset regressed at that cell. Decoding needs no anchors and no IoU NMS:
 * a 3x3 max-pool keeps local peaks.
 *
 *   input [n, S, S, C]                      S divisible by 16
 *   stem conv3x3/2 (f)                       S/2
 *   c2: conv3x3/2 + conv3x3 (2f)             S/4
 *   c3: conv3x3/2 + conv3x3 (4f)             S/8
 *   c4: conv3x3/2 + conv3x3 (8f)             S/16
 *   top-down (FPN-like): p3 = conv(up2(1x1(c4)) + 1x1(c3)) (4f),
 *                        p2 = conv(up2(1x1(p3)) + 1x1(c2)) (2f)   S/4
 *   shared head conv3x3 (2f) -> three 1x1 convs:
 *     heatmap [n, S/4, S/4, K]  sigmoid, bias -2.19 (prior 0.1, as CenterNet)
 *     size    [n, S/4, S/4, 2]  log of box width, height in output cells
 *     offset  [n, S/4, S/4, 2]  centre minus its integer cell, in cells
 *
 * All convs conv-BN-ReLU except the head outputs. f = 16: ~0.36 M parameters.
 *
 * One departure from CenterNet: the size head regresses log(size) with an L1
 * weight of 1, where CenterNet regresses the raw size in cells with weight
 * 0.1. Raw sizes (10-60 cells) take thousands of Adam steps to reach from a
 * zero-initialised head, which small datasets and 30 epochs do not give;
 * log sizes start near the right scale and make the error relative.
 */
import * as tf from '@tensorflow/tfjs';
import { conv, convBnRelu, seedSequence } from './blocks';
import { mobilenetV2Encoder } from './imagenet-encoder';

type Sym = tf.SymbolicTensor;

/** Output stride of the heads. */
export const DETECTOR_STRIDE = 4;

export interface DetectorOptions {
  inputSize: number;
  channels: number;
  numClasses: number;
  seed: number;
  /** Stem filters (default 16). */
  baseFilters?: number;
}

/** The detector's three outputs, in model output order. */
export interface DetectorOutputs {
  /** [n, S/4, S/4, K] per-class centre probability. */
  heatmap: tf.Tensor4D;
  /** [n, S/4, S/4, 2] log(width), log(height) in output cells. */
  size: tf.Tensor4D;
  /** [n, S/4, S/4, 2] x, y offset of the centre within its cell. */
  offset: tf.Tensor4D;
}

/**
 * @returns a model mapping x [n, S, S, channels] to [heatmap, size, offset]
 *   (see DetectorOutputs).
 */
export function createDetector(opts: DetectorOptions): tf.LayersModel {
  if (opts.inputSize % 16 !== 0 || opts.inputSize < 32) throw new Error(`detector input size must be a multiple of 16, at least 32 (got ${opts.inputSize})`);
  if (!(opts.numClasses >= 1)) throw new Error('detection needs at least one class');
  const f = opts.baseFilters ?? 16;
  const s = seedSequence(opts.seed);
  const input = tf.input({ shape: [opts.inputSize, opts.inputSize, opts.channels], name: 'image' });
  const c1 = convBnRelu(input, { filters: f, strides: 2, name: 'stem' }, s);
  const c2 = convBnRelu(convBnRelu(c1, { filters: 2 * f, strides: 2, name: 'c2a' }, s), { filters: 2 * f, name: 'c2b' }, s);
  const c3 = convBnRelu(convBnRelu(c2, { filters: 4 * f, strides: 2, name: 'c3a' }, s), { filters: 4 * f, name: 'c3b' }, s);
  const c4 = convBnRelu(convBnRelu(c3, { filters: 8 * f, strides: 2, name: 'c4a' }, s), { filters: 8 * f, name: 'c4b' }, s);
  return tf.model({ inputs: input, outputs: topDownHeads(c2, c3, c4, f, opts.numClasses, s), name: 'fovea_detector' });
}

/** The FPN-like top-down path from c4 (S/16) over c3 (S/8) to c2 (S/4), the shared head and its three outputs. */
function topDownHeads(c2: Sym, c3: Sym, c4: Sym, f: number, numClasses: number, s: () => number): Sym[] {
  const topDown = (coarse: Sym, lateral: Sym, filters: number, name: string): Sym => {
    const up = tf.layers.upSampling2d({ size: [2, 2], name: `${name}_up` }).apply(conv(coarse, { filters, name: `${name}_reduce` }, s)) as Sym;
    const sum = tf.layers.add({ name: `${name}_add` }).apply([up, conv(lateral, { filters, name: `${name}_lateral` }, s)]) as Sym;
    return convBnRelu(sum, { filters, name }, s);
  };
  const p3 = topDown(c4, c3, 4 * f, 'p3');
  const p2 = topDown(p3, c2, 2 * f, 'p2');
  const head = convBnRelu(p2, { filters: 2 * f, name: 'head' }, s);
  const heatmap = conv(head, { filters: numClasses, activation: 'sigmoid', biasValue: -2.19, name: 'heatmap' }, s);
  const size = conv(head, { filters: 2, name: 'size' }, s);
  const offset = conv(head, { filters: 2, name: 'offset' }, s);
  return [heatmap, size, offset];
}

/**
 * The same detector on the frozen ImageNet MobileNetV2 encoder (imagenet-encoder.ts): its features
 * at S/4 (24 channels), S/8 (32) and S/16 (96) take the places of c2, c3 and c4 (a trainable
 * conv-BN-ReLU block of 8f on c4 first); the top-down path and the heads are as above and train.
 * S must be a multiple of 32.
 */
export function createEncoderDetector(opts: DetectorOptions & { channels: 1 | 3 }): tf.LayersModel {
  if (opts.inputSize % 32 !== 0) throw new Error(`a detector on the ImageNet encoder needs an input size divisible by 32 (got ${opts.inputSize})`);
  if (!(opts.numClasses >= 1)) throw new Error('detection needs at least one class');
  const f = opts.baseFilters ?? 16;
  const s = seedSequence(opts.seed);
  const input = tf.input({ shape: [opts.inputSize, opts.inputSize, opts.channels], name: 'image' });
  const e = mobilenetV2Encoder(input, opts.channels);
  const c4 = convBnRelu(e.sixteenth, { filters: 8 * f, name: 'c4b' }, s);
  return tf.model({ inputs: input, outputs: topDownHeads(e.quarter, e.eighth, c4, f, opts.numClasses, s), name: 'fovea_detector_imagenet' });
}

/** Training targets of a batch, as plain arrays (built on the CPU: cheap, exact). */
export interface DetectionTargets {
  n: number;
  /** Side of the output grid (inputSize / 4). */
  outSize: number;
  numClasses: number;
  /** [n, H, W, K]: a gaussian per object, exactly 1 at its centre cell. */
  heatmap: Float32Array;
  /** [n, H, W, 2]: log(width), log(height) in cells, at centre cells. */
  size: Float32Array;
  /** [n, H, W, 2]: centre - floor(centre) at centre cells. */
  offset: Float32Array;
  /** [n, H, W, 1]: 1 at centre cells. */
  mask: Float32Array;
  /**
   * [n, H, W, 1]: 1 on cells inside a region to ignore (a box with class index -1: void /
   * DontCare / crowd): the heatmap's negative loss is left out there (no loss on a region a
   * person marked as not to be judged).
   */
  ignore: Float32Array;
}

/**
 * CenterNet's gaussian radius: the largest centre displacement for which a
 * box of this size still has IoU >= minOverlap with the true one.
 */
export function gaussianRadius(height: number, width: number, minOverlap = 0.7): number {
  const b1 = height + width;
  const c1 = (width * height * (1 - minOverlap)) / (1 + minOverlap);
  const r1 = (b1 + Math.sqrt(b1 * b1 - 4 * c1)) / 2;
  const b2 = 2 * (height + width);
  const c2 = (1 - minOverlap) * width * height;
  const r2 = (b2 + Math.sqrt(b2 * b2 - 16 * c2)) / 2;
  const a3 = 4 * minOverlap;
  const b3 = -2 * minOverlap * (height + width);
  const c3 = (minOverlap - 1) * width * height;
  const r3 = (b3 + Math.sqrt(b3 * b3 - 4 * a3 * c3)) / 2;
  return Math.min(r1, r2, r3);
}

/**
 * Encodes boxes (per image, [x, y, width, height, classIndex] in input
 * pixels) into CenterNet targets on the S/4 grid. Boxes with no area or an
 * out-of-range class are skipped; centres are clamped into the grid.
 */
export function encodeDetectionTargets(boxes: number[][][], inputSize: number, numClasses: number): DetectionTargets {
  const n = boxes.length;
  const H = Math.floor(inputSize / DETECTOR_STRIDE);
  const W = H;
  const heatmap = new Float32Array(n * H * W * numClasses);
  const size = new Float32Array(n * H * W * 2);
  const offset = new Float32Array(n * H * W * 2);
  const mask = new Float32Array(n * H * W);
  const ignore = new Float32Array(n * H * W);
  for (let i = 0; i < n; i++) {
    for (const b of boxes[i] ?? []) {
      const [bx = 0, by = 0, bw = 0, bh = 0, cls = -2] = b;
      if (cls === IGNORE_REGION && bw > 0 && bh > 0) {
        // Every cell whose centre lies in the region.
        const x0 = Math.max(0, Math.ceil(bx / DETECTOR_STRIDE - 0.5));
        const x1 = Math.min(W - 1, Math.floor((bx + bw) / DETECTOR_STRIDE - 0.5));
        const y0 = Math.max(0, Math.ceil(by / DETECTOR_STRIDE - 0.5));
        const y1 = Math.min(H - 1, Math.floor((by + bh) / DETECTOR_STRIDE - 0.5));
        for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) ignore[(i * H + y) * W + x] = 1;
        continue;
      }
      if (!(bw > 0 && bh > 0) || !Number.isInteger(cls) || cls < 0 || cls >= numClasses) continue;
      const w = bw / DETECTOR_STRIDE;
      const h = bh / DETECTOR_STRIDE;
      const cx = Math.min(W - 1e-3, Math.max(0, (bx + bw / 2) / DETECTOR_STRIDE));
      const cy = Math.min(H - 1e-3, Math.max(0, (by + bh / 2) / DETECTOR_STRIDE));
      const ix = Math.floor(cx);
      const iy = Math.floor(cy);
      const r = Math.max(0, Math.floor(gaussianRadius(Math.ceil(h), Math.ceil(w))));
      const sigma = (2 * r + 1) / 6;
      for (let dy = -r; dy <= r; dy++) {
        const y = iy + dy;
        if (y < 0 || y >= H) continue;
        for (let dx = -r; dx <= r; dx++) {
          const x = ix + dx;
          if (x < 0 || x >= W) continue;
          const g = Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
          const k = ((i * H + y) * W + x) * numClasses + cls;
          if (g > (heatmap[k] as number)) heatmap[k] = g;
        }
      }
      const cell = (i * H + iy) * W + ix;
      size[2 * cell] = Math.log(w);
      size[2 * cell + 1] = Math.log(h);
      offset[2 * cell] = cx - ix;
      offset[2 * cell + 1] = cy - iy;
      mask[cell] = 1;
    }
  }
  return { n, outSize: H, numClasses, heatmap, size, offset, mask, ignore };
}

/** The class index a detection target box carries when it marks a region to ignore. */
export const IGNORE_REGION = -1;

/** Loss weights (CenterNet's, except size: log sizes are O(1), see the header). */
export const DETECTION_LOSS_WEIGHTS = { heatmap: 1, size: 1, offset: 1 } as const;

/**
 * CenterNet loss: penalty-reduced pixel-wise focal loss on the heatmap
 * (alpha 2, beta 4, normalised by the number of objects) + L1 on log size
 * and offset at object centres.
 * @returns total, and the three parts (for logging).
 */
export function detectionLoss(
  out: DetectorOutputs,
  t: { heatmap: tf.Tensor; size: tf.Tensor; offset: tf.Tensor; mask: tf.Tensor; ignore?: tf.Tensor },
): { total: tf.Scalar; focal: tf.Scalar; size: tf.Scalar; offset: tf.Scalar } {
  return tf.tidy(() => {
    const p = tf.clipByValue(out.heatmap, 1e-4, 1 - 1e-4);
    const pos = tf.cast(tf.greaterEqual(t.heatmap, 1), 'float32');
    // Negatives inside a region to ignore carry no loss ([n, H, W, 1] broadcast over the classes).
    const neg = t.ignore ? tf.mul(tf.sub(1, pos), tf.sub(1, t.ignore)) : tf.sub(1, pos);
    const numPos = tf.sum(pos);
    const posLoss = tf.sum(tf.mul(tf.mul(tf.log(p), tf.square(tf.sub(1, p))), pos));
    const negW = tf.pow(tf.sub(1, t.heatmap), 4);
    const negLoss = tf.sum(tf.mul(tf.mul(tf.mul(tf.log(tf.sub(1, p)), tf.square(p)), negW), neg));
    const focal = tf.div(tf.neg(tf.add(posLoss, negLoss)), tf.maximum(numPos, 1)) as tf.Scalar;
    const nReg = tf.add(tf.mul(tf.sum(t.mask), 2), 1e-4);
    const l1 = (pred: tf.Tensor, target: tf.Tensor): tf.Scalar => tf.div(tf.sum(tf.mul(tf.abs(tf.sub(pred, target)), t.mask)), nReg) as tf.Scalar;
    const size = l1(out.size, t.size);
    const offset = l1(out.offset, t.offset);
    const total = tf.addN([
      tf.mul(focal, DETECTION_LOSS_WEIGHTS.heatmap),
      tf.mul(size, DETECTION_LOSS_WEIGHTS.size),
      tf.mul(offset, DETECTION_LOSS_WEIGHTS.offset),
    ]) as tf.Scalar;
    return { total, focal, size, offset };
  });
}

export interface DetectedBox {
  /** Input pixels, top-left corner. */
  x: number;
  y: number;
  width: number;
  height: number;
  classIndex: number;
  score: number;
}

/**
 * Decodes detector outputs into boxes per image: local maxima of the heatmap
 * (a 3x3 max-pool keeps a cell only if it is the largest in its
 * neighbourhood, CenterNet's replacement for IoU NMS), the top k of them
 * per image with score >= scoreThreshold, sorted by score; then, when
 * nmsIou is set, greedy IoU suppression per class (two peaks more than one
 * cell apart can still frame one object: see suppressOverlaps).
 */
export async function decodeDetections(outputs: DetectorOutputs, k = 100, scoreThreshold = 0.05, nmsIou: number | null = null): Promise<DetectedBox[][]> {
  const [n, H, W, K] = outputs.heatmap.shape;
  const top = tf.tidy(() => {
    const heat = outputs.heatmap;
    const peaks = tf.mul(heat, tf.cast(tf.equal(tf.maxPool(heat, 3, 1, 'same'), heat), 'float32'));
    const flat = tf.reshape(peaks, [n, H * W * K]);
    return tf.topk(flat, Math.min(k, H * W * K), true);
  });
  // Asynchronous read-backs: a synchronous read of a GPU tensor throws in Node (webgpu).
  let scores: tf.TypedArray, indices: tf.TypedArray, size: tf.TypedArray, offset: tf.TypedArray;
  try {
    [scores, indices, size, offset] = await Promise.all([top.values.data(), top.indices.data(), outputs.size.data(), outputs.offset.data()]);
  } finally {
    tf.dispose([top.values, top.indices]);
  }
  const kk = Math.min(k, H * W * K);
  // No box wider than twice the image (an untrained head can output anything).
  const maxLog = Math.log(2 * W);
  const result: DetectedBox[][] = [];
  for (let i = 0; i < n; i++) {
    const boxes: DetectedBox[] = [];
    for (let j = 0; j < kk; j++) {
      const score = scores[i * kk + j] as number;
      if (!(score >= scoreThreshold)) break; // sorted: the rest are lower
      const idx = indices[i * kk + j] as number;
      const cls = idx % K;
      const cellIdx = (idx - cls) / K;
      const cx = cellIdx % W;
      const cy = (cellIdx - cx) / W;
      const cell = (i * H + cy) * W + cx;
      const w = Math.exp(Math.min(maxLog, size[2 * cell] as number)) * DETECTOR_STRIDE;
      const h = Math.exp(Math.min(maxLog, size[2 * cell + 1] as number)) * DETECTOR_STRIDE;
      const centreX = (cx + (offset[2 * cell] as number)) * DETECTOR_STRIDE;
      const centreY = (cy + (offset[2 * cell + 1] as number)) * DETECTOR_STRIDE;
      boxes.push({ x: centreX - w / 2, y: centreY - h / 2, width: w, height: h, classIndex: cls, score });
    }
    result.push(nmsIou == null ? boxes : suppressOverlaps(boxes, nmsIou));
  }
  return result;
}

/**
 * Greedy non-maximum suppression per class over boxes sorted by score: a box
 * whose IoU with a kept box of its class is above `iou` is dropped.
 */
export function suppressOverlaps(sorted: readonly DetectedBox[], iouAbove: number): DetectedBox[] {
  const kept: DetectedBox[] = [];
  for (const b of sorted) {
    if (!kept.some((k) => k.classIndex === b.classIndex && iou(k, b) > iouAbove)) kept.push(b);
  }
  return kept;
}

/**
 * The decoding of one image's candidates (decodeDetections with k >= topK, a score threshold at
 * most `scoreThreshold`, no NMS) as decodeDetections(outputs, topK, scoreThreshold, nmsIou) would
 * give it: the same boxes in the same order, without running the model again.
 */
export function selectDetections(candidates: readonly DetectedBox[], d: { scoreThreshold: number; nmsIou: number | null; topK: number }): DetectedBox[] {
  const top = candidates.slice(0, d.topK).filter((b) => b.score >= d.scoreThreshold);
  return d.nmsIou == null ? top : suppressOverlaps(top, d.nmsIou);
}

function iou(a: { x: number; y: number; width: number; height: number }, b: { x: number; y: number; width: number; height: number }): number {
  const ix = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  const inter = ix * iy;
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Accumulates detections and ground truth over a validation pass and
 * computes AP at IoU 0.5 per class, all-point interpolated (the PASCAL VOC
 * 2010+ rule): for training feedback, not a COCO evaluation.
 */
export class Ap50Accumulator {
  #dets: { image: number; box: DetectedBox }[][] = [];
  #gts: { image: number; box: { x: number; y: number; width: number; height: number } }[][] = [];
  #images = 0;

  constructor(readonly numClasses: number) {
    for (let c = 0; c < numClasses; c++) {
      this.#dets.push([]);
      this.#gts.push([]);
    }
  }

  /** One image's detections and ground truth ([x, y, w, h, class] boxes). */
  addImage(dets: DetectedBox[], gts: number[][]): void {
    const image = this.#images++;
    for (const d of dets) this.#dets[d.classIndex]?.push({ image, box: d });
    for (const [x = 0, y = 0, width = 0, height = 0, c = -1] of gts) {
      if (width > 0 && height > 0) this.#gts[c]?.push({ image, box: { x, y, width, height } });
    }
  }

  /** AP per class (null where the class has no ground truth) and their mean. */
  result(): { ap50: number; perClass: (number | null)[] } {
    const perClass: (number | null)[] = [];
    for (let c = 0; c < this.numClasses; c++) {
      const gts = this.#gts[c] ?? [];
      if (gts.length === 0) {
        perClass.push(null);
        continue;
      }
      const byImage = new Map<number, { box: (typeof gts)[number]['box']; used: boolean }[]>();
      for (const g of gts) {
        const list = byImage.get(g.image) ?? [];
        list.push({ box: g.box, used: false });
        byImage.set(g.image, list);
      }
      const dets = [...(this.#dets[c] ?? [])].sort((a, b) => b.box.score - a.box.score);
      const tp: number[] = [];
      for (const d of dets) {
        let best = -1;
        let bestIou = 0.5;
        const list = byImage.get(d.image) ?? [];
        list.forEach((g, gi) => {
          const v = iou(d.box, g.box);
          if (v >= bestIou && !g.used) {
            bestIou = v;
            best = gi;
          }
        });
        const hit = best >= 0 ? list[best] : undefined;
        if (hit) hit.used = true;
        tp.push(hit ? 1 : 0);
      }
      // Precision/recall curve, then the precision envelope integrated over recall.
      const prec: number[] = [];
      const rec: number[] = [];
      let cumTp = 0;
      tp.forEach((t, i) => {
        cumTp += t;
        prec.push(cumTp / (i + 1));
        rec.push(cumTp / gts.length);
      });
      for (let i = prec.length - 2; i >= 0; i--) prec[i] = Math.max(prec[i] as number, prec[i + 1] as number);
      let ap = 0;
      let prevRecall = 0;
      for (let i = 0; i < rec.length; i++) {
        const r = rec[i] as number;
        if (r > prevRecall) {
          ap += (r - prevRecall) * (prec[i] as number);
          prevRecall = r;
        }
      }
      perClass.push(ap);
    }
    const valid = perClass.filter((v): v is number => v != null);
    return { ap50: valid.length ? valid.reduce((a, b) => a + b, 0) / valid.length : 0, perClass };
  }
}
