/**
 * Items (imported files) and the DICOM hierarchy they hang from:
 * dataset > patient > study > series > item (instance) > frames.
 * Plain images are items without a series.
 */
import type Database from 'better-sqlite3';
import type { Db } from './library-db';

export interface DicomHierarchy {
  patientKey: string;
  patientName: string | null;
  birthDate: string | null;
  sex: string | null;
  studyUid: string;
  studyDate: string | null;
  studyTime: string | null;
  studyDescription: string | null;
  accessionNumber: string | null;
  seriesUid: string;
  modality: string | null;
  bodyPart: string | null;
  seriesDescription: string | null;
  seriesNumber: number | null;
}

export interface NewItem {
  datasetId: number;
  kind: 'dicom' | 'image';
  blobSha256: string;
  sourceSha256: string;
  thumbSha256: string | null;
  seriesId: number | null;
  sopInstanceUid: string | null;
  sopClassUid: string | null;
  sourceName: string;
  modality: string | null;
  rows: number;
  columns: number;
  frames: number;
  samplesPerPixel: number;
  photometric: string | null;
  transferSyntax: string | null;
  pixelSpacingRow: number | null;
  pixelSpacingCol: number | null;
  instanceNumber: number | null;
  slicePosition: number | null;
  /** Per-frame slice positions of multi-frame instances (index = frame). */
  framePositions?: (number | null)[];
}

export class ItemStore {
  readonly #db: Db;
  /** Statements compiled once per store: an import runs these for every file (compiling them was ~0.3 ms a file). */
  readonly #statements = new Map<string, Database.Statement>();
  constructor(db: Db) {
    this.#db = db;
  }

  #prepare(sql: string): Database.Statement {
    let stmt = this.#statements.get(sql);
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  /** The item in this dataset made from a file with this hash, if any. */
  findBySource(datasetId: number, sourceSha256: string): number | null {
    const row = this.#prepare('SELECT id FROM items WHERE dataset_id = ? AND source_sha256 = ?').get(datasetId, sourceSha256) as { id: number } | undefined;
    return row?.id ?? null;
  }

  /** The content hashes of a dataset's items (the import workers' "already there?" filter). */
  sourceHashes(datasetId: number): string[] {
    return this.#db.prepare('SELECT source_sha256 FROM items WHERE dataset_id = ?').pluck().all(datasetId) as string[];
  }

  findBySopInstance(datasetId: number, sopInstanceUid: string): number | null {
    const row = this.#prepare('SELECT id FROM items WHERE dataset_id = ? AND sop_instance_uid = ?').get(datasetId, sopInstanceUid) as { id: number } | undefined;
    return row?.id ?? null;
  }

  /** Find or create patient, study and series; returns the series id. */
  upsertSeries(datasetId: number, h: DicomHierarchy): number {
    const patient = this
      .#prepare(
        `INSERT INTO patients (dataset_id, patient_key, patient_name, birth_date, sex) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (dataset_id, patient_key) DO UPDATE SET
           patient_name = coalesce(patients.patient_name, excluded.patient_name),
           birth_date = coalesce(patients.birth_date, excluded.birth_date),
           sex = coalesce(patients.sex, excluded.sex)
         RETURNING id`,
      )
      .get(datasetId, h.patientKey, h.patientName, h.birthDate, h.sex) as { id: number };
    const study = this
      .#prepare(
        `INSERT INTO studies (patient_id, study_uid, study_date, study_time, description, accession_number) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (patient_id, study_uid) DO UPDATE SET
           study_date = coalesce(studies.study_date, excluded.study_date),
           description = coalesce(studies.description, excluded.description)
         RETURNING id`,
      )
      .get(patient.id, h.studyUid, h.studyDate, h.studyTime, h.studyDescription, h.accessionNumber) as { id: number };
    const series = this
      .#prepare(
        `INSERT INTO series (dataset_id, study_id, series_uid, modality, body_part, description, series_number) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (study_id, series_uid) DO UPDATE SET
           modality = coalesce(series.modality, excluded.modality),
           body_part = coalesce(series.body_part, excluded.body_part),
           description = coalesce(series.description, excluded.description)
         RETURNING id`,
      )
      .get(datasetId, study.id, h.seriesUid, h.modality, h.bodyPart, h.seriesDescription, h.seriesNumber) as { id: number };
    return series.id;
  }

  insert(item: NewItem): number {
    const info = this
      .#prepare(
        `INSERT INTO items (dataset_id, kind, blob_sha256, source_sha256, thumb_sha256, series_id, sop_instance_uid, sop_class_uid,
           source_name, modality, rows, columns, frames, samples_per_pixel, photometric, transfer_syntax,
           pixel_spacing_row, pixel_spacing_col, instance_number, slice_position, imported_at)
         VALUES (@datasetId, @kind, @blobSha256, @sourceSha256, @thumbSha256, @seriesId, @sopInstanceUid, @sopClassUid,
           @sourceName, @modality, @rows, @columns, @frames, @samplesPerPixel, @photometric, @transferSyntax,
           @pixelSpacingRow, @pixelSpacingCol, @instanceNumber, @slicePosition, @importedAt)`,
      )
      .run({ ...withoutFramePositions(item), importedAt: new Date().toISOString() });
    const id = Number(info.lastInsertRowid);
    if (item.frames > 1) {
      const stmt = this.#prepare('INSERT INTO frames (item_id, frame_index, slice_position) VALUES (?, ?, ?)');
      for (let f = 0; f < item.frames; f++) stmt.run(id, f, item.framePositions?.[f] ?? null);
    }
    return id;
  }
}

function withoutFramePositions(item: NewItem): Omit<NewItem, 'framePositions'> {
  const { framePositions: _unused, ...rest } = item;
  return rest;
}
