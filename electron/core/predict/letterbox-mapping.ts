/**
 * Model outputs are in INPUT pixels of the letterboxed square the model saw
 * (sample-loader.ts: scale s = inputSize / max(width, height), image centred,
 * the rest padding). Annotations are stored in IMAGE pixels. These functions
 * map one to the other, exactly inverting the letterbox:
 *   input = s * image + pad   <=>   image = (input - pad) / s
 * with continuous coordinates (pixel (c, r) covers [c, c+1) x [r, r+1)).
 * Imported models (core/assist) also resize other ways (stretched, letterboxed into a rectangle
 * or the top-left corner): `scaleY` and `inputHeight` then differ from `scale` and `inputSize`,
 * which otherwise stand for both axes.
 */
import { encodeMask } from '../labels/rle';
import type { CocoRle } from '../labels/label-types';

export interface Letterbox {
  /** The input's width (and height, unless inputHeight says otherwise). */
  inputSize: number;
  /** Input pixels per image pixel (along x, and y unless scaleY says otherwise). */
  scale: number;
  /** Input pixels per image pixel along y, when it differs from `scale`. */
  scaleY?: number;
  /** The input's height, when it differs from `inputSize`. */
  inputHeight?: number;
  padX: number;
  padY: number;
  /** The original image size. */
  width: number;
  height: number;
}

/** The letterbox of a width x height image into an inputSize square (sample-loader's sampleTransform without augmentation). */
export function letterboxOf(width: number, height: number, inputSize: number): Letterbox {
  const scale = inputSize / Math.max(width, height);
  return { inputSize, scale, padX: (inputSize - width * scale) / 2, padY: (inputSize - height * scale) / 2, width, height };
}

export interface PixelBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * A box in input pixels -> image pixels, clipped to the image. Null when
 * nothing of it lies on the image (it was on the padding).
 */
export function boxToImage(box: PixelBox, lb: Letterbox): PixelBox | null {
  const sy = lb.scaleY ?? lb.scale;
  const x0 = Math.max(0, (box.x - lb.padX) / lb.scale);
  const y0 = Math.max(0, (box.y - lb.padY) / sy);
  const x1 = Math.min(lb.width, (box.x + box.width - lb.padX) / lb.scale);
  const y1 = Math.min(lb.height, (box.y + box.height - lb.padY) / sy);
  if (!(x1 - x0 > 0 && y1 - y0 > 0)) return null;
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** A box in image pixels -> input pixels (for tests and overlays). */
export function boxToInput(box: PixelBox, lb: Letterbox): PixelBox {
  const sy = lb.scaleY ?? lb.scale;
  return { x: box.x * lb.scale + lb.padX, y: box.y * sy + lb.padY, width: box.width * lb.scale, height: box.height * sy };
}

/**
 * The input-grid index (row-major) each image pixel's centre falls on:
 * nearest-neighbour resampling of a class map back to the image.
 */
function inputIndexGrid(lb: Letterbox): { cols: Int32Array; rows: Int32Array } {
  const S = lb.inputSize;
  const SH = lb.inputHeight ?? S;
  const sy = lb.scaleY ?? lb.scale;
  const cols = new Int32Array(lb.width);
  const rows = new Int32Array(lb.height);
  for (let c = 0; c < lb.width; c++) cols[c] = Math.min(S - 1, Math.max(0, Math.floor((c + 0.5) * lb.scale + lb.padX)));
  for (let r = 0; r < lb.height; r++) rows[r] = Math.min(SH - 1, Math.max(0, Math.floor((r + 0.5) * sy + lb.padY)));
  return { cols, rows };
}

/**
 * A [inputHeight, inputSize] class-index map -> the image's own [height, width] class map
 * (row-major), each image pixel taking the input pixel its centre falls on (nearest neighbour):
 * how evaluation scores a segmentation model at the image's size.
 */
export function classMapToImage(classes: Uint8Array, lb: Letterbox): Uint8Array {
  const { width: W, height: H, inputSize: S } = lb;
  const { cols, rows } = inputIndexGrid(lb);
  const out = new Uint8Array(W * H);
  for (let r = 0; r < H; r++) {
    const base = (rows[r] as number) * S;
    for (let c = 0; c < W; c++) out[r * W + c] = classes[base + (cols[c] as number)] as number;
  }
  return out;
}

/**
 * A [inputHeight, inputSize] class-index map -> one COCO RLE per class present
 * on the image (class 0, background, left out), in image pixels. Also the
 * mean confidence of each class's input pixels that lie on the image.
 */
export function classMapToImageMasks(
  classes: Uint8Array,
  confidence: Float32Array | null,
  lb: Letterbox,
): { classIndex: number; rle: CocoRle; area: number; meanConfidence: number | null }[] {
  const { width: W, height: H, inputSize: S } = lb;
  const { cols, rows } = inputIndexGrid(lb);
  const present = new Map<number, Uint8Array>();
  const area = new Map<number, number>();
  for (let r = 0; r < H; r++) {
    const base = (rows[r] as number) * S;
    for (let c = 0; c < W; c++) {
      const k = classes[base + (cols[c] as number)] as number;
      if (k === 0) continue;
      let m = present.get(k);
      if (!m) present.set(k, (m = new Uint8Array(W * H)));
      m[r * W + c] = 1;
      area.set(k, (area.get(k) ?? 0) + 1);
    }
  }
  // Confidence over the input pixels inside the image area.
  const conf = new Map<number, { sum: number; n: number }>();
  if (confidence) {
    const [u0, v0, u1, v1] = imageAreaInInput(lb);
    for (let v = v0; v < v1; v++) {
      for (let u = u0; u < u1; u++) {
        const k = classes[v * S + u] as number;
        if (!present.has(k)) continue;
        const e = conf.get(k) ?? { sum: 0, n: 0 };
        e.sum += confidence[v * S + u] as number;
        e.n++;
        conf.set(k, e);
      }
    }
  }
  return [...present.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([classIndex, m]) => {
      const c = conf.get(classIndex);
      return { classIndex, rle: encodeMask(m, H, W), area: area.get(classIndex) ?? 0, meanConfidence: c && c.n > 0 ? c.sum / c.n : null };
    });
}

/** The input-pixel rectangle [u0, v0, u1, v1) covered by the image (not padding). */
export function imageAreaInInput(lb: Letterbox): [number, number, number, number] {
  const S = lb.inputSize;
  return [
    Math.max(0, Math.floor(lb.padX)),
    Math.max(0, Math.floor(lb.padY)),
    Math.min(S, Math.ceil(lb.padX + lb.width * lb.scale)),
    Math.min(lb.inputHeight ?? S, Math.ceil(lb.padY + lb.height * (lb.scaleY ?? lb.scale))),
  ];
}
