/**
 * Measurements that are kept (issue 19): length, angle and ellipse / rectangle / freehand regions
 * drawn on one image (item, frame), saved in the library, listed, exported and audited like labels.
 * Spread into api.ts' requestSchemas; the core's side is electron/core/measure/.
 *
 * Geometry is in image pixel coordinates as the viewer uses them: x to the right along columns,
 * y down along rows, pixel (column c, row r) covering [c, c+1) x [r, r+1), its centre at
 * (c + 0.5, r + 0.5).
 *   length     points [a, b]
 *   angle      points [a, vertex, b]: the angle at the vertex between the two arms
 *   rectangle  points [corner, opposite corner] (axis-aligned)
 *   ellipse    points [corner, opposite corner] of its axis-aligned bounding box
 *   freehand   points: a closed polygon of 3 or more points
 *
 * Values are computed by the CORE from the stored pixel values with the modality LUT applied
 * (HU for CT) through the one DICOM decoder; the renderer never sends a value, only points.
 * Pixel inclusion: a pixel belongs to a region when its CENTRE lies inside the shape (the
 * boundary counts as inside for rectangle and ellipse; the freehand polygon uses the even-odd
 * rule with half-open edges, so a centre exactly on an edge may fall either way).
 * SD is the SAMPLE standard deviation (n - 1 in the denominator); null under 2 pixels.
 * Area is the drawn shape's geometric area (mm² with a pixel spacing, else px²), not the
 * pixel count times a pixel's area; the pixel count is given too.
 *
 * PURE TypeScript: no node:, no 'electron'.
 */
import * as v from 'valibot';
import { MEASUREMENT_EXPORT_FORMATS } from './export-formats';

export const MEASUREMENT_KINDS = ['length', 'angle', 'ellipse', 'rectangle', 'freehand'] as const;
export type MeasurementKind = (typeof MEASUREMENT_KINDS)[number];

export const MEASUREMENT_LIMITS = {
  maxPoints: 10_000,
  maxCoordinate: 1_000_000,
  maxNote: 500,
} as const;

const Id = v.pipe(v.number(), v.integer(), v.minValue(1));
const Frame = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1_000_000));
const Coord = v.pipe(
  v.number(),
  v.finite('A coordinate must be a finite number.'),
  v.minValue(-MEASUREMENT_LIMITS.maxCoordinate, 'A coordinate is far outside any image.'),
  v.maxValue(MEASUREMENT_LIMITS.maxCoordinate, 'A coordinate is far outside any image.'),
);
const Points = v.pipe(
  v.array(v.tuple([Coord, Coord])),
  v.minLength(2, 'A measurement needs at least 2 points.'),
  v.maxLength(MEASUREMENT_LIMITS.maxPoints, `A measurement has at most ${MEASUREMENT_LIMITS.maxPoints} points.`),
);
const Note = v.pipe(v.string(), v.maxLength(MEASUREMENT_LIMITS.maxNote, `A note is at most ${MEASUREMENT_LIMITS.maxNote} characters.`));

/** How many points each kind takes: exact count, or the least for freehand. */
export const MEASUREMENT_POINTS: Readonly<Record<MeasurementKind, { min: number; max: number }>> = {
  length: { min: 2, max: 2 },
  angle: { min: 3, max: 3 },
  rectangle: { min: 2, max: 2 },
  ellipse: { min: 2, max: 2 },
  freehand: { min: 3, max: MEASUREMENT_LIMITS.maxPoints },
};

/** Why `points` cannot be a measurement of `kind`, or null. Shared by the schema and the core. */
export function measurementShapeProblem(kind: MeasurementKind, points: readonly (readonly [number, number])[]): string | null {
  const n = MEASUREMENT_POINTS[kind];
  if (points.length < n.min || points.length > n.max) {
    return n.min === n.max ? `A ${kind} measurement takes exactly ${n.min} points.` : `A ${kind} measurement takes at least ${n.min} points.`;
  }
  return null;
}

export const measureRequestSchemas = {
  /** The measurements of a dataset, a series, or one image (item; with frame: that frame only), oldest first. */
  'measurements.list': v.pipe(
    v.strictObject({ datasetId: v.optional(Id), seriesId: v.optional(Id), itemId: v.optional(Id), frame: v.optional(Frame) }),
    v.check((q) => [q.datasetId, q.seriesId, q.itemId].filter((x) => x !== undefined).length === 1, 'Name exactly one of datasetId, seriesId and itemId.'),
  ),
  /** Keep a measurement on an image; the core computes its values. Audited. */
  'measurements.create': v.pipe(
    v.strictObject({ itemId: Id, frame: v.optional(Frame, 0), kind: v.picklist(MEASUREMENT_KINDS), points: Points, note: v.optional(Note, '') }),
    v.check((p) => measurementShapeProblem(p.kind, p.points) === null, 'The points do not fit the kind of measurement.'),
  ),
  /** Move a measurement's points (its values are computed again) or change its note. Audited. */
  'measurements.update': v.strictObject({ id: Id, points: v.optional(Points), note: v.optional(Note) }),
  /** Delete a measurement (kept in the audit log). */
  'measurements.delete': v.strictObject({ id: Id }),
  /**
   * Write a dataset's measurements as measurements.csv or measurements.json (with units and each
   * image's display info) into an absolute folder, with a SHA-256 manifest. Audited; FORBIDDEN when
   * the IT policy's allowedExportFormats leaves out 'measurements'; an existing file is a CONFLICT
   * unless `overwrite`.
   */
  'measurements.export': v.strictObject({
    datasetId: Id,
    format: v.picklist(MEASUREMENT_EXPORT_FORMATS),
    outDir: v.pipe(v.string(), v.minLength(1, 'Choose a folder to export into.'), v.maxLength(4096)),
    overwrite: v.optional(v.boolean()),
  }),
} as const;

/** Requests that write (refused on a read-only library). */
export const MEASURE_WRITES = ['measurements.create', 'measurements.update', 'measurements.delete', 'measurements.export'] as const;

/** What the core computed for a measurement. Fields that do not apply to the kind are null. */
export interface MeasurementValues {
  /** Unit of lengths and areas: mm where the image has a pixel spacing, else px. */
  unit: 'mm' | 'px';
  /**
   * Where the spacing came from: PixelSpacing (in the patient), ImagerPixelSpacing (at the
   * detector: projection images, magnification not corrected), or null (px).
   */
  spacingSource: 'PixelSpacing' | 'ImagerPixelSpacing' | null;
  /** length: the distance; regions: the perimeter is not given (null). */
  length: number | null;
  /** angle: degrees in 0..180, measured in physical space (pixel spacing applied). */
  angle: number | null;
  /** Regions: the shape's geometric area in unit² (mm² or px²). */
  area: number | null;
  /** Regions: pixels whose centre lies inside. */
  pixels: number | null;
  /** Regions on greyscale images: statistics of the modality values (HU for CT). */
  mean: number | null;
  /** Sample standard deviation (n - 1); null under 2 pixels. */
  sd: number | null;
  min: number | null;
  max: number | null;
  /** Unit of mean/sd/min/max: 'HU' for CT, the Rescale Type, or null (stored values). */
  valueUnit: string | null;
}

export interface Measurement {
  id: number;
  datasetId: number;
  itemId: number;
  frame: number;
  /** The series of the image, or null (a plain image). */
  seriesId: number | null;
  kind: MeasurementKind;
  points: [number, number][];
  note: string;
  values: MeasurementValues;
  author: string;
  createdAt: string;
  updatedAt: string;
  /** How the image is named on screen (no patient data): file name, instance number. */
  item: { sourceName: string; instanceNumber: number | null; modality: string | null };
}

export interface MeasureResponses {
  'measurements.list': Measurement[];
  'measurements.create': Measurement;
  'measurements.update': Measurement;
  'measurements.delete': { id: number; deleted: true };
  'measurements.export': MeasurementExportResult;
}

/** What 'measurements.export' wrote. */
export interface MeasurementExportResult {
  datasetId: number;
  format: 'csv' | 'json';
  /** The export folder (real path), the file written and the manifest. */
  root: string;
  file: string;
  manifest: string;
  measurements: number;
}
