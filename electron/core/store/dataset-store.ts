/** Datasets: creation, listing with counts. A dataset being deleted (a job, datamgmt) is left out: it is gone to everyone. */
import type { Dataset, DatasetCounts } from '../../contract/domain';
import { FoveaException } from '../../contract/result';
import type { Db } from './library-db';

interface DatasetRow {
  id: number;
  name: string;
  description: string;
  created_at: string;
  updated_at: string;
}

const COUNTS_SQL = `
SELECT
  (SELECT count(*) FROM items WHERE dataset_id = @id) AS items,
  (SELECT count(*) FROM items WHERE dataset_id = @id AND kind = 'dicom') AS dicomItems,
  (SELECT count(*) FROM items WHERE dataset_id = @id AND kind = 'image') AS imageItems,
  (SELECT count(*) FROM patients WHERE dataset_id = @id) AS patients,
  (SELECT count(*) FROM studies s JOIN patients p ON p.id = s.patient_id WHERE p.dataset_id = @id) AS studies,
  (SELECT count(*) FROM series WHERE dataset_id = @id) AS series,
  (SELECT count(*) FROM annotations WHERE dataset_id = @id AND status = 'active') AS annotations,
  (SELECT count(*) FROM items WHERE dataset_id = @id AND status <> 'unlabeled') AS labeledItems
`;

export class DatasetStore {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  #toDataset(row: DatasetRow): Dataset {
    const counts = this.#db.prepare(COUNTS_SQL).get({ id: row.id }) as DatasetCounts;
    return {
      id: row.id,
      name: row.name,
      description: row.description,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      counts,
    };
  }

  list(): Dataset[] {
    const rows = this.#db.prepare('SELECT id, name, description, created_at, updated_at FROM datasets WHERE deleting IS NULL ORDER BY name COLLATE NOCASE').all() as DatasetRow[];
    return rows.map((r) => this.#toDataset(r));
  }

  get(id: number): Dataset {
    const row = this.#db.prepare('SELECT id, name, description, created_at, updated_at FROM datasets WHERE id = ? AND deleting IS NULL').get(id) as DatasetRow | undefined;
    if (!row) throw new FoveaException('NOT_FOUND', `There is no dataset with id ${id}.`);
    return this.#toDataset(row);
  }

  findByName(name: string): Dataset | null {
    const row = this.#db
      .prepare('SELECT id, name, description, created_at, updated_at FROM datasets WHERE name = ? COLLATE NOCASE AND deleting IS NULL')
      .get(name) as DatasetRow | undefined;
    return row ? this.#toDataset(row) : null;
  }

  create(name: string, description: string): Dataset {
    if (this.findByName(name)) {
      throw new FoveaException('CONFLICT', `A dataset named "${name}" already exists. Pick another name or import into it.`);
    }
    const now = new Date().toISOString();
    const info = this.#db
      .prepare('INSERT INTO datasets (name, description, created_at, updated_at) VALUES (?, ?, ?, ?)')
      .run(name, description, now, now);
    return this.get(Number(info.lastInsertRowid));
  }

  /**
   * Remove a dataset that holds no items (an import that created it and imported nothing, so no
   * empty dataset is left behind). Returns false, removing nothing, when it holds any item.
   */
  removeIfEmpty(id: number): boolean {
    const info = this.#db.prepare('DELETE FROM datasets WHERE id = ? AND NOT EXISTS (SELECT 1 FROM items WHERE dataset_id = ?)').run(id, id);
    return info.changes > 0;
  }
}
