/**
 * Labeling: what the viewer's tools, the schema editor and the review mode
 * ask of the library. Every write is its own transaction on a synchronous=FULL
 * connection (library-db.ts), so a label is on disk when the request returns.
 *
 * - The author of every human annotation and status change is the annotator
 *   in settings (AnnotatorSettingsService), never a name the renderer sends;
 *   each write appends an audit row with that name as actor (ids only, no PHI,
 *   no free text).
 * - Optimistic concurrency: updates, deletes, restores and reviews name the
 *   version they change; another version is CONFLICT with the current row in
 *   `details.current`, and nothing changes.
 * - Geometry is in image pixels and must fit the image it is on: a mask is
 *   exactly rows x columns; boxes and polygons stay within one pixel of it.
 * - A model's proposal (source 'model', status 'proposed') becomes the
 *   annotator's own active annotation when accepted, or 'rejected'.
 */
import type { Annotation, AnnotationGeometry, AnnotationKind, ImageLabels, ItemStatus, LabelClass, LabelSchema, StatusInfo } from '../../contract/domain';
import { FoveaException } from '../../contract/result';
import type { AuditLog } from '../store/audit-log';
import type { AnnotationChange, AnnotationRow, AnnotationStore, ClassRow, StatusRow } from '../store/annotation-store';
import { activeClassLabelsAt } from '../store/annotations-repo';
import { datasetOfTarget, getItemInfo, getSeriesDataset, markInProgress, type ItemInfoRow } from '../store/items-repo';
import type { Db } from '../store/library-db';
import { inImmediateTransaction } from '../store/transaction';
import type { AnnotatorSettingsService } from './annotator-settings';

export type CreateAnnotationInput =
  | { itemId?: number; seriesId?: number; frame?: number; classId: number; kind: 'class' }
  | { itemId?: number; seriesId?: number; frame?: number; classId: number; kind: 'box' | 'polygon' | 'mask'; geometry: AnnotationGeometry };

/** Emitted after every change, so other views (the browser's grid) can refresh. */
export type LabelsChanged = (change: { datasetId: number; itemId: number | null; seriesId: number | null }) => void;

export class AnnotationService {
  readonly #db: Db;
  readonly #store: AnnotationStore;
  readonly #audit: AuditLog;
  readonly #settings: AnnotatorSettingsService;
  readonly #changed: LabelsChanged;

  constructor(deps: { db: Db; store: AnnotationStore; audit: AuditLog; settings: AnnotatorSettingsService; onChanged?: LabelsChanged }) {
    this.#db = deps.db;
    this.#store = deps.store;
    this.#audit = deps.audit;
    this.#settings = deps.settings;
    this.#changed = deps.onChanged ?? (() => undefined);
  }

  // ---------------------------------------------------------------- reading

  /** Annotations and status of an image (or one frame of it), or of a whole series. */
  list(q: { itemId?: number | undefined; seriesId?: number | undefined; frame?: number | undefined }): ImageLabels {
    if ((q.itemId === undefined) === (q.seriesId === undefined)) {
      throw new FoveaException('VALIDATION', 'Name exactly one of itemId and seriesId.');
    }
    if (q.itemId !== undefined) {
      const item = this.#item(q.itemId);
      const own = this.#store.listVisibleForItem(item.id, q.frame);
      const seriesRows = item.seriesId !== null ? this.#seriesOwn(item.seriesId) : [];
      return {
        annotations: [...own, ...seriesRows].map(toAnnotation).sort((a, b) => a.id - b.id),
        item: toStatus(this.#store.itemStatus(item.id)),
        series: item.seriesId !== null ? { seriesId: item.seriesId, ...(toStatus(this.#store.seriesStatus(item.seriesId)) as StatusInfo) } : null,
      };
    }
    const seriesId = q.seriesId as number;
    const status = this.#store.seriesStatus(seriesId);
    if (!status) throw new FoveaException('NOT_FOUND', `There is no series with id ${seriesId}.`);
    return { annotations: this.#store.listVisibleForSeries(seriesId).map(toAnnotation), item: null, series: { seriesId, ...(toStatus(status) as StatusInfo) } };
  }

  #seriesOwn(seriesId: number): AnnotationRow[] {
    return this.#store.listVisibleForSeries(seriesId).filter((r) => r.seriesId === seriesId);
  }

  // ---------------------------------------------------------------- writing

  create(input: CreateAnnotationInput): Annotation {
    const author = this.#settings.requireAnnotator();
    return this.#write(() => {
      const cls = this.#class(input.classId);
      let datasetId: number;
      let itemId: number | null = null;
      let seriesId: number | null = null;
      let frame: number | null = null;
      if ((input.itemId === undefined) === (input.seriesId === undefined)) {
        throw new FoveaException('VALIDATION', 'An annotation belongs to exactly one image (itemId) or one series (seriesId).');
      }
      if (input.itemId !== undefined) {
        const item = this.#item(input.itemId);
        datasetId = item.datasetId;
        itemId = item.id;
        if (input.frame !== undefined) {
          if (input.frame >= item.frames) throw new FoveaException('VALIDATION', `Frame ${input.frame} does not exist: the image has ${item.frames} frame(s).`);
          // A single-frame image's frame 0 is the image itself.
          frame = item.frames > 1 ? input.frame : null;
        }
        if (input.kind !== 'class') checkFits(input.kind, input.geometry, item);
      } else {
        if (input.kind !== 'class') throw new FoveaException('VALIDATION', 'A series takes class labels only; draw shapes on its images.');
        if (input.frame !== undefined) throw new FoveaException('VALIDATION', 'A series label has no frame.');
        const s = getSeriesDataset(this.#db, input.seriesId as number);
        if (!s) throw new FoveaException('NOT_FOUND', `There is no series with id ${input.seriesId}.`);
        datasetId = s.datasetId;
        seriesId = s.id;
      }
      if (cls.datasetId !== datasetId) throw new FoveaException('VALIDATION', `The class "${cls.name}" belongs to another dataset.`);
      if (input.kind === 'class') this.#checkClassLabel(datasetId, cls, itemId, seriesId, frame);

      const id = this.#store.create({
        datasetId,
        itemId,
        seriesId,
        frameIndex: frame,
        classId: cls.id,
        kind: input.kind,
        geometry: input.kind === 'class' ? null : input.geometry,
        source: 'human',
        status: 'active',
        author,
      });
      // The first label moves an untouched image or series to "in progress".
      markInProgress(this.#db, itemId !== null ? { itemId } : { seriesId: seriesId as number }, author, new Date().toISOString());
      const row = this.#store.get(id) as AnnotationRow;
      this.#audit.append({ action: 'annotation.create', objectType: 'annotation', objectId: id, actor: author, details: auditDetails(row) });
      return row;
    });
  }

  /** Change geometry and/or class of an active or proposed annotation at `expectedVersion`. */
  update(p: { id: number; expectedVersion: number; classId?: number | undefined; geometry?: AnnotationGeometry | undefined }): Annotation {
    const author = this.#settings.requireAnnotator();
    return this.#write(() => {
      const row = this.#visible(p.id);
      const change: AnnotationChange = {};
      if (p.classId !== undefined) change.classId = this.#classFor(row, p.classId).id;
      if (p.geometry !== undefined) {
        if (row.kind === 'class') throw new FoveaException('VALIDATION', 'A class label has no geometry.');
        checkFits(row.kind, p.geometry, this.#item(row.itemId as number));
        change.geometry = p.geometry;
      }
      if (row.kind === 'class' && change.classId !== undefined && change.classId !== row.classId) {
        this.#checkClassLabel(row.datasetId, this.#class(change.classId), row.itemId, row.seriesId, row.frameIndex, row.id);
      }
      // A person's edit makes a human label theirs; a proposal stays the model's until accepted.
      if (row.status === 'active') change.author = author;
      const next = this.#versioned(row, p.expectedVersion, change);
      this.#audit.append({ action: 'annotation.update', objectType: 'annotation', objectId: row.id, actor: author, details: { ...auditDetails(next), changed: Object.keys(change).filter((k) => k !== 'author') } });
      return next;
    });
  }

  delete(p: { id: number; expectedVersion: number }): Annotation {
    const author = this.#settings.requireAnnotator();
    return this.#write(() => {
      const row = this.#visible(p.id);
      const next = this.#versioned(row, p.expectedVersion, { status: 'deleted' });
      this.#audit.append({ action: 'annotation.delete', objectType: 'annotation', objectId: row.id, actor: author, details: { ...auditDetails(next), was: row.status } });
      return next;
    });
  }

  /** Undo of a delete: back to active (a human label) or proposed (a model's). */
  restore(p: { id: number; expectedVersion: number }): Annotation {
    const author = this.#settings.requireAnnotator();
    return this.#write(() => {
      const row = this.#store.get(p.id);
      if (!row) throw new FoveaException('NOT_FOUND', `There is no annotation with id ${p.id}.`);
      if (row.status !== 'deleted') throw new FoveaException('CONFLICT', 'Only a deleted annotation can be restored.', { current: toAnnotation(row) });
      if (row.kind === 'class') this.#checkClassLabel(row.datasetId, this.#class(row.classId), row.itemId, row.seriesId, row.frameIndex, row.id);
      const next = this.#versioned(row, p.expectedVersion, { status: row.source === 'model' ? 'proposed' : 'active' });
      this.#audit.append({ action: 'annotation.restore', objectType: 'annotation', objectId: row.id, actor: author, details: auditDetails(next) });
      return next;
    });
  }

  /** Accept (optionally edited) or reject a model's proposal. */
  review(p: { id: number; expectedVersion: number; action: 'accept' | 'reject'; classId?: number | undefined; geometry?: AnnotationGeometry | undefined }): Annotation {
    const author = this.#settings.requireAnnotator();
    return this.#write(() => {
      const row = this.#store.get(p.id);
      if (!row || row.status === 'deleted') throw new FoveaException('NOT_FOUND', `There is no annotation with id ${p.id}.`);
      if (row.status !== 'proposed') {
        throw new FoveaException('CONFLICT', `This annotation is ${row.status}, not a proposal waiting for review.`, { current: toAnnotation(row) });
      }
      let next: AnnotationRow;
      if (p.action === 'reject') {
        if (p.geometry !== undefined || p.classId !== undefined) throw new FoveaException('VALIDATION', 'A rejection takes no edits.');
        next = this.#versioned(row, p.expectedVersion, { status: 'rejected' });
      } else {
        const change: AnnotationChange = { status: 'active', source: 'human', author, score: null };
        if (p.classId !== undefined) change.classId = this.#classFor(row, p.classId).id;
        if (p.geometry !== undefined) {
          if (row.kind === 'class') throw new FoveaException('VALIDATION', 'A class label has no geometry.');
          checkFits(row.kind, p.geometry, this.#item(row.itemId as number));
          change.geometry = p.geometry;
        }
        if (row.kind === 'class') this.#checkClassLabel(row.datasetId, this.#class(change.classId ?? row.classId), row.itemId, row.seriesId, row.frameIndex, row.id);
        next = this.#versioned(row, p.expectedVersion, change);
      }
      this.#audit.append({
        action: p.action === 'accept' ? 'annotation.accept' : 'annotation.reject',
        objectType: 'annotation',
        objectId: row.id,
        actor: author,
        details: { ...auditDetails(next), proposedBy: row.author, score: row.score, edited: p.geometry !== undefined || (p.classId !== undefined && p.classId !== row.classId) },
      });
      return next;
    });
  }

  /** Set an image's or series' review status (rejected needs a comment; other statuses clear it). */
  setStatus(p: { itemId?: number | undefined; seriesId?: number | undefined; status: ItemStatus; comment?: string | undefined }): StatusInfo {
    const author = this.#settings.requireAnnotator();
    if ((p.itemId === undefined) === (p.seriesId === undefined)) throw new FoveaException('VALIDATION', 'Name exactly one of itemId and seriesId.');
    if (p.status === 'rejected' && !p.comment) throw new FoveaException('VALIDATION', 'Rejecting needs a comment that says what to fix.');
    const comment = p.comment ? p.comment : null;
    let datasetId = 0;
    const result = inImmediateTransaction(this.#db, () => {
        const target = p.itemId !== undefined ? { itemId: p.itemId } : { seriesId: p.seriesId as number };
        const before = p.itemId !== undefined ? this.#store.itemStatus(p.itemId) : this.#store.seriesStatus(p.seriesId as number);
        if (!before) throw new FoveaException('NOT_FOUND', p.itemId !== undefined ? `There is no image with id ${p.itemId}.` : `There is no series with id ${p.seriesId}.`);
        const row = this.#store.setStatus(target, p.status, author, comment);
        datasetId = datasetOfTarget(this.#db, target) as number;
        this.#audit.append({
          action: p.itemId !== undefined ? 'item.status' : 'series.status',
          objectType: p.itemId !== undefined ? 'item' : 'series',
          objectId: p.itemId ?? p.seriesId,
          actor: author,
          // The comment is free text (it may name the patient): the audit says only that there is one.
          details: { from: before.status, to: p.status, comment: comment !== null },
        });
        return row;
    });
    this.#changed({ datasetId, itemId: p.itemId ?? null, seriesId: p.seriesId ?? null });
    return toStatus(result) as StatusInfo;
  }

  // ---------------------------------------------------------------- schema

  schema(datasetId: number): LabelSchema {
    const multiLabel = this.#store.multiLabel(datasetId);
    return { datasetId, multiLabel, classes: this.#store.listClasses(datasetId) };
  }

  createClass(p: { datasetId: number; name: string; color?: string | undefined; hotkey?: string | null | undefined }): LabelClass {
    const actor = this.#settings.current().annotatorName;
    this.#store.multiLabel(p.datasetId); // NOT_FOUND for a missing dataset
    const c = inImmediateTransaction(this.#db, () => {
      const row = this.#store.createClass(p.datasetId, p);
      this.#audit.append({ action: 'class.create', objectType: 'label_class', objectId: row.id, actor, details: { datasetId: p.datasetId } });
      return row;
    });
    this.#changed({ datasetId: p.datasetId, itemId: null, seriesId: null });
    return toClass(c);
  }

  updateClass(p: { id: number; name?: string | undefined; color?: string | undefined; hotkey?: string | null | undefined; position?: number | undefined }): LabelClass {
    const actor = this.#settings.current().annotatorName;
    const c = inImmediateTransaction(this.#db, () => {
      const row = this.#store.updateClass(p.id, p);
      this.#audit.append({ action: 'class.update', objectType: 'label_class', objectId: row.id, actor, details: { datasetId: row.datasetId, changed: Object.keys(p).filter((k) => k !== 'id') } });
      return row;
    });
    this.#changed({ datasetId: c.datasetId, itemId: null, seriesId: null });
    return toClass(c);
  }

  deleteClass(p: { id: number; reassignTo?: number | undefined }): { deleted: true; reassigned: number } {
    const actor = this.#settings.current().annotatorName;
    const cls = this.#class(p.id);
    const reassigned = inImmediateTransaction(this.#db, () => {
      const moved = this.#store.deleteClass(p.id, p.reassignTo);
      this.#audit.append({ action: 'class.delete', objectType: 'label_class', objectId: p.id, actor, details: { datasetId: cls.datasetId, reassignTo: p.reassignTo ?? null, reassigned: moved } });
      return moved;
    });
    this.#changed({ datasetId: cls.datasetId, itemId: null, seriesId: null });
    return { deleted: true, reassigned };
  }

  /** Merges classes into one (see the 'classes.merge' request), audited, then a labels.changed event. */
  mergeClasses(p: { from: number[]; into: number }): { moved: number; duplicatesRemoved: number; schema: LabelSchema } {
    const actor = this.#settings.current().annotatorName;
    const target = this.#class(p.into);
    const result = inImmediateTransaction(this.#db, () => {
      const r = this.#store.mergeClasses(p.from, p.into);
      this.#audit.append({ action: 'class.merge', objectType: 'label_class', objectId: p.into, actor, details: { datasetId: target.datasetId, from: p.from, ...r } });
      return r;
    });
    this.#changed({ datasetId: target.datasetId, itemId: null, seriesId: null });
    return { ...result, schema: this.schema(target.datasetId) };
  }

  setMultiLabel(datasetId: number, multiLabel: boolean): LabelSchema {
    const actor = this.#settings.current().annotatorName;
    inImmediateTransaction(this.#db, () => {
      this.#store.setMultiLabel(datasetId, multiLabel);
      this.#audit.append({ action: 'schema.multi_label', objectType: 'dataset', objectId: datasetId, actor, details: { multiLabel } });
    });
    return this.schema(datasetId);
  }

  // ---------------------------------------------------------------- helpers

  /** One write transaction, then the change notification. */
  #write(fn: () => AnnotationRow): Annotation {
    const row = inImmediateTransaction(this.#db, fn);
    this.#changed({ datasetId: row.datasetId, itemId: row.itemId, seriesId: row.seriesId });
    return toAnnotation(row);
  }

  #versioned(row: AnnotationRow, expectedVersion: number, change: AnnotationChange): AnnotationRow {
    if (row.version !== expectedVersion) throw conflict(row);
    const next = this.#store.updateVersioned(row.id, expectedVersion, change);
    if (!next) throw conflict(this.#store.get(row.id) ?? row);
    return next;
  }

  #visible(id: number): AnnotationRow {
    const row = this.#store.get(id);
    if (!row || row.status === 'deleted') throw new FoveaException('NOT_FOUND', `There is no annotation with id ${id} (it may have been deleted).`);
    if (row.status === 'rejected') throw new FoveaException('CONFLICT', 'This proposal was rejected; it can no longer be edited.', { current: toAnnotation(row) });
    return row;
  }

  #item(id: number): ItemInfoRow {
    const item = getItemInfo(this.#db, id);
    if (!item) throw new FoveaException('NOT_FOUND', `There is no image with id ${id}.`);
    return item;
  }

  #class(id: number): ClassRow {
    const c = this.#store.getClass(id);
    if (!c) throw new FoveaException('NOT_FOUND', `There is no label class with id ${id}.`);
    return c;
  }

  #classFor(row: AnnotationRow, classId: number): ClassRow {
    const c = this.#class(classId);
    if (c.datasetId !== row.datasetId) throw new FoveaException('VALIDATION', `The class "${c.name}" belongs to another dataset.`);
    return c;
  }

  /**
   * A class label is unique per class at its level (image, frame or series); a single-label
   * dataset takes one class per level.
   */
  #checkClassLabel(datasetId: number, cls: ClassRow, itemId: number | null, seriesId: number | null, frame: number | null, selfId = 0): void {
    const existing = activeClassLabelsAt(this.#db, itemId !== null ? { itemId, frame } : { seriesId: seriesId as number }, selfId);
    const where = itemId !== null ? (frame !== null ? 'This frame' : 'This image') : 'This series';
    if (existing.some((e) => e.classId === cls.id)) throw new FoveaException('CONFLICT', `${where} already has the class "${cls.name}".`);
    if (existing.length > 0 && !this.#store.multiLabel(datasetId)) {
      throw new FoveaException(
        'CONFLICT',
        `${where} already has the class "${existing[0]?.name}" and this dataset takes one class per image: remove it first, or make the dataset multi-label in its label schema.`,
      );
    }
  }
}

function conflict(current: AnnotationRow): FoveaException {
  return new FoveaException(
    'CONFLICT',
    current.status === 'deleted'
      ? 'This annotation was deleted meanwhile (in another window or by another user).'
      : 'This annotation was changed meanwhile (in another window or by another user); your view was out of date and has been reloaded.',
    { current: toAnnotation(current) },
  );
}

/** Shapes must fit their image (image pixels, one pixel of slack for boxes and polygons). */
function checkFits(kind: AnnotationKind, g: AnnotationGeometry, item: ItemInfoRow): void {
  const size = `${item.columns}x${item.rows}`;
  const inside = (x: number, y: number): boolean => x >= -1 && y >= -1 && x <= item.columns + 1 && y <= item.rows + 1;
  if (kind === 'box') {
    if (!('width' in g)) throw new FoveaException('VALIDATION', 'A box annotation takes box geometry {x, y, width, height}.');
    if (!inside(g.x, g.y) || !inside(g.x + g.width, g.y + g.height)) throw new FoveaException('VALIDATION', `The box lies outside the ${size} image.`);
  } else if (kind === 'polygon') {
    if (!('points' in g)) throw new FoveaException('VALIDATION', 'A polygon annotation takes polygon geometry {points}.');
    if (!g.points.every(([x, y]) => inside(x, y))) throw new FoveaException('VALIDATION', `A polygon point lies outside the ${size} image.`);
  } else if (kind === 'mask') {
    if (!('rle' in g)) throw new FoveaException('VALIDATION', 'A mask annotation takes mask geometry {rle}.');
    const [h, w] = g.rle.size;
    if (h !== item.rows || w !== item.columns) throw new FoveaException('VALIDATION', `The mask is ${w}x${h} but the image is ${size}.`);
    let sum = 0;
    for (const c of g.rle.counts) sum += c;
    if (sum !== h * w) throw new FoveaException('VALIDATION', `The mask's RLE counts add up to ${sum}, not ${h * w}.`);
  } else {
    throw new FoveaException('VALIDATION', `A ${kind} annotation takes no geometry.`);
  }
}

function auditDetails(r: AnnotationRow): Record<string, unknown> {
  return { datasetId: r.datasetId, itemId: r.itemId, seriesId: r.seriesId, frame: r.frameIndex, kind: r.kind, classId: r.classId, source: r.source, status: r.status, version: r.version };
}

export function toAnnotation(r: AnnotationRow): Annotation {
  return {
    id: r.id,
    datasetId: r.datasetId,
    itemId: r.itemId,
    seriesId: r.seriesId,
    frame: r.frameIndex,
    classId: r.classId,
    kind: r.kind,
    geometry: (r.geometry ?? null) as AnnotationGeometry | null,
    score: r.score,
    source: r.source,
    status: r.status as Annotation['status'],
    author: r.author,
    version: r.version,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

function toStatus(s: StatusRow | null): StatusInfo | null {
  return s ? { status: s.status as ItemStatus, comment: s.comment, by: s.by, at: s.at } : null;
}

function toClass(c: ClassRow): LabelClass {
  return { id: c.id, name: c.name, color: c.color, hotkey: c.hotkey, position: c.position };
}
