import dicomParser from 'dicom-parser';
import type { DataSet, Element } from 'dicom-parser';
import { badInput, formatTag } from './dicom-errors';
import { lookupTag } from './dictionary-lookup';

/**
 * Typed reading of attribute values from a dicom-parser DataSet: strings in
 * the declared character set, numbers from binary or decimal-string VRs,
 * nested items as views. Tags are written 'GGGGEEEE' (hex, any case), as
 * 'xggggeeee' (dicom-parser's key) or as a number 0xGGGGEEEE.
 */
export type TagInput = string | number;

export function toTagNumber(tag: TagInput): number {
  if (typeof tag === 'number') return tag >>> 0;
  const hex = tag.replace(/^x/i, '').replace(/[(),\s]/g, '');
  return parseInt(hex, 16) >>> 0;
}

function key(tag: TagInput): string {
  if (typeof tag === 'string' && tag.length === 9 && tag[0] === 'x') return tag;
  return 'x' + toTagNumber(tag).toString(16).padStart(8, '0');
}

/** VRs whose text may be in the Specific Character Set (PS3.5 6.1.2.3); others are ASCII. */
const CHARSET_VRS = new Set(['LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UT']);
/** Text VRs whose leading spaces are significant (PS3.5 6.2). */
const TEXT_VRS = new Set(['LT', 'ST', 'UT', 'UR']);
export const STRING_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT']);

/** Specific Character Set defined terms -> WHATWG encoding labels (TextDecoder). */
const CHARSETS: Readonly<Record<string, string>> = {
  '': 'latin1',
  ISO_IR_6: 'latin1',
  ISO_IR_100: 'latin1',
  ISO_IR_101: 'iso-8859-2',
  ISO_IR_109: 'iso-8859-3',
  ISO_IR_110: 'iso-8859-4',
  ISO_IR_144: 'iso-8859-5',
  ISO_IR_127: 'iso-8859-6',
  ISO_IR_126: 'iso-8859-7',
  ISO_IR_138: 'iso-8859-8',
  ISO_IR_148: 'iso-8859-9',
  ISO_IR_203: 'iso-8859-15',
  ISO_IR_13: 'shift_jis',
  ISO_IR_166: 'windows-874',
  ISO_IR_192: 'utf-8',
  GB18030: 'gb18030',
  GBK: 'gbk',
  ISO_2022_IR_6: 'latin1',
  ISO_2022_IR_100: 'latin1',
  ISO_2022_IR_101: 'iso-8859-2',
  ISO_2022_IR_144: 'iso-8859-5',
  ISO_2022_IR_126: 'iso-8859-7',
  ISO_2022_IR_138: 'iso-8859-8',
  ISO_2022_IR_148: 'iso-8859-9',
  ISO_2022_IR_13: 'shift_jis',
  ISO_2022_IR_87: 'iso-2022-jp',
  ISO_2022_IR_159: 'iso-2022-jp',
  ISO_2022_IR_149: 'euc-kr',
  ISO_2022_IR_58: 'gb18030',
};

type Decoder = InstanceType<typeof TextDecoder>;
const decoders = new Map<string, Decoder>();
function decoderFor(label: string): Decoder {
  let d = decoders.get(label);
  if (d === undefined) {
    try {
      d = new TextDecoder(label);
    } catch {
      d = new TextDecoder('latin1');
    }
    decoders.set(label, d);
  }
  return d;
}

function latin1(bytes: Uint8Array): string {
  // Chunked to keep String.fromCharCode's argument count bounded.
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, Math.min(bytes.length, i + 8192)));
  }
  return s;
}

const IS_PATTERN = /^[+-]?\d+$/;
const DS_PATTERN = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export class DicomView {
  constructor(
    readonly dataSet: DataSet,
    /** Encoding label for text VRs, inherited by nested items unless they declare their own. */
    readonly charset: string = charsetOf(dataSet, 'latin1'),
  ) {}

  get littleEndian(): boolean {
    return this.dataSet.byteArrayParser === dicomParser.littleEndianByteArrayParser;
  }

  element(tag: TagInput): Element | undefined {
    return this.dataSet.elements[key(tag)];
  }

  has(tag: TagInput): boolean {
    return this.element(tag) !== undefined;
  }

  /** Tags present, as numbers, in ascending order. */
  tags(): number[] {
    return Object.keys(this.dataSet.elements)
      .map((k) => parseInt(k.slice(1), 16) >>> 0)
      .sort((a, b) => a - b);
  }

  vr(tag: TagInput): string | undefined {
    const el = this.element(tag);
    if (el === undefined) return undefined;
    return el.vr ?? lookupTag(toTagNumber(tag))?.vr ?? 'UN';
  }

  /** The raw value bytes (a view, not a copy). */
  valueBytes(tag: TagInput): Uint8Array | undefined {
    const el = this.element(tag);
    if (el === undefined || el.items !== undefined || el.encapsulatedPixelData === true) return undefined;
    const end = Math.min(el.dataOffset + el.length, this.dataSet.byteArray.length);
    return this.dataSet.byteArray.subarray(el.dataOffset, end);
  }

  /** The whole string value, padding removed; undefined when absent or empty. */
  str(tag: TagInput): string | undefined {
    const el = this.element(tag);
    if (el === undefined || el.length === 0 || el.items !== undefined) return undefined;
    const vr = this.vr(tag) ?? 'UN';
    const raw = this.valueBytes(tag);
    if (raw === undefined) return undefined;
    let text = CHARSET_VRS.has(vr) ? decoderFor(this.charset).decode(raw) : latin1(raw);
    text = text.replace(/[\0 ]+$/, '');
    if (!TEXT_VRS.has(vr)) text = text.replace(/^ +/, '');
    return text === '' ? undefined : text;
  }

  /** Values of a multi-valued string split on backslash, each trimmed. */
  strs(tag: TagInput): string[] {
    const s = this.str(tag);
    if (s === undefined) return [];
    const vr = this.vr(tag) ?? 'UN';
    if (TEXT_VRS.has(vr)) return [s];
    return s.split('\\').map((v) => v.trim());
  }

  /**
   * All numeric values: binary VRs (US SS UL SL FL FD SV UV, and OW/OB/OF/OD
   * read by their width) or decimal strings (IS DS). Entries that do not
   * parse come back as NaN so positions are kept.
   */
  nums(tag: TagInput): number[] {
    const el = this.element(tag);
    if (el === undefined || el.length === 0 || el.items !== undefined) return [];
    const vr = this.vr(tag) ?? 'UN';
    const raw = this.valueBytes(tag);
    if (raw === undefined) return [];
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const little = this.littleEndian;
    const out: number[] = [];
    const read = (width: number, get: (o: number) => number): number[] => {
      for (let o = 0; o + width <= raw.length; o += width) out.push(get(o));
      return out;
    };
    switch (vr) {
      case 'US':
      case 'OW':
        return read(2, (o) => view.getUint16(o, little));
      case 'SS':
        return read(2, (o) => view.getInt16(o, little));
      case 'UL':
      case 'OL':
        return read(4, (o) => view.getUint32(o, little));
      case 'SL':
        return read(4, (o) => view.getInt32(o, little));
      case 'FL':
      case 'OF':
        return read(4, (o) => view.getFloat32(o, little));
      case 'FD':
      case 'OD':
        return read(8, (o) => view.getFloat64(o, little));
      case 'SV':
        return read(8, (o) => Number(view.getBigInt64(o, little)));
      case 'UV':
      case 'OV':
        return read(8, (o) => Number(view.getBigUint64(o, little)));
      case 'OB':
      case 'UN':
        return Array.from(raw);
      case 'IS':
        return this.strs(tag).map((v) => (IS_PATTERN.test(v) ? Number(v) : NaN));
      case 'DS':
        return this.strs(tag).map((v) => (DS_PATTERN.test(v) ? Number(v) : NaN));
      default: {
        // A number kept in a string VR by a non-conformant writer.
        return this.strs(tag).map((v) => (DS_PATTERN.test(v) ? Number(v) : NaN));
      }
    }
  }

  /** One numeric value (default the first); undefined when absent, empty or unparsable. */
  num(tag: TagInput, index = 0): number | undefined {
    const v = this.nums(tag)[index];
    return v === undefined || Number.isNaN(v) ? undefined : v;
  }

  /** Like num(), but a value that is present and does not parse is BAD_INPUT. */
  numStrict(tag: TagInput, index = 0): number | undefined {
    const values = this.nums(tag);
    const v = values[index];
    if (v === undefined) return undefined;
    if (Number.isNaN(v) || !Number.isFinite(v)) {
      const name = lookupTag(toTagNumber(tag))?.keyword ?? 'attribute';
      throw badInput(
        `The DICOM file is corrupt: ${name} ${formatTag(toTagNumber(tag))} holds ${JSON.stringify(this.strs(tag)[index] ?? '')}, which is not a valid number.`,
      );
    }
    return v;
  }

  /** Items of a sequence, each as a view that inherits this view's character set. */
  items(tag: TagInput): DicomView[] {
    const el = this.element(tag);
    if (el?.items === undefined) return [];
    const out: DicomView[] = [];
    for (const item of el.items) {
      if (item.dataSet !== undefined) out.push(new DicomView(item.dataSet, charsetOf(item.dataSet, this.charset)));
    }
    return out;
  }

  /** AT values as 'GGGGEEEE'. */
  attributeTags(tag: TagInput): string[] {
    const raw = this.valueBytes(tag);
    if (raw === undefined) return [];
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out: string[] = [];
    for (let o = 0; o + 4 <= raw.length; o += 4) {
      const g = view.getUint16(o, this.littleEndian);
      const e = view.getUint16(o + 2, this.littleEndian);
      out.push((((g << 16) | e) >>> 0).toString(16).toUpperCase().padStart(8, '0'));
    }
    return out;
  }
}

/** The text decoder label for a data set's (0008,0005), falling back to the parent's. */
function charsetOf(dataSet: DataSet, inherited: string): string {
  const el = dataSet.elements['x00080005'];
  if (el === undefined || el.length === 0) return inherited;
  const raw = dataSet.byteArray.subarray(el.dataOffset, el.dataOffset + el.length);
  const terms = latin1(raw)
    .split('\\')
    .map((t) => t.trim().replace(/ /g, '_'));
  // With code extensions the first term is the default repertoire; the
  // next one names the extension used for non-ASCII text.
  const term = terms.find((t, i) => t !== '' && (terms.length === 1 || i > 0 || t !== 'ISO_2022_IR_6')) ?? terms[0] ?? '';
  return CHARSETS[term] ?? inherited;
}
