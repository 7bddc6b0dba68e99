/** The Series view's cards: a dataset's DICOM series with patient, study, slice count and a thumbnail. */
import { patientLabel, seriesLabel } from '../../contract/display-name';
import type { SeriesCard } from '../../contract/series-view';
import type { Db } from './library-db';

interface CardRow {
  seriesId: number;
  patientName: string | null;
  patientId: string;
  studyId: number;
  studyDate: string | null;
  studyDescription: string | null;
  modality: string | null;
  seriesNumber: number | null;
  description: string | null;
  slices: number;
  frames: number;
}

export function listSeriesCards(db: Db, datasetId: number): SeriesCard[] {
  const rows = db
    .prepare(
      `SELECT s.id AS seriesId, p.patient_name AS patientName, p.patient_key AS patientId, st.id AS studyId,
              st.study_date AS studyDate, st.description AS studyDescription, s.modality, s.series_number AS seriesNumber,
              s.description, count(i.id) AS slices, coalesce(sum(max(i.frames, 1)), 0) AS frames
       FROM series s
       JOIN studies st ON st.id = s.study_id
       JOIN patients p ON p.id = st.patient_id
       JOIN items i ON i.series_id = s.id
       WHERE s.dataset_id = ?
       GROUP BY s.id
       ORDER BY coalesce(nullif(p.patient_name, ''), p.patient_key) COLLATE NOCASE, p.id, st.study_date, st.id,
                s.series_number IS NULL, s.series_number, s.id`,
    )
    .all(datasetId) as CardRow[];
  // The middle slice in display order: the thumbnail and where the viewer opens.
  const middle = db.prepare(
    `SELECT id, thumb_sha256 AS thumb FROM items WHERE series_id = ?
     ORDER BY instance_number IS NULL, instance_number, slice_position IS NULL, slice_position, id LIMIT 1 OFFSET ?`,
  );
  return rows.map((r) => {
    const mid = middle.get(r.seriesId, Math.floor((r.slices - 1) / 2)) as { id: number; thumb: string | null };
    return {
      seriesId: r.seriesId,
      patient: patientLabel(r),
      patientId: r.patientId,
      studyId: r.studyId,
      studyDate: r.studyDate,
      studyDescription: r.studyDescription,
      modality: r.modality,
      seriesNumber: r.seriesNumber,
      description: r.description,
      label: seriesLabel({ modality: r.modality, seriesNumber: r.seriesNumber, seriesDescription: r.description }),
      slices: r.slices,
      frames: r.frames,
      thumbSha256: mid.thumb,
      firstItemId: mid.id,
    };
  });
}
