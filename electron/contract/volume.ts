/**
 * Volume tools: multi-planar views of a series reconstructed in the core, and the segment
 * editor (labels as a volume per series, edited in any plane, effects with preview, apply and
 * undo). Spread into api.ts' requestSchemas; the core's side is electron/core/volume/.
 *
 * Coordinates: a volume has a DISPLAY grid (columns i, rows j, slices k; regular and orthogonal)
 * and each view cuts it along one axis: VolumeViewSpec says which, and how the picture is
 * flipped so that it shows the radiological way. Segments are the dataset's label classes; their
 * voxels are the masks stored on the series' images (annotation rows), so exports are unchanged.
 *
 * PURE TypeScript: no node:, no 'electron'.
 */
import * as v from 'valibot';
import { RleSchema } from './annotate';

export const VOLUME_PLANES = ['axial', 'coronal', 'sagittal'] as const;
export type VolumePlane = (typeof VOLUME_PLANES)[number];

export const LOGICAL_OPERATIONS = ['copy', 'union', 'intersect', 'subtract', 'invert', 'clear'] as const;
export type LogicalOperation = (typeof LOGICAL_OPERATIONS)[number];

export const ISLAND_MODES = ['keep-largest', 'remove-small', 'keep-selected'] as const;
export const SMOOTHING_METHODS = ['median', 'open', 'close'] as const;

/** Threshold presets (HU): what the segment editor offers. */
export const THRESHOLD_PRESETS: readonly { id: string; label: string; min: number; max: number }[] = [
  { id: 'bone', label: 'Bone', min: 226, max: 3071 },
  { id: 'soft-tissue', label: 'Soft tissue', min: -100, max: 200 },
  { id: 'lung', label: 'Lung', min: -1000, max: -400 },
];

export const VOLUME_LIMITS = {
  /** Largest kernel, margin or shell, in mm. */
  maxMm: 100,
  maxMinVoxels: 1_000_000_000,
} as const;

const Id = v.pipe(v.number(), v.integer(), v.minValue(1));
const Plane = v.picklist(VOLUME_PLANES);
const Index = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(100_000));
const Hu = v.pipe(v.number(), v.finite(), v.minValue(-1e7), v.maxValue(1e7));
const Mm = v.pipe(v.number(), v.finite(), v.gtValue(0, 'A size in mm must be above 0.'), v.maxValue(VOLUME_LIMITS.maxMm, `At most ${VOLUME_LIMITS.maxMm} mm.`));
const Range = v.pipe(
  v.strictObject({ min: Hu, max: Hu }),
  v.check((r) => r.min <= r.max, 'A range needs min <= max.'),
);
const Voxel = v.tuple([Index, Index, Index]);

/** An effect of the segment editor (preview, then apply). */
export const VolumeEffectSchema = v.variant('effect', [
  /** The segment becomes exactly the voxels with min <= HU <= max. */
  v.strictObject({ effect: v.literal('threshold'), classId: Id, range: Range }),
  /** Connected components (6-connected: voxels sharing a face). keep-selected keeps the one at `voxel` (display grid). */
  v.strictObject({
    effect: v.literal('islands'),
    classId: Id,
    mode: v.picklist(ISLAND_MODES),
    minVoxels: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(VOLUME_LIMITS.maxMinVoxels))),
    voxel: v.optional(Voxel),
  }),
  /** Seeded region competition between two or more segments (geodesic intensity distance, see grow-from-seeds.ts). */
  v.strictObject({ effect: v.literal('grow'), classIds: v.pipe(v.array(Id), v.minLength(2, 'Growing needs seeds of at least two segments.'), v.maxLength(64)) }),
  /** median: majority in a box of kernelMm; open/close: morphological opening/closing with a ball of diameter kernelMm. */
  v.strictObject({ effect: v.literal('smooth'), classId: Id, method: v.picklist(SMOOTHING_METHODS), kernelMm: Mm }),
  /** Grow (mm > 0) or shrink (mm < 0) by a Euclidean distance. */
  v.strictObject({
    effect: v.literal('margin'),
    classId: Id,
    mm: v.pipe(v.number(), v.finite(), v.check((x) => x !== 0 && Math.abs(x) <= VOLUME_LIMITS.maxMm, `A margin is non-zero and at most ${VOLUME_LIMITS.maxMm} mm.`)),
  }),
  /** Keep only a shell of thicknessMm inside the segment's surface. */
  v.strictObject({ effect: v.literal('hollow'), classId: Id, thicknessMm: Mm }),
  /** Between segments: classId is changed, modifierClassId is read (not needed for invert and clear). */
  v.pipe(
    v.strictObject({ effect: v.literal('logical'), classId: Id, operation: v.picklist(LOGICAL_OPERATIONS), modifierClassId: v.optional(Id) }),
    v.check((e) => e.operation === 'invert' || e.operation === 'clear' || e.modifierClassId !== undefined, 'This operation needs a second segment (modifierClassId).'),
  ),
  /** Fill the empty slices between labelled ones (morphological contour interpolation). */
  v.strictObject({ effect: v.literal('fill-between'), classId: Id }),
]);
export type VolumeEffect = v.InferOutput<typeof VolumeEffectSchema>;

export const volumeRequestSchemas = {
  /**
   * Load a series as a volume in the core (decoded once; 'volume.progress' events while loading)
   * and describe its grid, views, values and segments. Refused (UNSUPPORTED) with the reason when
   * the series is not one volume (no geometry, mixed orientations, too few slices, huge gaps);
   * uneven spacing and gantry tilt are resampled (the answer says so and how).
   */
  'volume.open': v.strictObject({ seriesId: Id }),
  /** Release the volume (memory); drops its undo history and any preview. */
  'volume.close': v.strictObject({ seriesId: Id }),
  /** One plane of a view: the stored values (int16) or, where resampled, float32, with its geometry. */
  'volume.plane': v.strictObject({ seriesId: Id, plane: Plane, index: Index }),
  /** The segments on one plane of a view (and the pending preview's changes there). */
  'volume.labels': v.strictObject({ seriesId: Id, plane: Plane, index: Index }),
  /**
   * A brush (or eraser) stroke drawn on one plane of a view: `mask` (COCO RLE of the view's
   * width x height) marks the plane pixels painted. With `range`, only voxels whose value lies in
   * it are painted. Saved at once (one transaction), undoable.
   */
  'volume.paint': v.strictObject({ seriesId: Id, classId: Id, plane: Plane, index: Index, mask: RleSchema, erase: v.optional(v.boolean()), range: v.optional(Range) }),
  /** Compute an effect without saving it: the views show it until apply or cancel. */
  'volume.preview': v.strictObject({ seriesId: Id, effect: VolumeEffectSchema }),
  /** Save the pending preview (one transaction, undoable). */
  'volume.apply': v.strictObject({ seriesId: Id }),
  /** Drop the pending preview. */
  'volume.cancel': v.strictObject({ seriesId: Id }),
  /** Undo / redo the last edit of this series' volume (inverse deltas, saved at once). */
  'volume.undo': v.strictObject({ seriesId: Id }),
  'volume.redo': v.strictObject({ seriesId: Id }),
  /** Per-segment statistics: voxels, volume in mL, mean/min/max value. */
  'volume.stats': v.strictObject({ seriesId: Id }),
} as const;

/** How one view cuts the display grid. */
export interface VolumeViewSpec {
  plane: VolumePlane;
  /** Display-grid axis (0 columns, 1 rows, 2 slices) the view scrolls along. */
  normalAxis: 0 | 1 | 2;
  /** Planes along that axis. */
  count: number;
  /** The grid axis that runs across the picture (left to right) and down it, and whether reversed. */
  horizontal: { axis: 0 | 1 | 2; flip: boolean };
  vertical: { axis: 0 | 1 | 2; flip: boolean };
  width: number;
  height: number;
  /** [between rows, between columns] in mm (DICOM PixelSpacing order). */
  pixelSpacing: [number, number];
  /** LPS unit vectors of the picture's +x (to the right) and +y (down). */
  rowDirection: [number, number, number];
  columnDirection: [number, number, number];
  /** Orientation letters at the picture's edges (A/P, R/L, S/I; several for oblique). */
  labels: { left: string; right: string; top: string; bottom: string };
}

export interface VolumeSegment {
  classId: number;
  name: string;
  color: string;
  /** Voxels labelled now. */
  voxels: number;
}

export interface VolumeHistoryState {
  canUndo: boolean;
  canRedo: boolean;
  undoLabel: string | null;
  redoLabel: string | null;
}

export interface VolumeInfo {
  seriesId: number;
  datasetId: number;
  /** Bumped whenever the core loads the volume again: part of the page's image cache keys. */
  generation: number;
  modality: string | null;
  description: string | null;
  /** Display grid [columns, rows, slices] and voxel size in mm. */
  dims: [number, number, number];
  spacing: [number, number, number];
  /** LPS position of display voxel (0,0,0) and the unit vectors of the three grid axes. */
  origin: [number, number, number];
  axes: [[number, number, number], [number, number, number], [number, number, number]];
  acquiredSlices: number;
  /** 'int16': the stored values; 'float32': modality values (rescale differed per slice, or values beyond int16). */
  valueType: 'int16' | 'float32';
  /** What the values are: 'stored' (modality value = value * slope + intercept) or 'modality' (slope 1, intercept 0). */
  values: 'stored' | 'modality';
  slope: number;
  intercept: number;
  /** 'HU' for CT, else the rescale type or null. */
  units: string | null;
  min: number;
  max: number;
  /** MONOCHROME1: low values are shown bright. */
  monochrome1: boolean;
  /** The first file's window (modality values), else the value range. */
  window: { center: number; width: number };
  /** Null when the views show the acquired voxels; else why and how they were resampled. */
  resampled: { reason: string; interpolation: string } | null;
  warnings: string[];
  views: Record<VolumePlane, VolumeViewSpec>;
  /** Memory the core holds for this volume (image values and labels), bytes. */
  bytes: number;
  segments: VolumeSegment[];
  history: VolumeHistoryState;
  /** A computed effect waiting for apply or cancel. */
  preview: VolumePreviewSummary | null;
}

export interface VolumePlaneImage {
  seriesId: number;
  plane: VolumePlane;
  index: number;
  width: number;
  height: number;
  dtype: 'int16' | 'float32';
  data: Int16Array | Float32Array;
  /** As VolumeInfo: value * slope + intercept is the modality value (HU for CT). */
  slope: number;
  intercept: number;
  min: number;
  max: number;
  /** [between rows, between columns] in mm. */
  pixelSpacing: [number, number];
  /** DICOM-style: the +x then +y directions of the picture (LPS). */
  imageOrientationPatient: [number, number, number, number, number, number];
  /** LPS position (mm) of the centre of the first pixel (top left). */
  imagePositionPatient: [number, number, number];
  /** True when every value is an acquired voxel's stored value (no interpolation). */
  exact: boolean;
  interpolation: string | null;
}

export interface VolumeLabelPlane {
  plane: VolumePlane;
  index: number;
  width: number;
  height: number;
  /** Per pixel: 0 none, else 1 + the index in `classIds` of the segment shown (the later one where they overlap). Null: no labels on this plane. */
  labels: Uint8Array | null;
  classIds: number[];
  /** The pending preview on this plane: 1 a voxel it adds, 2 a voxel it removes. Null without a preview (or no change here). */
  preview: Uint8Array | null;
}

export interface VolumePreviewSummary {
  label: string;
  /** Voxels added and removed per segment. */
  changes: { classId: number; added: number; removed: number }[];
  ms: number;
}

export interface VolumeEditResult {
  label: string;
  changes: { classId: number; added: number; removed: number }[];
  /** Slices (annotation rows) written. */
  slicesWritten: number;
  ms: number;
  segments: VolumeSegment[];
  history: VolumeHistoryState;
}

export interface SegmentStatistics {
  classId: number;
  name: string;
  voxels: number;
  /** Sum of the voxels' volumes (each acquired slice's thickness along the normal x pixel area), mL. */
  volumeMl: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  /** Units of mean/min/max: 'HU' for CT. */
  units: string | null;
}

export interface VolumeResponses {
  'volume.open': VolumeInfo;
  'volume.close': { closed: boolean };
  'volume.plane': VolumePlaneImage;
  'volume.labels': VolumeLabelPlane;
  'volume.paint': VolumeEditResult;
  'volume.preview': VolumePreviewSummary;
  'volume.apply': VolumeEditResult;
  'volume.cancel': { cancelled: boolean };
  'volume.undo': VolumeEditResult;
  'volume.redo': VolumeEditResult;
  'volume.stats': SegmentStatistics[];
}

export interface VolumeEvents {
  /** Slices decoded so far while 'volume.open' loads a series. */
  'volume.progress': { seriesId: number; done: number; total: number };
}

export const VOLUME_EVENT_NAMES = ['volume.progress'] as const satisfies readonly (keyof VolumeEvents)[];

/** Requests that write to the library (refused on a read-only one). */
export const VOLUME_WRITES = ['volume.paint', 'volume.apply', 'volume.undo', 'volume.redo'] as const;

/** Display voxel [i, j, k] under pixel (x, y) of plane `index` of a view (both sides use this one mapping). */
export function viewPixelToVoxel(spec: VolumeViewSpec, index: number, x: number, y: number): [number, number, number] {
  const v: [number, number, number] = [0, 0, 0];
  v[spec.normalAxis] = index;
  v[spec.horizontal.axis] = spec.horizontal.flip ? spec.width - 1 - x : x;
  v[spec.vertical.axis] = spec.vertical.flip ? spec.height - 1 - y : y;
  return v;
}

/** Where display voxel v shows in a view: the plane index and the pixel (x, y). */
export function voxelToViewPixel(spec: VolumeViewSpec, v: readonly [number, number, number]): { index: number; x: number; y: number } {
  const h = v[spec.horizontal.axis];
  const vv = v[spec.vertical.axis];
  return {
    index: v[spec.normalAxis],
    x: spec.horizontal.flip ? spec.width - 1 - h : h,
    y: spec.vertical.flip ? spec.height - 1 - vv : vv,
  };
}
