/**
 * Names of images for reports that leave the workstation (core/report): the series description
 * and instance number ("Axial 2.5mm · Im 12"), NEVER a patient name or ID, a file name or a UID.
 * DICOM items with a series only; others (photos, whose file names may carry anything) are left
 * out and the report names them by library item id. Names that would repeat (one description in
 * two series) get the item id added.
 */
import type { Db } from './library-db';

export function reportItemNames(db: Db, itemIds: readonly number[]): Map<number, string> {
  const out = new Map<number, string>();
  const stmt = db.prepare(
    `SELECT i.id, i.instance_number AS instance, s.description, COALESCE(s.modality, i.modality) AS modality, s.series_number AS seriesNumber
     FROM items i JOIN series s ON s.id = i.series_id
     WHERE i.id = ? AND i.kind = 'dicom'`,
  );
  for (const id of new Set(itemIds)) {
    const r = stmt.get(id) as { id: number; instance: number | null; description: string | null; modality: string | null; seriesNumber: number | null } | undefined;
    if (!r) continue;
    const series = r.description?.trim() || [r.modality, r.seriesNumber !== null ? `series ${r.seriesNumber}` : null].filter(Boolean).join(' ');
    if (!series) continue;
    out.set(id, r.instance !== null ? `${series} · Im ${r.instance}` : `${series} · item ${id}`);
  }
  const count = new Map<string, number>();
  for (const n of out.values()) count.set(n, (count.get(n) ?? 0) + 1);
  for (const [id, n] of out) if ((count.get(n) ?? 0) > 1) out.set(id, `${n} (item ${id})`);
  return out;
}
