/**
 * Navigation by patient, study and series: the Browse screen's Series view (one card per
 * series, grouped by patient and study) and the viewer's series strip read the same list.
 *
 * PURE TypeScript: no node:, no 'electron'.
 */
import * as v from 'valibot';

const Id = v.pipe(v.number(), v.integer(), v.minValue(1));

/** One DICOM series as a card: who, when, what, how many slices, and a thumbnail. */
export interface SeriesCard {
  seriesId: number;
  /** The patient as stored (display-name.ts patientLabel: name, else ID). */
  patient: string;
  patientId: string;
  studyId: number;
  /** DICOM DA (YYYYMMDD) as stored, or null. */
  studyDate: string | null;
  studyDescription: string | null;
  modality: string | null;
  seriesNumber: number | null;
  description: string | null;
  /** modality, number and description as one label ("CT 3 Chest"). */
  label: string;
  /** Items (instances) in the series. */
  slices: number;
  /** Frames over all its items (a multi-frame item counts each frame). */
  frames: number;
  /** The middle slice's thumbnail blob, or null. */
  thumbSha256: string | null;
  /** The middle slice: where opening the series starts. */
  firstItemId: number;
}

export const seriesViewRequestSchemas = {
  /** A dataset's DICOM series, by patient, then study date, then series number. */
  'series.list': v.strictObject({ datasetId: Id }),
  /** Display names (display-name.ts) of some items: lists that hold only ids (evaluation) show names. */
  'items.names': v.strictObject({ itemIds: v.pipe(v.array(Id), v.maxLength(5000)) }),
};

export interface SeriesViewResponses {
  'series.list': SeriesCard[];
  /** Unknown ids are left out. */
  'items.names': { itemId: number; name: string }[];
}
