/**
 * Display names of a dataset's items (contract/display-name.ts), computed over the whole
 * dataset because a photo's name is the path tail no other item shares. Held per dataset and
 * recomputed when the dataset's items change (count, largest id or id sum differ): one query
 * of a few columns per item, then the pure rule; asking again is a map lookup.
 */
import { itemDisplayNames, type ItemNameFacts } from '../../contract/display-name';
import type { Db } from './library-db';

interface Cached {
  key: string;
  names: Map<number, string>;
}

const byDb = new WeakMap<Db, Map<number, Cached>>();

function datasetKey(db: Db, datasetId: number): string {
  const r = db.prepare('SELECT count(*) AS n, max(id) AS hi, sum(id) AS s FROM items WHERE dataset_id = ?').get(datasetId) as { n: number; hi: number | null; s: number | null };
  return `${r.n}:${r.hi ?? 0}:${r.s ?? 0}`;
}

/** Every item of the dataset with its display name. */
export function datasetItemNames(db: Db, datasetId: number): Map<number, string> {
  let perDb = byDb.get(db);
  if (!perDb) byDb.set(db, (perDb = new Map()));
  const key = datasetKey(db, datasetId);
  const hit = perDb.get(datasetId);
  if (hit && hit.key === key) return hit.names;
  const facts = db
    .prepare(
      `SELECT i.id, i.kind, i.source_name AS sourceName, p.patient_name AS patientName, p.patient_key AS patientId,
              COALESCE(s.modality, i.modality) AS modality, s.series_number AS seriesNumber, s.description AS seriesDescription,
              i.instance_number AS instanceNumber, st.description AS studyDescription
       FROM items i
       LEFT JOIN series s ON s.id = i.series_id
       LEFT JOIN studies st ON st.id = s.study_id
       LEFT JOIN patients p ON p.id = st.patient_id
       WHERE i.dataset_id = ? ORDER BY i.id`,
    )
    .all(datasetId) as ItemNameFacts[];
  const list = itemDisplayNames(facts);
  const names = new Map<number, string>();
  facts.forEach((f, k) => names.set(f.id, list[k] ?? f.sourceName));
  perDb.set(datasetId, { key, names });
  return names;
}

/** Display names of some items, whichever datasets they are in (unknown ids are left out). */
export function itemNamesById(db: Db, itemIds: readonly number[]): Map<number, string> {
  const out = new Map<number, string>();
  if (itemIds.length === 0) return out;
  const datasets = new Set<number>();
  const stmt = db.prepare('SELECT dataset_id FROM items WHERE id = ?').pluck();
  for (const id of new Set(itemIds)) {
    const d = stmt.get(id) as number | undefined;
    if (d !== undefined) datasets.add(d);
  }
  for (const d of datasets) {
    const names = datasetItemNames(db, d);
    for (const id of itemIds) {
      const n = names.get(id);
      if (n !== undefined) out.set(id, n);
    }
  }
  return out;
}

/** A list of items (held back, failed, ...) with each one's display name added. */
export function withItemNames<T extends { itemId: number }>(db: Db, list: readonly T[]): (T & { name: string })[] {
  const names = itemNamesById(db, list.map((h) => h.itemId));
  return list.map((h) => ({ ...h, name: names.get(h.itemId) ?? `item ${h.itemId}` }));
}
