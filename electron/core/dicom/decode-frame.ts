import type { Element } from 'dicom-parser';
import { FoveaException } from '../../contract/result';
import { badInput, describeThrown, unsupported } from './dicom-errors';
import { readImageInfo } from './image-info';
import type { DicomImageInfo } from './image-info';
import { decodeJpegDct, JpegDecodeError, readJpegFrameHeader } from './jpeg-dct-decoder';
import type { ParsedDicom } from './parse-dicom';
import {
  loadedLosslessJpeg,
  loadedWasmCodec,
  loadLosslessJpeg,
  loadWasmCodec,
  runWasmDecode,
  wasmCodecsFor,
} from './pixel-codecs';
import type { WasmCodecName, WasmDecodeResult } from './pixel-codecs';
import { decodeRleFrame, RleDecodeError } from './rle-decoder';
import { bytesPerSample, checkDeclaredSize, isNativeYbr422, nativeFrameBytes } from './size-limits';
import type { PixelLimits } from './size-limits';
import { transferSyntaxInfo, transferSyntaxName } from './transfer-syntax';
import type { PixelCodec } from './transfer-syntax';

export type PixelDtype = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';
export type PixelArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;

/**
 * One decoded frame: stored values after decompression and before any LUT,
 * samples interleaved per pixel (planar configuration undone).
 *
 * Stored-value semantics (the reference script applies the same): bits
 * above BitsStored are dropped (native data is first shifted down when
 * HighBit + 1 > BitsStored), and signed data is sign-extended from
 * BitsStored. pydicom 2.x leaves those upper bits as they are in the file.
 */
export interface DecodedFrame {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  /** Photometric interpretation of `data`: 'RGB' when a codec converted YBR (JPEG baseline, J2K ICT/RCT). */
  photometric: string;
  dtype: PixelDtype;
  data: PixelArray;
  bitsStored: number;
  pixelRepresentation: 0 | 1;
}

export interface DecodeFrameOptions {
  /** Reuse an already read info (readImageInfo) instead of reading it again. */
  info?: DicomImageInfo;
  limits?: PixelLimits;
}

export function pixelDtype(info: DicomImageInfo): PixelDtype {
  if (info.pixelDataKind === 'float') return 'float32';
  if (info.pixelDataKind === 'double') return 'float64';
  const signed = info.pixelRepresentation === 1;
  const width = bytesPerSample(info.bitsAllocated);
  if (width === 1) return signed ? 'int8' : 'uint8';
  if (width === 2) return signed ? 'int16' : 'uint16';
  return signed ? 'int32' : 'uint32';
}

function imageInfoOrThrow(parsed: ParsedDicom, options: DecodeFrameOptions): DicomImageInfo {
  const info = options.info ?? readImageInfo(parsed);
  if (info === null) throw badInput('The DICOM file has no pixel data: there is no image to decode.');
  return info;
}

/** The wasm/JS codecs a file's pixel data needs (none for native, RLE and 12-bit JPEG). */
function codecNeeds(parsed: ParsedDicom): { codec: PixelCodec; wasm: WasmCodecName[]; lossless: boolean } {
  const ts = transferSyntaxInfo(parsed.transferSyntaxUid);
  if (ts === undefined) {
    throw unsupported(
      `The DICOM image is compressed with ${transferSyntaxName(parsed.transferSyntaxUid)} (${parsed.transferSyntaxUid}), which Fovea cannot decode.`,
    );
  }
  // Some writers label JPEG lossless data as baseline or the other way round,
  // and the frame's SOF marker decides which decoder runs: the JPEG family
  // gets both decoders.
  const jpeg = ts.codec === 'jpeg-lossless' || ts.codec === 'jpeg-baseline';
  return { codec: ts.codec, wasm: wasmCodecsFor(ts.codec), lossless: jpeg };
}

/** Why a codec failed to load, for the message when a frame then needs it. */
const loadErrors = new Map<WasmCodecName, string>();

/** Loads the codecs a file needs (idempotent; each module is instantiated once per process). */
export async function prepareCodecs(parsed: ParsedDicom, info?: DicomImageInfo): Promise<void> {
  const resolved = info ?? readImageInfo(parsed);
  if (resolved === null || !resolved.encapsulated) return;
  const needs = codecNeeds(parsed);
  for (const name of needs.wasm) {
    try {
      await loadWasmCodec(name);
      loadErrors.delete(name);
    } catch (e) {
      // Not fatal yet: a frame may not need this module (OpenJPH is only a
      // fallback, 12-bit JPEG does not use libjpeg-turbo). A frame that does
      // gets UNSUPPORTED with this reason.
      loadErrors.set(name, describeThrown(e));
    }
  }
  if (needs.lossless) await loadLosslessJpeg();
}

/**
 * Decodes frame `frameIndex` (0-based). Loads the codec it needs on first
 * use. Throws FoveaException: BAD_INPUT (corrupt or truncated data, sizes
 * that disagree), TOO_LARGE (declared size over the limits), UNSUPPORTED
 * (a transfer syntax or layout Fovea does not decode).
 */
export async function decodeFrame(parsed: ParsedDicom, frameIndex: number, options: DecodeFrameOptions = {}): Promise<DecodedFrame> {
  const info = imageInfoOrThrow(parsed, options);
  checkDeclaredSize(info, parsed.fileLength, options.limits);
  await prepareCodecs(parsed, info);
  return decodeFrameSync(parsed, frameIndex, { ...options, info });
}

/**
 * Synchronous decode, for callers that ran prepareCodecs() first (or whose
 * data needs no wasm codec: native, RLE, 12-bit JPEG).
 */
export function decodeFrameSync(parsed: ParsedDicom, frameIndex: number, options: DecodeFrameOptions = {}): DecodedFrame {
  const info = imageInfoOrThrow(parsed, options);
  checkDeclaredSize(info, parsed.fileLength, options.limits);
  if (!Number.isInteger(frameIndex) || frameIndex < 0 || frameIndex >= info.numberOfFrames) {
    throw badInput(`Frame ${frameIndex} does not exist: the image has ${info.numberOfFrames} frame(s) (0 to ${info.numberOfFrames - 1}).`);
  }
  try {
    return info.encapsulated ? decodeEncapsulated(parsed, info, frameIndex) : decodeNative(parsed, info, frameIndex);
  } catch (e) {
    if (e instanceof FoveaException) throw e;
    // Anything else from a codec or from our own code on odd data is still bad input, reported as such.
    throw badInput(`Frame ${frameIndex + 1} of the DICOM image could not be decoded: ${describeThrown(e)}.`);
  }
}

function pixelElement(parsed: ParsedDicom): Element {
  const el = parsed.element('7FE00010') ?? parsed.element('7FE00008') ?? parsed.element('7FE00009');
  if (el === undefined) throw badInput('The DICOM file has no pixel data.');
  return el;
}

// ---------------------------------------------------------------- native

function swapBytes(bytes: Uint8Array, width: number): void {
  for (let i = 0; i + width <= bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a] ?? 0;
      bytes[a] = bytes[b] ?? 0;
      bytes[b] = t;
    }
  }
}

function decodeNative(parsed: ParsedDicom, info: DicomImageInfo, frameIndex: number): DecodedFrame {
  const el = pixelElement(parsed);
  const { rows, columns, samplesPerPixel } = info;
  const pixels = rows * columns;
  const data = parsed.bytes;

  // OW in big endian is a stream of 16-bit words, each with its bytes swapped:
  // byte i of the value as written in little endian sits at i ^ 1. Samples
  // narrower than a word (8-bit, packed bits) are read through that mapping,
  // which also finds an odd last byte (in the last word, before the pad byte)
  // and frames that start mid-word. (pydicom 2.3 swaps only whole pairs of
  // the frame and loses that byte; dcmtk's dcmconv +te keeps it.)
  const wordSwapped = !parsed.littleEndian && el.vr === 'OW' && info.bitsAllocated <= 8;
  const available = data.length - el.dataOffset;
  const byteAt = wordSwapped
    ? (i: number): number | undefined => ((i ^ 1) < available ? data[el.dataOffset + (i ^ 1)] : undefined)
    : (i: number): number | undefined => (i < available ? data[el.dataOffset + i] : undefined);

  if (info.bitsAllocated === 1) {
    // Packed bits, least significant bit first, frames contiguous (not byte aligned).
    const count = pixels * samplesPerPixel;
    const out = new Uint8Array(count);
    const startBit = frameIndex * count;
    for (let i = 0; i < count; i++) {
      const bit = startBit + i;
      out[i] = ((byteAt(bit >> 3) ?? 0) >> (bit & 7)) & 1;
    }
    return frameResult(info, out, info.photometricInterpretation, 'uint8');
  }

  const frameBytes = nativeFrameBytes(info);
  const width = bytesPerSample(info.bitsAllocated);
  const offset = frameIndex * frameBytes;
  let raw: Uint8Array;
  if (wordSwapped) {
    raw = new Uint8Array(frameBytes);
    for (let i = 0; i < frameBytes; i++) {
      const b = byteAt(offset + i);
      if (b === undefined) throw badInput(`The DICOM file is truncated: frame ${frameIndex + 1} is incomplete.`);
      raw[i] = b;
    }
  } else {
    const start = el.dataOffset + offset;
    raw = data.slice(start, start + frameBytes); // a copy: aligned, and ours to modify
    if (raw.length !== frameBytes) throw badInput(`The DICOM file is truncated: frame ${frameIndex + 1} is incomplete.`);
    if (!parsed.littleEndian && width > 1) swapBytes(raw, width);
  }

  if (isNativeYbr422(info)) {
    // Y0 Y1 Cb Cr for each pair of pixels: repeat the chroma for both (PS3.3 C.7.6.3.1.2).
    const out = new Uint8Array(pixels * 3);
    for (let p = 0, i = 0; p < pixels && i + 3 < raw.length; p += 2, i += 4) {
      const y0 = raw[i] ?? 0;
      const y1 = raw[i + 1] ?? 0;
      const cb = raw[i + 2] ?? 0;
      const cr = raw[i + 3] ?? 0;
      out.set([y0, cb, cr], p * 3);
      if (p + 1 < pixels) out.set([y1, cb, cr], (p + 1) * 3);
    }
    return frameResult(info, out, 'YBR_FULL', 'uint8');
  }

  let interleaved = raw;
  if (samplesPerPixel > 1 && info.planarConfiguration === 1) {
    interleaved = new Uint8Array(raw.length);
    for (let s = 0; s < samplesPerPixel; s++) {
      for (let p = 0; p < pixels; p++) {
        const from = (s * pixels + p) * width;
        const to = (p * samplesPerPixel + s) * width;
        for (let b = 0; b < width; b++) interleaved[to + b] = raw[from + b] ?? 0;
      }
    }
  }
  if (info.pixelDataKind === 'float') return frameResult(info, new Float32Array(interleaved.buffer, 0, interleaved.length / 4), info.photometricInterpretation, 'float32');
  if (info.pixelDataKind === 'double') return frameResult(info, new Float64Array(interleaved.buffer, 0, interleaved.length / 8), info.photometricInterpretation, 'float64');
  const unsigned = unsignedView(interleaved, width);
  return storedValues(info, unsigned, info.highBit + 1 - info.bitsStored, info.photometricInterpretation);
}

function unsignedView(bytes: Uint8Array, width: number): Uint8Array | Uint16Array | Uint32Array {
  // `bytes` is always a fresh copy starting at offset 0, so the views are aligned.
  if (width === 1) return bytes;
  if (width === 2) return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length >> 1);
  return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
}

/**
 * Applies the stored-value rule in place (drop bits above BitsStored after
 * shifting by `shift`, sign-extend signed data) and returns the typed array
 * of the DICOM dtype sharing the same buffer.
 */
function storedValues(info: DicomImageInfo, values: Uint8Array | Uint16Array | Uint32Array, shift: number, photometric: string): DecodedFrame {
  const dtype = pixelDtype(info);
  const width = values.BYTES_PER_ELEMENT * 8;
  const bs = info.bitsStored;
  const signed = info.pixelRepresentation === 1;
  if (bs < width || shift > 0) {
    // bs <= 31 here unless only a shift is needed; a negative result stored in
    // the unsigned array keeps its two's complement bits, which the signed view reads back.
    const divisor = 2 ** shift;
    const modulus = 2 ** bs;
    const half = modulus / 2;
    for (let i = 0; i < values.length; i++) {
      let v = Math.floor((values[i] ?? 0) / divisor) % modulus;
      if (signed && v >= half) v -= modulus;
      values[i] = v;
    }
  }
  let data: PixelArray = values;
  if (signed) {
    if (values instanceof Uint8Array) data = new Int8Array(values.buffer, values.byteOffset, values.length);
    else if (values instanceof Uint16Array) data = new Int16Array(values.buffer, values.byteOffset, values.length);
    else data = new Int32Array(values.buffer, values.byteOffset, values.length);
  }
  return frameResult(info, data, photometric, dtype);
}

function frameResult(info: DicomImageInfo, data: PixelArray, photometric: string, dtype: PixelDtype): DecodedFrame {
  const expected = info.rows * info.columns * info.samplesPerPixel;
  if (data.length !== expected) {
    throw badInput(`The decoded frame has ${data.length} samples, but ${info.columns} x ${info.rows} x ${info.samplesPerPixel} = ${expected} were expected.`);
  }
  return {
    rows: info.rows,
    columns: info.columns,
    samplesPerPixel: info.samplesPerPixel,
    photometric,
    dtype,
    data,
    bitsStored: info.bitsStored,
    pixelRepresentation: info.pixelRepresentation,
  };
}

/** Converts codec output samples (any width) into a fresh unsigned array of the DICOM sample width. */
function widen(samples: Uint8Array | Uint16Array, info: DicomImageInfo): Uint8Array | Uint16Array | Uint32Array {
  const width = bytesPerSample(info.bitsAllocated);
  if (width === samples.BYTES_PER_ELEMENT) return samples;
  if (width === 1) {
    throw badInput(`The compressed frame has ${samples.BYTES_PER_ELEMENT * 8}-bit samples, but BitsAllocated is ${info.bitsAllocated}.`);
  }
  const out = width === 2 ? new Uint16Array(samples.length) : new Uint32Array(samples.length);
  out.set(samples);
  return out;
}

// ---------------------------------------------------------------- encapsulated

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0].slice();
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function startsFrame(bytes: Uint8Array, codec: PixelCodec): boolean {
  if (codec === 'jpeg2000' || codec === 'htj2k') {
    const j2k = bytes[0] === 0xff && bytes[1] === 0x4f && bytes[2] === 0xff && bytes[3] === 0x51;
    const jp2 = bytes[4] === 0x6a && bytes[5] === 0x50 && bytes[6] === 0x20 && bytes[7] === 0x20;
    return j2k || jp2;
  }
  return bytes[0] === 0xff && bytes[1] === 0xd8;
}

/** The compressed bytes of one frame, from the offset tables or, without them, from the codestreams' start markers. */
export function encapsulatedFrame(parsed: ParsedDicom, info: DicomImageInfo, frameIndex: number, codec: PixelCodec): Uint8Array {
  const el = pixelElement(parsed);
  const fragments = el.fragments ?? [];
  const n = info.numberOfFrames;
  const bytes = parsed.bytes;
  const part = (i: number): Uint8Array => {
    const f = fragments[i];
    if (f === undefined) throw badInput(`Pixel data fragment ${i + 1} is missing.`);
    return bytes.subarray(f.position, f.position + f.length);
  };
  if (fragments.length === 0) throw badInput('The DICOM file has encapsulated pixel data without any fragment: there is no image data.');

  // Extended Offset Table (7FE0,0001/0002): 64-bit offsets and lengths per frame.
  const eot = parsed.valueBytes('7FE00001');
  const eotLengths = parsed.valueBytes('7FE00002');
  if (eot !== undefined && eotLengths !== undefined && eot.length === n * 8 && eotLengths.length === n * 8) {
    const dv = new DataView(eot.buffer, eot.byteOffset, eot.byteLength);
    const lv = new DataView(eotLengths.buffer, eotLengths.byteOffset, eotLengths.byteLength);
    const offset = Number(dv.getBigUint64(frameIndex * 8, true));
    const length = Number(lv.getBigUint64(frameIndex * 8, true));
    const f = fragments.find((x) => x.offset === offset);
    if (f !== undefined && f.position + length <= bytes.length) return bytes.slice(f.position, f.position + length);
  }

  const bot = el.basicOffsetTable ?? [];
  if (bot.length === n && n > 0) {
    const index = (offset: number): number => fragments.findIndex((f) => f.offset === offset);
    const first = index(bot[frameIndex] ?? -1);
    const next = frameIndex + 1 < n ? index(bot[frameIndex + 1] ?? -1) : fragments.length;
    if (first >= 0 && next > first) {
      const parts: Uint8Array[] = [];
      for (let i = first; i < next; i++) parts.push(part(i));
      return concat(parts);
    }
    // Otherwise fall through: a wrong offset table is common enough to recover from.
  }
  if (fragments.length === n) return part(frameIndex).slice();
  if (n === 1) return concat(fragments.map((_, i) => part(i)));
  if (fragments.length < n) {
    throw badInput(`The DICOM image declares ${n} frames but its pixel data holds only ${fragments.length} fragment(s): it is truncated or inconsistent.`);
  }
  if (codec === 'rle') {
    throw badInput(`RLE pixel data must have one fragment per frame, but ${n} frames come in ${fragments.length} fragments without an offset table.`);
  }
  const starts: number[] = [];
  for (let i = 0; i < fragments.length; i++) if (startsFrame(part(i), codec)) starts.push(i);
  if (starts.length !== n || starts[0] !== 0) {
    throw badInput(
      `Cannot tell where the ${n} frames start: the pixel data has ${fragments.length} fragments, no usable offset table, and ${starts.length} codestream start(s).`,
    );
  }
  const from = starts[frameIndex] ?? 0;
  const to = starts[frameIndex + 1] ?? fragments.length;
  const parts: Uint8Array[] = [];
  for (let i = from; i < to; i++) parts.push(part(i));
  return concat(parts);
}

interface CodestreamHeader {
  width: number;
  height: number;
  components: number;
  precision: number;
  signed?: boolean;
}

/** SIZ of a J2K codestream (or the codestream inside a JP2 file). */
function readJ2kHeader(bytes: Uint8Array): { header: CodestreamHeader; codestream: Uint8Array } {
  let cs = bytes;
  if (bytes[4] === 0x6a && bytes[5] === 0x50 && bytes[6] === 0x20 && bytes[7] === 0x20) {
    // JP2 file format: find the contiguous codestream box.
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let p = 0;
    let found: Uint8Array | undefined;
    while (p + 8 <= bytes.length) {
      let len = dv.getUint32(p);
      const type = String.fromCharCode(bytes[p + 4] ?? 0, bytes[p + 5] ?? 0, bytes[p + 6] ?? 0, bytes[p + 7] ?? 0);
      let head = 8;
      if (len === 1 && p + 16 <= bytes.length) {
        len = Number(dv.getBigUint64(p + 8));
        head = 16;
      } else if (len === 0) len = bytes.length - p;
      if (len < head) break;
      if (type === 'jp2c') {
        found = bytes.subarray(p + head, Math.min(bytes.length, p + len));
        break;
      }
      p += len;
    }
    if (found === undefined) throw badInput('The JPEG 2000 frame is a JP2 file without a codestream.');
    cs = found;
  }
  if (cs.length < 42 || cs[0] !== 0xff || cs[1] !== 0x4f || cs[2] !== 0xff || cs[3] !== 0x51) {
    throw badInput('The JPEG 2000 frame does not start with a codestream header (SOC/SIZ markers).');
  }
  const dv = new DataView(cs.buffer, cs.byteOffset, cs.byteLength);
  const xsiz = dv.getUint32(8);
  const ysiz = dv.getUint32(12);
  const xo = dv.getUint32(16);
  const yo = dv.getUint32(20);
  const csiz = dv.getUint16(40);
  const ssiz = cs[42] ?? 0;
  return {
    header: { width: xsiz - xo, height: ysiz - yo, components: csiz, precision: (ssiz & 0x7f) + 1, signed: (ssiz & 0x80) !== 0 },
    codestream: cs,
  };
}

/** SOF55 of a JPEG-LS stream. */
function readJpegLsHeader(bytes: Uint8Array): CodestreamHeader {
  for (let p = 2; p + 9 < bytes.length; p++) {
    if (bytes[p] === 0xff && bytes[p + 1] === 0xf7) {
      return {
        precision: bytes[p + 4] ?? 0,
        height: ((bytes[p + 5] ?? 0) << 8) | (bytes[p + 6] ?? 0),
        width: ((bytes[p + 7] ?? 0) << 8) | (bytes[p + 8] ?? 0),
        components: bytes[p + 9] ?? 0,
      };
    }
  }
  throw badInput('The JPEG-LS frame has no frame header (SOF55).');
}

function checkHeader(header: CodestreamHeader, info: DicomImageInfo, frameIndex: number, what: string): void {
  // Height 0 in a JPEG SOF means "given later by a DNL marker": only the width can be checked then.
  const heightOk = header.height === info.rows || (header.height === 0 && what === 'JPEG');
  if (header.width !== info.columns || !heightOk || header.components !== info.samplesPerPixel) {
    throw badInput(
      `Frame ${frameIndex + 1} is a ${header.width} x ${header.height} ${what} image with ${header.components} component(s), but the DICOM header says ${info.columns} x ${info.rows} with ${info.samplesPerPixel}.`,
    );
  }
}

const DICOM_TAG_NAMES: Readonly<Record<number, string>> = { 0xe000: 'Item', 0xe00d: 'Item Delimitation', 0xe0dd: 'Sequence Delimitation' };

/**
 * The J2K SIZ header against the DICOM header. When they disagree because
 * the bytes of a DICOM Item or delimiter tag (FE FF 00 E0, FE FF 0D E0,
 * FE FF DD E0) sit inside SIZ, the codestream itself was overwritten (as in
 * pydicom-data's JPEG2000-embedded-sequence-delimiter.dcm): say so, since
 * no decoder can read that header (OpenJPEG and gdcm refuse it too).
 */
function checkJ2kHeader(header: CodestreamHeader, codestream: Uint8Array, info: DicomImageInfo, frameIndex: number): void {
  try {
    checkHeader(header, info, frameIndex, 'JPEG 2000');
  } catch (e) {
    const lsiz = ((codestream[4] ?? 0) << 8) | (codestream[5] ?? 0);
    const end = Math.min(codestream.length - 3, 4 + lsiz);
    for (let i = 4; i < end; i++) {
      const name = codestream[i] === 0xfe && codestream[i + 1] === 0xff ? DICOM_TAG_NAMES[((codestream[i + 3] ?? 0) << 8) | (codestream[i + 2] ?? 0)] : undefined;
      if (name === undefined) continue;
      const hex = [...codestream.subarray(i, i + 4)].map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join(' ');
      throw badInput(
        `Frame ${frameIndex + 1}'s JPEG 2000 header is damaged: it describes a ${header.width} x ${header.height} image where the DICOM header says ${info.columns} x ${info.rows}, because codestream bytes ${i}-${i + 3} are ${hex}, a DICOM ${name} tag written over its size (SIZ) marker. No decoder can read this frame; the file must be re-exported from its source.`,
      );
    }
    throw e;
  }
}

function wasm(name: WasmCodecName, data: Uint8Array, frameIndex: number, what: string): WasmDecodeResult {
  if (loadedWasmCodec(name) === undefined) {
    const failed = loadErrors.get(name);
    throw unsupported(
      failed !== undefined
        ? `The ${what} decoder (${name}) could not be loaded: ${failed}.`
        : `The ${what} decoder is not loaded yet: call decodeFrame (async) or prepareCodecs first.`,
    );
  }
  try {
    return runWasmDecode(name, data);
  } catch (e) {
    throw badInput(`Frame ${frameIndex + 1} is corrupt: the ${what} decoder failed (${describeThrown(e)}).`);
  }
}

function checkDecoded(result: WasmDecodeResult, info: DicomImageInfo, frameIndex: number, what: string): void {
  if (result.width !== info.columns || result.height !== info.rows || result.componentCount !== info.samplesPerPixel) {
    throw badInput(
      `The ${what} decoder returned a ${result.width} x ${result.height} image with ${result.componentCount} component(s) for frame ${frameIndex + 1}, but the DICOM header says ${info.columns} x ${info.rows} with ${info.samplesPerPixel}.`,
    );
  }
  const width = result.bitsPerSample > 8 ? 2 : 1;
  const expected = info.rows * info.columns * info.samplesPerPixel * width;
  if (result.data.length !== expected) {
    throw badInput(`The ${what} decoder returned ${result.data.length} bytes for frame ${frameIndex + 1}; ${expected} were expected.`);
  }
}

function samplesOf(result: WasmDecodeResult): Uint8Array | Uint16Array {
  if (result.bitsPerSample <= 8) return result.data;
  // result.data is our own copy starting at offset 0: aligned.
  return new Uint16Array(result.data.buffer, result.data.byteOffset, result.data.length >> 1);
}

function planarToInterleaved(samples: Uint8Array | Uint16Array, pixels: number, spp: number): Uint8Array | Uint16Array {
  const out = samples instanceof Uint8Array ? new Uint8Array(samples.length) : new Uint16Array(samples.length);
  for (let s = 0; s < spp; s++) for (let p = 0; p < pixels; p++) out[p * spp + s] = samples[s * pixels + p] ?? 0;
  return out;
}

function decodeEncapsulated(parsed: ParsedDicom, info: DicomImageInfo, frameIndex: number): DecodedFrame {
  if (info.bitsAllocated === 1) throw unsupported('Compressed 1-bit pixel data is not supported.');
  if (info.pixelDataKind !== 'integer') throw unsupported('Compressed float pixel data is not supported.');
  const needs = codecNeeds(parsed);
  const codec = needs.codec;
  const frame = encapsulatedFrame(parsed, info, frameIndex, codec);
  const pixels = info.rows * info.columns;
  const spp = info.samplesPerPixel;
  const declared = info.photometricInterpretation;

  switch (codec) {
    case 'rle': {
      const width = bytesPerSample(info.bitsAllocated);
      let raw: Uint8Array;
      try {
        raw = decodeRleFrame(frame, info.rows, info.columns, spp, width);
      } catch (e) {
        if (e instanceof RleDecodeError) throw badInput(`Frame ${frameIndex + 1} is corrupt: ${e.message}.`);
        throw e;
      }
      return storedValues(info, unsignedView(raw, width), 0, declared);
    }
    case 'jpeg-baseline':
    case 'jpeg-lossless': {
      let header;
      try {
        header = readJpegFrameHeader(frame);
      } catch (e) {
        throw badInput(`Frame ${frameIndex + 1} is not a readable JPEG stream: ${describeThrown(e)}.`);
      }
      checkHeader({ ...header, components: header.components.length }, info, frameIndex, 'JPEG');
      if (header.marker === 0xc3) return decodeLosslessJpeg(frame, info, frameIndex, header.precision);
      if (header.marker !== 0xc0 && header.marker !== 0xc1 && header.marker !== 0xc2) {
        throw unsupported(`Frame ${frameIndex + 1} uses JPEG process SOF 0x${header.marker.toString(16).toUpperCase()} (hierarchical or arithmetic coding), which Fovea does not decode.`);
      }
      // 8-bit colour (subsampled, YCbCr to RGB) goes to libjpeg-turbo; 12-bit data,
      // and 8-bit greyscale progressive data (whose truncated streams libjpeg-turbo
      // smooths differently from the IJG 6b that dcmtk uses), to our decoder.
      if (header.precision <= 8 && (spp > 1 || header.marker !== 0xc2)) {
        const result = wasm('libjpeg-turbo', frame, frameIndex, 'JPEG');
        checkDecoded(result, info, frameIndex, 'JPEG');
        // libjpeg converts YCbCr to RGB for 3-component images.
        return storedValues(info, widen(samplesOf(result), info), 0, spp === 3 ? 'RGB' : declared);
      }
      let decoded;
      try {
        decoded = decodeJpegDct(frame);
      } catch (e) {
        if (e instanceof JpegDecodeError) {
          if (e.message.includes('not supported')) throw unsupported(`Frame ${frameIndex + 1}: ${header.precision}-bit JPEG with ${e.message}.`);
          throw badInput(`Frame ${frameIndex + 1} is corrupt: ${e.message}.`);
        }
        throw e;
      }
      if (decoded.componentCount !== spp || decoded.data.length !== pixels * spp) {
        throw badInput(`Frame ${frameIndex + 1} decoded to ${decoded.componentCount} component(s); the DICOM header says ${spp}.`);
      }
      // 8-bit streams come back in 16-bit samples; a 12-bit stream in 8-bit storage is refused by widen().
      const samples = decoded.precision <= 8 ? Uint8Array.from(decoded.data) : decoded.data;
      return storedValues(info, widen(samples, info), 0, declared);
    }
    case 'jpeg-ls': {
      const header = readJpegLsHeader(frame);
      checkHeader(header, info, frameIndex, 'JPEG-LS');
      const result = wasm('charls', frame, frameIndex, 'JPEG-LS');
      checkDecoded(result, info, frameIndex, 'JPEG-LS');
      let samples = samplesOf(result);
      if (spp > 1 && result.interleaveMode === 0) samples = planarToInterleaved(samples, pixels, spp);
      return storedValues(info, widen(samples, info), 0, declared);
    }
    case 'jpeg2000':
    case 'htj2k': {
      const { header, codestream } = readJ2kHeader(frame);
      checkJ2kHeader(header, codestream, info, frameIndex);
      let result: WasmDecodeResult | undefined;
      let firstError: unknown;
      const names: WasmCodecName[] = codec === 'htj2k' ? ['openjpeg', 'openjph'] : ['openjpeg'];
      for (const name of names) {
        if (loadedWasmCodec(name) === undefined && name === 'openjph') continue;
        try {
          const r = wasm(name, codestream, frameIndex, codec === 'htj2k' ? 'HTJ2K' : 'JPEG 2000');
          // OpenJPH returns 0 x 0 for data it does not understand: treat as failure.
          checkDecoded(r, info, frameIndex, codec === 'htj2k' ? 'HTJ2K' : 'JPEG 2000');
          result = r;
          break;
        } catch (e) {
          firstError ??= e;
        }
      }
      if (result === undefined) {
        if (firstError instanceof FoveaException) throw firstError;
        throw badInput(`Frame ${frameIndex + 1} could not be decoded: ${describeThrown(firstError)}.`);
      }
      // The codec applies the inverse colour transform of YBR_ICT/YBR_RCT data.
      const photometric = declared === 'YBR_ICT' || declared === 'YBR_RCT' ? 'RGB' : declared;
      return storedValues(info, widen(samplesOf(result), info), 0, photometric);
    }
    case 'native':
      throw badInput(
        `The pixel data is encapsulated (compressed fragments), but the transfer syntax ${transferSyntaxName(parsed.transferSyntaxUid)} says it is not compressed: the file is inconsistent.`,
      );
    default:
      throw unsupported(`Pixel data in ${transferSyntaxName(parsed.transferSyntaxUid)} is not supported.`);
  }
}

function decodeLosslessJpeg(frame: Uint8Array, info: DicomImageInfo, frameIndex: number, precision: number): DecodedFrame {
  const Decoder = loadedLosslessJpeg();
  if (Decoder === undefined) throw unsupported('The JPEG lossless decoder is not loaded yet: call decodeFrame (async) or prepareCodecs first.');
  const numBytes = precision > 8 ? 2 : 1;
  if (numBytes === 2 && info.samplesPerPixel > 1) throw unsupported('JPEG lossless colour images with more than 8 bits per sample are not supported.');
  let out: Uint8Array | Uint16Array;
  try {
    out = new Decoder().decode(frame.buffer as ArrayBuffer, frame.byteOffset, frame.length, numBytes);
  } catch (e) {
    throw badInput(`Frame ${frameIndex + 1} is corrupt: the JPEG lossless decoder failed (${describeThrown(e)}).`);
  }
  const expected = info.rows * info.columns * info.samplesPerPixel;
  if (out.length !== expected) {
    throw badInput(`The JPEG lossless decoder returned ${out.length} samples for frame ${frameIndex + 1}; ${expected} were expected.`);
  }
  return storedValues(info, widen(out.slice(), info), 0, info.photometricInterpretation);
}
