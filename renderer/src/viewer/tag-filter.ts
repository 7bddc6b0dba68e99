/**
 * The tag browser's filter: a row stays when its tag ('0010,0010', '00100010' or
 * '(0010,0010)'), keyword, VR or value contains the query, ignoring case. A sequence stays
 * whole when it matches itself, else with only the nested rows that match. Pure.
 */
import type { DicomTagRow } from '../../../electron/contract/dicom-tags';

function matches(r: DicomTagRow, q: string): boolean {
  const tag = r.tag.toLowerCase();
  return tag.includes(q) || tag.replace(/[(),]/g, '').includes(q.replace(/[(),]/g, '')) || r.name.toLowerCase().includes(q) || r.vr.toLowerCase() === q || r.value.toLowerCase().includes(q);
}

export function filterTagRows(rows: readonly DicomTagRow[], query: string): DicomTagRow[] {
  const q = query.trim().toLowerCase();
  if (!q) return [...rows];
  const out: DicomTagRow[] = [];
  for (const r of rows) {
    if (matches(r, q)) {
      out.push(r);
      continue;
    }
    if (!r.items) continue;
    const items = r.items.map((item) => filterTagRows(item, q));
    if (items.some((i) => i.length > 0)) out.push({ ...r, items });
  }
  return out;
}

/** Rows in all, sequences' items included. */
export function countTagRows(rows: readonly DicomTagRow[]): number {
  let n = 0;
  for (const r of rows) n += 1 + (r.items ?? []).reduce((s, item) => s + countTagRows(item), 0);
  return n;
}
