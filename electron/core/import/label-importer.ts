/**
 * Applies labels made in other tools (parsed by core/labels into one
 * intermediate form) to the images of a dataset.
 *
 * Matching: label entries name their image by path (COCO file_name, VOC
 * filename, CSV filename) or by stem (YOLO .txt, mask PNGs); both are
 * matched against each item's source name as imported. DICOM label objects
 * name their image directly instead (`target`: SOP Instance UID for SEG, the
 * item for NIfTI volumes laid onto slices by volume-label-matcher.ts), with
 * a frame for multi-frame images. Entries whose image
 * is not in the dataset, and classes the dataset did not have, are reported
 * - never silently dropped. Identical imported annotations already present
 * are skipped, so importing the same file twice adds nothing.
 *
 * Status: a matched image with labels is marked 'done' (if it was unlabeled). So is an image the
 * file lists with NO labels (an empty YOLO file, a VOC file without objects, a COCO image without
 * annotations, an all-background mask): a labelled-empty image, which detection trains and scores
 * as a negative. Not CSV rows with an empty label (usually a mistake, warned by the parser), nor a
 * mask whose values were all skipped (hasUnreadContent).
 *
 * Nothing made of something: when the source holds labels (or mask content) yet the import would
 * create no annotation and find none already present, it is refused (BAD_INPUT, nothing written)
 * with the reasons: the unmatched image names, or what the parser read but could not use (e.g.
 * 0/255 masks with a class map that does not name 255).
 */
import { FoveaException } from '../../contract/result';
import type { ParsedImageLabels, ParsedLabel, ParsedLabelFile } from '../labels';
import { IMAGE_SUFFIXES, labelStem, MASK_SUFFIXES, scaleNormalizedLabels } from '../labels';
import type { AnnotationKind, AnnotationStore, NewAnnotation } from '../store/annotation-store';
import type { AuditLog } from '../store/audit-log';
import type { BlobStore } from '../store/blob-store';
import { importedLabelChecker } from '../store/annotations-repo';
import { itemDoneMarker, listItemRefs } from '../store/items-repo';
import type { Db } from '../store/library-db';
import { userSplitWriter } from '../store/splits-repo';
import { inImmediateTransaction } from '../store/transaction';
import { matchLabelVolumes } from './volume-label-matcher';

export interface LabelImportReport {
  format: string;
  imagesInFile: number;
  matchedImages: number;
  /** Label entries whose image is not in the dataset. */
  unmatchedImages: string[];
  /** Entries that matched more than one image (ambiguous base names). */
  ambiguousImages: string[];
  annotationsCreated: number;
  /** Identical imported annotations already present. */
  annotationsSkipped: number;
  /** Classes the dataset did not have, created by this import. */
  classesCreated: string[];
  /** Matched images the file lists without any label, marked labelled (negatives for detection). */
  labelledEmpty: number;
  splitsAssigned: number;
  /** Parser warnings (per-entry problems), passed through. */
  warnings: string[];
}

interface ItemRef {
  id: number;
  sourceName: string;
  rows: number;
  columns: number;
  sopInstanceUid: string | null;
  frames: number;
}

/**
 * The item (and stored frame index: null for single-frame images) an entry with a `target`
 * names (DICOM SEG, NIfTI), or why there is none.
 */
function findTarget(entry: ParsedImageLabels, byId: Map<number, ItemRef>, bySop: Map<string, ItemRef>): { item: ItemRef; frameIndex: number | null } | string {
  const t = entry.target;
  if (!t) return 'no target';
  const item = t.kind === 'item' ? byId.get(t.itemId) : bySop.get(t.sopInstanceUid);
  if (!item) return 'not in the dataset';
  const f = t.frameIndex;
  if (item.frames > 1) {
    if (f === undefined || f < 0 || f >= item.frames) return `frame ${f === undefined ? '(none)' : f + 1} of a ${item.frames}-frame image`;
    return { item, frameIndex: f };
  }
  if (f !== undefined && f !== 0) return `frame ${f + 1} of a single-frame image`;
  return { item, frameIndex: null };
}

function lower(s: string): string {
  return s.replace(/\\/g, '/').toLowerCase();
}

function baseName(p: string): string {
  const n = lower(p);
  return n.slice(n.lastIndexOf('/') + 1);
}

class ItemIndex {
  readonly #byPath = new Map<string, ItemRef[]>();
  readonly #byBase = new Map<string, ItemRef[]>();
  readonly #byStem = new Map<string, ItemRef[]>();

  constructor(items: ItemRef[]) {
    const add = (m: Map<string, ItemRef[]>, k: string, it: ItemRef) => {
      const l = m.get(k);
      if (l) l.push(it);
      else m.set(k, [it]);
    };
    for (const it of items) {
      add(this.#byPath, lower(it.sourceName), it);
      add(this.#byBase, baseName(it.sourceName), it);
      const stems = new Set([labelStem(it.sourceName, IMAGE_SUFFIXES).toLowerCase(), labelStem(it.sourceName, MASK_SUFFIXES).toLowerCase()]);
      for (const s of stems) add(this.#byStem, s, it);
    }
  }

  find(entry: ParsedImageLabels): ItemRef[] {
    if (entry.match === 'stem') {
      const key = labelStem(entry.fileName, MASK_SUFFIXES).toLowerCase();
      const candidates = this.#byStem.get(key) ?? this.#byStem.get(labelStem(entry.fileName, IMAGE_SUFFIXES).toLowerCase()) ?? [];
      return candidates.length > 1 && entry.source ? closestByFolder(candidates, entry.source) : candidates;
    }
    const name = lower(entry.fileName).replace(/^\.\//, '');
    const exact = this.#byPath.get(name);
    if (exact) return exact;
    // Trailing path components: "images/train/a.png" matches an item imported as "train/a.png" or "a.png".
    const candidates = this.#byBase.get(baseName(name)) ?? [];
    if (candidates.length <= 1) return candidates;
    const suffixMatches = candidates.filter((c) => name.endsWith(`/${lower(c.sourceName)}`) || lower(c.sourceName).endsWith(`/${name}`));
    return suffixMatches.length ? suffixMatches : candidates;
  }
}

/**
 * Among images with the same stem (IM0001 in every series), keep those whose
 * folders the label file's path shares most: masks in "P1/CT/masks/IM0001.png"
 * belong to "P1/CT/IM0001.dcm".
 */
function closestByFolder(candidates: ItemRef[], labelPath: string): ItemRef[] {
  const labelDirs = new Set(lower(labelPath).split('/').slice(0, -1));
  const score = (c: ItemRef) => lower(c.sourceName).split('/').slice(0, -1).filter((d) => labelDirs.has(d)).length;
  const best = Math.max(...candidates.map(score));
  return candidates.filter((c) => score(c) === best);
}

function geometryOf(label: ParsedLabel): { kind: AnnotationKind; geometry: unknown } {
  const g = label.geometry;
  const flags = { ...(label.crowd ? { crowd: true } : {}), ...(label.difficult ? { difficult: true } : {}) };
  switch (g.kind) {
    case 'class':
      return { kind: 'class', geometry: Object.keys(flags).length ? flags : null };
    case 'box':
      return { kind: 'box', geometry: { x: g.x, y: g.y, width: g.width, height: g.height, ...flags } };
    case 'polygon':
      return { kind: 'polygon', geometry: { points: g.points, ...flags } };
    case 'mask':
      return { kind: 'mask', geometry: { rle: g.rle, ...flags } };
  }
}

export function applyLabels(
  db: Db,
  annotations: AnnotationStore,
  audit: AuditLog,
  datasetId: number,
  parsed: ParsedLabelFile,
  author: string,
  /** The blob store: needed to lay label volumes (NIfTI) onto DICOM slices by their geometry. */
  sources: { blobs?: BlobStore } = {},
): LabelImportReport {
  const items = listItemRefs(db, datasetId);
  const index = new ItemIndex(items);
  const byId = new Map(items.map((it) => [it.id, it]));
  const bySop = new Map(items.filter((it) => it.sopInstanceUid).map((it) => [it.sopInstanceUid as string, it]));
  let entries = parsed.images;
  const extraUnmatched: string[] = [];
  const extraAmbiguous: string[] = [];
  const extraWarnings: string[] = [];
  if (parsed.volumes?.length) {
    if (!sources.blobs) throw new FoveaException('INTERNAL', 'Label volumes can only be placed with access to the stored DICOM files.');
    const matched = matchLabelVolumes(db, sources.blobs, datasetId, parsed.volumes);
    entries = [...entries, ...matched.images];
    extraUnmatched.push(...matched.unmatched);
    extraAmbiguous.push(...matched.ambiguous);
    extraWarnings.push(...matched.warnings);
  }
  const existingClasses = new Set(annotations.listClasses(datasetId).map((c) => c.name));
  const report: LabelImportReport = {
    format: parsed.format,
    imagesInFile: entries.length,
    matchedImages: 0,
    unmatchedImages: extraUnmatched,
    ambiguousImages: extraAmbiguous,
    annotationsCreated: 0,
    annotationsSkipped: 0,
    classesCreated: [],
    labelledEmpty: 0,
    splitsAssigned: 0,
    warnings: extraWarnings.length ? [...parsed.warnings, ...extraWarnings] : parsed.warnings,
  };
  const existingKey = importedLabelChecker(db);
  const setStatus = itemDoneMarker(db);
  const setSplit = userSplitWriter(db);

  inImmediateTransaction(db, () => {
    // Classes first, in the file's order, so hotkeys follow it.
    for (const name of parsed.classes) {
      if (!existingClasses.has(name) && entries.some((im) => im.labels.some((l) => l.className === name))) {
        annotations.ensureClass(datasetId, name);
        existingClasses.add(name);
        report.classesCreated.push(name);
      }
    }
    const now = new Date().toISOString();
    for (const entry of entries) {
      let item: ItemRef;
      let frameIndex: number | null = null;
      if (entry.target) {
        const found = findTarget(entry, byId, bySop);
        if (typeof found === 'string') {
          report.unmatchedImages.push(found === 'not in the dataset' ? entry.fileName : `${entry.fileName} (${found})`);
          continue;
        }
        ({ item, frameIndex } = found);
      } else {
        const matches = index.find(entry);
        if (matches.length === 0) {
          report.unmatchedImages.push(entry.fileName);
          continue;
        }
        if (matches.length > 1) {
          report.ambiguousImages.push(`${entry.fileName} (${matches.length} images: ${matches.slice(0, 3).map((m) => m.sourceName).join(', ')})`);
          continue;
        }
        item = matches[0] as ItemRef;
      }
      report.matchedImages++;
      const labels = entry.normalized ? scaleNormalizedLabels(entry.labels, item.columns, item.rows) : entry.labels;
      const toCreate: NewAnnotation[] = [];
      for (const label of labels) {
        if (entry.target && label.geometry.kind === 'mask' && (label.geometry.rle.size[0] !== item.rows || label.geometry.rle.size[1] !== item.columns)) {
          const [h, w] = label.geometry.rle.size;
          report.warnings = [...report.warnings, `${entry.fileName}: a ${w}x${h} mask of "${label.className}" does not fit the ${item.columns}x${item.rows} image; skipped.`];
          continue;
        }
        if (!existingClasses.has(label.className)) {
          annotations.ensureClass(datasetId, label.className);
          existingClasses.add(label.className);
          report.classesCreated.push(label.className);
        }
        const classId = annotations.ensureClass(datasetId, label.className);
        const { kind, geometry } = geometryOf(label);
        const geometryJson = geometry == null ? '' : JSON.stringify(geometry);
        if (existingKey(item.id, frameIndex, classId, kind, geometryJson)) {
          report.annotationsSkipped++;
          continue;
        }
        toCreate.push({ datasetId, itemId: item.id, frameIndex, classId, kind, geometry, score: label.score ?? null, source: 'imported', author });
      }
      for (const a of toCreate) annotations.create(a);
      report.annotationsCreated += toCreate.length;
      const listedEmpty = labels.length === 0 && !entry.hasUnreadContent && !entry.target && parsed.format !== 'csv';
      if (labels.length > 0 || listedEmpty) setStatus(item.id, author, now);
      if (listedEmpty) report.labelledEmpty++;
      if (entry.split) {
        setSplit(datasetId, item.id, entry.split, now);
        report.splitsAssigned++;
      }
    }
    const labelsInSource = entries.reduce((n, e) => n + e.labels.length, 0);
    if (report.annotationsCreated + report.annotationsSkipped === 0 && (labelsInSource > 0 || (parsed.unusedContent?.length ?? 0) > 0)) {
      throw nothingImported(parsed, report, labelsInSource);
    }
    audit.append({
      action: 'labels.import',
      objectType: 'dataset',
      objectId: datasetId,
      actor: author,
      details: {
        format: parsed.format,
        matchedImages: report.matchedImages,
        unmatchedImages: report.unmatchedImages.length,
        annotationsCreated: report.annotationsCreated,
        classesCreated: report.classesCreated.length,
      },
    });
  });
  return report;
}

/** Why an import with label content in its source would create nothing (see the header). */
function nothingImported(parsed: ParsedLabelFile, report: LabelImportReport, labelsInSource: number): FoveaException {
  const why: string[] = [];
  if (labelsInSource > 0 && report.matchedImages === 0) {
    why.push(
      `its ${labelsInSource} label(s) are on ${report.imagesInFile} image(s) none of which is in the dataset ` +
        `(e.g. ${[...report.unmatchedImages, ...report.ambiguousImages].slice(0, 3).join(', ')}); labels are matched by file path or name`,
    );
  } else if (labelsInSource > 0) {
    why.push(`its ${labelsInSource} label(s) could not be placed on their images (${report.warnings.slice(0, 3).join(' ')})`);
  }
  for (const line of parsed.unusedContent ?? []) why.push(line);
  const hint =
    parsed.format === 'masks' || parsed.format === 'nifti'
      ? ' Name every pixel value that is a class: --classes "0=background,255=vessel" (value=name), or a classes.json beside the masks.'
      : '';
  return new FoveaException('BAD_INPUT', `Nothing was imported from this ${parsed.format} source, although it holds labels: ${why.join('; ')}.${hint}`);
}
