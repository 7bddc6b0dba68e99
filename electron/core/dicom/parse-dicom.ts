import dicomParser from 'dicom-parser';
import type { ByteArrayParser, DataSet, Element, Fragment } from 'dicom-parser';
import { Inflate } from 'fflate';
import { badInput, describeThrown, formatTag, tooLarge } from './dicom-errors';
import { DicomView } from './dicom-view';
import { lookupTag } from './dictionary-lookup';
import {
  DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
  EXPLICIT_VR_BIG_ENDIAN,
  EXPLICIT_VR_LITTLE_ENDIAN,
  IMPLICIT_VR_LITTLE_ENDIAN,
  transferSyntaxInfo,
} from './transfer-syntax';

/**
 * Part 10 / raw data set parser.
 *
 * Our own walker rather than dicomParser.parseDicom, because the import path
 * must survive hostile files: dicom-parser recurses without a depth limit
 * (deep sequences overflow the stack), moves past the end of the buffer on
 * oversized lengths without saying so, guesses sequences in implicit VR
 * without a dictionary, and cannot read big endian or meta-less files. The
 * result is still a dicom-parser DataSet (same Element shape, same helpers),
 * so code written against dicom-parser keeps working.
 */

export interface ParseDicomOptions {
  /**
   * Ceiling on bytes produced by inflating a deflated data set (a deflate
   * bomb is a 2 KB file that inflates to gigabytes). Default 2 GiB.
   */
  maxPixelBytes?: number;
}

/** Deeper nesting than any real object uses; the limit keeps recursion shallow. */
export const MAX_SEQUENCE_DEPTH = 64;
/** A DICOMDIR of a large archive has around a million attributes; more is an attack. */
export const MAX_ELEMENTS = 4_000_000;
export const DEFAULT_MAX_PIXEL_BYTES = 2 * 1024 ** 3;

const UNDEFINED_LENGTH = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_DELIMITATION = 0xfffee00d;
const SEQUENCE_DELIMITATION = 0xfffee0dd;
const PIXEL_DATA = 0x7fe00010;

const KNOWN_VRS = new Set([
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FL', 'FD', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW',
  'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV',
]);
/** Explicit VRs whose length is a 32-bit field after two reserved bytes (PS3.5 7.1.2). */
const LONG_LENGTH_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
/** LUT descriptors: first and third values are unsigned whatever PixelRepresentation says (PS3.3 C.11.1.1). */
const ALWAYS_US = new Set([0x00281101, 0x00281102, 0x00281103, 0x00283002, 0x00281111, 0x00281112, 0x00281113]);

interface Encoding {
  readonly explicit: boolean;
  readonly little: boolean;
}

const DataSetConstructor = (
  dicomParser as unknown as { DataSet: new (parser: ByteArrayParser, bytes: Uint8Array, elements: Record<string, Element>) => DataSet }
).DataSet;

export function tagKey(tag: number): string {
  return 'x' + (tag >>> 0).toString(16).padStart(8, '0');
}

function tagName(tag: number): string {
  const entry = lookupTag(tag);
  return entry !== undefined ? `${entry.keyword} ${formatTag(tag)}` : formatTag(tag);
}

class Walker {
  readonly view: DataView;
  elementCount = 0;
  pixelRepresentation = 0;
  /** Set when reading recovered from a file that ends early (see ParsedDicom.truncated). */
  truncated = false;
  readonly warnings: string[] = [];

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  u16(pos: number, little: boolean): number {
    return this.view.getUint16(pos, little);
  }

  u32(pos: number, little: boolean): number {
    return this.view.getUint32(pos, little);
  }

  tag(pos: number, little: boolean): number {
    return ((this.u16(pos, little) << 16) | this.u16(pos + 2, little)) >>> 0;
  }

  vrAt(pos: number): string {
    return String.fromCharCode(this.bytes[pos] ?? 0, this.bytes[pos + 1] ?? 0);
  }

  /** `what` names the thing being read; a function when naming it costs (it is called only on failure). */
  need(pos: number, count: number, limit: number, what: string | (() => string)): void {
    if (pos + count > limit) {
      throw badInput(
        `The DICOM file is truncated or corrupt: ${typeof what === 'function' ? what() : what} at byte ${pos} needs ${count} bytes but only ${Math.max(0, limit - pos)} remain.`,
      );
    }
  }

  makeDataSet(elements: Record<string, Element>, enc: Encoding): DataSet {
    const parser = enc.little ? dicomParser.littleEndianByteArrayParser : dicomParser.bigEndianByteArrayParser;
    const ds = new DataSetConstructor(parser, this.bytes, elements);
    ds.warnings = [];
    return ds;
  }

  /**
   * Elements from `pos` up to `end` (defined length), or up to an Item
   * Delimitation Item when `end` is undefined. Returns the data set and the
   * position after it (after the delimiter).
   */
  dataSet(
    pos: number,
    end: number | undefined,
    enc: Encoding,
    depth: number,
    outer: number = this.bytes.length,
  ): { dataSet: DataSet; end: number } {
    const elements: Record<string, Element> = {};
    const limit = end ?? outer;
    for (;;) {
      if (end !== undefined && pos >= end) break;
      if (end === undefined && pos >= limit) {
        throw badInput(`The DICOM file is truncated: a sequence item that started before byte ${pos} never ends (no Item Delimitation).`);
      }
      if (pos + 4 > limit) {
        if (end === this.bytes.length && isZero(this.bytes, pos, limit)) {
          // Zero padding after the last element: harmless.
          this.warnings.push(`ignored ${limit - pos} trailing zero bytes`);
          break;
        }
        this.need(pos, 8, limit, 'an attribute header');
      }
      const tag = this.tag(pos, enc.little);
      if (tag === ITEM_DELIMITATION) {
        this.need(pos, 8, limit, 'an Item Delimitation');
        if (end === undefined) return { dataSet: this.makeDataSet(elements, enc), end: pos + 8 };
        // A delimiter inside an item of defined length: redundant, skip it.
        this.warnings.push(`unexpected Item Delimitation at byte ${pos}`);
        pos += 8;
        continue;
      }
      if (tag === ITEM || tag === SEQUENCE_DELIMITATION) {
        throw badInput(
          `The DICOM file is corrupt: found ${tag === ITEM ? 'a sequence Item' : 'a Sequence Delimitation'} tag ${formatTag(tag)} at byte ${pos} outside a sequence.`,
        );
      }
      if (end === this.bytes.length && tag === 0 && isZero(this.bytes, pos, limit)) {
        this.warnings.push(`ignored ${limit - pos} trailing zero bytes`);
        break;
      }
      if (++this.elementCount > MAX_ELEMENTS) {
        throw tooLarge(`The DICOM file holds more than ${MAX_ELEMENTS.toLocaleString('en-US')} attributes; Fovea refuses to read it.`);
      }
      const element = this.element(pos, limit, tag, enc, depth);
      const key = element.tag;
      if (elements[key] !== undefined) this.warnings.push(`duplicate attribute ${formatTag(tag)} at byte ${pos}; the last one wins`);
      elements[key] = element;
      pos = element.dataOffset + element.length;
      if (tag === 0x00280103 && depth === 0) {
        const value = element.length >= 2 ? this.u16(element.dataOffset, enc.little) : 0;
        this.pixelRepresentation = value;
      }
    }
    if (end !== undefined && pos !== end) {
      throw badInput(`The DICOM file is corrupt: an attribute runs past the end of its enclosing item (byte ${pos}, item ends at ${end}).`);
    }
    return { dataSet: this.makeDataSet(elements, enc), end: end ?? pos };
  }

  /** Reads one element header and its value (sequences recursively). */
  element(pos: number, limit: number, tag: number, enc: Encoding, depth: number): Element {
    let vr: string;
    let length: number;
    let dataOffset: number;
    if (enc.explicit) {
      this.need(pos, 8, limit, () => `attribute ${formatTag(tag)}`);
      vr = this.vrAt(pos + 4);
      if (!KNOWN_VRS.has(vr)) {
        throw badInput(
          `The DICOM file is corrupt: attribute ${tagName(tag)} at byte ${pos} has an invalid value representation ${JSON.stringify(vr)}.`,
        );
      }
      if (LONG_LENGTH_VRS.has(vr)) {
        this.need(pos, 12, limit, () => `attribute ${formatTag(tag)}`);
        length = this.u32(pos + 8, enc.little);
        dataOffset = pos + 12;
      } else {
        length = this.u16(pos + 6, enc.little);
        dataOffset = pos + 8;
      }
    } else {
      this.need(pos, 8, limit, () => `attribute ${formatTag(tag)}`);
      length = this.u32(pos + 4, enc.little);
      dataOffset = pos + 8;
      vr = this.implicitVr(tag);
    }

    const element: Element = { tag: tagKey(tag), vr, length, dataOffset };
    if (length === UNDEFINED_LENGTH) {
      element.hadUndefinedLength = true;
      if (tag === PIXEL_DATA || ((tag >>> 16) === 0x7fe0 && vr !== 'SQ')) {
        this.encapsulated(element, limit, enc);
        return element;
      }
      if (vr === 'SQ') {
        this.sequence(element, undefined, limit, enc, depth);
        return element;
      }
      if (vr === 'UN' || !enc.explicit) {
        // CP-246: an undefined-length UN is a sequence encoded implicit VR little endian.
        element.vr = 'SQ';
        this.sequence(element, undefined, limit, enc.explicit ? { explicit: false, little: true } : enc, depth);
        return element;
      }
      throw badInput(
        `The DICOM file is corrupt: attribute ${tagName(tag)} (VR ${vr}) at byte ${pos} has an undefined length, which only sequences and pixel data may have.`,
      );
    }

    if (dataOffset + length > limit && vr === 'SQ' && limit === this.bytes.length) {
      // A sequence whose declared length overshoots the end of the file (an
      // editor removed attributes without fixing lengths): read the items
      // that are there; a truncated attribute inside still fails below.
      this.warnings.push(`${tagName(tag)} declares ${length} bytes but the file ends ${limit - dataOffset} bytes after it starts`);
      this.truncated = true;
      length = limit - dataOffset;
      element.length = length;
    }
    if (dataOffset + length > limit) {
      const remaining = Math.max(0, limit - dataOffset);
      throw badInput(
        `The DICOM file is truncated or corrupt: ${tagName(tag)} at byte ${pos} declares ${length} bytes of value, but only ${remaining} remain` +
          (limit < this.bytes.length ? ' in its enclosing item.' : ' in the file.'),
        { tag: formatTag(tag), declared: length, remaining },
      );
    }

    if (vr === 'SQ') {
      this.sequence(element, dataOffset + length, limit, enc, depth);
    } else if ((vr === 'UN' || !enc.explicit) && length >= 8 && this.looksLikeItem(dataOffset, dataOffset + length, enc)) {
      // An implicit-VR private sequence, or an SQ converted to UN (CP-246):
      // parse it as a sequence if it holds together, else keep the bytes.
      const sequenceEnc = enc.explicit ? { explicit: false, little: true } : enc;
      const before = this.elementCount;
      const warningsBefore = this.warnings.length;
      const truncatedBefore = this.truncated;
      try {
        this.sequence(element, dataOffset + length, limit, sequenceEnc, depth);
        element.vr = 'SQ';
      } catch (e) {
        if (isDepthError(e)) throw e;
        delete element.items;
        this.elementCount = before;
        this.warnings.length = warningsBefore;
        this.truncated = truncatedBefore;
      }
    }
    return element;
  }

  looksLikeItem(pos: number, end: number, enc: Encoding): boolean {
    const little = enc.explicit ? true : enc.little;
    if (pos + 8 > end) return false;
    const tag = this.tag(pos, little);
    if (tag !== ITEM) return false;
    const itemLength = this.u32(pos + 4, little);
    return itemLength === UNDEFINED_LENGTH || pos + 8 + itemLength <= end;
  }

  implicitVr(tag: number): string {
    if (tag === PIXEL_DATA) return 'OW';
    const entry = lookupTag(tag);
    if (entry === undefined) return 'UN';
    const vr = entry.vr;
    if (!vr.includes('|')) return vr === 'NONE' ? 'UN' : vr;
    if (ALWAYS_US.has(tag)) return 'US';
    if (vr.startsWith('US|SS')) return this.pixelRepresentation === 1 ? 'SS' : 'US';
    if (vr === 'OB|OW') return 'OW';
    return vr.split('|')[0] ?? 'UN';
  }

  sequence(element: Element, end: number | undefined, limit: number, enc: Encoding, depth: number): void {
    if (depth + 1 > MAX_SEQUENCE_DEPTH) {
      throw depthError(
        `The DICOM file nests sequences more than ${MAX_SEQUENCE_DEPTH} levels deep (at ${tagName(parseInt(element.tag.slice(1), 16))}, byte ${element.dataOffset}); Fovea refuses to read it.`,
      );
    }
    const items: Element[] = [];
    element.items = items;
    const stop = end ?? limit;
    let pos = element.dataOffset;
    for (;;) {
      if (end !== undefined && pos >= end) break;
      if (pos + 8 > stop) {
        if (end === undefined) {
          throw badInput(
            `The DICOM file is truncated: sequence ${tagName(parseInt(element.tag.slice(1), 16))} starting at byte ${element.dataOffset} never ends (no Sequence Delimitation).`,
          );
        }
        this.need(pos, 8, stop, 'a sequence item');
      }
      const tag = this.tag(pos, enc.little);
      const length = this.u32(pos + 4, enc.little);
      if (tag === SEQUENCE_DELIMITATION) {
        pos += 8;
        if (end === undefined) break;
        this.warnings.push(`unexpected Sequence Delimitation inside a sequence of defined length at byte ${pos - 8}`);
        continue;
      }
      if (tag !== ITEM) {
        throw badInput(
          `The DICOM file is corrupt: sequence ${tagName(parseInt(element.tag.slice(1), 16))} holds ${formatTag(tag)} at byte ${pos} where an Item ${formatTag(ITEM)} should be.`,
        );
      }
      const itemStart = pos + 8;
      let parsed: { dataSet: DataSet; end: number };
      if (length === UNDEFINED_LENGTH) {
        parsed = this.dataSet(itemStart, undefined, enc, depth + 1, stop);
      } else {
        if (itemStart + length > stop && stop === this.bytes.length && itemStart < stop) {
          this.warnings.push(`a sequence item at byte ${pos} declares ${length} bytes but the file ends ${stop - itemStart} bytes after it starts`);
          this.truncated = true;
          parsed = this.dataSet(itemStart, stop, enc, depth + 1);
          items.push({ tag: 'xfffee000', length: stop - itemStart, dataOffset: itemStart, dataSet: parsed.dataSet });
          pos = stop;
          continue;
        }
        if (itemStart + length > stop) {
          throw badInput(
            `The DICOM file is truncated or corrupt: a sequence item at byte ${pos} declares ${length} bytes, but only ${Math.max(0, stop - itemStart)} remain.`,
          );
        }
        parsed = this.dataSet(itemStart, itemStart + length, enc, depth + 1);
      }
      const item: Element = {
        tag: 'xfffee000',
        length: length === UNDEFINED_LENGTH ? parsed.end - itemStart : length,
        dataOffset: itemStart,
        dataSet: parsed.dataSet,
      };
      if (length === UNDEFINED_LENGTH) item.hadUndefinedLength = true;
      items.push(item);
      pos = parsed.end;
    }
    if (end === undefined) element.length = pos - element.dataOffset;
  }

  /** Encapsulated pixel data: an offset table item, then fragments, then a Sequence Delimitation. */
  encapsulated(element: Element, limit: number, enc: Encoding): void {
    const little = enc.little;
    const fragments: Fragment[] = [];
    const basicOffsetTable: number[] = [];
    let pos = element.dataOffset;
    this.need(pos, 8, limit, 'the Basic Offset Table of Pixel Data');
    if (this.tag(pos, little) !== ITEM) {
      throw badInput(`The DICOM file is corrupt: encapsulated Pixel Data at byte ${pos} does not start with an offset table item.`);
    }
    const botLength = this.u32(pos + 4, little);
    if (botLength % 4 !== 0 || pos + 8 + botLength > limit) {
      throw badInput(`The DICOM file is truncated or corrupt: the Basic Offset Table of Pixel Data declares ${botLength} bytes.`);
    }
    for (let i = 0; i < botLength; i += 4) basicOffsetTable.push(this.u32(pos + 8 + i, little));
    pos += 8 + botLength;
    const base = pos;
    let delimited = false;
    while (pos + 8 <= limit) {
      const tag = this.tag(pos, little);
      const length = this.u32(pos + 4, little);
      if (tag === SEQUENCE_DELIMITATION) {
        pos += 8;
        delimited = true;
        break;
      }
      if (tag !== ITEM) {
        throw badInput(`The DICOM file is corrupt: encapsulated Pixel Data holds ${formatTag(tag)} at byte ${pos} where a fragment item should be.`);
      }
      if (length === UNDEFINED_LENGTH || pos + 8 + length > limit) {
        throw badInput(
          `The DICOM file is truncated: pixel data fragment ${fragments.length + 1} at byte ${pos} declares ${length === UNDEFINED_LENGTH ? 'an undefined length' : `${length} bytes`}, but only ${Math.max(0, limit - pos - 8)} remain.`,
        );
      }
      if (++this.elementCount > MAX_ELEMENTS) throw tooLarge('The DICOM file holds too many pixel data fragments; Fovea refuses to read it.');
      fragments.push({ offset: pos - base, position: pos + 8, length });
      pos += 8 + length;
    }
    if (!delimited) {
      if (pos !== limit) {
        throw badInput(`The DICOM file is truncated: the encapsulated Pixel Data ends in the middle of a fragment header at byte ${pos}.`);
      }
      // Only the 8-byte delimiter is missing: every fragment is whole, so keep them.
      this.warnings.push('encapsulated Pixel Data has no Sequence Delimitation (file ends after the last fragment)');
      this.truncated = true;
    }
    element.encapsulatedPixelData = true;
    element.basicOffsetTable = basicOffsetTable;
    element.fragments = fragments;
    element.length = pos - element.dataOffset;
  }
}

class DepthError extends Error {}
function depthError(message: string): Error {
  return new DepthError(message);
}
function isDepthError(e: unknown): boolean {
  return e instanceof DepthError;
}

function isZero(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}

function hasDicmAt(bytes: Uint8Array, pos: number): boolean {
  return bytes[pos] === 0x44 && bytes[pos + 1] === 0x49 && bytes[pos + 2] === 0x43 && bytes[pos + 3] === 0x4d;
}

/**
 * Guesses the encoding of a data set from its first element: the byte order
 * that gives the smaller group number (data sets start with low groups), and
 * explicit VR when the two bytes after the tag spell a known VR. Returns
 * undefined when the bytes do not look like the start of a data set at all
 * (odd or zero group, or an implicit length running past the end), which
 * is how a raw data set without "DICM" is told from other files.
 */
export function sniffEncoding(bytes: Uint8Array, pos: number): Encoding | undefined {
  return sniff(bytes, pos, true);
}

/** `strict`: the start of a raw data set (even group); otherwise any first element after a file meta. */
function sniff(bytes: Uint8Array, pos: number, strict: boolean): Encoding | undefined {
  if (pos + 8 > bytes.length) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const groupLe = view.getUint16(pos, true);
  const groupBe = view.getUint16(pos, false);
  const little = groupLe <= groupBe;
  const group = little ? groupLe : groupBe;
  if (group === 0 || (strict && group % 2 === 1)) return undefined;
  const vr = String.fromCharCode(bytes[pos + 4] ?? 0, bytes[pos + 5] ?? 0);
  if (KNOWN_VRS.has(vr)) return { explicit: true, little };
  const length = view.getUint32(pos + 4, little);
  if (length !== UNDEFINED_LENGTH && length > bytes.length - pos - 8) return undefined;
  return { explicit: false, little };
}

function encodingUid(enc: Encoding): string {
  if (!enc.explicit) return IMPLICIT_VR_LITTLE_ENDIAN;
  return enc.little ? EXPLICIT_VR_LITTLE_ENDIAN : EXPLICIT_VR_BIG_ENDIAN;
}

function inflateDataSet(bytes: Uint8Array, start: number, maxBytes: number): Uint8Array {
  let input = bytes.subarray(start);
  // Some writers wrap the stream in zlib headers, which the standard does not allow; accept them.
  const b0 = input[0] ?? 0;
  const b1 = input[1] ?? 0;
  if ((b0 & 0x0f) === 8 && (b0 >> 4) <= 7 && ((b0 << 8) | b1) % 31 === 0) input = input.subarray(2);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const inflater = new Inflate((chunk) => {
    total += chunk.length;
    if (start + total > maxBytes) {
      throw tooLarge(
        `The deflated DICOM data set expands beyond ${maxBytes.toLocaleString('en-US')} bytes; Fovea refuses to inflate it (a possible decompression bomb).`,
      );
    }
    chunks.push(chunk);
  });
  const step = 1 << 16;
  try {
    for (let i = 0; i < input.length; i += step) inflater.push(input.subarray(i, i + step), i + step >= input.length);
    if (input.length === 0) inflater.push(new Uint8Array(0), true);
  } catch (e) {
    if (e instanceof Error && e.name === 'FoveaException') throw e;
    throw badInput(`The deflated DICOM data set cannot be inflated: ${describeThrown(e)}.`);
  }
  const out = new Uint8Array(start + total);
  out.set(bytes.subarray(0, start), 0);
  let at = start;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export interface ParsedDicomInit {
  dataSet: DataSet;
  bytes: Uint8Array;
  fileLength: number;
  transferSyntaxUid: string;
  transferSyntaxInferred: boolean;
  declaredTransferSyntaxUid: string | undefined;
  hasFileMeta: boolean;
  explicitVr: boolean;
  truncated: boolean;
  warnings: string[];
}

/** A parsed DICOM object: the data set plus how it was encoded. */
export class ParsedDicom extends DicomView {
  /** The bytes that element offsets refer to (the inflated copy for deflated files). */
  readonly bytes: Uint8Array;
  /** Length of the file as given (before any inflation). */
  readonly fileLength: number;
  /** Transfer syntax used for pixel data: from the file meta, or inferred when it was missing. */
  readonly transferSyntaxUid: string;
  readonly transferSyntaxInferred: boolean;
  /** What (0002,0010) said, when present. */
  readonly declaredTransferSyntaxUid: string | undefined;
  readonly hasFileMeta: boolean;
  readonly explicitVr: boolean;
  /**
   * The file ends early but every attribute read is whole: a missing
   * Sequence Delimitation after the last pixel fragment, or a sequence whose
   * declared length overshoots the end of the file. Details in `warnings`.
   */
  readonly truncated: boolean;
  /** Oddities that did not stop parsing (for logs and `fovea inspect`). */
  readonly warnings: readonly string[];

  constructor(init: ParsedDicomInit) {
    super(init.dataSet);
    this.bytes = init.bytes;
    this.fileLength = init.fileLength;
    this.transferSyntaxUid = init.transferSyntaxUid;
    this.transferSyntaxInferred = init.transferSyntaxInferred;
    this.declaredTransferSyntaxUid = init.declaredTransferSyntaxUid;
    this.hasFileMeta = init.hasFileMeta;
    this.explicitVr = init.explicitVr;
    this.truncated = init.truncated;
    this.warnings = init.warnings;
  }
}

/**
 * Parses a DICOM file: Part 10 with or without the 128-byte preamble, a raw
 * data set without file meta (implicit/explicit VR, little/big endian
 * sniffed), file meta without TransferSyntaxUID (sniffed), deflated data sets.
 * Throws FoveaException BAD_INPUT (malformed, truncated, too deep) or
 * TOO_LARGE (inflation or attribute count beyond the limits).
 */
export function parseDicom(input: Uint8Array, options: ParseDicomOptions = {}): ParsedDicom {
  // A Node Buffer's slice() is a view, not a copy; downstream code copies with
  // slice() and byte-swaps in place, so work on a plain Uint8Array view.
  const bytes = Object.getPrototypeOf(input) === Uint8Array.prototype ? input : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const maxBytes = options.maxPixelBytes ?? DEFAULT_MAX_PIXEL_BYTES;
  if (bytes.length < 8) {
    throw badInput(`This is not a DICOM file: it is only ${bytes.length} bytes long.`);
  }
  let metaStart: number | undefined;
  if (bytes.length >= 132 && hasDicmAt(bytes, 128)) metaStart = 132;
  else if (hasDicmAt(bytes, 0)) metaStart = 4;
  else if (bytes[0] === 0x02 && bytes[1] === 0x00) metaStart = 0; // meta group without preamble and DICM

  const walker = new Walker(bytes);
  let pos = 0;
  let declared: string | undefined;
  const metaElements: Record<string, Element> = {};
  if (metaStart !== undefined) {
    pos = metaStart;
    const sniffed = sniff(bytes, pos, false);
    // The meta group is always explicit VR little endian; some writers got that wrong.
    const metaEnc: Encoding = { explicit: sniffed?.explicit ?? true, little: true };
    while (pos + 8 <= bytes.length && walker.u16(pos, true) === 0x0002) {
      const tag = walker.tag(pos, true);
      const element = walker.element(pos, bytes.length, tag, metaEnc, 0);
      metaElements[element.tag] = element;
      pos = element.dataOffset + element.length;
    }
    const ts = metaElements[tagKey(0x00020010)];
    if (ts !== undefined && ts.length > 0) {
      declared = latin1(bytes.subarray(ts.dataOffset, ts.dataOffset + ts.length)).replace(/[\0 ]+$/g, '').trim();
      if (declared === '') declared = undefined;
    }
  }

  const warnings: string[] = walker.warnings;
  let transferSyntaxUid: string;
  let inferred = false;
  let data = bytes;
  let enc: Encoding;
  const declaredInfo = declared !== undefined ? transferSyntaxInfo(declared) : undefined;

  if (declaredInfo?.deflated === true) {
    data = inflateDataSet(bytes, pos, maxBytes);
    transferSyntaxUid = DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN;
    enc = { explicit: true, little: true };
  } else {
    const sniffed = sniff(bytes, pos, false);
    if (declared !== undefined) {
      transferSyntaxUid = declared;
      enc = declaredInfo !== undefined
        ? { explicit: declaredInfo.explicitVr, little: declaredInfo.littleEndian }
        : { explicit: true, little: true }; // unknown (private) syntaxes are explicit little endian in practice
      if (sniffed !== undefined && (sniffed.explicit !== enc.explicit || sniffed.little !== enc.little)) {
        warnings.push(
          `the data set is encoded as ${encodingUid(sniffed)} although the file meta declares ${declared}; reading it as it is encoded`,
        );
        enc = sniffed;
        if (declaredInfo !== undefined && !declaredInfo.encapsulated) transferSyntaxUid = encodingUid(sniffed);
      }
    } else {
      enc = sniffed ?? { explicit: true, little: true };
      transferSyntaxUid = encodingUid(enc);
      inferred = true;
      warnings.push(`no transfer syntax in the file meta; inferred ${transferSyntaxUid} from the data`);
    }
  }

  if (metaStart === undefined) {
    // Without "DICM", insist that the first element looks like DICOM, so a
    // JPEG or a text file is rejected as such rather than as "corrupt".
    const sniffed = sniffEncoding(bytes, 0);
    const group = sniffed !== undefined ? new DataView(bytes.buffer, bytes.byteOffset, 8).getUint16(0, sniffed.little) : 0xffff;
    if (sniffed === undefined || group > 0x0028) {
      throw badInput(
        'This is not a DICOM file: it has no "DICM" marker and does not start with a DICOM attribute (expected group 0008).',
      );
    }
  }

  let parsed: { dataSet: DataSet; end: number };
  const dataWalker = data === bytes ? walker : new Walker(data);
  try {
    parsed = dataWalker.dataSet(pos, data.length, enc, 0);
  } catch (e) {
    if (e instanceof DepthError) throw badInput(e.message);
    if (e instanceof RangeError) {
      // Belt and braces: the depth limit should make this unreachable.
      throw badInput(`The DICOM file could not be read: ${e.message}.`);
    }
    throw e;
  }
  if (dataWalker !== walker) warnings.push(...dataWalker.warnings);
  // The meta elements join the data set, as dicom-parser does, so helpers find (0002,xxxx) too.
  Object.assign(parsed.dataSet.elements, metaElements);
  return new ParsedDicom({
    dataSet: parsed.dataSet,
    bytes: data,
    fileLength: bytes.length,
    transferSyntaxUid,
    transferSyntaxInferred: inferred,
    declaredTransferSyntaxUid: declared,
    hasFileMeta: metaStart !== undefined,
    explicitVr: enc.explicit,
    truncated: walker.truncated || dataWalker.truncated,
    warnings,
  });
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}
