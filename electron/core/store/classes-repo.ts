/**
 * Label classes of a dataset. Their order (position, then id) is the class
 * index of training, export and evaluation, so every reader takes it from here.
 */
import { FoveaException } from '../../contract/result';
import type { Db } from './library-db';

export interface ClassListRow {
  id: number;
  name: string;
  color: string;
  hotkey: string | null;
  position: number;
}

/** A dataset's classes in class-index order. */
export function listClasses(db: Db, datasetId: number): ClassListRow[] {
  return db.prepare('SELECT id, name, color, hotkey, position FROM label_classes WHERE dataset_id = ? ORDER BY position, id').all(datasetId) as ClassListRow[];
}

/** Whether a dataset takes several classes per image; NOT_FOUND for a missing dataset. */
export function datasetMultiLabel(db: Db, datasetId: number): boolean {
  const r = db.prepare('SELECT multi_label FROM datasets WHERE id = ?').get(datasetId) as { multi_label: number } | undefined;
  if (!r) throw new FoveaException('NOT_FOUND', `There is no dataset with id ${datasetId}.`);
  return r.multi_label === 1;
}
