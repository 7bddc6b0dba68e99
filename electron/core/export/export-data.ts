/**
 * What the 2-D label formats (COCO, YOLO, VOC, CSV, PNG masks) read from the library, and how they
 * name images. One place, so every format names the same image the same way.
 *
 * Image names (what label files call an image):
 * - By default, the item's source name as imported (its path relative to what the user imported,
 *   the key `fovea import-labels` matches on), made safe with sanitizeRelativePath: a hostile name
 *   such as '..\..\evil.png' becomes '_/_/evil.png', never a path outside the export.
 * - With images copied (`withImages`, plain images only), the name of the copy: the stored,
 *   metadata-free PNG, so a source called 'a.jpg' is written as 'a.png' and named so.
 * - A frame of a multi-frame DICOM instance that has labels of its own: '<name without
 *   extension>_frame0003.png' (frame index 0-based, 4 digits). Importers match items, not frames,
 *   so such entries come back as "not in the dataset", never on the wrong image.
 * Names are unique within an export, case-insensitively ('x.png', 'x-2.png', ...).
 *
 * Which annotations (option `labels`, `fovea export --labels`):
 * - 'human' (default): status 'active', the labels (drawn, imported, or proposals a person
 *   accepted);
 * - 'proposals': status 'proposed', a model's predictions not yet reviewed, with their score and
 *   the run that made them: predictions leave the library for another tool;
 * - 'all': both; on an image, proposals come before labels, so where a format paints one over the
 *   other (PNG masks) the person's label wins.
 * Rejected and deleted rows are never exported. Series-level annotations have no image to go with
 * in a 2-D format; they are counted and reported as a warning.
 */
import { EXPORT_LABELS, type ExportLabels } from '../../contract/export-formats';
import { FoveaException } from '../../contract/result';
import { fileStem } from '../labels/label-types';
import type { CocoRle } from '../labels/label-types';
import { listClasses } from '../store/classes-repo';
import { countActiveSeriesLabels, listExportAnnotations, listExportItems, type ExportAnnotationRow } from '../store/export-repo';
import { sanitizeRelativePath } from './safe-output';
import type { ExportJob } from './export-types';

export interface ExportClass {
  id: number;
  name: string;
  /** 0-based index in the dataset's class order (position, then id). */
  index: number;
}

export type ExportGeometry =
  | { kind: 'class' }
  | { kind: 'box'; x: number; y: number; width: number; height: number }
  | { kind: 'polygon'; points: [number, number][] }
  | { kind: 'mask'; rle: CocoRle };

export interface ExportAnnotation {
  id: number;
  classIndex: number;
  className: string;
  geometry: ExportGeometry;
  score: number | null;
  crowd: boolean;
  difficult: boolean;
  /** Who made it: a person ('human'), an import ('imported') or a model ('model'). */
  source: 'human' | 'imported' | 'model';
  /** A model's proposal not yet reviewed (status 'proposed'). */
  proposed: boolean;
  /** The run whose model made it, for model-sourced rows. */
  runId: number | null;
}

/** Which annotations an export takes (see the file header). */

/** The job's `labels` option, checked. */
export function exportLabelsOption(options: Record<string, unknown>): ExportLabels {
  const v = options['labels'];
  if (v === undefined) return 'human';
  if (typeof v === 'string' && (EXPORT_LABELS as readonly string[]).includes(v)) return v as ExportLabels;
  throw new FoveaException('VALIDATION', `labels must be one of ${EXPORT_LABELS.join(', ')} (got ${JSON.stringify(v)}).`);
}

/** One image as label files see it: an item, or one frame of a multi-frame item. */
export interface ExportImage {
  itemId: number;
  /** Set for a frame entry of a multi-frame instance. */
  frame: number | null;
  kind: 'dicom' | 'image';
  /** Relative, sanitised, '/'-separated; unique within the export (case-insensitive). */
  name: string;
  width: number;
  height: number;
  channels: number;
  split: 'train' | 'val' | 'test' | null;
  blobSha256: string;
  annotations: ExportAnnotation[];
}

export interface ExportData {
  datasetName: string;
  /** Which annotations were taken (the `labels` option). */
  labels: ExportLabels;
  classes: ExportClass[];
  images: ExportImage[];
  /** Series-level annotations, which 2-D formats cannot hold. */
  seriesAnnotations: number;
  /** Annotations whose geometry could not be read (corrupt rows), skipped. */
  unreadable: number;
}

function finite(...n: unknown[]): boolean {
  return n.every((x) => typeof x === 'number' && Number.isFinite(x));
}

/** The stored geometry JSON as an ExportGeometry, or null when it is not readable. */
export function readGeometry(kind: ExportAnnotationRow['kind'], json: string | null): { geometry: ExportGeometry; crowd: boolean; difficult: boolean } | null {
  let g: Record<string, unknown> = {};
  if (json) {
    try {
      const parsed = JSON.parse(json) as unknown;
      if (parsed && typeof parsed === 'object') g = parsed as Record<string, unknown>;
    } catch {
      return null;
    }
  }
  const flags = { crowd: g['crowd'] === true, difficult: g['difficult'] === true };
  switch (kind) {
    case 'class':
      return { geometry: { kind: 'class' }, ...flags };
    case 'box': {
      const { x, y, width, height } = g;
      if (!finite(x, y, width, height) || (width as number) <= 0 || (height as number) <= 0) return null;
      return { geometry: { kind: 'box', x: x as number, y: y as number, width: width as number, height: height as number }, ...flags };
    }
    case 'polygon': {
      const pts = g['points'];
      if (!Array.isArray(pts) || pts.length < 3) return null;
      const points: [number, number][] = [];
      for (const p of pts) {
        if (!Array.isArray(p) || !finite(p[0], p[1])) return null;
        points.push([p[0] as number, p[1] as number]);
      }
      return { geometry: { kind: 'polygon', points }, ...flags };
    }
    case 'mask': {
      const rle = g['rle'] as { size?: unknown; counts?: unknown } | undefined;
      if (!rle || !Array.isArray(rle.size) || !Array.isArray(rle.counts) || !finite(rle.size[0], rle.size[1])) return null;
      if (!rle.counts.every((c) => Number.isInteger(c) && (c as number) >= 0)) return null;
      return { geometry: { kind: 'mask', rle: { size: [rle.size[0] as number, rle.size[1] as number], counts: rle.counts as number[] } }, ...flags };
    }
    default:
      return null;
  }
}

/** Case-insensitive unique names: 'a/b.png', then 'a/b-2.png', ... */
export class NameAllocator {
  readonly #used = new Set<string>();

  take(wanted: string): string {
    const clean = sanitizeRelativePath(wanted);
    if (!this.#used.has(clean.toLowerCase())) {
      this.#used.add(clean.toLowerCase());
      return clean;
    }
    const slash = clean.lastIndexOf('/');
    const dir = clean.slice(0, slash + 1);
    const base = clean.slice(slash + 1);
    const dot = base.lastIndexOf('.');
    const stem = dot > 0 ? base.slice(0, dot) : base;
    const ext = dot > 0 ? base.slice(dot) : '';
    for (let i = 2; ; i++) {
      // At most 40 code points (160 UTF-8 bytes) of stem, so sanitising never cuts the counter off.
      const candidate = sanitizeRelativePath(`${dir}${Array.from(stem).slice(0, 40).join('')}-${i}${ext}`);
      if (!this.#used.has(candidate.toLowerCase())) {
        this.#used.add(candidate.toLowerCase());
        return candidate;
      }
    }
  }
}

/** The path without its last extension ('a/b.c.png' -> 'a/b.c'). */
export function withoutExtension(path: string): string {
  const slash = path.lastIndexOf('/');
  const stem = fileStem(path);
  return `${path.slice(0, slash + 1)}${stem}`;
}

export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new FoveaException('CANCELLED', 'The export was cancelled.');
}

/**
 * Everything a 2-D format needs, read in a few SELECTs (read-only). `withImages`: name plain images
 * after the PNG copies the export will write.
 */
export function collectExportData(job: ExportJob, opts: { withImages?: boolean } = {}): ExportData {
  const { db, datasets } = job.sources;
  const which = exportLabelsOption(job.options);
  const statuses: ('active' | 'proposed')[] = which === 'human' ? ['active'] : which === 'proposals' ? ['proposed'] : ['active', 'proposed'];
  const dataset = datasets.get(job.datasetId);
  const classRows = listClasses(db, job.datasetId);
  const classes: ExportClass[] = classRows.map((c, index) => ({ id: c.id, name: c.name, index }));
  const classById = new Map(classes.map((c) => [c.id, c]));

  const items = listExportItems(db, job.datasetId, job.split);

  const anns = listExportAnnotations(db, job.datasetId, statuses);
  const seriesAnnotations = countActiveSeriesLabels(db, job.datasetId);

  const byItem = new Map<number, ExportAnnotationRow[]>();
  for (const a of anns) {
    const l = byItem.get(a.itemId);
    if (l) l.push(a);
    else byItem.set(a.itemId, [a]);
  }

  const names = new NameAllocator();
  const images: ExportImage[] = [];
  let unreadable = 0;
  for (const it of items) {
    const rows = byItem.get(it.id) ?? [];
    const converted: { frame: number | null; ann: ExportAnnotation }[] = [];
    for (const a of rows) {
      const cls = classById.get(a.classId);
      const g = readGeometry(a.kind, a.geometry);
      if (!cls || !g) {
        unreadable++;
        continue;
      }
      const frame = it.frames > 1 && a.frameIndex !== null ? a.frameIndex : null;
      converted.push({
        frame,
        ann: {
          id: a.id,
          classIndex: cls.index,
          className: cls.name,
          geometry: g.geometry,
          score: a.score,
          crowd: g.crowd,
          difficult: g.difficult,
          source: a.source,
          proposed: a.status === 'proposed',
          runId: a.runId,
        },
      });
    }
    const copied = opts.withImages && it.kind === 'image';
    const baseName = copied ? `${withoutExtension(sanitizeRelativePath(it.sourceName))}.png` : it.sourceName;
    const base: Omit<ExportImage, 'name' | 'frame' | 'annotations'> = {
      itemId: it.id,
      kind: it.kind,
      width: it.columns,
      height: it.rows,
      channels: it.samplesPerPixel,
      split: it.split,
      blobSha256: it.blobSha256,
    };
    images.push({ ...base, frame: null, name: names.take(baseName), annotations: converted.filter((c) => c.frame === null).map((c) => c.ann) });
    const frames = [...new Set(converted.filter((c) => c.frame !== null).map((c) => c.frame as number))].sort((a, b) => a - b);
    for (const f of frames) {
      const name = names.take(`${withoutExtension(sanitizeRelativePath(it.sourceName))}_frame${String(f).padStart(4, '0')}.png`);
      images.push({ ...base, frame: f, name, annotations: converted.filter((c) => c.frame === f).map((c) => c.ann) });
    }
  }
  return { datasetName: dataset.name, labels: which, classes, images, seriesAnnotations, unreadable };
}

/** Warnings every 2-D format adds about what it could not take. */
export function commonWarnings(data: ExportData, format: string, withImages = false): string[] {
  const w: string[] = [];
  const dicom = new Set(data.images.filter((i) => i.kind === 'dicom').map((i) => i.itemId)).size;
  if (withImages && dicom > 0) {
    w.push(`${dicom} DICOM image(s) were not copied: label formats copy plain images only (export DICOM with dicom-deid, which removes patient identity).`);
  }
  if (data.seriesAnnotations > 0) {
    w.push(`${data.seriesAnnotations} series-level label(s) were not exported: ${format} holds labels per image (use nifti or dicom-seg for series).`);
  }
  if (data.unreadable > 0) w.push(`${data.unreadable} annotation(s) with unreadable geometry were skipped.`);
  if (data.labels !== 'human' && format !== 'COCO' && format !== 'YOLO') {
    const scored = data.images.reduce((n, i) => n + i.annotations.filter((a) => a.score !== null).length, 0);
    if (scored > 0) w.push(`${format} has no place for a score: the scores of ${scored} proposal(s) are not written (COCO and YOLO keep them).`);
  }
  return w;
}

/** Numbers as short as they can be written and still read back to the same double, never in exponent form. */
export function num(n: number): string {
  if (Number.isInteger(n)) return String(n);
  const s = String(n);
  if (!/e/i.test(s)) return s;
  return n.toFixed(20).replace(/0+$/u, '').replace(/\.$/u, '');
}

/** Copies the stored PNG of a plain image into the export when asked (`withImages`). */
export async function maybeCopyImage(job: ExportJob, image: ExportImage, folder: string, withImages: boolean, copied: Set<number>): Promise<void> {
  if (!withImages || image.kind !== 'image' || copied.has(image.itemId) || image.frame !== null) return;
  copied.add(image.itemId);
  await job.writer.write(`${folder}/${image.name}`, job.sources.blobs.read(image.blobSha256));
}

/** The bounding box of a polygon (a loop: polygons may have a million points). */
export function polygonBounds(points: readonly (readonly [number, number])[]): { x: number; y: number; width: number; height: number } {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const [x, y] of points) {
    if (x < x0) x0 = x;
    if (y < y0) y0 = y;
    if (x > x1) x1 = x;
    if (y > y1) y1 = y;
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}
