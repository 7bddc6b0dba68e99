/**
 * De-identification of one DICOM file by DICOM PS3.15 Annex E, Basic Application Level
 * Confidentiality Profile (Table E.1-1, edition in ps315-table.ts), with its options.
 *
 * Pure: bytes + options + the export's shared state (DeidSession: UID remapping, patient
 * pseudonyms, date shifts) in, bytes + a report out. No file system, no database.
 *
 * How the bytes are handled, and why:
 * - The file is first parsed with our own robust parser (core/dicom parseDicom), which accepts
 *   files without preamble or meta, inflates deflated data sets, and tells where the top-level
 *   Pixel Data element starts and ends.
 * - The attributes before Pixel Data are handed to dcmjs (a well-kept DICOM library) wrapped in
 *   a fresh Part 10 header, de-identified on dcmjs's dictionary, and written back by dcmjs in the
 *   same transfer syntax (deflated input is written as Explicit VR Little Endian).
 * - The Pixel Data element (header, fragments, offset table, delimiter) is appended byte for
 *   byte from the source: compressed pixel data is never decoded or re-fragmented, so JPEG,
 *   JPEG-LS, JPEG 2000, HTJ2K and RLE survive unchanged.
 * - Anything after Pixel Data (Digital Signatures, trailing padding, private groups) is dropped.
 * - Burned-in text is not cleaned: files whose pixels may carry it are reported (burnedIn) and
 *   the caller holds them back unless the user confirms.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { FoveaException } from '../../contract/result';
import { parseDicom, type ParsedDicom } from '../dicom/parse-dicom';
import { activeOptionColumns, DEFAULT_PROFILE_OPTIONS, resolveAction, rowFor, type DeidProfileOptions, type ResolvedAction } from './deid-rules';
import { PS315_EDITION, type Ps315Option } from './ps315-table';
import { dcmjs, type DcmDict, type DcmElement } from '../dicom/dcmjs';
export type { DcmDict, DcmElement } from '../dicom/dcmjs';


// ---------------------------------------------------------------------------------------------
// Constants

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const DEFLATED_LE = '1.2.840.10008.1.2.1.99';
const DICOM_UID_ROOT = '1.2.840.10008.';
/** Fovea's Implementation Class UID (0002,0012): a fixed UUID-derived UID (2.25 root). */
export const FOVEA_IMPLEMENTATION_UID = uuidUid(createHash('sha256').update('fovea/deid/implementation-class').digest());
export const FOVEA_IMPLEMENTATION_VERSION = 'FOVEA_DEID_1';

/** Modalities whose images often carry burned-in text when BurnedInAnnotation is absent. */
export const BURNED_IN_MODALITIES: ReadonlySet<string> = new Set(['US', 'SC', 'XA', 'ES', 'OT']);
/** Secondary Capture SOP classes (single frame and the multi-frame ones). */
export const SECONDARY_CAPTURE_CLASSES: ReadonlySet<string> = new Set([
  '1.2.840.10008.5.1.4.1.1.7',
  '1.2.840.10008.5.1.4.1.1.7.1',
  '1.2.840.10008.5.1.4.1.1.7.2',
  '1.2.840.10008.5.1.4.1.1.7.3',
  '1.2.840.10008.5.1.4.1.1.7.4',
]);

/**
 * UI attributes outside Table E.1-1 that name classes, syntaxes or coding schemes, not instances:
 * kept. Every other UI value outside the table that is not a DICOM-registered UID is remapped
 * like an instance UID (fail safe: attributes added after the table's edition are covered).
 */
const CLASS_UID_TAGS: ReadonlySet<string> = new Set([
  '00080016', // SOP Class UID
  '0008001A', // Related General SOP Class UID
  '0008001B', // Original Specialized SOP Class UID
  '00080062', // SOP Classes in Study
  '0008010C', // Coding Scheme UID
  '0008010D', // Context Group Extension Creator UID
  '00080117', // Context UID
  '00080118', // Mapping Resource UID
  '00081150', // Referenced SOP Class UID
  '00041510', // Referenced SOP Class UID in File
  '00041512', // Referenced Transfer Syntax UID in File
  '0004151A', // Referenced Related General SOP Class UID in File
  '04000010', // MAC Calculation Transfer Syntax UID
  '04000510', // Encrypted Content Transfer Syntax UID
]);

const TEXT_VRS: ReadonlySet<string> = new Set(['AE', 'LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UT', 'UR', 'CS']);
const FREE_TEXT_VRS: ReadonlySet<string> = new Set(['LO', 'LT', 'SH', 'ST', 'UC', 'UT']);
const MAX_LEN: Record<string, number> = { AE: 16, CS: 16, SH: 16, LO: 64, PN: 64, ST: 1024, LT: 10240 };
const DUMMY_TEXT = 'ANONYMIZED';

// ---------------------------------------------------------------------------------------------
// Shared state of one export

/**
 * State shared by every file of one export: identical input UIDs give identical output UIDs
 * (so references between files follow), one pseudonym per patient, one date shift per patient.
 * The secret is random per export, so two exports of the same data cannot be linked.
 */
export class DeidSession {
  readonly #secret: Buffer;
  readonly #pseudonyms = new Map<string, string>();
  readonly #prefix: string;

  constructor(options: { secret?: Uint8Array; pseudonymPrefix?: string } = {}) {
    this.#secret = Buffer.from(options.secret ?? randomBytes(32));
    this.#prefix = options.pseudonymPrefix ?? 'ANON-';
  }

  /** The replacement for an original UID: 2.25.<decimal of 128 bits of HMAC-SHA256(secret, uid)>. */
  uid(original: string): string {
    return uuidUid(createHmac('sha256', this.#secret).update(`uid\u0000${original}`).digest());
  }

  /** The pseudonym of a patient (by key), numbered in the order patients are met: ANON-0001, ... */
  pseudonym(patientKey: string): string {
    let p = this.#pseudonyms.get(patientKey);
    if (p === undefined) {
      p = `${this.#prefix}${String(this.#pseudonyms.size + 1).padStart(4, '0')}`;
      this.#pseudonyms.set(patientKey, p);
    }
    return p;
  }

  get patients(): number {
    return this.#pseudonyms.size;
  }

  /** Days to add to every date of a patient under Retain Longitudinal Modified Dates: -3650..-30. */
  dateShiftDays(pseudonym: string): number {
    const h = createHmac('sha256', this.#secret).update(`shift\u0000${pseudonym}`).digest();
    return -(30 + (h.readUInt32BE(0) % 3621));
  }
}

function uuidUid(digest: Uint8Array): string {
  const hex = Buffer.from(digest.subarray(0, 16)).toString('hex');
  return `2.25.${BigInt(`0x${hex}`).toString(10)}`;
}

// ---------------------------------------------------------------------------------------------
// Public API

export interface DeidOptions extends DeidProfileOptions {
  /** Export files whose pixels may carry burned-in text (the user confirmed). Default false. */
  confirmBurnedIn: boolean;
}

export const DEFAULT_DEID_OPTIONS: DeidOptions = { ...DEFAULT_PROFILE_OPTIONS, confirmBurnedIn: false };

export interface BurnedInAssessment {
  /** Pixels may show text (names, dates) that attribute de-identification cannot remove. */
  suspect: boolean;
  /** Why (no PHI: attribute names, modality and SOP class only). */
  reason: string;
}

export interface DeidReport {
  removed: number;
  emptied: number;
  dummied: number;
  kept: number;
  cleaned: number;
  datesShifted: number;
  uidsRemapped: number;
  privateRemoved: number;
  overlayCurveRemoved: number;
  /** Things a person should know (no PHI). */
  warnings: string[];
}

export type DeidOutcome =
  | {
      status: 'done';
      bytes: Uint8Array;
      pseudonym: string;
      studyUid: string;
      seriesUid: string;
      sopInstanceUid: string;
      sopClassUid: string;
      transferSyntaxUid: string;
      burnedIn: BurnedInAssessment;
      report: DeidReport;
    }
  | { status: 'held-back'; burnedIn: BurnedInAssessment };

/**
 * De-identify one DICOM file. Returns `held-back` (without touching the session) when the pixels
 * may carry burned-in text and `options.confirmBurnedIn` is not set. Throws FoveaException
 * BAD_INPUT for a file that cannot be read.
 */
export function deidentifyDicom(input: Uint8Array, options: DeidOptions, session: DeidSession): DeidOutcome {
  const parsed = parseDicom(input);
  const px = locatePixelData(parsed);
  const start = datasetStart(parsed);
  const sourceTs = parsed.transferSyntaxUid;
  const outTs = sourceTs === DEFLATED_LE ? EXPLICIT_LE : sourceTs;
  const body = parsed.bytes.subarray(start, px ? px.start : parsed.bytes.length);

  const dict = readWithDcmjs(body, sourceTs === DEFLATED_LE ? EXPLICIT_LE : sourceTs);
  const burnedIn = assessBurnedIn(dict);
  if (burnedIn.suspect && !options.confirmBurnedIn) return { status: 'held-back', burnedIn };

  const report: DeidReport = {
    removed: 0,
    emptied: 0,
    dummied: 0,
    kept: 0,
    cleaned: 0,
    datesShifted: 0,
    uidsRemapped: 0,
    privateRemoved: 0,
    overlayCurveRemoved: 0,
    warnings: [],
  };
  if (options.retainSafePrivate) report.warnings.push('Retain Safe Private is not supported: every private attribute was removed.');
  const after = px ? countAfterPixelData(parsed) : 0;
  if (after > 0) report.warnings.push(`${after} attribute(s) after Pixel Data (signatures, padding or private) were removed.`);

  const sopClassUid = (firstString(dict['00080016']) ?? parsed.str(0x00020002) ?? '').replace(/[\0 ]+$/u, '');
  const pseudonym = session.pseudonym(patientKey(dict));
  const ctx: Ctx = {
    options,
    active: activeOptionColumns(options),
    session,
    report,
    shiftDays: options.retainLongitudinalDates === 'modified' ? session.dateShiftDays(pseudonym) : 0,
    needles: identifyingStrings(dict, activeOptionColumns(options)),
  };
  const out = processDataset(dict, ctx, false, 0);

  // Patient identity: one pseudonym per patient, consistent across the export.
  out['00100010'] = { vr: 'PN', Value: [{ Alphabetic: pseudonym }] };
  out['00100020'] = { vr: 'LO', Value: [pseudonym] };
  // Identity removed, and how (PS3.3 C.7.1.1, CID 7050).
  out['00120062'] = { vr: 'CS', Value: ['YES'] };
  out['00120063'] = { vr: 'LO', Value: methodDescription(options) };
  out['00120064'] = { vr: 'SQ', Value: methodCodes(options).map(([value, meaning]) => codeItem(value, meaning)) };
  out['00280303'] = {
    vr: 'CS',
    Value: [options.retainLongitudinalDates === 'full' ? 'UNMODIFIED' : options.retainLongitudinalDates === 'modified' ? 'MODIFIED' : 'REMOVED'],
  };

  // Every image needs its identifying UIDs; a source without them gets fresh ones.
  const sopInstanceUid = ensureUid(out, '00080018', session, 'sop');
  const studyUid = ensureUid(out, '0020000D', session, 'study');
  const seriesUid = ensureUid(out, '0020000E', session, 'series');

  const meta: DcmDict = {
    '00020001': { vr: 'OB', Value: [new Uint8Array([0, 1]).buffer] },
    '00020002': { vr: 'UI', Value: [sopClassUid] },
    '00020003': { vr: 'UI', Value: [sopInstanceUid] },
    '00020010': { vr: 'UI', Value: [outTs] },
    '00020012': { vr: 'UI', Value: [FOVEA_IMPLEMENTATION_UID] },
    '00020013': { vr: 'SH', Value: [FOVEA_IMPLEMENTATION_VERSION] },
  };
  const written = new (dcmjs().data.DicomDict)(meta);
  written.dict = out;
  let head: Uint8Array;
  try {
    head = new Uint8Array(written.write({ allowInvalidVRLength: true }));
  } catch (e) {
    throw new FoveaException('BAD_INPUT', `The de-identified DICOM file could not be written: ${(e as Error).message}`);
  }
  const pixel = px ? parsed.bytes.subarray(px.start, px.end) : new Uint8Array(0);
  const bytes = new Uint8Array(head.length + pixel.length);
  bytes.set(head, 0);
  bytes.set(pixel, head.length);
  if (sourceTs === DEFLATED_LE) report.warnings.push('The deflated data set was written as Explicit VR Little Endian.');
  return { status: 'done', bytes, pseudonym, studyUid, seriesUid, sopInstanceUid, sopClassUid, transferSyntaxUid: outTs, burnedIn, report };
}

/** Whether a data set's pixels may carry burned-in text (on the dcmjs dictionary of the source). */
export function assessBurnedIn(dict: DcmDict): BurnedInAssessment {
  const flag = firstString(dict['00280301'])?.trim().toUpperCase();
  if (flag === 'YES') return { suspect: true, reason: 'Burned In Annotation (0028,0301) is YES' };
  if (flag === 'NO') return { suspect: false, reason: 'Burned In Annotation (0028,0301) is NO' };
  const modality = firstString(dict['00080060'])?.trim().toUpperCase() ?? '';
  const sopClass = firstString(dict['00080016'])?.trim() ?? '';
  if (BURNED_IN_MODALITIES.has(modality)) {
    return { suspect: true, reason: `Burned In Annotation (0028,0301) is absent and the modality is ${modality}` };
  }
  if (SECONDARY_CAPTURE_CLASSES.has(sopClass)) {
    return { suspect: true, reason: `Burned In Annotation (0028,0301) is absent and the SOP class is Secondary Capture (${sopClass})` };
  }
  return { suspect: false, reason: 'Burned In Annotation (0028,0301) is absent; the modality does not usually carry burned-in text' };
}

/** (0012,0063): the profile and the options applied, one value each (LO, at most 64 characters). */
export function methodDescription(o: DeidOptions): string[] {
  const v = [`DICOM PS3.15 E.1 Basic Profile (${PS315_EDITION}), Fovea`];
  for (const [, meaning] of methodCodes(o).slice(1)) v.push(meaning.slice(0, 64));
  v.push('Private, overlay and curve attributes removed');
  return v;
}

/** (0012,0064) codes (DCM, CID 7050): 113100 plus one per option applied. */
export function methodCodes(o: DeidOptions): [string, string][] {
  const c: [string, string][] = [['113100', 'Basic Application Confidentiality Profile']];
  if (o.cleanGraphics) c.push(['113103', 'Clean Graphics Option']);
  if (o.cleanStructuredContent) c.push(['113104', 'Clean Structured Content Option']);
  if (o.cleanDescriptors) c.push(['113105', 'Clean Descriptors Option']);
  if (o.retainLongitudinalDates === 'full') c.push(['113106', 'Retain Longitudinal Temporal Information Full Dates Option']);
  if (o.retainLongitudinalDates === 'modified') c.push(['113107', 'Retain Longitudinal Temporal Information Modified Dates Option']);
  if (o.retainPatientCharacteristics) c.push(['113108', 'Retain Patient Characteristics Option']);
  if (o.retainDeviceIdentity) c.push(['113109', 'Retain Device Identity Option']);
  if (o.retainUids) c.push(['113110', 'Retain UIDs Option']);
  if (o.retainInstitutionIdentity) c.push(['113112', 'Retain Institution Identity Option']);
  return c;
}

// ---------------------------------------------------------------------------------------------
// Reading

interface PixelSpan {
  start: number;
  end: number;
}

/** Where the top-level Pixel Data element (header included) lies in parsed.bytes. */
function locatePixelData(parsed: ParsedDicom): PixelSpan | undefined {
  const el = parsed.dataSet.elements['x7fe00010'];
  if (el === undefined) return undefined;
  const b = parsed.bytes;
  const little = parsed.littleEndian;
  const tagAt = (p: number): boolean =>
    p >= 0 &&
    (little ? b[p] === 0xe0 && b[p + 1] === 0x7f && b[p + 2] === 0x10 && b[p + 3] === 0x00 : b[p] === 0x7f && b[p + 1] === 0xe0 && b[p + 2] === 0x00 && b[p + 3] === 0x10);
  const start = parsed.explicitVr ? el.dataOffset - 12 : el.dataOffset - 8;
  if (!tagAt(start)) throw new FoveaException('BAD_INPUT', 'The DICOM file is malformed: the Pixel Data header is not where its value says.');
  return { start, end: Math.min(el.dataOffset + el.length, b.length) };
}

/** Where the data set (after the file meta) starts in parsed.bytes. */
function datasetStart(parsed: ParsedDicom): number {
  let end = -1;
  for (const [k, el] of Object.entries(parsed.dataSet.elements)) {
    if (k.startsWith('x0002')) end = Math.max(end, el.dataOffset + el.length);
  }
  if (end >= 0) return end;
  const b = parsed.bytes;
  const dicm = (p: number): boolean => b[p] === 0x44 && b[p + 1] === 0x49 && b[p + 2] === 0x43 && b[p + 3] === 0x4d;
  if (b.length >= 132 && dicm(128)) return 132;
  if (dicm(0)) return 4;
  return 0;
}

function countAfterPixelData(parsed: ParsedDicom): number {
  return Object.keys(parsed.dataSet.elements).filter((k) => parseInt(k.slice(1), 16) >>> 0 > 0x7fe00010).length;
}

/** The data set bytes (without pixel data) read by dcmjs, wrapped in a fresh Part 10 header. */
function readWithDcmjs(body: Uint8Array, ts: string): DcmDict {
  const header = new Uint8Array(new (dcmjs().data.DicomDict)({ '00020010': { vr: 'UI', Value: [ts] } }).write());
  const buf = new Uint8Array(header.length + body.length);
  buf.set(header, 0);
  buf.set(body, header.length);
  try {
    return dcmjs().data.DicomMessage.readFile(buf.buffer, { ignoreErrors: true, untilTag: null, includeUntilTagValue: false, noCopy: false }).dict;
  } catch (e) {
    throw new FoveaException('BAD_INPUT', `The DICOM attributes could not be read for de-identification: ${(e as Error).message}`);
  }
}

function firstString(el: DcmElement | undefined): string | undefined {
  const v = el?.Value?.[0];
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (v && typeof v === 'object' && 'Alphabetic' in v) return String((v as { Alphabetic?: unknown }).Alphabetic ?? '');
  return undefined;
}

function patientKey(dict: DcmDict): string {
  const id = firstString(dict['00100020'])?.trim();
  const issuer = firstString(dict['00100021'])?.trim() ?? '';
  if (id) return `id\u0000${id}\u0000${issuer}`;
  const name = firstString(dict['00100010'])?.trim();
  if (name) return `name\u0000${name}`;
  return `study\u0000${firstString(dict['0020000D']) ?? ''}`;
}

// ---------------------------------------------------------------------------------------------
// Processing

interface Ctx {
  options: DeidOptions;
  active: ReadonlySet<Ps315Option>;
  session: DeidSession;
  report: DeidReport;
  shiftDays: number;
  /** Identifying strings of this file (values the profile removes), for cleaning free text. */
  needles: string[];
}

const MAX_DEPTH = 64;

function isOverlayOrCurve(group: number): boolean {
  return group % 2 === 0 && ((group >= 0x6000 && group <= 0x60ff) || (group >= 0x5000 && group <= 0x50ff));
}

/**
 * Apply the profile to one data set (the top level or a sequence item). `cleanText`: inside a
 * sequence that an option asked to clean (C), free text not listed in the table is cleaned too.
 */
function processDataset(dict: DcmDict, ctx: Ctx, cleanText: boolean, depth: number): DcmDict {
  if (depth > MAX_DEPTH) throw new FoveaException('BAD_INPUT', `The DICOM file nests sequences more than ${MAX_DEPTH} levels deep.`);
  const out: DcmDict = {};
  for (const [rawTag, el] of Object.entries(dict)) {
    const tag = rawTag.toUpperCase();
    const n = parseInt(tag, 16) >>> 0;
    const group = n >>> 16;
    if (group === 0x0002 || (n & 0xffff) === 0 || group === 0xfffe) {
      ctx.report.removed++; // stray meta, group lengths (wrong once values change), item tags
      continue;
    }
    if (group % 2 === 1) {
      ctx.report.privateRemoved++;
      continue;
    }
    if (isOverlayOrCurve(group)) {
      ctx.report.overlayCurveRemoved++;
      continue;
    }
    if (n > 0x7fe00010) {
      ctx.report.removed++;
      continue;
    }
    const resolved = resolveAction(rowFor(tag), ctx.active);
    const result = applyAction(tag, el, resolved, ctx, cleanText, depth);
    if (result !== undefined) out[tag] = result;
  }
  return out;
}

function applyAction(tag: string, el: DcmElement, r: ResolvedAction, ctx: Ctx, cleanText: boolean, depth: number): DcmElement | undefined {
  const vr = el.vr;
  switch (r.action) {
    case 'X':
      ctx.report.removed++;
      return undefined;
    case 'Z':
      ctx.report.emptied++;
      return { vr, Value: [] };
    case 'D':
      ctx.report.dummied++;
      return dummy(tag, el, ctx);
    case 'U':
      if (vr === 'SQ') return { vr, Value: items(el).map((item) => processDataset(item, ctx, cleanText, depth + 1)) };
      if (vr === 'UI') return ctx.options.retainUids ? el : remapUids(el, ctx);
      ctx.report.dummied++;
      return dummy(tag, el, ctx);
    case 'C':
      return clean(tag, el, r.by, ctx, depth);
    case 'K':
      return keep(tag, el, r.row !== undefined, ctx, cleanText, depth);
  }
}

function items(el: DcmElement): DcmDict[] {
  return (el.Value ?? []).filter((v): v is DcmDict => v !== null && typeof v === 'object' && !(v instanceof ArrayBuffer) && !ArrayBuffer.isView(v));
}

function keep(tag: string, el: DcmElement, listed: boolean, ctx: Ctx, cleanText: boolean, depth: number): DcmElement {
  const vr = el.vr;
  if (vr === 'SQ') return { vr, Value: items(el).map((item) => processDataset(item, ctx, cleanText, depth + 1)) };
  if (!listed) {
    // Not in Table E.1-1: kept, with two safety nets.
    if (vr === 'UI' && !ctx.options.retainUids && !CLASS_UID_TAGS.has(tag)) {
      const values = (el.Value ?? []).map(String);
      if (values.some((u) => u !== '' && !u.startsWith(DICOM_UID_ROOT))) return remapUids(el, ctx, true);
    }
    if (cleanText && FREE_TEXT_VRS.has(vr)) return cleanTextElement(el, ctx);
  }
  ctx.report.kept++;
  return el;
}

function remapUids(el: DcmElement, ctx: Ctx, keepRegistered = false): DcmElement {
  const Value = (el.Value ?? []).map((v) => {
    const u = String(v).replace(/[\0 ]+$/u, '');
    if (u === '' || (keepRegistered && u.startsWith(DICOM_UID_ROOT))) return u;
    ctx.report.uidsRemapped++;
    return ctx.session.uid(u);
  });
  return { vr: el.vr, Value };
}

function ensureUid(out: DcmDict, tag: string, session: DeidSession, what: string): string {
  const current = firstString(out[tag]);
  if (current) return current;
  const fresh = session.uid(`fovea-missing-${what}-${randomBytes(8).toString('hex')}`);
  out[tag] = { vr: 'UI', Value: [fresh] };
  return fresh;
}

/** D: a dummy value of the element's VR, never zero-length (PS3.15 E.1.1). */
function dummy(tag: string, el: DcmElement, ctx: Ctx): DcmElement {
  const vr = el.vr;
  switch (vr) {
    case 'SQ':
      return { vr, Value: [{}] }; // one empty item: a sequence's dummy that holds nothing
    case 'PN':
      return { vr, Value: [{ Alphabetic: DUMMY_TEXT }] };
    case 'UI':
      return remapUids(el.Value && el.Value.length > 0 ? el : { vr, Value: [`fovea-dummy-${tag}`] }, ctx);
    case 'DA':
      return { vr, Value: ['19000101'] };
    case 'DT':
      return { vr, Value: ['19000101000000'] };
    case 'TM':
      return { vr, Value: ['000000'] };
    case 'AS':
      return { vr, Value: ['000D'] };
    case 'DS':
    case 'IS':
    case 'FL':
    case 'FD':
    case 'SL':
    case 'SS':
    case 'UL':
    case 'US':
      return { vr, Value: [0] };
    case 'SV':
    case 'UV':
      return { vr, Value: [BigInt(0)] };
    case 'AT':
      return { vr, Value: [0] };
    case 'OB':
    case 'OD':
    case 'OF':
    case 'OL':
    case 'OV':
    case 'OW':
    case 'UN':
      return { vr, Value: [new ArrayBuffer(8)] };
    default:
      return { vr, Value: [DUMMY_TEXT.slice(0, MAX_LEN[vr] ?? DUMMY_TEXT.length)] };
  }
}

/** C: shift dates (Retain Longitudinal Modified Dates) or clean free text (every other option). */
function clean(tag: string, el: DcmElement, by: Ps315Option, ctx: Ctx, depth: number): DcmElement | undefined {
  const vr = el.vr;
  if (by === 'retainLongitudinalModifiedDates') {
    if (vr === 'DA' || vr === 'DT') return shiftDates(el, ctx);
    if (vr === 'TM') {
      ctx.report.kept++; // whole-day shifts leave times of day as they were
      return el;
    }
  }
  if (vr === 'SQ') {
    ctx.report.cleaned++;
    return { vr, Value: items(el).map((item) => processDataset(item, ctx, true, depth + 1)) };
  }
  if (vr === 'UI') return ctx.options.retainUids ? el : remapUids(el, ctx);
  if (vr === 'PN') {
    ctx.report.dummied++;
    return dummy(tag, el, ctx);
  }
  if (TEXT_VRS.has(vr)) return cleanTextElement(el, ctx);
  if (vr === 'DA' || vr === 'DT' || vr === 'TM') {
    // A date cleaned by a non-date option: keep it only if dates are kept at all.
    if (ctx.options.retainLongitudinalDates === 'full') return el;
    if (ctx.options.retainLongitudinalDates === 'modified') return vr === 'TM' ? el : shiftDates(el, ctx);
    ctx.report.removed++;
    return undefined;
  }
  ctx.report.kept++; // numbers and codes carry no free text
  return el;
}

function cleanTextElement(el: DcmElement, ctx: Ctx): DcmElement {
  ctx.report.cleaned++;
  const Value = (el.Value ?? []).map((v) => (typeof v === 'string' ? cleanText(v, ctx.needles) : v));
  return { vr: el.vr, Value };
}

/**
 * Clean Descriptors (PS3.15 E.3.5) as far as software can: every identifying value of this file
 * (names and their components, IDs, accession numbers, addresses, institution and physician
 * names, private values: the strings the profile removes) is blanked out of the text. Text that
 * identifies someone in words found nowhere else in the file cannot be found this way.
 */
export function cleanText(text: string, needles: readonly string[]): string {
  let s = text;
  for (const n of needles) {
    if (n.length === 0) continue;
    s = s.replace(new RegExp(escapeRegExp(n), 'giu'), '');
  }
  return s.replace(/\s{2,}/gu, ' ').trim();
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');
}

/** The strings of a data set that the profile does not keep: what must not survive in cleaned text. */
function identifyingStrings(dict: DcmDict, active: ReadonlySet<Ps315Option>): string[] {
  const found = new Set<string>();
  const add = (s: string): void => {
    const t = s.replace(/[\0]/gu, '').trim();
    if (t.length >= 3) found.add(t);
  };
  const walk = (d: DcmDict, depth: number): void => {
    if (depth > MAX_DEPTH) return;
    for (const [tag, el] of Object.entries(d)) {
      if (el.vr === 'SQ') {
        for (const item of items(el)) walk(item, depth + 1);
        continue;
      }
      if (!TEXT_VRS.has(el.vr) && el.vr !== 'DA' && el.vr !== 'DT') continue;
      const group = parseInt(tag.slice(0, 4), 16);
      const row = rowFor(tag);
      const action = resolveAction(row, active).action;
      const identifying = group % 2 === 1 || tag === '00100010' || tag === '00100020' || (row !== undefined && action !== 'K' && action !== 'C');
      if (!identifying) continue;
      if ((el.vr === 'DA' || el.vr === 'DT') && active.has('retainLongitudinalFullDates')) continue;
      for (const v of el.Value ?? []) {
        if (typeof v === 'string') {
          add(v);
          if (el.vr === 'PN') for (const part of v.split(/[\^=]/u)) add(part);
        } else if (v && typeof v === 'object' && !(v instanceof ArrayBuffer)) {
          for (const part of Object.values(v as Record<string, unknown>)) {
            if (typeof part !== 'string') continue;
            add(part);
            for (const p of part.split(/[\^=]/u)) add(p);
          }
        }
      }
    }
  };
  walk(dict, 0);
  return [...found].sort((a, b) => b.length - a.length);
}

// ---------------------------------------------------------------------------------------------
// Dates

function shiftDates(el: DcmElement, ctx: Ctx): DcmElement {
  ctx.report.datesShifted++;
  const Value = (el.Value ?? []).map((v) => (typeof v === 'string' ? shiftDateString(v, el.vr, ctx.shiftDays) : v));
  return { vr: el.vr, Value };
}

/** Shift every date in a DA (also ranges and the old YYYY.MM.DD form) or DT value by whole days. */
export function shiftDateString(value: string, vr: string, days: number): string {
  if (vr === 'DA') {
    return value.replace(/(\d{4})\.?(\d{2})\.?(\d{2})/gu, (_m, y: string, mo: string, d: string) => addDays(y, mo, d, days));
  }
  // DT: YYYY[MM[DD[HH[MM[SS[.F]]]]]][&ZZXX], possibly a range "a-b"
  return value
    .split('-')
    .map((part) => {
      const m = /^(\d{4})(\d{2})?(\d{2})?(.*)$/u.exec(part);
      if (!m) return part;
      const [, y, mo, d, rest] = m as unknown as [string, string, string | undefined, string | undefined, string];
      const shifted = addDays(y, mo ?? '01', d ?? '01', days);
      return shifted.slice(0, 4 + (mo ? 2 : 0) + (d ? 2 : 0)) + rest;
    })
    .join('-');
}

function addDays(y: string, mo: string, d: string, days: number): string {
  const t = Date.UTC(Number(y), Number(mo) - 1, Number(d));
  if (!Number.isFinite(t)) return '19000101';
  const date = new Date(t + days * 86_400_000);
  const yy = date.getUTCFullYear();
  if (yy < 1 || yy > 9999) return '19000101';
  return `${String(yy).padStart(4, '0')}${String(date.getUTCMonth() + 1).padStart(2, '0')}${String(date.getUTCDate()).padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------------------------

function codeItem(value: string, meaning: string): DcmDict {
  return {
    '00080100': { vr: 'SH', Value: [value] },
    '00080102': { vr: 'SH', Value: ['DCM'] },
    '00080104': { vr: 'LO', Value: [meaning] },
  };
}
