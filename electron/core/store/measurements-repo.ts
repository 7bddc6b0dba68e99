/**
 * The measurements table (migration 5): kept measurements with the values the core computed.
 * Rows come back with the image's display info (file name, instance number, modality: no
 * patient data) so lists and exports need no second query.
 */
import type { Measurement, MeasurementKind, MeasurementValues } from '../../contract/measure';
import type { Db } from './library-db';

interface MeasurementRow {
  id: number;
  dataset_id: number;
  item_id: number;
  frame_index: number;
  series_id: number | null;
  kind: MeasurementKind;
  points: string;
  note: string;
  vals: string;
  author: string;
  created_at: string;
  updated_at: string;
  source_name: string;
  instance_number: number | null;
  modality: string | null;
}

const SELECT = `SELECT m.id, m.dataset_id, m.item_id, m.frame_index, i.series_id, m.kind, m.points, m.note, m.vals, m.author, m.created_at, m.updated_at,
  i.source_name, i.instance_number, i.modality
  FROM measurements m JOIN items i ON i.id = m.item_id`;

function toMeasurement(r: MeasurementRow): Measurement {
  return {
    id: r.id,
    datasetId: r.dataset_id,
    itemId: r.item_id,
    frame: r.frame_index,
    seriesId: r.series_id,
    kind: r.kind,
    points: JSON.parse(r.points) as [number, number][],
    note: r.note,
    values: JSON.parse(r.vals) as MeasurementValues,
    author: r.author,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    item: { sourceName: r.source_name, instanceNumber: r.instance_number, modality: r.modality },
  };
}

export interface NewMeasurement {
  datasetId: number;
  itemId: number;
  frame: number;
  kind: MeasurementKind;
  points: readonly (readonly [number, number])[];
  note: string;
  values: MeasurementValues;
  author: string;
}

export class MeasurementsRepo {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  get(id: number): Measurement | null {
    const r = this.#db.prepare(`${SELECT} WHERE m.id = ?`).get(id) as MeasurementRow | undefined;
    return r ? toMeasurement(r) : null;
  }

  listForDataset(datasetId: number): Measurement[] {
    return (this.#db.prepare(`${SELECT} WHERE m.dataset_id = ? ORDER BY m.id`).all(datasetId) as MeasurementRow[]).map(toMeasurement);
  }

  listForSeries(seriesId: number): Measurement[] {
    return (this.#db.prepare(`${SELECT} WHERE i.series_id = ? ORDER BY m.id`).all(seriesId) as MeasurementRow[]).map(toMeasurement);
  }

  listForItem(itemId: number, frame?: number): Measurement[] {
    const rows = frame === undefined
      ? this.#db.prepare(`${SELECT} WHERE m.item_id = ? ORDER BY m.id`).all(itemId)
      : this.#db.prepare(`${SELECT} WHERE m.item_id = ? AND m.frame_index = ? ORDER BY m.id`).all(itemId, frame);
    return (rows as MeasurementRow[]).map(toMeasurement);
  }

  create(m: NewMeasurement): number {
    const at = new Date().toISOString();
    const r = this.#db
      .prepare('INSERT INTO measurements (dataset_id, item_id, frame_index, kind, points, note, vals, author, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(m.datasetId, m.itemId, m.frame, m.kind, JSON.stringify(m.points), m.note, JSON.stringify(m.values), m.author, at, at);
    return Number(r.lastInsertRowid);
  }

  update(id: number, change: { points: readonly (readonly [number, number])[]; note: string; values: MeasurementValues }): void {
    this.#db
      .prepare('UPDATE measurements SET points = ?, note = ?, vals = ?, updated_at = ? WHERE id = ?')
      .run(JSON.stringify(change.points), change.note, JSON.stringify(change.values), new Date().toISOString(), id);
  }

  delete(id: number): void {
    this.#db.prepare('DELETE FROM measurements WHERE id = ?').run(id);
  }
}

/** The dataset and frame count of an item, for placing a measurement (null: no such item). */
export function measuredItem(db: Db, itemId: number): { datasetId: number; frames: number } | null {
  const r = db.prepare('SELECT dataset_id AS datasetId, frames FROM items WHERE id = ?').get(itemId) as { datasetId: number; frames: number } | undefined;
  return r ?? null;
}
