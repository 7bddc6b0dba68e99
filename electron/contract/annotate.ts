/**
 * Request schemas and response types of labeling: annotations, the label
 * schema (classes), item/series review status and the annotator's settings.
 * Spread into api.ts' requestSchemas; kept here so api.ts stays readable.
 *
 * Bounds (the renderer is untrusted): a polygon has 3..10,000 points, every
 * coordinate is finite and within ±1,000,000 pixels; a mask is at most
 * 16,384 x 16,384 with at most 4,000,000 runs whose counts are whole numbers
 * ≥ 0 adding up to height*width. Whether a shape fits its image is checked
 * by the core, which knows the image's size.
 *
 * PURE TypeScript: no node:, no 'electron'.
 */
import * as v from 'valibot';
import type { Annotation, AnnotatorSettings, ImageLabels, LabelClass, LabelSchema, StatusInfo } from './domain';
import { HOTKEY_ACTIONS } from './domain';
import { WITHOUT_UNSAFE_CHARS } from './unsafe-chars';

export const ANNOTATION_LIMITS = {
  maxPolygonPoints: 10_000,
  maxCoordinate: 1_000_000,
  maxMaskSide: 16_384,
  maxRleCounts: 4_000_000,
  maxCommentLength: 2_000,
  maxClassName: 80,
  maxAnnotatorName: 120,
} as const;

const Id = v.pipe(v.number(), v.integer(), v.minValue(1));
const Frame = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1_000_000));
const Version = v.pipe(v.number(), v.integer(), v.minValue(1));
const Coord = v.pipe(
  v.number(),
  v.finite('A coordinate must be a finite number.'),
  v.minValue(-ANNOTATION_LIMITS.maxCoordinate, 'A coordinate is far outside any image.'),
  v.maxValue(ANNOTATION_LIMITS.maxCoordinate, 'A coordinate is far outside any image.'),
);
const Extent = v.pipe(v.number(), v.finite(), v.gtValue(0, 'A box needs a width and height above 0.'), v.maxValue(ANNOTATION_LIMITS.maxCoordinate));

export const BoxSchema = v.strictObject({ x: Coord, y: Coord, width: Extent, height: Extent });
export const PolygonSchema = v.strictObject({
  points: v.pipe(
    v.array(v.tuple([Coord, Coord])),
    v.minLength(3, 'A polygon needs at least 3 points.'),
    v.maxLength(ANNOTATION_LIMITS.maxPolygonPoints, `A polygon has at most ${ANNOTATION_LIMITS.maxPolygonPoints} points.`),
  ),
});
const MaskSide = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(ANNOTATION_LIMITS.maxMaskSide, `A mask side is at most ${ANNOTATION_LIMITS.maxMaskSide} pixels.`));
export const RleSchema = v.pipe(
  v.strictObject({
    size: v.tuple([MaskSide, MaskSide]),
    counts: v.pipe(
      v.array(v.pipe(v.number(), v.integer('RLE counts are whole numbers.'), v.minValue(0, 'RLE counts are ≥ 0.'))),
      v.minLength(1, 'An RLE needs at least one count.'),
      v.maxLength(ANNOTATION_LIMITS.maxRleCounts, `An RLE has at most ${ANNOTATION_LIMITS.maxRleCounts} runs.`),
    ),
  }),
  v.check((rle) => {
    let sum = 0;
    for (const c of rle.counts) sum += c;
    return sum === rle.size[0] * rle.size[1];
  }, 'The RLE counts must add up to height*width of its size.'),
);
export const MaskSchema = v.strictObject({ rle: RleSchema });
export const GeometrySchema = v.union([BoxSchema, PolygonSchema, MaskSchema]);

const target = {
  /** The image (instance) the label is on; or seriesId for a whole series' class. */
  itemId: v.optional(Id),
  seriesId: v.optional(Id),
  /** The frame of a multi-frame instance; absent: the whole image. */
  frame: v.optional(Frame),
  classId: Id,
};

const ItemStatusSchema = v.picklist(['unlabeled', 'in_progress', 'done', 'needs_review', 'approved', 'rejected']);
const ClassName = v.pipe(
  v.string(),
  v.trim(),
  v.minLength(1, 'A class needs a name.'),
  v.maxLength(ANNOTATION_LIMITS.maxClassName, `Class names are at most ${ANNOTATION_LIMITS.maxClassName} characters.`),
  v.regex(WITHOUT_UNSAFE_CHARS, 'Class names cannot contain control characters.'),
);
const Color = v.pipe(v.string(), v.regex(/^#[0-9a-fA-F]{6}$/, 'A colour is #rrggbb.'));
const ClassHotkey = v.nullable(v.picklist(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], 'A class key is one digit 0-9.'));
const KeyName = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(40),
  v.regex(/^((Ctrl|Alt|Shift|Meta)\+)*([^\s+]|\+|[A-Za-z][A-Za-z0-9]+)$/, "A key is written like 'b', 'Shift+N', 'Ctrl+Enter'."),
);

export const annotateRequestSchemas = {
  /**
   * The visible annotations (active and proposed) of an image, of one frame of it (frame-level
   * ones plus the whole image's), or of a whole series (its own and all its images'), with status.
   */
  'annotations.list': v.strictObject({ itemId: v.optional(Id), seriesId: v.optional(Id), frame: v.optional(Frame) }),
  /** Create a human annotation, authored by the annotator in settings. Saved at once. */
  'annotations.create': v.variant('kind', [
    v.strictObject({ ...target, kind: v.literal('class') }),
    v.strictObject({ ...target, kind: v.literal('box'), geometry: BoxSchema }),
    v.strictObject({ ...target, kind: v.literal('polygon'), geometry: PolygonSchema }),
    v.strictObject({ ...target, kind: v.literal('mask'), geometry: MaskSchema }),
  ]),
  /** Change geometry and/or class; refused with CONFLICT when the row is no longer at expectedVersion. */
  'annotations.update': v.strictObject({ id: Id, expectedVersion: Version, classId: v.optional(Id), geometry: v.optional(GeometrySchema) }),
  /** Delete (kept as status 'deleted' so undo can restore it). */
  'annotations.delete': v.strictObject({ id: Id, expectedVersion: Version }),
  /** Undo of a delete: the row becomes visible again. */
  'annotations.restore': v.strictObject({ id: Id, expectedVersion: Version }),
  /**
   * A model's proposal: accept (it becomes the annotator's active, human annotation; optionally with
   * edited geometry/class) or reject (status 'rejected').
   */
  'annotations.review': v.strictObject({
    id: Id,
    expectedVersion: Version,
    action: v.picklist(['accept', 'reject']),
    classId: v.optional(Id),
    geometry: v.optional(GeometrySchema),
  }),
  /** Set an image's or a series' status; 'rejected' needs a comment. */
  'items.setStatus': v.pipe(
    v.strictObject({
      itemId: v.optional(Id),
      seriesId: v.optional(Id),
      status: ItemStatusSchema,
      comment: v.optional(v.pipe(v.string(), v.trim(), v.maxLength(ANNOTATION_LIMITS.maxCommentLength))),
    }),
    v.check((p) => (p.itemId === undefined) !== (p.seriesId === undefined), 'Name exactly one of itemId and seriesId.'),
    v.check((p) => p.status !== 'rejected' || (p.comment ?? '').length > 0, 'Rejecting needs a comment that says what to fix.'),
  ),
  /** The dataset's classes and whether images take one class or several. */
  'classes.schema': v.strictObject({ datasetId: Id }),
  'classes.create': v.strictObject({ datasetId: Id, name: ClassName, color: v.optional(Color), hotkey: v.optional(ClassHotkey) }),
  'classes.update': v.strictObject({ id: Id, name: v.optional(ClassName), color: v.optional(Color), hotkey: v.optional(ClassHotkey), position: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(100_000))) }),
  /** Refused (CONFLICT) while annotations use the class, unless they are moved to `reassignTo`. */
  'classes.delete': v.strictObject({ id: Id, reassignTo: v.optional(Id) }),
  /**
   * Merge classes of one dataset into another of it (PASpersonWalking + PASpersonStanding ->
   * pedestrian): every annotation of `from` moves to `into` (a class label that would then be on
   * the same image twice is kept once), then the `from` classes are removed. Audited.
   */
  'classes.merge': v.strictObject({ from: v.pipe(v.array(Id), v.minLength(1), v.maxLength(1000)), into: Id }),
  'classes.setMultiLabel': v.strictObject({ datasetId: Id, multiLabel: v.boolean() }),
  /** The annotator's name (or the OS user under IT policy) and the hotkey map. */
  'settings.get': v.strictObject({}),
  'settings.set': v.strictObject({
    annotatorName: v.optional(
      v.pipe(v.string(), v.trim(), v.minLength(1, 'Enter a name.'), v.maxLength(ANNOTATION_LIMITS.maxAnnotatorName), v.regex(WITHOUT_UNSAFE_CHARS, 'Names cannot contain control characters.')),
    ),
    hotkeys: v.optional(v.record(v.picklist(HOTKEY_ACTIONS), KeyName)),
  }),
} as const;

export interface AnnotateResponses {
  'annotations.list': ImageLabels;
  'annotations.create': Annotation;
  'annotations.update': Annotation;
  'annotations.delete': Annotation;
  'annotations.restore': Annotation;
  'annotations.review': Annotation;
  'items.setStatus': StatusInfo;
  'classes.schema': LabelSchema;
  'classes.create': LabelClass;
  'classes.update': LabelClass;
  'classes.delete': { deleted: true; reassigned: number };
  'classes.merge': { moved: number; duplicatesRemoved: number; schema: LabelSchema };
  'classes.setMultiLabel': LabelSchema;
  'settings.get': AnnotatorSettings;
  'settings.set': AnnotatorSettings;
}
