/**
 * Output decoders for imported ONNX models: raw output tensors -> predictions in INPUT pixels.
 * Pure functions over typed arrays (unit-tested on graphs with the exact output layouts).
 *
 * Layouts (contract/assist-engine.ts OutputDecoder):
 * - classifier-logits: [N, K] logits -> softmax (torchvision classifiers end in a Linear layer);
 *   classifier-probabilities: [N, K] already probabilities; classifier-sigmoid: [N, K] independent
 *   logits (multi-label) -> sigmoid.
 * - segmentation-logits / -probabilities: [N, K, H, W] (NCHW models) or [N, H, W, K] (NHWC), per
 *   pixel; an output smaller than the input is resized bilinearly (align_corners=False, as
 *   torchvision's segmentation models do internally) before the argmax. K = 1 is a binary model
 *   (class 1 where the sigmoid, or the probability, is above 0.5).
 * - yolov5: [N, A, 5 + K]: centre x, centre y, width, height (input pixels), objectness, then class
 *   scores (sigmoids already applied by the export); score = objectness x best class score.
 * - yolov8: [N, 4 + K, A]: centre x, centre y, width, height, class scores (YOLOv8 and YOLO11
 *   detect exports, no objectness).
 * - yolox: [N, A, 5 + K] as YOLOX exports by default (decode_in_inference off): per anchor cell of
 *   strides 8, 16, 32 (row-major per stride), x, y are offsets in cells and w, h log sizes:
 *   centre = (offset + cell) * stride, size = exp(log size) * stride; objectness and class scores
 *   are sigmoids already.
 * Detections: boxes under `scoreThreshold` are dropped, the best 3000 candidates go through greedy
 * per-class non-maximum suppression at `iouThreshold` (as Ultralytics' and YOLOX's NMS), at most
 * `maxDetections` per image.
 */
import type { DecodeOptions, ModelOutput, OutputDecoder } from '../../electron/contract/assist-engine';

export interface RawOutput {
  name: string;
  dims: number[];
  data: Float32Array;
}

export const DEFAULT_SCORE_THRESHOLD = 0.25;
export const DEFAULT_IOU_THRESHOLD = 0.45;
export const DEFAULT_MAX_DETECTIONS = 300;
const MAX_NMS_CANDIDATES = 3000;
export const YOLOX_STRIDES = [8, 16, 32] as const;

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
}

function shapeOf(o: RawOutput): string {
  return `[${o.dims.join(', ')}]`;
}

function need(cond: boolean, message: string): asserts cond {
  if (!cond) throw new DecodeError(message);
}

// ------------------------------------------------------------------ classification

function softmaxRow(row: Float32Array): number[] {
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  let sum = 0;
  const e = Array.from(row, (v) => {
    const x = Math.exp(v - max);
    sum += x;
    return x;
  });
  return e.map((x) => x / sum);
}

function classification(out: RawOutput, n: number, decoder: OutputDecoder): ModelOutput[] {
  const K = out.dims.slice(1).reduce((a, b) => a * b, 1);
  need(out.dims[0] === n && out.data.length === n * K, `a classifier output of ${n} image(s) is [${n}, classes]; this model gave ${shapeOf(out)}`);
  const res: ModelOutput[] = [];
  for (let i = 0; i < n; i++) {
    const row = out.data.subarray(i * K, (i + 1) * K);
    const probabilities =
      decoder === 'classifier-logits' ? softmaxRow(row) : decoder === 'classifier-sigmoid' ? Array.from(row, (v) => 1 / (1 + Math.exp(-v))) : Array.from(row);
    res.push({ task: 'classification', probabilities });
  }
  return res;
}

// ------------------------------------------------------------------ segmentation

/** Bilinear resize of one [h, w] plane to [H, W], align_corners=False (PyTorch's F.interpolate). */
export function resizePlane(src: Float32Array, h: number, w: number, H: number, W: number): Float32Array {
  if (h === H && w === W) return src;
  const out = new Float32Array(H * W);
  const sy = h / H;
  const sx = w / W;
  for (let y = 0; y < H; y++) {
    const fy = Math.max(0, (y + 0.5) * sy - 0.5);
    const y0 = Math.min(h - 1, Math.floor(fy));
    const y1 = Math.min(h - 1, y0 + 1);
    const ty = fy - y0;
    for (let x = 0; x < W; x++) {
      const fx = Math.max(0, (x + 0.5) * sx - 0.5);
      const x0 = Math.min(w - 1, Math.floor(fx));
      const x1 = Math.min(w - 1, x0 + 1);
      const tx = fx - x0;
      const a = (src[y0 * w + x0] as number) * (1 - tx) + (src[y0 * w + x1] as number) * tx;
      const b = (src[y1 * w + x0] as number) * (1 - tx) + (src[y1 * w + x1] as number) * tx;
      out[y * W + x] = a * (1 - ty) + b * ty;
    }
  }
  return out;
}

function segmentation(out: RawOutput, n: number, decoder: OutputDecoder, layout: 'NCHW' | 'NHWC', inputWidth: number, inputHeight: number): ModelOutput[] {
  need(out.dims.length === 4 && out.dims[0] === n, `a segmentation output of ${n} image(s) is [${n}, classes, height, width] or [${n}, height, width, classes]; this model gave ${shapeOf(out)}`);
  const [, d1, d2, d3] = out.dims as [number, number, number, number];
  const K = layout === 'NCHW' ? d1 : d3;
  const h = layout === 'NCHW' ? d2 : d1;
  const w = layout === 'NCHW' ? d3 : d2;
  const logits = decoder === 'segmentation-logits';
  const res: ModelOutput[] = [];
  const H = inputHeight;
  const W = inputWidth;
  for (let i = 0; i < n; i++) {
    const base = i * K * h * w;
    // One plane per class at the input size.
    const planes: Float32Array[] = [];
    for (let k = 0; k < K; k++) {
      const plane = new Float32Array(h * w);
      if (layout === 'NCHW') plane.set(out.data.subarray(base + k * h * w, base + (k + 1) * h * w));
      else for (let p = 0; p < h * w; p++) plane[p] = out.data[base + p * K + k] as number;
      planes.push(resizePlane(plane, h, w, H, W));
    }
    const classes = new Uint8Array(H * W);
    const confidence = new Float32Array(H * W);
    for (let p = 0; p < H * W; p++) {
      if (K === 1) {
        const v = planes[0]![p] as number;
        const prob = logits ? 1 / (1 + Math.exp(-v)) : v;
        classes[p] = prob > 0.5 ? 1 : 0;
        confidence[p] = prob > 0.5 ? prob : 1 - prob;
        continue;
      }
      let best = 0;
      let bv = -Infinity;
      for (let k = 0; k < K; k++) {
        const v = planes[k]![p] as number;
        if (v > bv) {
          bv = v;
          best = k;
        }
      }
      let conf = bv;
      if (logits) {
        let sum = 0;
        for (let k = 0; k < K; k++) sum += Math.exp((planes[k]![p] as number) - bv);
        conf = 1 / sum;
      }
      classes[p] = best;
      confidence[p] = conf;
    }
    res.push({ task: 'segmentation', width: W, height: H, classes, confidence });
  }
  return res;
}

// ------------------------------------------------------------------ detection

interface Candidate {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  score: number;
  classIndex: number;
}

function iou(a: Candidate, b: Candidate): number {
  const iw = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
  const ih = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter;
  return union > 0 ? inter / union : 0;
}

/** Greedy per-class NMS, best first. */
export function nonMaxSuppression(candidates: Candidate[], iouThreshold: number, maxDetections: number): Candidate[] {
  const sorted = candidates.sort((a, b) => b.score - a.score).slice(0, MAX_NMS_CANDIDATES);
  const kept: Candidate[] = [];
  const suppressed = new Uint8Array(sorted.length);
  for (let i = 0; i < sorted.length && kept.length < maxDetections; i++) {
    if (suppressed[i]) continue;
    const a = sorted[i] as Candidate;
    kept.push(a);
    for (let j = i + 1; j < sorted.length; j++) {
      if (suppressed[j]) continue;
      const b = sorted[j] as Candidate;
      if (b.classIndex === a.classIndex && iou(a, b) > iouThreshold) suppressed[j] = 1;
    }
  }
  return kept;
}

function toBoxes(kept: Candidate[]): Extract<ModelOutput, { task: 'detection' }> {
  return { task: 'detection', boxes: kept.map((c) => ({ x: c.x0, y: c.y0, width: c.x1 - c.x0, height: c.y1 - c.y0, classIndex: c.classIndex, score: c.score })) };
}

/** Anchor cells of YOLOX's strides for an input, in its output order. */
export function yoloxGrid(inputWidth: number, inputHeight: number): { cx: Float32Array; cy: Float32Array; stride: Float32Array } {
  const cells = YOLOX_STRIDES.reduce((s, st) => s + Math.floor(inputHeight / st) * Math.floor(inputWidth / st), 0);
  const cx = new Float32Array(cells);
  const cy = new Float32Array(cells);
  const stride = new Float32Array(cells);
  let a = 0;
  for (const st of YOLOX_STRIDES) {
    const hs = Math.floor(inputHeight / st);
    const ws = Math.floor(inputWidth / st);
    for (let y = 0; y < hs; y++) {
      for (let x = 0; x < ws; x++) {
        cx[a] = x;
        cy[a] = y;
        stride[a] = st;
        a++;
      }
    }
  }
  return { cx, cy, stride };
}

function detection(out: RawOutput, n: number, decoder: 'yolov5' | 'yolov8' | 'yolox', numClasses: number, inputWidth: number, inputHeight: number, o: Required<DecodeOptions>): ModelOutput[] {
  need(out.dims.length === 3 && out.dims[0] === n, `a ${decoder} output of ${n} image(s) has 3 dimensions starting with ${n}; this model gave ${shapeOf(out)}`);
  const perAnchor = decoder === 'yolov8' ? 4 + numClasses : 5 + numClasses;
  const A = decoder === 'yolov8' ? (out.dims[2] as number) : (out.dims[1] as number);
  const rowLen = decoder === 'yolov8' ? (out.dims[1] as number) : (out.dims[2] as number);
  need(rowLen === perAnchor, `a ${decoder} output for ${numClasses} class(es) has ${perAnchor} values per box (${decoder === 'yolov8' ? '4 + classes' : '5 + classes'}); this model gave ${shapeOf(out)}`);
  const grid = decoder === 'yolox' ? yoloxGrid(inputWidth, inputHeight) : null;
  if (grid) need(grid.cx.length === A, `a yolox output for a ${inputWidth}x${inputHeight} input has ${grid.cx.length} boxes (strides 8, 16, 32); this model gave ${A}`);
  const res: ModelOutput[] = [];
  for (let i = 0; i < n; i++) {
    const base = i * A * perAnchor;
    // yolov8 is [values, anchors]: value v of anchor a at base + v * A + a.
    const at = decoder === 'yolov8' ? (a: number, v: number) => out.data[base + v * A + a] as number : (a: number, v: number) => out.data[base + a * perAnchor + v] as number;
    const clsStart = decoder === 'yolov8' ? 4 : 5;
    const candidates: Candidate[] = [];
    for (let a = 0; a < A; a++) {
      const obj = decoder === 'yolov8' ? 1 : at(a, 4);
      if (obj < o.scoreThreshold) continue;
      let best = 0;
      let bs = -Infinity;
      for (let k = 0; k < numClasses; k++) {
        const s = at(a, clsStart + k);
        if (s > bs) {
          bs = s;
          best = k;
        }
      }
      const score = obj * bs;
      if (!(score >= o.scoreThreshold)) continue;
      let cx = at(a, 0);
      let cy = at(a, 1);
      let w = at(a, 2);
      let h = at(a, 3);
      if (grid) {
        const st = grid.stride[a] as number;
        cx = (cx + (grid.cx[a] as number)) * st;
        cy = (cy + (grid.cy[a] as number)) * st;
        w = Math.exp(w) * st;
        h = Math.exp(h) * st;
      }
      if (!(w > 0 && h > 0)) continue;
      candidates.push({ x0: cx - w / 2, y0: cy - h / 2, x1: cx + w / 2, y1: cy + h / 2, score, classIndex: best });
    }
    res.push(toBoxes(nonMaxSuppression(candidates, o.iouThreshold, o.maxDetections)));
  }
  return res;
}

export interface DecoderInput {
  decoder: Exclude<OutputDecoder, 'fovea'>;
  layout: 'NCHW' | 'NHWC';
  inputWidth: number;
  inputHeight: number;
  numClasses: number;
}

/** Decodes a model's raw outputs for `n` images (the first output is the one decoded). */
export function decodeOutputs(spec: DecoderInput, outputs: readonly RawOutput[], n: number, options: DecodeOptions = {}): ModelOutput[] {
  const out = outputs[0];
  need(out !== undefined, 'the model returned no output');
  const o: Required<DecodeOptions> = {
    scoreThreshold: options.scoreThreshold ?? DEFAULT_SCORE_THRESHOLD,
    iouThreshold: options.iouThreshold ?? DEFAULT_IOU_THRESHOLD,
    maxDetections: options.maxDetections ?? DEFAULT_MAX_DETECTIONS,
  };
  switch (spec.decoder) {
    case 'classifier-logits':
    case 'classifier-probabilities':
    case 'classifier-sigmoid':
      return classification(out, n, spec.decoder);
    case 'segmentation-logits':
    case 'segmentation-probabilities':
      return segmentation(out, n, spec.decoder, spec.layout, spec.inputWidth, spec.inputHeight);
    case 'yolov5':
    case 'yolov8':
    case 'yolox':
      return detection(out, n, spec.decoder, spec.numClasses, spec.inputWidth, spec.inputHeight, o);
  }
}
