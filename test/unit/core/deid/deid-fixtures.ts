/**
 * Crafted DICOM objects for the de-identification tests, written with dcmjs (the library the
 * exporter itself uses to write), plus readers for checking the results.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

export interface El {
  vr: string;
  Value?: unknown[];
}
export type Dict = Record<string, El>;

interface DcmjsDicomDict {
  meta: Dict;
  dict: Dict;
  write(options?: Record<string, unknown>): ArrayBuffer;
}
interface Dcmjs {
  data: {
    DicomDict: new (meta: Dict) => DcmjsDicomDict;
    DicomMessage: { readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): DcmjsDicomDict };
  };
}
export const dcmjs = createRequire(import.meta.url)('dcmjs') as Dcmjs;

export const el = (vr: string, ...values: unknown[]): El => ({ vr, Value: values });
export const pn = (name: string): El => ({ vr: 'PN', Value: [{ Alphabetic: name }] });
export const sq = (...items: Dict[]): El => ({ vr: 'SQ', Value: items });

export const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2';
export const US_IMAGE = '1.2.840.10008.5.1.4.1.1.6.1';
export const SC_IMAGE = '1.2.840.10008.5.1.4.1.1.7';
export const EXPLICIT_LE = '1.2.840.10008.1.2.1';

/** A small valid 8x8 MONOCHROME2 16-bit image with the given attributes on top. */
export function makeDicom(attrs: Dict, options: { ts?: string; rows?: number; pixelSeed?: number } = {}): Uint8Array {
  const rows = options.rows ?? 8;
  const pixels = new Uint16Array(rows * rows);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37 + (options.pixelSeed ?? 0) * 101) % 4096;
  const sopClass = (attrs['00080016']?.Value?.[0] as string | undefined) ?? CT_IMAGE;
  const sop = (attrs['00080018']?.Value?.[0] as string | undefined) ?? '1.2.3.4.5.6.7.8.9';
  const meta: Dict = {
    '00020001': { vr: 'OB', Value: [new Uint8Array([0, 1]).buffer] },
    '00020002': el('UI', sopClass),
    '00020003': el('UI', sop),
    '00020010': el('UI', options.ts ?? EXPLICIT_LE),
    '00020012': el('UI', '1.2.3.999.1'),
    '00020013': el('SH', 'TEST_WRITER'),
  };
  const d = new dcmjs.data.DicomDict(meta);
  d.dict = {
    '00080016': el('UI', sopClass),
    '00080018': el('UI', sop),
    '00080060': el('CS', 'CT'),
    '00280002': el('US', 1),
    '00280004': el('CS', 'MONOCHROME2'),
    '00280010': el('US', rows),
    '00280011': el('US', rows),
    '00280100': el('US', 16),
    '00280101': el('US', 12),
    '00280102': el('US', 11),
    '00280103': el('US', 0),
    ...attrs,
    '7FE00010': { vr: 'OW', Value: [pixels.buffer] },
  };
  return new Uint8Array(d.write());
}

/** The dcmjs dictionary of a written file (top level), plus its meta. */
export function readDicom(bytes: Uint8Array): { meta: Dict; dict: Dict } {
  const copy = bytes.slice().buffer;
  const d = dcmjs.data.DicomMessage.readFile(copy, { ignoreErrors: true });
  return { meta: d.meta, dict: d.dict };
}

export function str(e: El | undefined): string | undefined {
  const v = e?.Value?.[0];
  if (v === undefined) return undefined;
  if (typeof v === 'object' && v !== null && 'Alphabetic' in v) return String((v as { Alphabetic: unknown }).Alphabetic);
  return String(v).replace(/[\0 ]+$/u, '');
}

export function items(e: El | undefined): Dict[] {
  return (e?.Value ?? []) as Dict[];
}

/** dcmdump's text for a file (dcmtk must be installed: it is a reference tool on this machine). */
export function dcmdump(path: string): string {
  return execFileSync('dcmdump', ['-q', '+L', path], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

/** Byte search, case-insensitive for ASCII. */
export function containsIgnoreCase(bytes: Uint8Array, needle: string): boolean {
  return Buffer.from(bytes).toString('latin1').toLowerCase().includes(needle.toLowerCase());
}

export const UID_SYNTAX = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/u;
