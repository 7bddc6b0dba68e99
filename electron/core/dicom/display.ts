import type { DecodedFrame } from './decode-frame';
import { unsupported } from './dicom-errors';
import type { DicomImageInfo, DicomLut } from './image-info';

/**
 * The display pipeline of PS3.3 C.11 for thumbnails, the viewer and training
 * inputs: modality LUT (rescale or LUT), VOI (window or VOI LUT),
 * MONOCHROME1 inversion; colour images through their palette or YBR -> RGB.
 */

export interface DisplayWindow {
  center: number;
  width: number;
}

export interface ToDisplayOptions {
  /**
   * 'file' (default): the first window in the file, else its first VOI LUT,
   * else min/max. 'minmax': stretch the frame's range. Or an explicit window.
   */
  window?: DisplayWindow | 'file' | 'minmax';
  /** MONOCHROME1 stores bright as low values; invert it for display (default true). */
  invertMonochrome1?: boolean;
}

export interface DisplayImage {
  width: number;
  height: number;
  channels: 1 | 3;
  /** 8-bit samples, interleaved when channels is 3. */
  data: Uint8Array;
}

function lutLookup(lut: DicomLut, x: number): number {
  let idx = Math.round(x) - lut.firstMapped;
  if (idx < 0) idx = 0;
  if (idx >= lut.data.length) idx = lut.data.length - 1;
  return lut.data[idx] ?? 0;
}

/**
 * Modality values (e.g. Hounsfield units for CT): the stored values through
 * the modality LUT sequence if the file has one, else slope * v + intercept.
 * One value per sample (colour images keep their samples unchanged).
 */
export function modalityValues(frame: DecodedFrame, info: DicomImageInfo): Float32Array {
  const src = frame.data;
  // The typed array converts itself (natively, exactly); the loops below then see one array type
  // instead of eight (element reads on a megamorphic site cost several times more).
  if (frame.samplesPerPixel > 1) return new Float32Array(src);
  const lut = info.modalityLut;
  const slope = info.rescaleSlope;
  const intercept = info.rescaleIntercept;
  if (lut === null && slope === 1 && intercept === 0) return new Float32Array(src);
  const values = src instanceof Float64Array ? src : new Float64Array(src);
  const out = new Float32Array(values.length);
  if (lut !== null) {
    for (let i = 0; i < values.length; i++) out[i] = lutLookup(lut, values[i] as number);
    return out;
  }
  for (let i = 0; i < values.length; i++) out[i] = (values[i] as number) * slope + intercept;
  return out;
}

/** LINEAR over a whole array, as linearVoi does it per value (the same arithmetic, hoisted). */
function linearVoiInto(values: Float32Array, out: Uint8Array, center: number, width: number): void {
  const w = Math.max(width, 1);
  const low = center - 0.5 - (w - 1) / 2;
  const high = center - 0.5 + (w - 1) / 2;
  const c = center - 0.5;
  const d = w - 1;
  for (let i = 0; i < values.length; i++) {
    const x = values[i] as number;
    out[i] = x <= low ? 0 : x > high ? 255 : Math.round(((x - c) / d + 0.5) * 255);
  }
}

/**
 * The VOI LUT function LINEAR of PS3.3 C.11.2.1.2.1, exactly, into 0..255
 * (the real-valued result rounded to the nearest integer):
 *   x <= c - 0.5 - (w-1)/2  -> 0
 *   x >  c - 0.5 + (w-1)/2  -> 255
 *   else ((x - (c - 0.5)) / (w-1) + 0.5) * 255
 */
export function linearVoi(x: number, center: number, width: number): number {
  const w = Math.max(width, 1);
  const low = center - 0.5 - (w - 1) / 2;
  const high = center - 0.5 + (w - 1) / 2;
  if (x <= low) return 0;
  if (x > high) return 255;
  return Math.round(((x - (center - 0.5)) / (w - 1) + 0.5) * 255);
}

/** LINEAR_EXACT (C.11.2.1.3.2). */
export function linearExactVoi(x: number, center: number, width: number): number {
  if (width <= 0) return x < center ? 0 : 255;
  const y = ((x - center) / width + 0.5) * 255;
  return y <= 0 ? 0 : y >= 255 ? 255 : Math.round(y);
}

/** SIGMOID (C.11.2.1.3.1). */
export function sigmoidVoi(x: number, center: number, width: number): number {
  const w = width <= 0 ? 1 : width;
  return Math.round(255 / (1 + Math.exp((-4 * (x - center)) / w)));
}

function minMax(values: Float32Array): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    // Finite values only (NaN and infinities give NaN here).
    if (v - v !== 0) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min === Infinity ? [0, 0] : [min, max];
}

function clampByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/** YCbCr (full range, PS3.3 C.7.6.3.1.2) to RGB, as pydicom's convert_color_space does. */
function ybrFullToRgb(y: number, cb: number, cr: number, out: Uint8Array, o: number): void {
  out[o] = clampByte(y + 1.402 * (cr - 128));
  out[o + 1] = clampByte(y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128));
  out[o + 2] = clampByte(y + 1.772 * (cb - 128));
}

/** YCbCr with studio range (YBR_PARTIAL_*; ITU-R BT.601). */
function ybrPartialToRgb(y: number, cb: number, cr: number, out: Uint8Array, o: number): void {
  const yy = 1.164383 * (y - 16);
  out[o] = clampByte(yy + 1.596027 * (cr - 128));
  out[o + 1] = clampByte(yy - 0.391762 * (cb - 128) - 0.812968 * (cr - 128));
  out[o + 2] = clampByte(yy + 2.017232 * (cb - 128));
}

function colourToDisplay(frame: DecodedFrame, info: DicomImageInfo): DisplayImage {
  const { rows, columns } = frame;
  const pixels = rows * columns;
  const out = new Uint8Array(pixels * 3);
  const src = frame.data;
  const photometric = frame.photometric;

  if (photometric === 'PALETTE COLOR') {
    const palette = info.palette;
    if (palette === null) throw unsupported('The PALETTE COLOR image has no palette tables.');
    const channels = [palette.red, palette.green, palette.blue];
    for (let c = 0; c < 3; c++) {
      const lut = channels[c];
      if (lut === undefined) continue;
      const shift = lut.bits > 8 ? lut.bits - 8 : 0;
      for (let p = 0; p < pixels; p++) out[p * 3 + c] = (lutLookup(lut, src[p] ?? 0) >> shift) & 0xff;
    }
    return { width: columns, height: rows, channels: 3, data: out };
  }

  // Samples above 8 bits are scaled down to 8 for display.
  const shift = Math.max(0, frame.bitsStored - 8);
  const scale = 2 ** shift;
  const sample = (i: number): number => Math.floor((src[i] ?? 0) / scale);
  if (photometric === 'RGB' && src instanceof Uint8Array) {
    // 8-bit RGB is already what display wants (the common case: ultrasound, photos, secondary capture).
    out.set(src.subarray(0, pixels * 3));
  } else if (photometric === 'RGB') {
    for (let i = 0; i < pixels * 3; i++) out[i] = clampByte(sample(i));
  } else if (photometric === 'YBR_FULL' || photometric === 'YBR_FULL_422') {
    for (let p = 0; p < pixels; p++) ybrFullToRgb(sample(p * 3), sample(p * 3 + 1), sample(p * 3 + 2), out, p * 3);
  } else if (photometric === 'YBR_PARTIAL_422' || photometric === 'YBR_PARTIAL_420') {
    for (let p = 0; p < pixels; p++) ybrPartialToRgb(sample(p * 3), sample(p * 3 + 1), sample(p * 3 + 2), out, p * 3);
  } else {
    throw unsupported(`Fovea cannot display ${photometric} colour data.`);
  }
  return { width: columns, height: rows, channels: 3, data: out };
}

/** 8-bit display image of a decoded frame. */
export function toDisplay(frame: DecodedFrame, info: DicomImageInfo, options: ToDisplayOptions = {}): DisplayImage {
  if (frame.samplesPerPixel !== 1 || frame.photometric === 'PALETTE COLOR') return colourToDisplay(frame, info);

  const values = modalityValues(frame, info);
  const out = new Uint8Array(values.length);
  const choice = options.window ?? 'file';
  const fn = info.voiLutFunction;

  let mapped = false;
  if (typeof choice === 'object') {
    const map = fn === 'SIGMOID' ? sigmoidVoi : fn === 'LINEAR_EXACT' ? linearExactVoi : linearVoi;
    for (let i = 0; i < values.length; i++) out[i] = map(values[i] ?? 0, choice.center, choice.width);
    mapped = true;
  } else if (choice === 'file') {
    const center = info.windowCenter[0];
    const width = info.windowWidth[0];
    const voiLut = info.voiLuts[0];
    if (center !== undefined && width !== undefined && width > 0) {
      if (fn === 'SIGMOID' || fn === 'LINEAR_EXACT') {
        const map = fn === 'SIGMOID' ? sigmoidVoi : linearExactVoi;
        for (let i = 0; i < values.length; i++) out[i] = map(values[i] ?? 0, center, width);
      } else {
        linearVoiInto(values, out, center, width);
      }
      mapped = true;
    } else if (voiLut !== undefined) {
      const max = 2 ** voiLut.bits - 1;
      for (let i = 0; i < values.length; i++) out[i] = clampByte((lutLookup(voiLut, values[i] ?? 0) / max) * 255);
      mapped = true;
    }
  }
  if (!mapped) {
    const [min, max] = minMax(values);
    const range = max - min;
    if (range > 0) {
      for (let i = 0; i < values.length; i++) {
        const y = (((values[i] as number) - min) / range) * 255;
        // clampByte, inlined (NaN stays 0 as Math.round(NaN) stored in a Uint8Array does).
        out[i] = y <= 0 ? 0 : y >= 255 ? 255 : Math.round(y);
      }
    }
  }

  if (frame.photometric === 'MONOCHROME1' && options.invertMonochrome1 !== false) {
    for (let i = 0; i < out.length; i++) out[i] = 255 - (out[i] ?? 0);
  }
  return { width: frame.columns, height: frame.rows, channels: 1, data: out };
}
