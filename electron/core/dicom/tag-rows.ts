/**
 * `fovea inspect`'s attributes (inspect-dicom.ts) as the viewer's tag browser rows: the same
 * reading of the file, turned into text the page shows as is. Binary values stay a length
 * (pixel data is never sent to the page), long texts are cut, sequences keep their nesting.
 */
import { DICOM_TAG_VALUE_MAX, type DicomTagRow } from '../../contract/dicom-tags';
import type { InspectedDataSet } from './inspect-dicom';

function isRecordList(value: unknown): value is InspectedDataSet[] {
  return Array.isArray(value) && value.every((x) => x !== null && typeof x === 'object' && !Array.isArray(x));
}

function cut(text: string): string {
  return text.length > DICOM_TAG_VALUE_MAX ? `${text.slice(0, DICOM_TAG_VALUE_MAX - 1)}…` : text;
}

function valueText(tag: string, vr: string, value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string' || typeof value === 'number') return cut(String(value));
  if (Array.isArray(value)) return cut(value.map((x) => (typeof x === 'string' || typeof x === 'number' ? String(x) : JSON.stringify(x))).join('\\'));
  if (typeof value === 'object' && 'length' in value) {
    const b = value as { length: number; fragments?: number; encapsulated?: boolean };
    const what = tag === '7FE00010' ? 'pixel data' : vr;
    return b.encapsulated ? `(${what}, ${b.length < 0 ? 'undefined length' : `${b.length} bytes`}, ${b.fragments ?? 0} fragment(s))` : `(${what}, ${b.length} bytes)`;
  }
  return cut(JSON.stringify(value));
}

/** Rows in file order; a sequence's value says how many items it has and `items` holds them. */
export function toTagRows(attrs: InspectedDataSet): DicomTagRow[] {
  return Object.entries(attrs).map(([key, a]) => {
    const tag = `(${key.slice(0, 4)},${key.slice(4)})`;
    const name = a.keyword ?? '';
    if (a.vr === 'SQ' || (isRecordList(a.value) && a.value.length > 0)) {
      const list = isRecordList(a.value) ? a.value : [];
      return { tag, vr: a.vr, name, value: `${list.length} item${list.length === 1 ? '' : 's'}`, items: list.map((item) => toTagRows(item)) };
    }
    return { tag, vr: a.vr, name, value: valueText(key, a.vr, a.value) };
  });
}
