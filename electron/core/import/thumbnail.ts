/**
 * A DICOM item's thumbnail: the displayed frame scaled down to fit inside
 * THUMB_SIZE x THUMB_SIZE (never enlarged) by area averaging, then encoded
 * as a baseline JPEG (baseline-jpeg.ts; why not sharp is said there).
 */
import { encodeJpeg, type RawImage } from './baseline-jpeg';
import { THUMB_SIZE } from './plain-image';

/** JPEG quality of thumbnails (IJG's scale). */
const THUMB_QUALITY = 85;

/** For each output sample along one axis: the first input index and the weights of the inputs it covers (summing to 1). */
function areaWeights(inSize: number, outSize: number): { start: Int32Array; offsets: Int32Array; weights: Float64Array } {
  const scale = inSize / outSize;
  const start = new Int32Array(outSize);
  const offsets = new Int32Array(outSize + 1);
  const weights: number[] = [];
  for (let o = 0; o < outSize; o++) {
    const a = o * scale;
    const b = Math.min(inSize, (o + 1) * scale);
    const first = Math.floor(a);
    start[o] = first;
    offsets[o] = weights.length;
    for (let i = first; i < b; i++) weights.push((Math.min(b, i + 1) - Math.max(a, i)) / scale);
  }
  offsets[outSize] = weights.length;
  return { start, offsets, weights: Float64Array.from(weights) };
}

/** The image scaled to fit inside `max` x `max` by area averaging (a box filter over each output pixel's footprint); returned as is when it fits. */
export function fitInside(image: RawImage, max: number): RawImage {
  const { width, height, channels, data } = image;
  if (width <= max && height <= max) return image;
  const scale = Math.min(max / width, max / height);
  const outW = Math.max(1, Math.min(max, Math.round(width * scale)));
  const outH = Math.max(1, Math.min(max, Math.round(height * scale)));
  const cols = areaWeights(width, outW);
  const rows = areaWeights(height, outH);
  // Rows first, over whole contiguous rows (outH rows of the full width), then columns.
  const rowLength = width * channels;
  const mid = new Float64Array(outH * rowLength);
  for (let o = 0; o < outH; o++) {
    const first = rows.start[o] as number;
    const from = rows.offsets[o] as number;
    const to = rows.offsets[o + 1] as number;
    const dst = o * rowLength;
    for (let k = from; k < to; k++) {
      const wk = rows.weights[k] as number;
      const src = (first + k - from) * rowLength;
      for (let i = 0; i < rowLength; i++) mid[dst + i] = (mid[dst + i] as number) + wk * (data[src + i] as number);
    }
  }
  const out = new Uint8Array(outW * outH * channels);
  for (let y = 0; y < outH; y++) {
    const src = y * rowLength;
    const dst = y * outW * channels;
    for (let o = 0; o < outW; o++) {
      const first = cols.start[o] as number;
      const from = cols.offsets[o] as number;
      const to = cols.offsets[o + 1] as number;
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        let p = src + first * channels + c;
        for (let k = from; k < to; k++, p += channels) sum += (cols.weights[k] as number) * (mid[p] as number);
        out[dst + o * channels + c] = sum <= 0 ? 0 : sum >= 255 ? 255 : Math.round(sum);
      }
    }
  }
  return { width: outW, height: outH, channels, data: out };
}

/** The thumbnail JPEG of a displayed (8-bit grey or RGB) image. */
export function thumbnailJpeg(image: RawImage): Buffer {
  const jpeg = encodeJpeg(fitInside(image, THUMB_SIZE), THUMB_QUALITY);
  return Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength);
}
