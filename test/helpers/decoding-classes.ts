/**
 * DICOM files of the four classes of issue 17, generated with the reference
 * tools and our own writer into a temporary folder (never stored):
 *
 * - JPEG DCT: dcmtk's dcmcjpeg (+ee extended, +es spectral selection, +ep
 *   full progression, 8 and 12 bit), and streams edited from those: a
 *   sequential scan whose header carries Ss/Se/Ah/Al = 0 (as some encoders
 *   write), a progressive stream that ends after its first scans (fill
 *   bytes up to its EOI), a progressive stream labelled .51;
 * - JPEG 2000: OpenJPEG's opj_compress codestreams carrying bytes that look
 *   like an Item tag or a Sequence Delimitation (in a COM marker segment),
 *   encapsulated here with chosen fragment boundaries, with and without a
 *   Basic Offset Table, single and multi-frame;
 * - segmented palette colour tables (PS3.3 C.7.9.2), written with dcmjs;
 * - Explicit VR Big Endian with 8-bit (and 1-bit) OW pixel data of an odd
 *   byte count, made by dcmtk's dcmconv +tb from a little-endian file.
 *
 * A missing tool fails with its install command (reference-tools.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeFrame, parseDicom, readImageInfo } from '../../electron/core/dicom';
import { dcmjs, el as dcmEl, type DcmDict } from '../../electron/core/dicom/dcmjs';
import { cat, el, encapsulatedPixelData, part10, text, u16 } from './dicom-writer';
import { SHARED_TESTDATA } from './paths';
import { runTool } from './reference-tools';

export const TESTDATA_DICOM = join(SHARED_TESTDATA, 'dicom');

// ------------------------------------------------------------------ JPEG streams

/** The markers of a JPEG stream in order, walking through entropy-coded data (FF00 and RSTn are not markers). */
export function jpegMarkers(stream: Uint8Array): { marker: number; pos: number }[] {
  const out: { marker: number; pos: number }[] = [];
  let p = 0;
  while (p + 1 < stream.length) {
    if (stream[p] !== 0xff) {
      p++;
      continue;
    }
    const m = stream[p + 1] ?? 0;
    if (m === 0x00 || m === 0xff || (m >= 0xd0 && m <= 0xd7)) {
      p++;
      continue;
    }
    out.push({ marker: m, pos: p });
    if (m === 0xd8 || m === 0xd9 || m === 0x01) {
      p += 2;
      continue;
    }
    const length = ((stream[p + 2] ?? 0) << 8) | (stream[p + 3] ?? 0);
    p += 2 + length; // the segment; after SOS the scan's entropy data follows and is walked bytewise
  }
  return out;
}

/** The fragments (value positions) of a file's encapsulated pixel data. */
function fragmentsOf(file: Uint8Array): { position: number; length: number }[] {
  const fragments = parseDicom(file).element('7FE00010')?.fragments;
  if (fragments === undefined || fragments.length === 0) throw new Error('not encapsulated pixel data');
  return fragments;
}

/** Every scan header of every fragment says Ss=0, Se=0, Ah=Al=0: what some sequential encoders write. */
export function zeroScanHeaders(file: Uint8Array): Uint8Array {
  const out = file.slice();
  for (const f of fragmentsOf(file)) {
    const stream = out.subarray(f.position, f.position + f.length);
    for (const { marker, pos } of jpegMarkers(stream)) {
      if (marker !== 0xda) continue;
      const ns = stream[pos + 4] ?? 0;
      stream.fill(0, pos + 5 + 2 * ns, pos + 8 + 2 * ns);
    }
  }
  return out;
}

/** Each frame's stream keeps its first `scans` scans; the rest becomes fill bytes (0xFF) up to its EOI. */
export function keepScans(file: Uint8Array, scans: number): Uint8Array {
  const out = file.slice();
  for (const f of fragmentsOf(file)) {
    const stream = out.subarray(f.position, f.position + f.length);
    const markers = jpegMarkers(stream);
    const sos = markers.filter((m) => m.marker === 0xda);
    const eoi = markers.find((m) => m.marker === 0xd9);
    const cut = sos[scans];
    if (cut === undefined || eoi === undefined) throw new Error(`the stream has ${sos.length} scans; cannot keep ${scans}`);
    stream.fill(0xff, cut.pos, eoi.pos);
  }
  return out;
}

/** The transfer syntax UID in the file meta replaced by another of the same length. */
export function relabel(file: Uint8Array, from: string, to: string): Uint8Array {
  if (from.length !== to.length) throw new Error('same-length UIDs only');
  const out = file.slice();
  const needle = Buffer.from(from, 'latin1');
  const at = Buffer.from(out.buffer, out.byteOffset, out.byteLength).indexOf(needle);
  if (at < 0) throw new Error(`${from} not found`);
  out.set(Buffer.from(to, 'latin1'), at);
  return out;
}

// ------------------------------------------------------------------ JPEG 2000

/** Bytes that a parser scanning for tags would take for a Sequence Delimitation, an Item and an Item Delimitation. */
export const DELIMITER_LOOKALIKES = Uint8Array.of(
  0xfe, 0xff, 0xdd, 0xe0, 0x00, 0x00, 0x00, 0x00, // (FFFE,E0DD) length 0
  0xfe, 0xff, 0x00, 0xe0, 0x10, 0x00, 0x00, 0x00, // (FFFE,E000) length 16
  0xfe, 0xff, 0x0d, 0xe0, 0x00, 0x00, 0x00, 0x00, // (FFFE,E00D) length 0
);

/** A J2K codestream of one greyscale frame from OpenJPEG's opj_compress (raw little-endian input). */
export function j2kCodestream(dir: string, name: string, values: Int16Array | Uint16Array, width: number, height: number, bits: number, lossy: boolean): Uint8Array {
  const raw = join(dir, `${name}.rawl`);
  const out = join(dir, `${name}.j2k`);
  writeFileSync(raw, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  const signed = values instanceof Int16Array ? 's' : 'u';
  runTool('opj_compress', ['-i', raw, '-o', out, '-F', `${width},${height},1,${bits},${signed}`, ...(lossy ? ['-I', '-r', '12'] : [])]);
  return new Uint8Array(readFileSync(out));
}

/**
 * A COM marker segment (binary) inserted right after SIZ, carrying `payload`;
 * returns where the payload starts, made even (a zero byte is put before it
 * when needed) so that a fragment boundary can fall exactly there.
 */
export function withComment(codestream: Uint8Array, payload: Uint8Array): { codestream: Uint8Array; at: number } {
  if (codestream[0] !== 0xff || codestream[1] !== 0x4f || codestream[2] !== 0xff || codestream[3] !== 0x51) throw new Error('not a J2K codestream');
  const lsiz = ((codestream[4] ?? 0) << 8) | (codestream[5] ?? 0);
  const at = 4 + lsiz;
  const body = (at + 6) % 2 === 1 ? cat(Uint8Array.of(0), payload) : payload;
  const lcom = 4 + body.length;
  const com = cat(Uint8Array.of(0xff, 0x64, lcom >> 8, lcom & 0xff, 0x00, 0x00), body);
  return { codestream: cat(codestream.subarray(0, at), com, codestream.subarray(at)), at: at + 6 + (body.length - payload.length) };
}

/** Splits bytes at the given positions (each fragment's length made even by moving a boundary one byte on). */
export function splitAt(bytes: Uint8Array, positions: readonly number[]): Uint8Array[] {
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const p of positions) {
    const to = p - from < 2 ? from + 2 : from + ((p - from) % 2 === 0 ? p - from : p - from + 1);
    parts.push(bytes.subarray(from, to));
    from = to;
  }
  parts.push(bytes.subarray(from));
  return parts;
}

interface MonochromeImage {
  sopClass: string;
  modality: string;
  rows: number;
  columns: number;
  frames: number;
  bitsStored: number;
  signed: boolean;
  uid: string;
}

function monochromeHeader(image: MonochromeImage): Uint8Array {
  return cat(
    el(0x00080016, 'UI', text(image.sopClass, '\0')),
    el(0x00080018, 'UI', text(`${image.uid}.3`, '\0')),
    el(0x00080060, 'CS', text(image.modality)),
    el(0x00100010, 'PN', text('Fovea^Generated')),
    el(0x00100020, 'LO', text('FOVEA-GEN')),
    el(0x0020000d, 'UI', text(`${image.uid}.1`, '\0')),
    el(0x0020000e, 'UI', text(`${image.uid}.2`, '\0')),
    el(0x00200013, 'IS', text('1')),
    el(0x00280002, 'US', u16(1)),
    el(0x00280004, 'CS', text('MONOCHROME2')),
    el(0x00280008, 'IS', text(String(image.frames))),
    el(0x00280010, 'US', u16(image.rows)),
    el(0x00280011, 'US', u16(image.columns)),
    el(0x00280100, 'US', u16(16)),
    el(0x00280101, 'US', u16(image.bitsStored)),
    el(0x00280102, 'US', u16(image.bitsStored - 1)),
    el(0x00280103, 'US', u16(image.signed ? 1 : 0)),
  );
}

export interface J2kClassFile {
  name: string;
  path: string;
  /** The codestream of each frame: what opj_decompress reads as the ground truth. */
  codestreams: Uint8Array[];
  fragmentsPerFrame: number;
}

async function storedFrames(rel: string, frames: number): Promise<{ values: (Int16Array | Uint16Array)[]; rows: number; columns: number; bitsStored: number; signed: boolean }> {
  const parsed = parseDicom(readFileSync(join(TESTDATA_DICOM, rel)));
  const info = readImageInfo(parsed);
  if (info === null) throw new Error(`${rel} has no image`);
  const values: (Int16Array | Uint16Array)[] = [];
  for (let f = 0; f < frames; f++) {
    const data = (await decodeFrame(parsed, f, { info })).data;
    values.push(info.pixelRepresentation === 1 ? Int16Array.from(data) : Uint16Array.from(data));
  }
  return { values, rows: info.rows, columns: info.columns, bitsStored: info.bitsStored, signed: info.pixelRepresentation === 1 };
}

/**
 * JPEG 2000 files whose fragments hold Item / Sequence Delimitation
 * look-alikes: a fragment boundary falls right before them (so a fragment
 * starts with FE FF DD E0) and others inside the tile data.
 */
export async function writeJ2kClassFiles(dir: string): Promise<J2kClassFile[]> {
  const files: J2kClassFile[] = [];
  // Signed 16-bit, lossy (.91), as the file of the issue: CT_small's stored values.
  const ct = await storedFrames('pydicom/CT_small.dcm', 1);
  const ctValues = ct.values[0];
  if (ctValues === undefined) throw new Error('no CT values');
  const signed = withComment(j2kCodestream(dir, 'ct', ctValues, ct.columns, ct.rows, 16, true), DELIMITER_LOOKALIKES);
  const signedFragments = splitAt(signed.codestream, [signed.at, signed.at + 8, Math.floor(signed.codestream.length * 0.6)]);
  const ctImage = { sopClass: '1.2.840.10008.5.1.4.1.1.2', modality: 'CT', rows: ct.rows, columns: ct.columns, frames: 1, bitsStored: 16, signed: true };
  for (const bot of [false, true]) {
    const name = `j2k-signed-lossy-lookalikes-${bot ? 'bot' : 'no-bot'}`;
    const path = join(dir, `${name}.dcm`);
    writeFileSync(path, part10(cat(monochromeHeader({ ...ctImage, uid: `2.25.1917${bot ? 1 : 0}` }), encapsulatedPixelData([signedFragments], bot)), '1.2.840.10008.1.2.4.91'));
    files.push({ name, path, codestreams: [signed.codestream], fragmentsPerFrame: signedFragments.length });
  }
  // Three frames of a 12-bit MR series, lossless (.90), three fragments each.
  const mr = await storedFrames('pydicom-data/emri_small.dcm', 3);
  const streams = mr.values.map((v, i) => withComment(j2kCodestream(dir, `mr${i}`, v, mr.columns, mr.rows, mr.bitsStored, false), DELIMITER_LOOKALIKES));
  const frames = streams.map((s) => splitAt(s.codestream, [s.at, Math.floor(s.codestream.length / 2)]));
  const mrImage = { sopClass: '1.2.840.10008.5.1.4.1.1.4', modality: 'MR', rows: mr.rows, columns: mr.columns, frames: 3, bitsStored: mr.bitsStored, signed: false };
  for (const bot of [false, true]) {
    const name = `j2k-multiframe-lossless-lookalikes-${bot ? 'bot' : 'no-bot'}`;
    const path = join(dir, `${name}.dcm`);
    writeFileSync(path, part10(cat(monochromeHeader({ ...mrImage, uid: `2.25.1918${bot ? 1 : 0}` }), encapsulatedPixelData(frames, bot)), '1.2.840.10008.1.2.4.90'));
    files.push({ name, path, codestreams: streams.map((s) => s.codestream), fragmentsPerFrame: 3 });
  }
  // One fragment per frame (no offset table): the layout gdcm can decode, so it is compared too.
  const name = 'j2k-multiframe-lossless-lookalikes-whole-frames';
  const path = join(dir, `${name}.dcm`);
  writeFileSync(path, part10(cat(monochromeHeader({ ...mrImage, uid: '2.25.19182' }), encapsulatedPixelData(streams.map((s) => [s.codestream]), false)), '1.2.840.10008.1.2.4.90'));
  files.push({ name, path, codestreams: streams.map((s) => s.codestream), fragmentsPerFrame: 1 });
  return files;
}

/**
 * pydicom-data's JPEG2000-embedded-sequence-delimiter.dcm as it must be:
 * pydicom's JPEG2000.dcm with the four bytes of a Sequence Delimitation tag
 * (FE FF DD E0) written over codestream bytes 6-9, i.e. over Rsiz and the
 * upper half of Xsiz in the SIZ header (Xsiz becomes 0xDDE00100 =
 * 3722445056, the width in the message). Its codestream is damaged;
 * the file was made to test pydicom's parser (pydicom #1140), not a decoder.
 */
export function writeDamagedSizFile(dir: string): string {
  const bytes = new Uint8Array(readFileSync(join(TESTDATA_DICOM, 'pydicom/JPEG2000.dcm')));
  const f = fragmentsOf(bytes)[0];
  if (f === undefined) throw new Error('no fragment');
  bytes.set(Uint8Array.of(0xfe, 0xff, 0xdd, 0xe0), f.position + 6);
  const path = join(dir, 'j2k-damaged-siz.dcm');
  writeFileSync(path, bytes);
  return path;
}

// ------------------------------------------------------------------ segmented palettes

/** One segment of a segmented palette table (PS3.3 C.7.9.2). */
export type Segment =
  | { kind: 'discrete'; values: number[] }
  | { kind: 'linear'; length: number; y1: number }
  | { kind: 'indirect'; count: number; byteOffset: number };

/** Encodes segments in units (16-bit words, or bytes for 8-bit tables). */
export function encodeSegments(segments: readonly Segment[], unitBits: 8 | 16): number[] {
  const units: number[] = [];
  for (const s of segments) {
    if (s.kind === 'discrete') units.push(0, s.values.length, ...s.values);
    else if (s.kind === 'linear') units.push(1, s.length, s.y1);
    else if (unitBits === 16) units.push(2, s.count, s.byteOffset & 0xffff, s.byteOffset >>> 16);
    else units.push(2, s.count, s.byteOffset & 0xff, (s.byteOffset >> 8) & 0xff, (s.byteOffset >> 16) & 0xff, s.byteOffset >>> 24);
  }
  return units;
}

export interface SegmentedPaletteFile {
  name: string;
  path: string;
}

function segmentedPaletteFile(dir: string, name: string, o: { bits: 8 | 16; entries: number; firstMapped: number; rows: number; columns: number; channels: Segment[][]; pixel: (x: number, y: number) => number }): SegmentedPaletteFile {
  const sopUid = `2.25.${1920 + o.bits}${o.entries}${o.firstMapped}`;
  const meta: DcmDict = {
    '00020001': dcmEl('OB', new Uint8Array([0, 1]).buffer),
    '00020002': dcmEl('UI', '1.2.840.10008.5.1.4.1.1.6.1'),
    '00020003': dcmEl('UI', sopUid),
    '00020010': dcmEl('UI', '1.2.840.10008.1.2.1'),
  };
  const pixels = o.bits === 16 ? new Uint16Array(o.rows * o.columns) : new Uint8Array(o.rows * o.columns + ((o.rows * o.columns) % 2));
  for (let y = 0; y < o.rows; y++) for (let x = 0; x < o.columns; x++) pixels[y * o.columns + x] = o.pixel(x, y);
  const table = (segments: Segment[]): ArrayBuffer => {
    const units = encodeSegments(segments, o.bits);
    if (o.bits === 16) return Uint16Array.from(units).buffer;
    const bytes = new Uint8Array(units.length + (units.length % 2));
    bytes.set(units);
    return bytes.buffer;
  };
  const descriptor = dcmEl('US', o.entries === 65536 ? 0 : o.entries, o.firstMapped, o.bits);
  const dict = new (dcmjs().data.DicomDict)(meta);
  dict.dict = {
    '00080016': dcmEl('UI', '1.2.840.10008.5.1.4.1.1.6.1'),
    '00080018': dcmEl('UI', sopUid),
    '00080060': dcmEl('CS', 'US'),
    '00100010': dcmEl('PN', { Alphabetic: 'Fovea^Palette' }),
    '00100020': dcmEl('LO', 'FOVEA-PAL'),
    '0020000D': dcmEl('UI', `${sopUid}.1`),
    '0020000E': dcmEl('UI', `${sopUid}.2`),
    '00200013': dcmEl('IS', '1'),
    '00280002': dcmEl('US', 1),
    '00280004': dcmEl('CS', 'PALETTE COLOR'),
    '00280010': dcmEl('US', o.rows),
    '00280011': dcmEl('US', o.columns),
    '00280100': dcmEl('US', o.bits),
    '00280101': dcmEl('US', o.bits),
    '00280102': dcmEl('US', o.bits - 1),
    '00280103': dcmEl('US', 0),
    '00281101': descriptor,
    '00281102': descriptor,
    '00281103': descriptor,
    '00281221': dcmEl('OW', table(o.channels[0] ?? [])),
    '00281222': dcmEl('OW', table(o.channels[1] ?? [])),
    '00281223': dcmEl('OW', table(o.channels[2] ?? [])),
    '7FE00010': dcmEl(o.bits === 16 ? 'OW' : 'OB', pixels.buffer),
  };
  const path = join(dir, `${name}.dcm`);
  writeFileSync(path, new Uint8Array(dict.write()));
  return { name, path };
}

/** Units each segment takes in the encoded table. */
function segmentUnits(s: Segment, unitBits: 8 | 16): number {
  if (s.kind === 'discrete') return 2 + s.values.length;
  if (s.kind === 'linear') return 3;
  return unitBits === 16 ? 4 : 6;
}

/** Entries a list of segments expands to (an indirect segment counts the segments it copies). */
export function segmentsLength(segments: readonly Segment[], unitBits: 8 | 16): number {
  const byteOffsets: number[] = [];
  let at = 0;
  for (const s of segments) {
    byteOffsets.push(at * (unitBits / 8));
    at += segmentUnits(s, unitBits);
  }
  const own = (s: Segment): number => (s.kind === 'discrete' ? s.values.length : s.kind === 'linear' ? s.length : 0);
  let total = 0;
  for (const s of segments) {
    if (s.kind !== 'indirect') {
      total += own(s);
      continue;
    }
    const first = byteOffsets.indexOf(s.byteOffset);
    if (first < 0) throw new Error(`no segment starts at byte ${s.byteOffset}`);
    for (const copied of segments.slice(first, first + s.count)) total += own(copied);
  }
  return total;
}

/** Closes a channel's segments with a linear segment to `y1` so that they expand to exactly `entries`. */
function filled(segments: Segment[], entries: number, y1: number, unitBits: 8 | 16): Segment[] {
  const rest = entries - segmentsLength(segments, unitBits);
  if (rest < 1) throw new Error('segments too long');
  return [...segments, { kind: 'linear', length: rest, y1 }];
}

/**
 * Segmented palettes: 16-bit entries over 16-bit indices (65536 entries, the
 * descriptor's 0), 16-bit entries with a first mapped value of 100 (indices
 * below and above the table), and 8-bit entries over 8-bit indices. Every
 * channel uses discrete, linear and indirect segments; indirect segments
 * point at the start of the table, where the standard's byte offset and
 * pydicom's word index agree.
 */
export function writeSegmentedPaletteFiles(dir: string): SegmentedPaletteFile[] {
  const wobble = Array.from({ length: 40 }, (_, i) => (i * 7919) % 65536);
  const big = (entries: number): Segment[][] => [
    filled([{ kind: 'discrete', values: [0, 300, 600] }, { kind: 'linear', length: 700, y1: 65535 }, { kind: 'indirect', count: 2, byteOffset: 0 }, { kind: 'linear', length: 1500, y1: 12000 }], entries, 40000, 16),
    filled([{ kind: 'discrete', values: wobble }, { kind: 'linear', length: 999, y1: 1 }, { kind: 'indirect', count: 1, byteOffset: 0 }], entries, 65535, 16),
    filled([{ kind: 'discrete', values: [65535] }, { kind: 'linear', length: 1500, y1: 0 }, { kind: 'indirect', count: 2, byteOffset: 0 }], entries, 32768, 16),
  ];
  const small: Segment[][] = [
    filled([{ kind: 'discrete', values: [0, 10, 20] }, { kind: 'linear', length: 60, y1: 255 }, { kind: 'indirect', count: 2, byteOffset: 0 }], 256, 90, 8),
    filled([{ kind: 'discrete', values: [200, 13, 77, 5, 250, 128] }, { kind: 'linear', length: 100, y1: 3 }], 256, 255, 8),
    filled([{ kind: 'discrete', values: [255] }, { kind: 'linear', length: 127, y1: 0 }, { kind: 'indirect', count: 1, byteOffset: 0 }], 256, 200, 8),
  ];
  return [
    segmentedPaletteFile(dir, 'palette-segmented-16bit-65536', {
      bits: 16, entries: 65536, firstMapped: 0, rows: 48, columns: 64, channels: big(65536),
      pixel: (x, y) => (x * 1031 + y * 977 * 13) % 65536,
    }),
    segmentedPaletteFile(dir, 'palette-segmented-16bit-first-mapped', {
      bits: 16, entries: 4096, firstMapped: 100, rows: 40, columns: 50, channels: big(4096),
      pixel: (x, y) => (x * 89 + y * 107) % 4400,
    }),
    segmentedPaletteFile(dir, 'palette-segmented-8bit', {
      bits: 8, entries: 256, firstMapped: 0, rows: 16, columns: 16, channels: small,
      pixel: (x, y) => (y * 16 + x) % 256,
    }),
  ];
}

// ------------------------------------------------------------------ big endian

export interface BigEndianClassFile {
  name: string;
  /** Explicit VR Big Endian, made by dcmconv +tb. */
  path: string;
  /** The little-endian file it was made from. */
  littleEndianPath: string;
}

/**
 * Little-endian files with OW pixel data of an odd byte count (8-bit RGB
 * 3x3, three such frames whose frames start mid-word, 8-bit grey 5x5, 1-bit
 * 7x5), each converted to Explicit VR Big Endian by dcmconv +tb.
 */
export function writeBigEndianFiles(dir: string): BigEndianClassFile[] {
  const sample = (i: number): number => (i * 37 + 11) % 256;
  const cases: { name: string; rows: number; columns: number; spp: number; frames: number; bits: 1 | 8; photometric: string }[] = [
    { name: 'be-rgb-3x3-odd', rows: 3, columns: 3, spp: 3, frames: 1, bits: 8, photometric: 'RGB' },
    { name: 'be-rgb-3x3-3frames-odd', rows: 3, columns: 3, spp: 3, frames: 3, bits: 8, photometric: 'RGB' },
    { name: 'be-grey-5x5-odd', rows: 5, columns: 5, spp: 1, frames: 1, bits: 8, photometric: 'MONOCHROME2' },
    { name: 'be-1bit-7x5-odd', rows: 5, columns: 7, spp: 1, frames: 1, bits: 1, photometric: 'MONOCHROME2' },
  ];
  return cases.map((c, k) => {
    const samples = c.rows * c.columns * c.spp * c.frames;
    const value = c.bits === 8 ? Uint8Array.from({ length: samples }, (_, i) => sample(i)) : Uint8Array.from({ length: Math.ceil(samples / 8) }, (_, i) => sample(i * 3));
    const uid = `2.25.1930${k}`;
    const dataSet = cat(
      el(0x00080016, 'UI', text('1.2.840.10008.5.1.4.1.1.7', '\0')),
      el(0x00080018, 'UI', text(`${uid}.3`, '\0')),
      el(0x00080060, 'CS', text('OT')),
      el(0x00100010, 'PN', text('Fovea^BigEndian')),
      el(0x00100020, 'LO', text('FOVEA-BE')),
      el(0x0020000d, 'UI', text(`${uid}.1`, '\0')),
      el(0x0020000e, 'UI', text(`${uid}.2`, '\0')),
      el(0x00280002, 'US', u16(c.spp)),
      el(0x00280004, 'CS', text(c.photometric)),
      ...(c.spp > 1 ? [el(0x00280006, 'US', u16(0))] : []),
      el(0x00280008, 'IS', text(String(c.frames))),
      el(0x00280010, 'US', u16(c.rows)),
      el(0x00280011, 'US', u16(c.columns)),
      el(0x00280100, 'US', u16(c.bits)),
      el(0x00280101, 'US', u16(c.bits)),
      el(0x00280102, 'US', u16(c.bits - 1)),
      el(0x00280103, 'US', u16(0)),
      // OW with the odd count: the value is padded with one 0x00, as PS3.5 7.1.1 asks.
      el(0x7fe00010, 'OW', value.length % 2 === 1 ? cat(value, Uint8Array.of(0)) : value),
    );
    const littleEndianPath = join(dir, `${c.name}-le.dcm`);
    writeFileSync(littleEndianPath, part10(dataSet));
    const path = join(dir, `${c.name}.dcm`);
    runTool('dcmconv', ['+tb', littleEndianPath, path]);
    return { name: c.name, path, littleEndianPath };
  });
}
