/**
 * The pixels of one image of a PyTorch training export (training-export.ts), as a PNG, with what
 * train.py needs to normalise it as Fovea does (sample-loader.ts). Per image, dataset.json says
 * what its PNG holds (`values`):
 *
 * - 'stored': a plain image's stored values (alpha flattened on black, Fovea's colour space), or
 *   under z-score a colour DICOM frame's display RGB (8-bit, exact): train.py normalises them.
 * - 'normalised': Fovea's normalised values in [0, 1] (grey 16-bit, colour 8-bit).
 * - 'modality' (z-score, greyscale DICOM): the frame's modality values x (Rescale Slope/Intercept
 *   or the Modality LUT) through an affine map png = a x + b, with `affine` [a, b] and `zero`, the
 *   PNG value of x = 0 (null when no pixel can be 0). A z-score is unchanged by a positive a, and
 *   negated by a negative one, which is Fovea's MONOCHROME1 inversion (y -> -y), so a < 0 for
 *   MONOCHROME1. When the values are integers spanning at most 65535 (every MR file we have seen),
 *   a = +-1 and the PNG holds them exactly; else a = +-65535 / (max - min) and they are rounded to
 *   16-bit steps (reported as lossy). nnU-Net's rule (at least a quarter of the pixels exactly 0:
 *   z-score over the nonzero ones, the zeros staying 0) needs raw 0 identifiable: it is `zero`.
 */
import { decodeFrame, modalityValues, parseDicom, readImageInfo } from '../dicom';
import { FoveaException } from '../../contract/result';
import type { TrainConfig } from '../../contract/ml';
import { decodeImage, type BlobReader } from '../training/sample-loader';
import type { SampleSource } from '../training/training-samples';

export interface ExportedPixels {
  png: Buffer;
  width: number;
  height: number;
  /** Values between 8-bit (colour) or 16-bit (modality) steps were rounded. */
  lossy: boolean;
  values: 'stored' | 'normalised' | 'modality';
  /** 'modality': the PNG value of modality value 0, or null. */
  zero?: number | null;
  /** 'modality': png = affine[0] * x + affine[1]. */
  affine?: [number, number];
}

/** A plain image's stored values as a PNG, after the colour handling of sample-loader.ts decodePlain. */
export async function storedPng(bytes: Uint8Array): Promise<ExportedPixels> {
  const sharp = (await import('sharp')).default;
  const meta = await sharp(bytes).metadata();
  const grey = (meta.channels ?? 3) <= 2;
  const sixteen = meta.depth === 'ushort';
  let pipeline = sharp(bytes);
  if (meta.hasAlpha) pipeline = pipeline.flatten({ background: '#000000' });
  // 16-bit colour PNGs are not read by Pillow as 16-bit: such images leave as 8-bit (reported).
  pipeline = pipeline.toColourspace(grey ? (sixteen ? 'grey16' : 'b-w') : 'srgb');
  const png = await pipeline.png({ compressionLevel: 6 }).toBuffer();
  return { png, width: meta.width ?? 0, height: meta.height ?? 0, lossy: sixteen && !grey, values: 'stored' };
}

/** Fovea's normalised frame as a PNG: grey 16-bit, colour 8-bit (exact for colour values on 8-bit steps). */
export async function normalisedPng(image: { width: number; height: number; channels: 1 | 3; data: Float32Array }, values: 'normalised' | 'stored' = 'normalised'): Promise<ExportedPixels> {
  const sharp = (await import('sharp')).default;
  const { width, height, channels, data } = image;
  if (channels === 1) {
    // A Uint16Array is read by sharp as 16-bit samples; grey16 keeps them 16-bit in the PNG.
    const raw = new Uint16Array(width * height);
    for (let i = 0; i < raw.length; i++) raw[i] = Math.round(Math.min(1, Math.max(0, data[i] as number)) * 65535);
    const png = await sharp(raw, { raw: { width, height, channels: 1 } }).toColourspace('grey16').png().toBuffer();
    return { png, width, height, lossy: false, values };
  }
  const raw = Buffer.alloc(data.length);
  let lossy = false;
  for (let i = 0; i < data.length; i++) {
    const v = Math.min(1, Math.max(0, data[i] as number)) * 255;
    const r = Math.round(v);
    if (Math.abs(v - r) > 1e-3) lossy = true;
    raw[i] = r;
  }
  return { png: await sharp(raw, { raw: { width, height, channels: 3 } }).toColourspace('srgb').png().toBuffer(), width, height, lossy, values };
}

/** The affine map of modality values into 16-bit PNG samples (see the header). */
export function modalityAffine(values: Float32Array, monochrome1: boolean): { a: number; b: number; exact: boolean; zero: number | null } {
  let min = Infinity;
  let max = -Infinity;
  let integers = true;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    if (integers && !Number.isInteger(v)) integers = false;
  }
  if (!(max >= min)) return { a: 1, b: 0, exact: true, zero: null };
  const exact = integers && max - min <= 65535;
  const k = exact ? 1 : max > min ? 65535 / (max - min) : 1;
  const a = monochrome1 ? -k : k;
  const b = (monochrome1 ? k * max : -k * min) + 0; // + 0: never -0
  const zero = min <= 0 && max >= 0 ? Math.round(b) : null;
  return { a, b, exact, zero };
}

/** Z-score export of a greyscale DICOM frame: its modality values as 'modality' (see the header); null for colour. */
export async function modalityPng(bytes: Uint8Array, frameIndex: number): Promise<ExportedPixels | null> {
  const parsed = parseDicom(bytes);
  const info = readImageInfo(parsed);
  if (info === null) throw new FoveaException('BAD_INPUT', 'The stored DICOM file has no pixel data.');
  const frame = await decodeFrame(parsed, frameIndex, { info });
  if (frame.samplesPerPixel !== 1 || frame.photometric === 'PALETTE COLOR') return null;
  const values = modalityValues(frame, info);
  const { a, b, exact, zero } = modalityAffine(values, frame.photometric === 'MONOCHROME1');
  const raw = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    raw[i] = Number.isFinite(v) ? Math.min(65535, Math.max(0, Math.round(a * v + b))) : 0;
  }
  const sharp = (await import('sharp')).default;
  const png = await sharp(raw, { raw: { width: frame.columns, height: frame.rows, channels: 1 } }).toColourspace('grey16').png().toBuffer();
  return { png, width: frame.columns, height: frame.rows, lossy: !exact, values: 'modality', zero, affine: [a, b] };
}

/**
 * One DICOM frame's PNG for train.py: under z-score its modality values (grey) or display RGB
 * (colour, 'stored'), else Fovea's normalised values with `channels` channels.
 */
export async function dicomPng(bytes: Uint8Array, source: Pick<SampleSource, 'itemId' | 'frameIndex' | 'blobSha256'>, normalization: TrainConfig['normalization'], channels: 1 | 3): Promise<ExportedPixels> {
  const reader: BlobReader = { read: () => bytes };
  const src: SampleSource = { ...source, kind: 'dicom', width: 0, height: 0, colour: channels === 3, patientKey: null };
  if (normalization.kind === 'zscore') {
    const grey = await modalityPng(bytes, source.frameIndex);
    if (grey) return grey;
    // Colour: the display RGB / 255 is exact on 8-bit steps; train.py z-scores each channel as Fovea.
    return normalisedPng(await decodeImage(reader, src, { kind: 'unit' }, 3), 'stored');
  }
  return normalisedPng(await decodeImage(reader, src, normalization, channels));
}
