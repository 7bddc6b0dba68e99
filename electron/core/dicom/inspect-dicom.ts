import type { DataSet } from 'dicom-parser';
import { DicomView, STRING_VRS } from './dicom-view';
import { lookupTag } from './dictionary-lookup';
import type { ParsedDicom } from './parse-dicom';

export interface InspectedAttribute {
  vr: string;
  /** Keyword from the data dictionary, when the tag is in it. */
  keyword?: string;
  /**
   * string / number (one value) or an array of them (several), null when
   * empty; sequences as arrays of nested records; binary data as { length }.
   */
  value: unknown;
}

export type InspectedDataSet = Record<string, InspectedAttribute>;

const NUMBER_VRS = new Set(['US', 'SS', 'UL', 'SL', 'FL', 'FD', 'SV', 'UV']);
const BINARY_VRS = new Set(['OB', 'OW', 'OD', 'OF', 'OL', 'OV', 'UN']);
const UNSPLIT_VRS = new Set(['LT', 'ST', 'UT', 'UR']);

function one<T>(values: T[]): T | T[] | null {
  if (values.length === 0) return null;
  return values.length === 1 ? (values[0] as T) : values;
}

function inspectView(view: DicomView): InspectedDataSet {
  const out: InspectedDataSet = {};
  for (const tag of view.tags()) {
    const key = tag.toString(16).toUpperCase().padStart(8, '0');
    const el = view.element(tag);
    if (el === undefined) continue;
    const vr = view.vr(tag) ?? 'UN';
    const entry = lookupTag(tag);
    let value: unknown;
    if (el.items !== undefined) {
      value = view.items(tag).map((item) => inspectView(item));
    } else if (el.encapsulatedPixelData === true) {
      value = { length: el.length, fragments: el.fragments?.length ?? 0, encapsulated: true };
    } else if (BINARY_VRS.has(vr) || tag === 0x7fe00010) {
      value = { length: el.length };
    } else if (NUMBER_VRS.has(vr)) {
      value = one(view.nums(tag));
    } else if (vr === 'AT') {
      value = one(view.attributeTags(tag));
    } else if (vr === 'IS' || vr === 'DS') {
      // Numbers where they parse; the text as written where they do not (a broken "1A" stays visible).
      const texts = view.strs(tag);
      const nums = view.nums(tag);
      value = one(texts.map((t, i) => (Number.isNaN(nums[i] ?? NaN) ? t : (nums[i] as number))));
    } else if (STRING_VRS.has(vr)) {
      value = UNSPLIT_VRS.has(vr) ? (view.str(tag) ?? null) : one(view.strs(tag));
    } else {
      value = { length: el.length };
    }
    out[key] = entry !== undefined ? { vr, keyword: entry.keyword, value } : { vr, value };
  }
  return out;
}

/**
 * Every attribute keyed 'GGGGEEEE' with its VR and decoded value, for
 * `fovea inspect FILE --json`. Nesting is bounded by the parser's depth limit.
 */
export function inspectDicom(parsed: ParsedDicom | DataSet): InspectedDataSet {
  return inspectView(parsed instanceof DicomView ? parsed : new DicomView(parsed));
}
