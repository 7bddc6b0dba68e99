/**
 * Label classes of a dataset. Their order (position, then id) is the class
 * index of training, export and evaluation, so every reader takes it from here.
 */
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
