/**
 * The pixels a promptable segmenter sees: 8-bit RGB at the image's own size, made by the same
 * decoder and normalisation as training (core/training/sample-loader.ts decodeImage):
 * - a greyscale DICOM frame as the viewer displays it: modality values (HU for CT) through the
 *   LINEAR window the viewer shows (PS3.3 C.11.2.1.2.1, the viewer's own formula), MONOCHROME1
 *   inverted, grey repeated in R, G and B; with no window given, the file's own window (its
 *   first window and VOI LUT function, else its VOI LUT, else min/max), as the viewer opens it;
 * - colour DICOM (RGB, YBR, palette) through the display pipeline;
 * - plain images as stored (the library keeps them with their EXIF orientation applied; a file
 *   given to `fovea segment` is turned the same way first).
 * The user's display-only invert is not applied: the model sees the image, not a viewing choice.
 *
 * Each image gets a cache key naming exactly what the model saw: the model, the stored blob (or
 * the file's bytes), the frame and the window.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { RgbImage } from '../../contract/assist-engine';
import { FoveaException } from '../../contract/result';
import { decodeImage, type BlobReader, type Normalization } from '../training/sample-loader';
import type { SampleSource } from '../training/training-samples';
import type { AssistStore } from '../store/assist-store';

export interface DisplayWindow {
  center: number;
  width: number;
}

/** A decodable image: its source for the decoder, its size, and the key of what the model sees. */
export interface AssistImageRef {
  key: string;
  width: number;
  height: number;
  itemId: number | null;
  frame: number;
  supply(): Promise<RgbImage>;
}

function normalizationFor(kind: 'dicom' | 'image', window: DisplayWindow | undefined): Normalization {
  if (kind === 'dicom') return window ? { kind: 'window', center: window.center, width: window.width } : { kind: 'file-window' };
  return { kind: 'unit' };
}

function windowKey(n: Normalization): string {
  return n.kind === 'window' ? `w${n.center},${n.width}` : n.kind;
}

/** [0, 1] floats (1 or 3 channels) -> 8-bit RGB, rounded as a display does. */
async function rgbOf(blobs: BlobReader, source: SampleSource, normalization: Normalization): Promise<RgbImage> {
  const img = await decodeImage(blobs, source, normalization, 3);
  const data = new Uint8Array(img.width * img.height * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(Math.min(1, Math.max(0, img.data[i] as number)) * 255);
  return { width: img.width, height: img.height, data };
}

/** An item's frame as the model sees it (see the file header). NOT_FOUND, BAD_INPUT for a frame it does not have. */
export function itemImage(store: Pick<AssistStore, 'item'>, blobs: BlobReader, modelId: string, itemId: number, frame: number, window?: DisplayWindow): AssistImageRef {
  const r = store.item(itemId);
  if (!r) throw new FoveaException('NOT_FOUND', `There is no item ${itemId}.`);
  const frames = r.kind === 'dicom' ? Math.max(1, r.frames) : 1;
  if (frame >= frames) throw new FoveaException('BAD_INPUT', `Item ${itemId} has ${frames} frame${frames === 1 ? '' : 's'}; there is no frame ${frame}.`);
  const normalization = normalizationFor(r.kind, window);
  const colour = r.kind === 'image' ? r.samplesPerPixel >= 3 : r.samplesPerPixel === 3 || r.photometric === 'PALETTE COLOR';
  const source: SampleSource = { itemId, frameIndex: frame, kind: r.kind, blobSha256: r.blobSha256, width: r.columns, height: r.rows, colour, patientKey: null };
  return {
    key: `${modelId}|${r.blobSha256}|f${frame}|${windowKey(normalization)}`,
    width: r.columns,
    height: r.rows,
    itemId,
    frame,
    supply: () => rgbOf(blobs, source, normalization),
  };
}

/** DICOM Part 10 (preamble + DICM), or a DICOM data set without one (starts with group 0002 or 0008). */
function looksLikeDicom(bytes: Uint8Array): boolean {
  if (bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d) return true;
  return bytes.length >= 4 && (bytes[0] === 0x02 || bytes[0] === 0x08) && bytes[1] === 0x00;
}

/**
 * A file outside the library (`fovea segment --image`): DICOM (any frame, its own window unless
 * `window`) or a plain image turned by its EXIF orientation as import does. BAD_INPUT when it is
 * neither.
 */
export async function fileImage(path: string, modelId: string, frame: number, window?: DisplayWindow): Promise<AssistImageRef & { kind: 'dicom' | 'image' }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new FoveaException('IO', `Cannot read ${path}: ${(e as Error).message}`);
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  let kind: 'dicom' | 'image';
  let stored: Uint8Array = bytes;
  let width: number;
  let height: number;
  let colour: boolean;
  if (looksLikeDicom(bytes)) {
    kind = 'dicom';
    const { parseDicom, readImageInfo } = await import('../dicom');
    let info;
    try {
      info = readImageInfo(parseDicom(bytes));
    } catch (e) {
      throw new FoveaException('BAD_INPUT', `${path} is not a readable DICOM file: ${(e as Error).message}`);
    }
    if (!info) throw new FoveaException('BAD_INPUT', `${path} is DICOM without an image.`);
    if (frame >= Math.max(1, info.numberOfFrames)) throw new FoveaException('BAD_INPUT', `${path} has ${info.numberOfFrames} frame(s); there is no frame ${frame}.`);
    width = info.columns;
    height = info.rows;
    colour = info.samplesPerPixel === 3 || info.photometricInterpretation === 'PALETTE COLOR';
  } else {
    if (frame !== 0) throw new FoveaException('BAD_INPUT', `${path} is a plain image: it has only frame 0.`);
    kind = 'image';
    const sharp = (await import('sharp')).default;
    try {
      // EXIF orientation applied, as the library stores plain images.
      const { data, info } = await sharp(bytes).rotate().png().toBuffer({ resolveWithObject: true });
      stored = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      width = info.width;
      height = info.height;
      colour = info.channels >= 3;
    } catch (e) {
      throw new FoveaException('BAD_INPUT', `${path} is neither DICOM nor an image Fovea can read: ${(e as Error).message}`);
    }
  }
  const normalization = normalizationFor(kind, window);
  const blobs: BlobReader = { read: () => stored };
  const source: SampleSource = { itemId: 0, frameIndex: frame, kind, blobSha256: sha, width, height, colour, patientKey: null };
  return {
    kind,
    key: `${modelId}|file:${sha}|f${frame}|${windowKey(normalization)}`,
    width,
    height,
    itemId: null,
    frame,
    supply: () => rgbOf(blobs, source, normalization),
  };
}
