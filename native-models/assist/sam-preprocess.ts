/**
 * Segment Anything's image preprocessing, as its predictor does it (segment_anything/utils/
 * transforms.py ResizeLongestSide and Sam.preprocess):
 *   1. resize so the longest side is `inputSize` (new side = int(side * scale + 0.5)), with PIL's
 *      bilinear filter (a triangle filter widened by the reduction factor when shrinking, so a
 *      large photo is averaged, not aliased), rounded to 8 bits as PIL returns it;
 *   2. (x - mean) / std per RGB channel;
 *   3. pad bottom and right with 0 to inputSize x inputSize; NCHW float32.
 * Click and box coordinates follow the same scale (sam.ts), and the decoder maps its masks back to
 * the original size itself.
 */
import type { RgbImage } from '../../electron/contract/assist-engine';

/** The resized size of a width x height image whose longest side becomes `longest`. */
export function resizedSize(width: number, height: number, longest: number): { width: number; height: number } {
  const scale = longest / Math.max(width, height);
  return { width: Math.floor(width * scale + 0.5), height: Math.floor(height * scale + 0.5) };
}

interface Taps {
  start: Int32Array;
  count: Int32Array;
  /** `maxTaps` weights per output pixel. */
  weights: Float32Array;
  maxTaps: number;
}

/** PIL's separable bilinear coefficients for one axis (ImagingResample's precompute_coeffs). */
function taps(inSize: number, outSize: number): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // bilinear support is 1, widened when shrinking
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * maxTaps);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const x0 = Math.max(0, Math.floor(center - support + 0.5));
    const x1 = Math.min(inSize, Math.floor(center + support + 0.5));
    let sum = 0;
    const n = x1 - x0;
    for (let k = 0; k < n; k++) {
      const t = Math.abs((x0 + k - center + 0.5) / filterScale);
      const w = t < 1 ? 1 - t : 0;
      weights[i * maxTaps + k] = w;
      sum += w;
    }
    if (sum > 0) for (let k = 0; k < n; k++) weights[i * maxTaps + k] = (weights[i * maxTaps + k] as number) / sum;
    start[i] = x0;
    count[i] = n;
  }
  return { start, count, weights, maxTaps };
}

/** Resizes an RGB image (PIL's bilinear, rounded to 8 bits). */
export function resizeRgb(image: RgbImage, width: number, height: number): RgbImage {
  if (image.width === width && image.height === height) return image;
  const src = image.data;
  const W = image.width;
  const H = image.height;
  // Horizontal pass into floats [H, width, 3], then vertical into bytes.
  const hx = taps(W, width);
  const tmp = new Float32Array(H * width * 3);
  for (let y = 0; y < H; y++) {
    const row = y * W * 3;
    for (let x = 0; x < width; x++) {
      const s = hx.start[x] as number;
      const n = hx.count[x] as number;
      let r = 0;
      let g = 0;
      let b = 0;
      for (let k = 0; k < n; k++) {
        const w = hx.weights[x * hx.maxTaps + k] as number;
        const o = row + (s + k) * 3;
        r += w * (src[o] as number);
        g += w * (src[o + 1] as number);
        b += w * (src[o + 2] as number);
      }
      const d = (y * width + x) * 3;
      tmp[d] = r;
      tmp[d + 1] = g;
      tmp[d + 2] = b;
    }
  }
  const vy = taps(H, height);
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const s = vy.start[y] as number;
    const n = vy.count[y] as number;
    for (let x = 0; x < width; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let k = 0; k < n; k++) {
        const w = vy.weights[y * vy.maxTaps + k] as number;
        const o = ((s + k) * width + x) * 3;
        r += w * (tmp[o] as number);
        g += w * (tmp[o + 1] as number);
        b += w * (tmp[o + 2] as number);
      }
      const d = (y * width + x) * 3;
      out[d] = Math.min(255, Math.max(0, Math.round(r)));
      out[d + 1] = Math.min(255, Math.max(0, Math.round(g)));
      out[d + 2] = Math.min(255, Math.max(0, Math.round(b)));
    }
  }
  return { width, height, data: out };
}

/** The encoder's input: [1, 3, inputSize, inputSize] (see the file header). */
export function samEncoderInput(image: RgbImage, inputSize: number, mean: readonly number[], std: readonly number[]): Float32Array {
  if (image.data.length !== image.width * image.height * 3) {
    throw new Error(`an RGB image of ${image.width}x${image.height} has ${image.width * image.height * 3} bytes, not ${image.data.length}`);
  }
  const size = resizedSize(image.width, image.height, inputSize);
  const small = resizeRgb(image, size.width, size.height);
  const plane = inputSize * inputSize;
  const x = new Float32Array(3 * plane); // padding stays 0 (after normalisation, as SAM pads)
  for (let c = 0; c < 3; c++) {
    const m = mean[c] as number;
    const s = std[c] as number;
    const base = c * plane;
    for (let r = 0; r < size.height; r++) {
      for (let q = 0; q < size.width; q++) {
        x[base + r * inputSize + q] = ((small.data[(r * size.width + q) * 3 + c] as number) - m) / s;
      }
    }
  }
  return x;
}
