/**
 * The viewer's DICOM tag browser: every attribute of an item's stored file as rows the page
 * can show (tag, VR, keyword, value as text), sequences nested as items of rows. Built in the
 * core from the same inspect service as `fovea inspect` (electron/core/dicom/inspect-dicom.ts).
 * Binary values (pixel data above all) are never sent: only their length.
 * Spread into api.ts' requestSchemas.
 *
 * PURE TypeScript: no node:, no 'electron'.
 */
import * as v from 'valibot';

/** One attribute as the tag browser shows it. */
export interface DicomTagRow {
  /** '(GGGG,EEEE)', upper-case hex. */
  tag: string;
  vr: string;
  /** The data dictionary's keyword ('PatientName'), '' for private or unknown tags. */
  name: string;
  /**
   * The value as text: several values joined by '\', numbers as parsed, binary data as
   * '(N bytes)' (never its bytes), a sequence as 'N item(s)'. At most DICOM_TAG_VALUE_MAX characters.
   */
  value: string;
  /** A sequence's items, each its own rows; absent for other VRs. */
  items?: DicomTagRow[][];
}

export interface DicomTags {
  itemId: number;
  sourceName: string;
  rows: DicomTagRow[];
}

/** Longest value text sent (a long LT/UT is cut with '…'). */
export const DICOM_TAG_VALUE_MAX = 1024;

const Id = v.pipe(v.number(), v.integer(), v.minValue(1));

export const dicomTagRequestSchemas = {
  /** Every attribute of a DICOM item's stored file (UNSUPPORTED for a plain image). */
  'dicom.tags': v.strictObject({ itemId: Id }),
} as const;

export interface DicomTagResponses {
  'dicom.tags': DicomTags;
}
