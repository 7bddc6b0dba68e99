/**
 * One sample -> model input: decode, normalise, letterbox, augment.
 *
 * Normalisation (TrainConfig.normalization), into [0, 1] except z-scores:
 * - DICOM greyscale: modality values first (Rescale Slope/Intercept or the
 *   Modality LUT: Hounsfield units for CT), then
 *   - 'window' {center, width}: the LINEAR VOI function of PS3.3
 *     C.11.2.1.2.1 without its rounding to 8 bits:
 *     y = clamp(((x - (c - 0.5)) / (w - 1) + 0.5), 0, 1). Always LINEAR,
 *     whatever the file says, so a model sees the same mapping for every file.
 *   - 'file-window' (and 'unit'): the file's first window with its VOI LUT
 *     function (LINEAR, LINEAR_EXACT or SIGMOID, unrounded), else its first
 *     VOI LUT table scaled by its bit depth, else per-image min/max.
 *   - 'per-image': min/max of the frame's modality values -> [0, 1]
 *     (min/max, so the letterbox padding 0 is the darkest value).
 *   - 'zscore' (MR): (x - mean) / std of the frame's modality values, the
 *     one kind NOT in [0, 1]. The region is nnU-Net's rule for one image:
 *     when at least a quarter of the pixels are exactly 0 (masked or
 *     skull-stripped data: nnU-Net's "cropping to the nonzero region
 *     shrinks the image by 25% or more"), mean and std are taken over the
 *     nonzero pixels and the zero pixels stay 0; else over the whole image
 *     (nnU-Net's default for MR). A constant region gives 0. Padding 0 is
 *     then the mean, as in nnU-Net; intensity augmentation is
 *     y = x * contrast + brightness (in std units), unclamped.
 *   MONOCHROME1 is inverted afterwards (y -> 1 - y), so bright is bone.
 * - DICOM colour (RGB, YBR_*, PALETTE COLOR): the display pipeline's RGB
 *   (palette lookup, YBR -> RGB) / 255; 'per-image' stretches min/max;
 *   'zscore' standardises each channel over the whole image.
 * - Plain images (PNG blobs): stored values / 255 (or / 65535 for 16-bit);
 *   'window' applies the linear window to the stored values; 'per-image'
 *   stretches min/max; 'zscore' as DICOM (grey: the region rule above;
 *   colour: per channel). Transparent pixels are composited on black.
 * Channels: grey -> RGB repeats the value; RGB -> grey is BT.601 luma
 * (0.299 R + 0.587 G + 0.114 B). 2.5-D (a source with `neighbours`, into 3
 * channels): channel 0 is the slice below, 1 the slice, 2 the slice above,
 * each decoded and normalised on its own (slice-neighbours.ts picks them).
 *
 * Geometry: image coordinates are continuous, pixel (c, r) covers
 * [c, c+1) x [r, r+1) (as the label geometry). Letterbox: scale
 * s = inputSize / max(width, height), image centred, the rest padded with 0
 * (image) and 255 (mask: "ignore"). Augmentation is one affine about the
 * input centre, composed with the letterbox so that pixels are resampled
 * once: flips, then scale k and rotation theta, then a shift (translate):
 * scale > 1 with a shift is a random crop, scale < 1 with a shift puts the
 * smaller image anywhere in the input. Images are sampled bilinear,
 * masks nearest, boxes transformed at their four corners (the axis-aligned
 * box around them), then clipped to the input; a box with less than one
 * input pixel of width or height left is dropped, and (detection,
 * minBoxVisibility) a box with less than that fraction of its area left
 * inside becomes a region to ignore: a person cut down to a leg is neither
 * an object to find nor background to suppress. Pixels that map outside
 * the source are padding (0 / 255).
 *
 * Intensity augmentation: y = clamp((x - 0.5) * contrast + 0.5 + brightness)
 * with contrast in [1 - i, 1 + i] and brightness in [-i, +i], on image pixels
 * only (padding stays 0). Colour images: saturation first, each pixel's
 * BT.601 luma L plus (x - L) * sat, sat in [1 - s, 1 + s].
 *
 * Randomness: one stream per (seed, epoch, item, frame), from which nine
 * numbers are always drawn in a fixed order (flip h, flip v, angle, scale,
 * contrast, brightness, shift x, shift y, saturation), so a sample's
 * augmentation does not depend on batch order, prefetching or which other
 * options are on (the first six are those of before the last three existed).
 *
 * Large images are first reduced by an integer factor f = floor(maxSide /
 * inputSize) with a box (area) filter, so the bilinear step never shrinks
 * by more than 2x (no aliasing) and the cached copy is small; the class map
 * is reduced by taking each block's centre pixel.
 */
import type { AugmentConfig, TaskKind, TrainConfig } from '../../contract/ml';
import { FoveaException } from '../../contract/result';
import { decodeFrame, modalityValues, parseDicom, readImageInfo, toDisplay } from '../dicom';
import type { DicomImageInfo } from '../dicom';
import type { CocoRle } from '../labels/label-types';
import { createRandom } from '../samples/seeded-random';
import { IGNORE_INDEX, rasterizeInstances, rasterizeSegmentation, type Sample, type SampleSource, type SliceRef } from './training-samples';

export type Normalization = TrainConfig['normalization'];

/** Reads stored files (Core's BlobStore has this shape). */
export interface BlobReader {
  read(hash: string): Uint8Array;
}

/** A float image, row-major [height, width, channels]. */
export interface FloatImage {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Float32Array;
}

/** What the cache keeps per sample: the normalised image, maybe reduced, and its class map. */
export interface DecodedSample {
  image: FloatImage;
  /** Source pixels per stored pixel along each axis (1: full resolution). */
  reduction: number;
  sourceWidth: number;
  sourceHeight: number;
  /** Segmentation: the class-index map on the same grid as `image`; null otherwise. */
  classMap: Uint8Array | null;
  /** Segmentation masks that could not be read (changed since the samples were collected). */
  missingMasks: number[];
  /**
   * Detection with copy-paste (DecodeOptions.instanceMasks): the objects' instance map (value box
   * index + 1, 0 none; training-samples' rasterizeInstances) on the same grid as `image`; else absent.
   */
  instances?: Uint8Array;
  /** Bytes held by image, class map and instance map. */
  bytes: number;
  /** Values are z-scores (not in [0, 1]): intensity augmentation does not clamp. */
  unbounded?: boolean;
  /** The 3 channels are neighbouring slices (2.5-D), not colours: no saturation jitter. */
  stacked?: boolean;
}

export interface AugmentDraw {
  flipHorizontal: boolean;
  flipVertical: boolean;
  /** Radians, counter-clockwise on screen. */
  angle: number;
  scale: number;
  contrast: number;
  brightness: number;
  /** Shift in input pixels after flips, rotation and scale. */
  shiftX: number;
  shiftY: number;
  /** Colour saturation factor (1: unchanged). */
  saturation: number;
}

/** 2x3 affine [a, b, c, d, e, f]: x' = a x + b y + c, y' = d x + e y + f. */
export type Affine = [number, number, number, number, number, number];

export interface SampleTransform {
  inputSize: number;
  /** Source image pixels -> input pixels. */
  forward: Affine;
  /** Input pixels -> source image pixels. */
  inverse: Affine;
  letterbox: { scale: number; padX: number; padY: number };
  augment: AugmentDraw | null;
}

export type LoadedTarget =
  | { task: 'classification'; classIndices: number[] }
  /** [x, y, width, height, classIndex] in input pixels. */
  | { task: 'detection'; boxes: [number, number, number, number, number][] }
  /** [inputSize, inputSize] class indices; 255 = ignore (padding). */
  | { task: 'segmentation'; mask: Uint8Array };

export interface LoadedSample {
  itemId: number;
  frameIndex: number;
  /** [inputSize, inputSize, channels] */
  x: Float32Array;
  target: LoadedTarget;
  transform: SampleTransform;
}

export interface DecodeOptions {
  normalization: Normalization;
  channels: 1 | 3;
  /** Reduce large images for this input size (omit: full resolution). */
  inputSize?: number;
  /** Segmentation masks by id and version (see training-samples' maskReader). */
  readMask?: (annotationId: number, version: number) => CocoRle | null;
  /** Segmentation: pixels no label covers are background (default) or ignored (255). */
  unlabeledPixels?: 'background' | 'ignore';
  /** Detection: rasterise the objects' masks and polygons into DecodedSample.instances (copy-paste). */
  instanceMasks?: boolean;
}

// ---------------------------------------------------------------- decoding

function clamp01(v: number): number {
  return v <= 0 ? 0 : v >= 1 ? 1 : v;
}

/** The LINEAR VOI function, continuous (no 8-bit rounding), into [0, 1]. */
export function linearWindow(x: number, center: number, width: number): number {
  const w = Math.max(width, 1);
  if (w <= 1) return x <= center - 0.5 ? 0 : 1;
  return clamp01((x - (center - 0.5)) / (w - 1) + 0.5);
}

function voiFunction(name: string): (x: number, c: number, w: number) => number {
  if (name === 'LINEAR_EXACT') return (x, c, w) => (w <= 0 ? (x < c ? 0 : 1) : clamp01((x - c) / w + 0.5));
  if (name === 'SIGMOID') return (x, c, w) => 1 / (1 + Math.exp((-4 * (x - c)) / (w <= 0 ? 1 : w)));
  return linearWindow;
}

function stretchMinMax(values: Float32Array, out: Float32Array): void {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = max - min;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    out[i] = range > 0 && Number.isFinite(v) ? (v - min) / range : 0;
  }
}

/** Pixels exactly 0 from which the z-score leaves them out (see the header). */
export const ZSCORE_ZERO_FRACTION = 0.25;

/**
 * (x - mean) / std of interleaved values, per channel. Grey (channels 1):
 * over the nonzero pixels, zeros kept at 0, when at least ZSCORE_ZERO_FRACTION
 * of them are 0; else over all of them. Colour: each channel over all pixels.
 * Sums in float64; std is the population std (numpy's default).
 */
export function zscore(values: Float32Array, channels: 1 | 3, out: Float32Array = new Float32Array(values.length)): Float32Array {
  const pixels = values.length / channels;
  for (let c = 0; c < channels; c++) {
    let zeros = 0;
    if (channels === 1) for (let p = 0; p < pixels; p++) if (values[p] === 0) zeros++;
    const masked = channels === 1 && zeros >= ZSCORE_ZERO_FRACTION * pixels && zeros < pixels;
    let n = 0;
    let sum = 0;
    for (let p = 0; p < pixels; p++) {
      const v = values[p * channels + c] as number;
      if (!Number.isFinite(v) || (masked && v === 0)) continue;
      n++;
      sum += v;
    }
    const mean = n > 0 ? sum / n : 0;
    let ss = 0;
    for (let p = 0; p < pixels; p++) {
      const v = values[p * channels + c] as number;
      if (!Number.isFinite(v) || (masked && v === 0)) continue;
      ss += (v - mean) * (v - mean);
    }
    const std = n > 0 ? Math.sqrt(ss / n) : 0;
    for (let p = 0; p < pixels; p++) {
      const i = p * channels + c;
      const v = values[i] as number;
      out[i] = std > 1e-12 && Number.isFinite(v) && !(masked && v === 0) ? (v - mean) / std : 0;
    }
  }
  return out;
}

function mapGrey(values: Float32Array, info: DicomImageInfo, normalization: Normalization): Float32Array {
  const out = new Float32Array(values.length);
  if (normalization.kind === 'zscore') return zscore(values, 1, out);
  if (normalization.kind === 'window') {
    const { center, width } = normalization;
    for (let i = 0; i < values.length; i++) out[i] = linearWindow(values[i] as number, center, width);
    return out;
  }
  if (normalization.kind === 'file-window' || normalization.kind === 'unit') {
    const center = info.windowCenter[0];
    const width = info.windowWidth[0];
    if (center !== undefined && width !== undefined && width > 0) {
      const fn = voiFunction(info.voiLutFunction);
      for (let i = 0; i < values.length; i++) out[i] = fn(values[i] as number, center, width);
      return out;
    }
    const lut = info.voiLuts[0];
    if (lut !== undefined) {
      const max = 2 ** lut.bits - 1;
      const last = lut.data.length - 1;
      for (let i = 0; i < values.length; i++) {
        const idx = Math.min(last, Math.max(0, Math.round(values[i] as number) - lut.firstMapped));
        out[i] = clamp01((lut.data[idx] as number) / max);
      }
      return out;
    }
  }
  stretchMinMax(values, out);
  return out;
}

async function decodeDicom(bytes: Uint8Array, frameIndex: number, normalization: Normalization): Promise<FloatImage> {
  const parsed = parseDicom(bytes);
  const info = readImageInfo(parsed);
  if (info === null) throw new FoveaException('BAD_INPUT', 'The stored DICOM file has no pixel data.');
  const frame = await decodeFrame(parsed, frameIndex, { info });
  if (frame.samplesPerPixel === 1 && frame.photometric !== 'PALETTE COLOR') {
    const data = mapGrey(modalityValues(frame, info), info, normalization);
    // Inverted so bright is bone: 1 - y in [0, 1], -y for z-scores (the zeros left out stay 0).
    if (frame.photometric === 'MONOCHROME1') for (let i = 0; i < data.length; i++) data[i] = normalization.kind === 'zscore' ? -(data[i] as number) || 0 : 1 - (data[i] as number);
    return { width: frame.columns, height: frame.rows, channels: 1, data };
  }
  const display = toDisplay(frame, info);
  const data = new Float32Array(display.data.length);
  if (normalization.kind === 'per-image') stretchMinMax(Float32Array.from(display.data), data);
  else if (normalization.kind === 'zscore') zscore(Float32Array.from(display.data), 3, data);
  else for (let i = 0; i < data.length; i++) data[i] = (display.data[i] as number) / 255;
  return { width: display.width, height: display.height, channels: 3, data };
}

async function decodePlain(bytes: Uint8Array, normalization: Normalization): Promise<FloatImage> {
  // sharp is loaded on first use: DICOM-only training never pays for it.
  const sharp = (await import('sharp')).default;
  const meta = await sharp(bytes).metadata();
  const grey = (meta.channels ?? 3) <= 2;
  const sixteen = meta.depth === 'ushort';
  let pipeline = sharp(bytes);
  if (meta.hasAlpha) pipeline = pipeline.flatten({ background: '#000000' });
  pipeline = pipeline.toColourspace(grey ? (sixteen ? 'grey16' : 'b-w') : sixteen ? 'rgb16' : 'srgb');
  const { data, info } = await pipeline.raw(sixteen ? { depth: 'ushort' } : {}).toBuffer({ resolveWithObject: true });
  const pixels = info.width * info.height;
  const bytesPerSample = data.length / (pixels * info.channels);
  const stored =
    bytesPerSample === 2
      ? new Uint16Array(data.buffer, data.byteOffset, data.length / 2)
      : new Uint8Array(data.buffer, data.byteOffset, data.length);
  const outChannels: 1 | 3 = info.channels >= 3 ? 3 : 1;
  const values = new Float32Array(pixels * outChannels);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < outChannels; c++) values[p * outChannels + c] = stored[p * info.channels + c] as number;
  }
  const out = new Float32Array(values.length);
  if (normalization.kind === 'window') {
    for (let i = 0; i < values.length; i++) out[i] = linearWindow(values[i] as number, normalization.center, normalization.width);
  } else if (normalization.kind === 'per-image') {
    stretchMinMax(values, out);
  } else if (normalization.kind === 'zscore') {
    zscore(values, outChannels, out);
  } else {
    const max = bytesPerSample === 2 ? 65535 : 255;
    for (let i = 0; i < values.length; i++) out[i] = (values[i] as number) / max;
  }
  return { width: info.width, height: info.height, channels: outChannels, data: out };
}

/** grey <-> RGB (see the header). */
export function convertChannels(image: FloatImage, channels: 1 | 3): FloatImage {
  if (image.channels === channels) return image;
  const pixels = image.width * image.height;
  const src = image.data;
  const out = new Float32Array(pixels * channels);
  if (channels === 3) {
    for (let p = 0; p < pixels; p++) {
      const v = src[p] as number;
      out[p * 3] = v;
      out[p * 3 + 1] = v;
      out[p * 3 + 2] = v;
    }
  } else {
    for (let p = 0; p < pixels; p++) {
      out[p] = 0.299 * (src[p * 3] as number) + 0.587 * (src[p * 3 + 1] as number) + 0.114 * (src[p * 3 + 2] as number);
    }
  }
  return { width: image.width, height: image.height, channels, data: out };
}

async function decodeOne(blobs: BlobReader, source: Pick<SampleSource, 'blobSha256' | 'kind' | 'frameIndex'>, normalization: Normalization): Promise<FloatImage> {
  const bytes = blobs.read(source.blobSha256);
  return source.kind === 'dicom' ? await decodeDicom(bytes, source.frameIndex, normalization) : await decodePlain(bytes, normalization);
}

/**
 * The normalised full-resolution image of a sample's item and frame. A source with `neighbours`
 * (2.5-D) into 3 channels stacks [below, slice, above], each as grey; a neighbour of another size
 * than the slice is replaced by the slice (as at the series' ends).
 */
export async function decodeImage(blobs: BlobReader, source: SampleSource, normalization: Normalization, channels: 1 | 3): Promise<FloatImage> {
  const image = await decodeOne(blobs, source, normalization);
  if (!source.neighbours || channels !== 3) return convertChannels(image, channels);
  const centre = convertChannels(image, 1);
  const slice = async (n: SliceRef): Promise<FloatImage> => {
    if (n.itemId === source.itemId && n.frameIndex === source.frameIndex) return centre;
    const g = convertChannels(await decodeOne(blobs, { ...n, kind: 'dicom' }, normalization), 1);
    return g.width === centre.width && g.height === centre.height ? g : centre;
  };
  const stack = [await slice(source.neighbours.below), centre, await slice(source.neighbours.above)];
  const pixels = centre.width * centre.height;
  const data = new Float32Array(pixels * 3);
  for (let c = 0; c < 3; c++) {
    const d = (stack[c] as FloatImage).data;
    for (let p = 0; p < pixels; p++) data[p * 3 + c] = d[p] as number;
  }
  return { width: centre.width, height: centre.height, channels: 3, data };
}

/** Integer reduction factor for an image of this size and an input side. */
export function reductionFor(width: number, height: number, inputSize: number | undefined): number {
  if (inputSize === undefined || inputSize <= 0) return 1;
  return Math.max(1, Math.floor(Math.max(width, height) / inputSize));
}

/** Box-filter reduction by f (partial blocks at the right and bottom edges average what they have). */
export function reduceImage(image: FloatImage, f: number): FloatImage {
  if (f <= 1) return image;
  const { width, height, channels, data } = image;
  const w = Math.ceil(width / f);
  const h = Math.ceil(height / f);
  const out = new Float32Array(w * h * channels);
  const acc = new Float64Array(w * channels);
  const n = new Uint32Array(w);
  for (let by = 0; by < h; by++) {
    acc.fill(0);
    n.fill(0);
    const y1 = Math.min(height, (by + 1) * f);
    for (let y = by * f; y < y1; y++) {
      const row = y * width * channels;
      for (let x = 0; x < width; x++) {
        const bx = (x / f) | 0;
        n[bx] = (n[bx] as number) + 1;
        const s = row + x * channels;
        const d = bx * channels;
        for (let c = 0; c < channels; c++) acc[d + c] = (acc[d + c] as number) + (data[s + c] as number);
      }
    }
    const o = by * w * channels;
    for (let bx = 0; bx < w; bx++) {
      const cnt = n[bx] as number;
      for (let c = 0; c < channels; c++) out[o + bx * channels + c] = (acc[bx * channels + c] as number) / cnt;
    }
  }
  return { width: w, height: h, channels, data: out };
}

function reduceClassMap(map: Uint8Array, width: number, height: number, f: number): Uint8Array {
  if (f <= 1) return map;
  const w = Math.ceil(width / f);
  const h = Math.ceil(height / f);
  const out = new Uint8Array(w * h);
  const half = f >> 1;
  for (let y = 0; y < h; y++) {
    const sy = Math.min(height - 1, y * f + half);
    for (let x = 0; x < w; x++) out[y * w + x] = map[sy * width + Math.min(width - 1, x * f + half)] as number;
  }
  return out;
}

/**
 * Decode a sample for the cache: normalised image (reduced for the input
 * size) and, for segmentation, its class map on the same grid.
 */
export async function decodeSample(blobs: BlobReader, sample: Sample, options: DecodeOptions): Promise<DecodedSample> {
  const full = await decodeImage(blobs, sample, options.normalization, options.channels);
  if (full.width !== sample.width || full.height !== sample.height) {
    throw new FoveaException('BAD_INPUT', `Item ${sample.itemId} decodes to ${full.width}x${full.height}, but the library says ${sample.width}x${sample.height}.`);
  }
  const f = reductionFor(full.width, full.height, options.inputSize);
  const image = reduceImage(full, f);
  let classMap: Uint8Array | null = null;
  let missingMasks: number[] = [];
  if (sample.target.task === 'segmentation') {
    const readMask = options.readMask ?? (() => null);
    const r = rasterizeSegmentation(sample.target.shapes, full.height, full.width, readMask, options.unlabeledPixels === 'ignore' ? IGNORE_INDEX : 0);
    classMap = reduceClassMap(r.classMap, full.width, full.height, f);
    missingMasks = r.missing;
  }
  let instances: Uint8Array | undefined;
  if (options.instanceMasks && sample.target.task === 'detection' && sample.target.masks) {
    const r = rasterizeInstances(sample.target.masks, full.height, full.width, options.readMask ?? (() => null));
    instances = reduceClassMap(r.instances, full.width, full.height, f);
    missingMasks = r.missing;
  }
  return {
    image,
    reduction: f,
    sourceWidth: full.width,
    sourceHeight: full.height,
    classMap,
    missingMasks,
    ...(instances ? { instances } : {}),
    bytes: image.data.byteLength + (classMap?.byteLength ?? 0) + (instances?.byteLength ?? 0),
    ...(options.normalization.kind === 'zscore' ? { unbounded: true } : {}),
    ...(sample.neighbours && image.channels === 3 ? { stacked: true } : {}),
  };
}

// ------------------------------------------------------------ geometry

/** The class index of a region to ignore among detection target boxes (the detector's IGNORE_REGION). */
export const IGNORE_BOX = -1;

/** The augmentation of one sample in one epoch (see the header for the draw order). */
export function drawAugmentation(augment: AugmentConfig, seed: number, epoch: number, itemId: number, frameIndex: number): AugmentDraw {
  const r = createRandom(seed).fork(`augment/${epoch}/${itemId}/${frameIndex}`);
  const u = [r.next(), r.next(), r.next(), r.next(), r.next(), r.next(), r.next(), r.next(), r.next()] as [number, number, number, number, number, number, number, number, number];
  const translate = augment.translate ?? 0;
  return {
    flipHorizontal: augment.flipHorizontal && u[0] < 0.5,
    flipVertical: augment.flipVertical && u[1] < 0.5,
    angle: ((augment.rotateDegrees * (2 * u[2] - 1)) * Math.PI) / 180,
    scale: 1 + augment.scale * (2 * u[3] - 1),
    contrast: 1 + augment.intensity * (2 * u[4] - 1),
    brightness: augment.intensity * (2 * u[5] - 1),
    // Fractions of the input side; sampleTransform multiplies by it.
    shiftX: translate * (2 * u[6] - 1),
    shiftY: translate * (2 * u[7] - 1),
    saturation: 1 + (augment.saturation ?? 0) * (2 * u[8] - 1),
  };
}

/** The inverse of an affine (throws INTERNAL for a degenerate one). */
export function invertAffine(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (Math.abs(det) < 1e-12) throw new FoveaException('INTERNAL', 'A degenerate sample transform (scale 0).');
  const ia = e / det;
  const ib = -b / det;
  const id = -d / det;
  const ie = a / det;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

export function applyAffine(m: Affine, x: number, y: number): [number, number] {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}

/** Letterbox (and augmentation) of a width x height image into inputSize x inputSize. */
export function sampleTransform(width: number, height: number, inputSize: number, augment: AugmentDraw | null): SampleTransform {
  const s = inputSize / Math.max(width, height);
  const padX = (inputSize - width * s) / 2;
  const padY = (inputSize - height * s) / 2;
  let forward: Affine = [s, 0, padX, 0, s, padY];
  if (augment) {
    // q' = c + A (q - c), A = R(angle) * diag(k * fx, k * fy), about the input centre c.
    const c = inputSize / 2;
    const k = augment.scale;
    const fx = augment.flipHorizontal ? -k : k;
    const fy = augment.flipVertical ? -k : k;
    const cos = Math.cos(augment.angle);
    const sin = Math.sin(augment.angle);
    const a00 = cos * fx;
    const a01 = -sin * fy;
    const a10 = sin * fx;
    const a11 = cos * fy;
    // A * (s p + pad - c) + c + shift
    const tx = (augment.shiftX ?? 0) * inputSize;
    const ty = (augment.shiftY ?? 0) * inputSize;
    forward = [a00 * s, a01 * s, a00 * (padX - c) + a01 * (padY - c) + c + tx, a10 * s, a11 * s, a10 * (padX - c) + a11 * (padY - c) + c + ty];
  }
  return { inputSize, forward, inverse: invertAffine(forward), letterbox: { scale: s, padX, padY }, augment };
}

/**
 * Boxes (image pixels) into input pixels; boxes with < 1 px left after clipping are dropped, and
 * boxes with less than `minVisibility` of their area left inside become regions to ignore (class -1).
 */
export function transformBoxes(
  boxes: readonly { x: number; y: number; width: number; height: number; classIndex: number }[],
  t: SampleTransform,
  minVisibility = 0,
): [number, number, number, number, number][] {
  const out: [number, number, number, number, number][] = [];
  for (const b of boxes) {
    const placed = transformBox(b, t);
    if (!placed) continue;
    const { box, visible } = placed;
    out.push([box[0], box[1], box[2], box[3], b.classIndex >= 0 && visible < minVisibility ? IGNORE_BOX : b.classIndex]);
  }
  return out;
}

/**
 * One box (image pixels) into input pixels, clipped to the input: [x, y, width, height, classIndex]
 * and the fraction of its transformed area left inside; null when less than 1 px of width or
 * height is left.
 */
export function transformBox(
  b: { x: number; y: number; width: number; height: number; classIndex: number },
  t: SampleTransform,
): { box: [number, number, number, number, number]; visible: number } | null {
  const S = t.inputSize;
  const corners = [
    applyAffine(t.forward, b.x, b.y),
    applyAffine(t.forward, b.x + b.width, b.y),
    applyAffine(t.forward, b.x, b.y + b.height),
    applyAffine(t.forward, b.x + b.width, b.y + b.height),
  ];
  const xs = corners.map((p) => p[0]);
  const ys = corners.map((p) => p[1]);
  const fx0 = Math.min(...xs);
  const fy0 = Math.min(...ys);
  const fx1 = Math.max(...xs);
  const fy1 = Math.max(...ys);
  const x0 = Math.max(0, fx0);
  const y0 = Math.max(0, fy0);
  const x1 = Math.min(S, fx1);
  const y1 = Math.min(S, fy1);
  if (!(x1 - x0 >= 1 && y1 - y0 >= 1)) return null;
  const visible = ((x1 - x0) * (y1 - y0)) / Math.max(1e-9, (fx1 - fx0) * (fy1 - fy0));
  return { box: [x0, y0, x1 - x0, y1 - y0, b.classIndex], visible };
}

/**
 * Resample a decoded sample into the input: image bilinear (0 outside),
 * class map nearest (255 outside), intensity augmentation on image pixels.
 */
export function renderSample(decoded: DecodedSample, t: SampleTransform): { x: Float32Array; mask: Uint8Array | null } {
  const S = t.inputSize;
  const { image, reduction: f, sourceWidth: W, sourceHeight: H, classMap } = decoded;
  const C = image.channels;
  const w = image.width;
  const h = image.height;
  const src = image.data;
  const x = new Float32Array(S * S * C);
  const mask = classMap ? new Uint8Array(S * S).fill(255) : null;
  const [ia, ib, ic, id, ie, iff] = t.inverse;
  const contrast = t.augment?.contrast ?? 1;
  const brightness = t.augment?.brightness ?? 0;
  const intensity = contrast !== 1 || brightness !== 0;
  const saturation = C === 3 && !decoded.stacked ? (t.augment?.saturation ?? 1) : 1;
  const rgb = [0, 0, 0];
  for (let v = 0; v < S; v++) {
    const qy = v + 0.5;
    for (let u = 0; u < S; u++) {
      const qx = u + 0.5;
      const px = ia * qx + ib * qy + ic;
      const py = id * qx + ie * qy + iff;
      if (!(px >= 0 && px < W && py >= 0 && py < H)) continue;
      // Position on the stored (reduced) grid, in pixel-centre index units.
      const rx = px / f - 0.5;
      const ry = py / f - 0.5;
      let x0 = Math.floor(rx);
      let y0 = Math.floor(ry);
      let tx = rx - x0;
      let ty = ry - y0;
      if (x0 < 0) {
        x0 = 0;
        tx = 0;
      }
      if (y0 < 0) {
        y0 = 0;
        ty = 0;
      }
      let x1 = x0 + 1;
      let y1 = y0 + 1;
      if (x1 > w - 1) {
        x1 = w - 1;
        if (x0 > w - 1) x0 = w - 1;
      }
      if (y1 > h - 1) {
        y1 = h - 1;
        if (y0 > h - 1) y0 = h - 1;
      }
      const o = (v * S + u) * C;
      const i00 = (y0 * w + x0) * C;
      const i01 = (y0 * w + x1) * C;
      const i10 = (y1 * w + x0) * C;
      const i11 = (y1 * w + x1) * C;
      for (let c = 0; c < C; c++) {
        const top = (src[i00 + c] as number) * (1 - tx) + (src[i01 + c] as number) * tx;
        const bottom = (src[i10 + c] as number) * (1 - tx) + (src[i11 + c] as number) * tx;
        rgb[c] = top * (1 - ty) + bottom * ty;
      }
      if (saturation !== 1) {
        const luma = 0.299 * (rgb[0] as number) + 0.587 * (rgb[1] as number) + 0.114 * (rgb[2] as number);
        for (let c = 0; c < 3; c++) rgb[c] = clamp01(luma + ((rgb[c] as number) - luma) * saturation);
      }
      for (let c = 0; c < C; c++) {
        let val = rgb[c] as number;
        if (intensity) val = decoded.unbounded ? val * contrast + brightness : clamp01((val - 0.5) * contrast + 0.5 + brightness);
        x[o + c] = val;
      }
      if (mask && classMap) {
        const nx = Math.min(w - 1, Math.floor(px / f));
        const ny = Math.min(h - 1, Math.floor(py / f));
        mask[v * S + u] = classMap[ny * w + nx] as number;
      }
    }
  }
  return { x, mask };
}

export interface LoadOptions extends DecodeOptions {
  task: TaskKind;
  inputSize: number;
  /** Augmentation (training only); null or omitted: none. */
  augment?: AugmentConfig | null;
  seed?: number;
  epoch?: number;
  /** Where the sample goes in the input, given its augmentation (default: the letterbox; patches.ts cuts patches). */
  placement?: (augment: AugmentDraw | null) => SampleTransform;
}

/** The model input and target of an already decoded sample (the provider's step after its cache). */
export function assembleSample(sample: Sample, decoded: DecodedSample, options: LoadOptions): LoadedSample {
  if (sample.target.task !== options.task) {
    throw new FoveaException('VALIDATION', `A ${sample.target.task} sample cannot feed a ${options.task} model.`);
  }
  const draw = options.augment ? drawAugmentation(options.augment, options.seed ?? 0, options.epoch ?? 0, sample.itemId, sample.frameIndex) : null;
  const t = options.placement ? options.placement(draw) : sampleTransform(decoded.sourceWidth, decoded.sourceHeight, options.inputSize, draw);
  const { x, mask } = renderSample(decoded, t);
  let target: LoadedTarget;
  if (sample.target.task === 'classification') target = { task: 'classification', classIndices: sample.target.classIndices };
  else if (sample.target.task === 'detection') {
    // Regions to ignore travel as boxes of class -1 (no object; the detector's loss skips them).
    target = { task: 'detection', boxes: [...transformBoxes(sample.target.boxes, t, draw ? (options.augment?.minBoxVisibility ?? 0) : 0), ...transformBoxes(sample.target.ignore ?? [], t)] };
  }
  else target = { task: 'segmentation', mask: mask ?? new Uint8Array(options.inputSize * options.inputSize).fill(255) };
  return { itemId: sample.itemId, frameIndex: sample.frameIndex, x, target, transform: t };
}

/** Decode and assemble one sample (no cache). */
export async function loadSample(blobs: BlobReader, sample: Sample, options: LoadOptions): Promise<LoadedSample> {
  const decoded = await decodeSample(blobs, sample, options);
  return assembleSample(sample, decoded, options);
}
