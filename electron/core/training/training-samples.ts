/**
 * Which library items can train a model for a task, and their targets.
 *
 * Label rules (documented here because the model learns whatever they say):
 * - Only annotations with status 'active' count. A model's prediction is
 *   created 'proposed' and becomes training data only once a person accepts
 *   it (status 'active'); 'proposed', 'rejected' and 'deleted' never count.
 * - A sample is one image: a plain image, a single-frame DICOM instance, or
 *   ONE FRAME of a multi-frame instance (item, frame).
 * - Classification: class labels at the most specific level that has any
 *   wins: the frame's (frame_index set), else the image's (frame_index NULL),
 *   else its SERIES' (every instance, and every frame of it, inherits a
 *   series label). Single-label: an image whose winning level names two
 *   different classes is excluded (conflicting), never guessed.
 *   Multi-label: the classes of the winning level form a multi-hot target.
 * - Detection: boxes; a polygon contributes its bounding box, a mask the
 *   bounding box of its pixels. Crowd regions (COCO iscrowd) and shapes of an
 *   ignore class (void, DontCare...: core/labels/class-names.ts) are left out:
 *   they are not one object. Class labels are ignored.
 *   Which images count: every image with a box, AND every image a person
 *   marked labelled (status done, needs_review or approved) that has no
 *   detection shape at all: a labelled-empty image, a negative (no object
 *   there), which trains as background and on which every detection is a
 *   false positive. Other images without boxes are left out and counted.
 *   (A multi-frame item counts per frame with boxes; a labelled item with
 *   no shape on any frame gives every frame as a negative.)
 * - Segmentation: masks (RLE) and polygons (rasterised like pycocotools)
 *   painted into a class-index map in annotation-id order, so where shapes
 *   overlap the LATER annotation wins; regions to ignore (ignore-class
 *   shapes and crowd regions) are painted last, as IGNORE_INDEX, so they
 *   win wherever they are. Index 0 is background (a class named
 *   "background" maps to it); pixels no shape covers are background.
 *   Boxes are not masks and are ignored.
 * - A geometry annotation with frame_index NULL on a multi-frame instance
 *   applies to every frame (NULL means "the whole instance" in the schema).
 * - Images without a usable label for the task are excluded and counted.
 *
 * Memory: a sample keeps boxes and polygon points, but not mask pixels: a
 * mask is read from the library (by id, checked against the version in the
 * snapshot) when its image is loaded, so collecting samples of a large
 * segmentation set does not hold every mask in memory.
 */
import type { TaskKind } from '../../contract/ml';
import { FoveaException } from '../../contract/result';
import { isBackgroundName as isBackgroundClassName, isIgnoreClassName, LABELLED_STATUSES } from '../labels/class-names';
import type { CocoRle } from '../labels/label-types';
import { decodeRle, polygonToRle, rleFromString, rleProblem, rleToBbox } from '../labels/rle';
import { datasetMultiLabel, listClasses } from '../store/classes-repo';
import type { AnnotationKind } from '../store/annotation-store';
import { activeGeometryReader, iterateActiveAnnotations, type ActiveAnnotationRow } from '../store/annotations-repo';
import { listTrainingItems, type TrainingItemRow } from '../store/items-repo';
import type { Db } from '../store/library-db';

/** Where a sample's pixels come from. */
export interface SampleSource {
  itemId: number;
  /** Frame of a multi-frame DICOM instance; 0 otherwise. */
  frameIndex: number;
  kind: 'dicom' | 'image';
  blobSha256: string;
  /** Image size in pixels (columns, rows). */
  width: number;
  height: number;
  /** DICOM colour (RGB / YBR / palette) or a plain image with 3+ channels. */
  colour: boolean;
  /** The DICOM patient (null for plain images). */
  patientKey: string | null;
  /** 2.5-D: the slices below and above in its series (slice-neighbours.ts); absent: one slice. */
  neighbours?: { below: SliceRef; above: SliceRef };
}

/** A DICOM slice of a series: an item's frame. */
export interface SliceRef {
  itemId: number;
  frameIndex: number;
  blobSha256: string;
}

export interface SampleBox {
  /** Image pixels, continuous: x, y of the top-left corner. */
  x: number;
  y: number;
  width: number;
  height: number;
  classIndex: number;
}

export type SegmentationShape =
  | { kind: 'polygon'; annotationId: number; version: number; classIndex: number; points: [number, number][] }
  /** Pixels read when the image is loaded (see `maskReader`). */
  | { kind: 'mask'; annotationId: number; version: number; classIndex: number };

/**
 * Detection, copy-paste on: the outline of one object, read when its image is loaded (a mask by
 * id and version, see `maskReader`; a polygon's points in image pixels).
 */
export type ObjectMask = { kind: 'mask'; annotationId: number; version: number } | { kind: 'polygon'; points: [number, number][] };

export type SampleTarget =
  | { task: 'classification'; classIndices: number[] }
  /**
   * `ignore`: regions to ignore (void / DontCare classes, crowd regions), classIndex -1: no object, no loss there.
   * `masks` (only when collected with `objectMasks`): per box, its object's outline, or null for a plain box.
   */
  | { task: 'detection'; boxes: SampleBox[]; ignore?: SampleBox[]; masks?: (ObjectMask | null)[] }
  | { task: 'segmentation'; shapes: SegmentationShape[] };

export interface Sample extends SampleSource {
  target: SampleTarget;
  /** (annotation id, version) of every annotation this sample's target came from. */
  annotations: [number, number][];
}

export interface CollectSamplesOptions {
  /** Classification: independent labels (default: the dataset's multi-label flag). */
  multiLabel?: boolean;
  /**
   * Fixed class order (e.g. continuing a model). Segmentation: without
   * 'background', which is always index 0. Labels of other classes are
   * ignored and counted. Default: every class with a usable label, in the
   * dataset's class order.
   */
  classNames?: readonly string[];
  /** Force the channel count (default: 3 if any sample is colour, else 1). */
  channels?: 1 | 3;
  /** Only these items (default: the whole dataset). */
  itemIds?: readonly number[];
  /**
   * Detection: keep each box's mask reference or polygon points (`target.masks`) for copy-paste.
   * Off by default, so that samples hold no outline when nothing pastes objects.
   */
  objectMasks?: boolean;
}

export interface ExcludedCounts {
  /** Images with no usable label for the task. */
  noLabels: number;
  /** Single-label images with two different classes. */
  conflictingLabels: number;
  /** Annotations left out: empty / degenerate / wrong-size geometry, frame out of range. */
  badGeometry: number;
  /** Annotations of a class not in `classNames`. */
  unknownClass: number;
  /** Crowd regions left out of detection targets. */
  crowd: number;
  /** Boxes of an ignore class (void, ignore, DontCare...) left out of detection targets. */
  ignoreRegions: number;
}

/** Class index of pixels that neither train nor score (padding, void regions). */
export const IGNORE_INDEX = 255;

/** What the caller stores with a run: exactly which labels trained it. */
export interface SampleSnapshot {
  datasetId: number;
  task: TaskKind;
  multiLabel: boolean;
  classNames: string[];
  samples: { itemId: number; frameIndex: number; annotations: [number, number][] }[];
}

export interface CollectedSamples {
  samples: Sample[];
  /** Output order. Segmentation: index 0 is 'background'. */
  classNames: string[];
  channels: 1 | 3;
  multiLabel: boolean;
  /** Detection: images (items) that are labelled but have no box: negatives, included in `samples`. */
  labelledEmpty: number;
  excluded: ExcludedCounts;
  /** One line per kind of problem, for a person. */
  warnings: string[];
  snapshot: SampleSnapshot;
}

/** One usable annotation, before class ids become indices. */
interface Usable {
  id: number;
  version: number;
  classId: number;
  frame: number | null;
  box?: { x: number; y: number; width: number; height: number };
  polygon?: [number, number][];
  mask?: true;
  /** Segmentation: a crowd region, painted as IGNORE_INDEX like an ignore class. */
  crowd?: true;
}

function finite(...v: unknown[]): boolean {
  return v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

/** The RLE of a mask geometry (uncompressed or pycocotools-compressed counts), or null if invalid. */
export function rleOfGeometry(geometry: unknown): CocoRle | null {
  const rle = (geometry as { rle?: { size?: unknown; counts?: unknown } } | null)?.rle;
  if (!rle || !Array.isArray(rle.size) || rle.size.length !== 2) return null;
  const [h, w] = rle.size as [number, number];
  try {
    const r: CocoRle = typeof rle.counts === 'string' ? rleFromString(rle.counts, h, w) : { size: [h, w], counts: rle.counts as number[] };
    if (!Array.isArray(r.counts) || rleProblem(r) !== null) return null;
    return r;
  } catch {
    return null;
  }
}

function polygonPoints(geometry: unknown): [number, number][] | null {
  const pts = (geometry as { points?: unknown } | null)?.points;
  if (!Array.isArray(pts) || pts.length < 3) return null;
  const out: [number, number][] = [];
  for (const p of pts) {
    if (!Array.isArray(p) || p.length < 2 || !finite(p[0], p[1])) return null;
    out.push([p[0] as number, p[1] as number]);
  }
  return out;
}

function boundsOf(points: readonly [number, number][]): { x: number; y: number; width: number; height: number } {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const [x, y] of points) {
    x0 = Math.min(x0, x);
    y0 = Math.min(y0, y);
    x1 = Math.max(x1, x);
    y1 = Math.max(y1, y);
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/**
 * The samples of a dataset for a task (see the file header for the rules).
 * Reads the library once; masks' pixels are not kept.
 */
export function collectSamples(db: Db, datasetId: number, task: TaskKind, options: CollectSamplesOptions = {}): CollectedSamples {
  const datasetMulti = datasetMultiLabel(db, datasetId);
  const multiLabel = task === 'classification' && (options.multiLabel ?? datasetMulti);
  const excluded: ExcludedCounts = { noLabels: 0, conflictingLabels: 0, badGeometry: 0, unknownClass: 0, crowd: 0, ignoreRegions: 0 };

  let items = listTrainingItems(db, datasetId);
  if (options.itemIds) {
    const wanted = new Set(options.itemIds);
    items = items.filter((i) => wanted.has(i.id));
  }
  const itemById = new Map(items.map((i) => [i.id, i]));

  const classes = listClasses(db, datasetId);
  const classNameOf = new Map(classes.map((c) => [c.id, c.name]));
  const forced = options.classNames ? new Set(options.classNames) : null;
  const isBackground = (name: string): boolean => task === 'segmentation' && isBackgroundClassName(name);
  // "void" / "ignore" / "unlabelled" / "DontCare" classes mark regions to leave out, not a class to
  // learn: segmentation paints them IGNORE_INDEX (no loss, no metric), detection drops their boxes.
  const isIgnore = (name: string): boolean => task !== 'classification' && isIgnoreClassName(name);
  // Items with a detection shape of any kind (void and crowd included): those are not labelled-empty.
  const withShapes = new Set<number>();
  // Detection: regions to ignore per item (void classes, crowd regions), as boxes with class -1.
  const ignoreRegions = new Map<number, { frame: number | null; box: SampleBox }[]>();
  const addIgnoreRegion = (a: ActiveAnnotationRow): void => {
    if (a.item_id === null) return;
    let g: unknown;
    try {
      g = a.geometry === null ? null : JSON.parse(a.geometry);
    } catch {
      return;
    }
    let b: { x: number; y: number; width: number; height: number } | null = null;
    if (a.kind === 'box') {
      const r = g as { x?: unknown; y?: unknown; width?: unknown; height?: unknown } | null;
      if (r && finite(r.x, r.y, r.width, r.height)) b = { x: r.x as number, y: r.y as number, width: r.width as number, height: r.height as number };
    } else if (a.kind === 'polygon') {
      const pts = polygonPoints(g);
      if (pts) b = boundsOf(pts);
    } else if (a.kind === 'mask') {
      const rle = rleOfGeometry(g);
      if (rle) {
        const [x, y, width, height] = rleToBbox(rle);
        b = { x, y, width, height };
      }
    }
    if (!b || !(b.width > 0 && b.height > 0)) return;
    const list = ignoreRegions.get(a.item_id) ?? [];
    list.push({ frame: a.frame_index, box: { ...b, classIndex: -1 } });
    ignoreRegions.set(a.item_id, list);
  };

  // Usable annotations per item (and per series, for class labels), in id order.
  const perItem = new Map<number, Usable[]>();
  const perSeries = new Map<number, Usable[]>();
  const push = (m: Map<number, Usable[]>, k: number, u: Usable): void => {
    const l = m.get(k);
    if (l) l.push(u);
    else m.set(k, [u]);
  };
  const wantedKinds: AnnotationKind[] = task === 'classification' ? ['class'] : task === 'detection' ? ['box', 'polygon', 'mask'] : ['polygon', 'mask'];
  const rows = iterateActiveAnnotations(db, datasetId, wantedKinds);
  for (const a of rows) {
    const name = classNameOf.get(a.class_id);
    if (name === undefined) continue;
    if (task === 'detection' && isIgnore(name)) {
      excluded.ignoreRegions++;
      if (a.item_id !== null) {
        withShapes.add(a.item_id);
        addIgnoreRegion(a);
      }
      continue;
    }
    if (forced && !forced.has(name) && !isBackground(name) && !isIgnore(name)) {
      excluded.unknownClass++;
      continue;
    }
    if (a.series_id !== null) {
      // Series-level geometry has no image to sit on: only class labels are inherited.
      if (a.kind === 'class') push(perSeries, a.series_id, { id: a.id, version: a.version, classId: a.class_id, frame: null });
      continue;
    }
    if (a.item_id === null) continue;
    const item = itemById.get(a.item_id);
    if (!item) continue;
    if (a.frame_index !== null && (a.frame_index < 0 || a.frame_index >= Math.max(1, item.frames))) {
      excluded.badGeometry++;
      continue;
    }
    const u: Usable = { id: a.id, version: a.version, classId: a.class_id, frame: a.frame_index };
    if (a.kind !== 'class') {
      let g: unknown;
      try {
        g = a.geometry === null ? null : JSON.parse(a.geometry);
      } catch {
        g = null;
      }
      if (a.item_id !== null) withShapes.add(a.item_id);
      const crowd = (g as { crowd?: unknown } | null)?.crowd === true;
      if (task === 'detection' && crowd) {
        excluded.crowd++;
        addIgnoreRegion(a);
        continue;
      }
      if (task === 'segmentation' && crowd) u.crowd = true;
      if (a.kind === 'box') {
        const b = g as { x?: unknown; y?: unknown; width?: unknown; height?: unknown } | null;
        if (!b || !finite(b.x, b.y, b.width, b.height) || (b.width as number) <= 0 || (b.height as number) <= 0) {
          excluded.badGeometry++;
          continue;
        }
        u.box = { x: b.x as number, y: b.y as number, width: b.width as number, height: b.height as number };
      } else if (a.kind === 'polygon') {
        const pts = polygonPoints(g);
        const bounds = pts ? boundsOf(pts) : null;
        if (!pts || !bounds || bounds.width <= 0 || bounds.height <= 0) {
          excluded.badGeometry++;
          continue;
        }
        if (task === 'detection') {
          u.box = bounds;
          if (options.objectMasks) u.polygon = pts;
        } else u.polygon = pts;
      } else {
        const rle = rleOfGeometry(g);
        if (!rle || rle.size[0] !== item.rows || rle.size[1] !== item.columns) {
          excluded.badGeometry++;
          continue;
        }
        const [x, y, w, h] = rleToBbox(rle);
        if (w <= 0 || h <= 0) {
          excluded.badGeometry++;
          continue;
        }
        if (task === 'detection') {
          u.box = { x, y, width: w, height: h };
          if (options.objectMasks) u.mask = true;
        } else u.mask = true;
      }
    }
    push(perItem, a.item_id, u);
  }

  // Per (item, frame): the annotations that make its target.
  interface Draft {
    item: TrainingItemRow;
    frame: number;
    used: Usable[];
  }
  const drafts: Draft[] = [];
  let labelledEmpty = 0;
  for (const item of items) {
    const frames = item.kind === 'dicom' ? Math.max(1, item.frames) : 1;
    const own = perItem.get(item.id) ?? [];
    const before = drafts.length;
    if (task === 'classification') {
      const series = item.series_id !== null ? perSeries.get(item.series_id) ?? [] : [];
      const whole = own.filter((u) => u.frame === null);
      for (let f = 0; f < frames; f++) {
        const frameLabels = own.filter((u) => u.frame === f);
        const used = frameLabels.length > 0 ? frameLabels : whole.length > 0 ? whole : series;
        if (used.length === 0) continue;
        if (!multiLabel && new Set(used.map((u) => u.classId)).size > 1) {
          excluded.conflictingLabels++;
          continue;
        }
        drafts.push({ item, frame: f, used });
      }
    } else {
      const whole = own.filter((u) => u.frame === null);
      const framesWithLabels = whole.length > 0 ? Array.from({ length: frames }, (_, f) => f) : [...new Set(own.map((u) => u.frame as number))].sort((a, b) => a - b);
      for (const f of framesWithLabels) {
        const used = own.filter((u) => u.frame === null || u.frame === f);
        if (used.length > 0) drafts.push({ item, frame: f, used });
      }
      if (task === 'detection' && own.length === 0 && !withShapes.has(item.id) && LABELLED_STATUSES.includes(item.status)) {
        for (let f = 0; f < frames; f++) drafts.push({ item, frame: f, used: [] });
        labelledEmpty++;
      }
    }
    if (drafts.length === before) excluded.noLabels++;
  }

  // Class order: forced, or every class that some sample uses, in the dataset's order.
  let names: string[];
  if (options.classNames) {
    names = [...options.classNames];
  } else {
    const used = new Set<number>();
    // A class seen only as crowd regions has no pixels to learn (they are ignored).
    for (const d of drafts) for (const u of d.used) if (!u.crowd) used.add(u.classId);
    names = classes.filter((c) => used.has(c.id) && !isBackground(c.name)).map((c) => c.name);
  }
  names = names.filter((n) => !isIgnore(n));
  if (task === 'segmentation') {
    names = ['background', ...names.filter((n) => n.toLowerCase() !== 'background')];
    if (names.length > 255) throw new FoveaException('VALIDATION', `Segmentation takes at most 254 classes besides background (255 marks ignored pixels); this dataset has ${names.length - 1}.`);
  }
  const indexOfName = new Map(names.map((n, i) => [n, i]));
  const indexOf = (classId: number): number => {
    const name = classNameOf.get(classId) ?? '';
    if (isIgnore(name)) return IGNORE_INDEX;
    return isBackground(name) ? 0 : (indexOfName.get(name) as number);
  };

  let anyColour = false;
  const samples: Sample[] = drafts.map(({ item, frame, used }) => {
    const colour =
      item.kind === 'image' ? item.samples_per_pixel >= 3 : item.samples_per_pixel === 3 || item.photometric === 'PALETTE COLOR';
    anyColour ||= colour;
    let target: SampleTarget;
    if (task === 'classification') {
      target = { task, classIndices: [...new Set(used.map((u) => indexOf(u.classId)))].sort((a, b) => a - b) };
    } else if (task === 'detection') {
      const ignore = (ignoreRegions.get(item.id) ?? []).filter((r) => r.frame === null || r.frame === frame).map((r) => r.box);
      const masks = options.objectMasks
        ? used.map((u): ObjectMask | null => (u.polygon ? { kind: 'polygon', points: u.polygon } : u.mask ? { kind: 'mask', annotationId: u.id, version: u.version } : null))
        : null;
      target = {
        task,
        boxes: used.map((u) => ({ ...(u.box as NonNullable<Usable['box']>), classIndex: indexOf(u.classId) })),
        ...(ignore.length ? { ignore } : {}),
        ...(masks && masks.some((m) => m !== null) ? { masks } : {}),
      };
    } else {
      target = {
        task,
        shapes: used.map((u) => {
          const classIndex = u.crowd ? IGNORE_INDEX : indexOf(u.classId);
          return u.polygon
            ? { kind: 'polygon' as const, annotationId: u.id, version: u.version, classIndex, points: u.polygon }
            : { kind: 'mask' as const, annotationId: u.id, version: u.version, classIndex };
        }),
      };
    }
    return {
      itemId: item.id,
      frameIndex: frame,
      kind: item.kind,
      blobSha256: item.blob_sha256,
      width: item.columns,
      height: item.rows,
      colour,
      patientKey: item.patient_key,
      target,
      annotations: used.map((u) => [u.id, u.version] as [number, number]),
    };
  });

  const warnings: string[] = [];
  if (excluded.noLabels) {
    warnings.push(
      `${excluded.noLabels} image(s) have no usable ${task} label and are left out` +
        (task === 'detection' ? ' (an image without boxes counts as a negative once a person marks it labelled: status done, needs review or approved).' : '.'),
    );
  }
  if (excluded.conflictingLabels) {
    warnings.push(`${excluded.conflictingLabels} image(s) have two different class labels in a single-label dataset and are left out.`);
  }
  if (excluded.badGeometry) warnings.push(`${excluded.badGeometry} annotation(s) have empty or invalid geometry (or a frame the image lacks) and are left out.`);
  if (excluded.unknownClass) warnings.push(`${excluded.unknownClass} annotation(s) are of classes the model does not have and are left out.`);
  if (excluded.ignoreRegions) warnings.push(`${excluded.ignoreRegions} box(es) of an ignore class (void, ignore, DontCare...) are not used as detection targets.`);
  if (excluded.crowd) warnings.push(`${excluded.crowd} crowd region(s) are not used as detection boxes.`);
  if (samples.length === 0) warnings.push(`No image in this dataset has a usable ${task} label.`);

  return {
    samples,
    classNames: names,
    channels: options.channels ?? (anyColour ? 3 : 1),
    multiLabel,
    labelledEmpty,
    excluded,
    warnings,
    snapshot: {
      datasetId,
      task,
      multiLabel,
      classNames: names,
      samples: samples.map((s) => ({ itemId: s.itemId, frameIndex: s.frameIndex, annotations: s.annotations })),
    },
  };
}

/**
 * Reads a mask's RLE from the library for `rasterizeSegmentation`, only if
 * the annotation is still active at the version the samples were collected
 * with (otherwise null: the run's snapshot would no longer describe it).
 */
export function maskReader(db: Db): (annotationId: number, version: number) => CocoRle | null {
  const geometryOf = activeGeometryReader(db);
  return (id, version) => {
    const geometry = geometryOf(id, version);
    if (geometry === undefined || geometry === null) return null;
    try {
      return rleOfGeometry(JSON.parse(geometry));
    } catch {
      return null;
    }
  };
}

/**
 * The row-major [height, width] class-index map of a segmentation target:
 * `fill` (0 background, or IGNORE_INDEX) where no shape is, shapes painted in order (later wins;
 * ignore-class shapes paint IGNORE_INDEX). Returns the shapes
 * that could not be read (changed since collection) in `missing`.
 */
export function rasterizeSegmentation(
  shapes: readonly SegmentationShape[],
  height: number,
  width: number,
  readMask: (annotationId: number, version: number) => CocoRle | null,
  fill = 0,
): { classMap: Uint8Array; missing: number[] } {
  const out = new Uint8Array(height * width);
  if (fill !== 0) out.fill(fill);
  const missing: number[] = [];
  // Regions to ignore last: they win over any class painted under them.
  const ordered = [...shapes.filter((s) => s.classIndex !== IGNORE_INDEX), ...shapes.filter((s) => s.classIndex === IGNORE_INDEX)];
  for (const s of ordered) {
    let rle: CocoRle | null;
    if (s.kind === 'polygon') rle = polygonToRle(s.points, height, width);
    else rle = readMask(s.annotationId, s.version);
    if (!rle || rle.size[0] !== height || rle.size[1] !== width) {
      missing.push(s.annotationId);
      continue;
    }
    const m = decodeRle(rle);
    for (let i = 0; i < m.length; i++) if (m[i]) out[i] = s.classIndex;
  }
  return { classMap: out, missing };
}

/**
 * Detection with copy-paste: the row-major [height, width] instance map of a sample's objects,
 * value i + 1 where box i's mask or polygon is (0: none; later boxes win where outlines overlap;
 * boxes past the 254th are left out: 255 is "outside" once resampled). `missing`: masks that
 * could not be read (changed since collection); their objects are never pasted.
 */
export function rasterizeInstances(
  masks: readonly (ObjectMask | null)[],
  height: number,
  width: number,
  readMask: (annotationId: number, version: number) => CocoRle | null,
): { instances: Uint8Array; missing: number[] } {
  const out = new Uint8Array(height * width);
  const missing: number[] = [];
  for (let i = 0; i < Math.min(masks.length, 254); i++) {
    const m = masks[i];
    if (!m) continue;
    const rle = m.kind === 'polygon' ? polygonToRle(m.points, height, width) : readMask(m.annotationId, m.version);
    if (!rle || rle.size[0] !== height || rle.size[1] !== width) {
      if (m.kind === 'mask') missing.push(m.annotationId);
      continue;
    }
    const bits = decodeRle(rle);
    for (let p = 0; p < bits.length; p++) if (bits[p]) out[p] = i + 1;
  }
  return { instances: out, missing };
}
