/**
 * Label classes and annotations. Every write is its own transaction, and
 * the connection runs with synchronous=FULL (library-db.ts): when a write
 * returns, the label is on disk and survives a crash or power cut.
 */
import { FoveaException } from '../../contract/result';
import { datasetMultiLabel, listClasses } from './classes-repo';
import type { Db } from './library-db';

export type AnnotationKind = 'class' | 'box' | 'polygon' | 'mask';
export type AnnotationSource = 'human' | 'model' | 'imported';

export interface NewAnnotation {
  datasetId: number;
  itemId?: number | null;
  seriesId?: number | null;
  frameIndex?: number | null;
  classId: number;
  kind: AnnotationKind;
  /** JSON-serialisable geometry in image pixel coordinates (null for a class label). */
  geometry: unknown;
  score?: number | null;
  source: AnnotationSource;
  status?: 'active' | 'proposed';
  author: string;
  runId?: number | null;
}

export interface AnnotationRow {
  id: number;
  datasetId: number;
  itemId: number | null;
  seriesId: number | null;
  frameIndex: number | null;
  classId: number;
  kind: AnnotationKind;
  geometry: unknown;
  score: number | null;
  source: AnnotationSource;
  status: string;
  author: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** A distinct, readable colour per class index (golden-angle hues). */
export function defaultClassColor(index: number): string {
  const hue = (index * 137.508) % 360;
  const s = 0.7;
  const l = 0.55;
  const k = (n: number) => (n + hue / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => Math.round(255 * (l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)))));
  return `#${[f(0), f(8), f(4)].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

export class AnnotationStore {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  listClasses(datasetId: number): { id: number; name: string; color: string; hotkey: string | null; position: number }[] {
    return listClasses(this.#db, datasetId);
  }

  /** The class with this name, created (with a colour and the next free 1-9 hotkey) if missing. */
  ensureClass(datasetId: number, name: string): number {
    const existing = this.#db.prepare('SELECT id FROM label_classes WHERE dataset_id = ? AND name = ?').get(datasetId, name) as { id: number } | undefined;
    if (existing) return existing.id;
    const count = (this.#db.prepare('SELECT count(*) AS n FROM label_classes WHERE dataset_id = ?').get(datasetId) as { n: number }).n;
    const used = new Set(this.#db.prepare('SELECT hotkey FROM label_classes WHERE dataset_id = ?').pluck().all(datasetId) as (string | null)[]);
    const hotkey = ['1', '2', '3', '4', '5', '6', '7', '8', '9'].find((k) => !used.has(k)) ?? null;
    const info = this.#db
      .prepare('INSERT INTO label_classes (dataset_id, name, color, hotkey, position) VALUES (?, ?, ?, ?, ?)')
      .run(datasetId, name, defaultClassColor(count), hotkey, count);
    return Number(info.lastInsertRowid);
  }

  create(a: NewAnnotation): number {
    if ((a.itemId == null) === (a.seriesId == null)) {
      throw new FoveaException('VALIDATION', 'An annotation belongs to exactly one image or one series.');
    }
    const now = new Date().toISOString();
    const info = this.#db
      .prepare(
        `INSERT INTO annotations (dataset_id, item_id, series_id, frame_index, class_id, kind, geometry, score, source, status, author, run_id, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        a.datasetId,
        a.itemId ?? null,
        a.seriesId ?? null,
        a.frameIndex ?? null,
        a.classId,
        a.kind,
        a.geometry == null ? null : JSON.stringify(a.geometry),
        a.score ?? null,
        a.source,
        a.status ?? 'active',
        a.author,
        a.runId ?? null,
        now,
        now,
      );
    return Number(info.lastInsertRowid);
  }

  /** Insert many annotations in one transaction (label import). */
  createMany(list: readonly NewAnnotation[]): number[] {
    return this.#db.transaction(() => list.map((a) => this.create(a))).immediate();
  }

  get(id: number): AnnotationRow | null {
    const r = this.#db.prepare('SELECT * FROM annotations WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r ? toRow(r) : null;
  }

  listForItem(itemId: number): AnnotationRow[] {
    return (this.#db.prepare("SELECT * FROM annotations WHERE item_id = ? AND status <> 'deleted' ORDER BY id").all(itemId) as Record<string, unknown>[]).map(toRow);
  }

  /**
   * Visible annotations (active, proposed) of an image: with `frame`, the frame's own and the whole
   * image's (frame NULL); without, all of them.
   */
  listVisibleForItem(itemId: number, frame?: number): AnnotationRow[] {
    const rows =
      frame === undefined
        ? this.#db.prepare("SELECT * FROM annotations WHERE item_id = ? AND status IN ('active','proposed') ORDER BY id").all(itemId)
        : this.#db
            .prepare("SELECT * FROM annotations WHERE item_id = ? AND (frame_index IS NULL OR frame_index = ?) AND status IN ('active','proposed') ORDER BY id")
            .all(itemId, frame);
    return (rows as Record<string, unknown>[]).map(toRow);
  }

  /** Visible annotations of a series: its own (series classes) and every one of its images'. */
  listVisibleForSeries(seriesId: number): AnnotationRow[] {
    return (
      this.#db
        .prepare(
          `SELECT * FROM annotations WHERE status IN ('active','proposed')
             AND (series_id = ? OR item_id IN (SELECT id FROM items WHERE series_id = ?)) ORDER BY id`,
        )
        .all(seriesId, seriesId) as Record<string, unknown>[]
    ).map(toRow);
  }

  /**
   * Change a row if it is still at `expectedVersion` (optimistic concurrency): bumps the version.
   * Returns the new row, or null when the row is missing or at another version (nothing changed).
   */
  updateVersioned(id: number, expectedVersion: number, change: AnnotationChange): AnnotationRow | null {
    const sets: string[] = ['version = version + 1', 'updated_at = @now'];
    const params: Record<string, unknown> = { id, expected: expectedVersion, now: new Date().toISOString() };
    if (change.classId !== undefined) {
      sets.push('class_id = @classId');
      params['classId'] = change.classId;
    }
    if (change.geometry !== undefined) {
      sets.push('geometry = @geometry');
      params['geometry'] = change.geometry === null ? null : JSON.stringify(change.geometry);
    }
    for (const key of ['status', 'source', 'author', 'score'] as const) {
      if (change[key] !== undefined) {
        sets.push(`${key} = @${key}`);
        params[key] = change[key];
      }
    }
    const info = this.#db.prepare(`UPDATE annotations SET ${sets.join(', ')} WHERE id = @id AND version = @expected`).run(params);
    return info.changes === 1 ? this.get(id) : null;
  }

  getClass(id: number): ClassRow | null {
    const r = this.#db.prepare('SELECT id, dataset_id AS datasetId, name, color, hotkey, position FROM label_classes WHERE id = ?').get(id) as ClassRow | undefined;
    return r ?? null;
  }

  /** Insert a class; colour and position default to the next ones. Throws CONFLICT on a duplicate name or key. */
  createClass(datasetId: number, c: { name: string; color?: string | undefined; hotkey?: string | null | undefined }): ClassRow {
    this.#checkUnique(datasetId, null, c.name, c.hotkey ?? null);
    const count = (this.#db.prepare('SELECT count(*) AS n, coalesce(max(position) + 1, 0) AS next FROM label_classes WHERE dataset_id = ?').get(datasetId) as { n: number; next: number });
    const info = this.#db
      .prepare('INSERT INTO label_classes (dataset_id, name, color, hotkey, position) VALUES (?, ?, ?, ?, ?)')
      .run(datasetId, c.name, c.color ?? defaultClassColor(count.n), c.hotkey ?? null, count.next);
    return this.getClass(Number(info.lastInsertRowid)) as ClassRow;
  }

  updateClass(id: number, c: { name?: string | undefined; color?: string | undefined; hotkey?: string | null | undefined; position?: number | undefined }): ClassRow {
    const current = this.getClass(id);
    if (!current) throw new FoveaException('NOT_FOUND', `There is no label class with id ${id}.`);
    const next = {
      name: c.name ?? current.name,
      color: c.color ?? current.color,
      hotkey: c.hotkey === undefined ? current.hotkey : c.hotkey,
      position: c.position ?? current.position,
    };
    this.#checkUnique(current.datasetId, id, next.name, next.hotkey);
    this.#db.prepare('UPDATE label_classes SET name = ?, color = ?, hotkey = ?, position = ? WHERE id = ?').run(next.name, next.color, next.hotkey, next.position, id);
    return this.getClass(id) as ClassRow;
  }

  #checkUnique(datasetId: number, selfId: number | null, name: string, hotkey: string | null): void {
    const byName = this.#db.prepare('SELECT id FROM label_classes WHERE dataset_id = ? AND name = ?').get(datasetId, name) as { id: number } | undefined;
    if (byName && byName.id !== selfId) throw new FoveaException('CONFLICT', `This dataset already has a class named "${name}".`);
    if (hotkey !== null) {
      const byKey = this.#db.prepare('SELECT id, name FROM label_classes WHERE dataset_id = ? AND hotkey = ?').get(datasetId, hotkey) as { id: number; name: string } | undefined;
      if (byKey && byKey.id !== selfId) throw new FoveaException('CONFLICT', `Key ${hotkey} already selects the class "${byKey.name}"; choose another key or clear that one first.`);
    }
  }

  /** Annotations that use a class: visible ones (active, proposed) and all rows (deleted, rejected too). */
  classUsage(id: number): { visible: number; all: number } {
    return this.#db
      .prepare("SELECT count(*) FILTER (WHERE status IN ('active','proposed')) AS visible, count(*) AS \"all\" FROM annotations WHERE class_id = ?")
      .get(id) as { visible: number; all: number };
  }

  /**
   * Delete a class in one transaction. With `reassignTo`, every annotation of it moves to that
   * class first; without, only deleted and rejected rows may use it (they are removed with it).
   * Returns how many annotations were moved.
   */
  deleteClass(id: number, reassignTo?: number): number {
    return this.#db
      .transaction(() => {
        const cls = this.getClass(id);
        if (!cls) throw new FoveaException('NOT_FOUND', `There is no label class with id ${id}.`);
        let moved = 0;
        if (reassignTo !== undefined) {
          const target = this.getClass(reassignTo);
          if (!target || target.datasetId !== cls.datasetId || target.id === id) {
            throw new FoveaException('VALIDATION', 'Annotations can only move to another class of the same dataset.');
          }
          moved = this.#db
            .prepare('UPDATE annotations SET class_id = ?, version = version + 1, updated_at = ? WHERE class_id = ?')
            .run(reassignTo, new Date().toISOString(), id).changes;
        } else {
          const usage = this.classUsage(id);
          if (usage.visible > 0) {
            throw new FoveaException(
              'CONFLICT',
              `The class "${cls.name}" is used by ${usage.visible} annotation${usage.visible === 1 ? '' : 's'}: move them to another class (reassign) or delete them first.`,
              { inUse: usage.visible },
            );
          }
          this.#db.prepare("DELETE FROM annotations WHERE class_id = ? AND status IN ('deleted','rejected')").run(id);
        }
        this.#db.prepare('DELETE FROM label_classes WHERE id = ?').run(id);
        return moved;
      })
      .immediate();
  }

  /**
   * Moves every annotation of the classes `from` to `into` (one dataset) and removes `from`, in
   * one transaction. Where two active class labels become the same label on the same image,
   * frame or series, the later one is marked deleted. Returns what moved and what was removed.
   */
  mergeClasses(from: readonly number[], into: number): { moved: number; duplicatesRemoved: number } {
    return this.#db
      .transaction(() => {
        const target = this.getClass(into);
        if (!target) throw new FoveaException('NOT_FOUND', `There is no label class with id ${into}.`);
        const sources = [...new Set(from)].map((id) => {
          const c = this.getClass(id);
          if (!c) throw new FoveaException('NOT_FOUND', `There is no label class with id ${id}.`);
          if (c.datasetId !== target.datasetId || c.id === target.id) throw new FoveaException('VALIDATION', 'Classes merge into another class of the same dataset.');
          return c;
        });
        const now = new Date().toISOString();
        let moved = 0;
        for (const c of sources) {
          moved += this.#db.prepare('UPDATE annotations SET class_id = ?, version = version + 1, updated_at = ? WHERE class_id = ?').run(into, now, c.id).changes;
          this.#db.prepare('DELETE FROM label_classes WHERE id = ?').run(c.id);
        }
        // Image-level class labels that now say the same thing twice: keep the first.
        const duplicatesRemoved = this.#db
          .prepare(
            `UPDATE annotations SET status = 'deleted', version = version + 1, updated_at = ?
              WHERE class_id = ? AND kind = 'class' AND status = 'active' AND id NOT IN (
                SELECT min(id) FROM annotations WHERE class_id = ? AND kind = 'class' AND status = 'active'
                 GROUP BY item_id, series_id, frame_index)`,
          )
          .run(now, into, into).changes;
        return { moved, duplicatesRemoved };
      })
      .immediate();
  }

  multiLabel(datasetId: number): boolean {
    return datasetMultiLabel(this.#db, datasetId);
  }

  setMultiLabel(datasetId: number, multiLabel: boolean): void {
    const info = this.#db.prepare('UPDATE datasets SET multi_label = ?, updated_at = ? WHERE id = ?').run(multiLabel ? 1 : 0, new Date().toISOString(), datasetId);
    if (info.changes !== 1) throw new FoveaException('NOT_FOUND', `There is no dataset with id ${datasetId}.`);
  }

  itemStatus(itemId: number): StatusRow | null {
    const r = this.#db.prepare('SELECT status, status_comment AS comment, status_by AS "by", status_at AS at FROM items WHERE id = ?').get(itemId) as StatusRow | undefined;
    return r ?? null;
  }

  seriesStatus(seriesId: number): StatusRow | null {
    const r = this.#db.prepare('SELECT status, status_comment AS comment, status_by AS "by", status_at AS at FROM series WHERE id = ?').get(seriesId) as StatusRow | undefined;
    return r ?? null;
  }

  /** Set an item's or a series' status (with who, when and the comment, cleared when not given). */
  setStatus(target: { itemId: number } | { seriesId: number }, status: string, by: string, comment: string | null): StatusRow {
    const table = 'itemId' in target ? 'items' : 'series';
    const id = 'itemId' in target ? target.itemId : target.seriesId;
    const at = new Date().toISOString();
    const info = this.#db.prepare(`UPDATE ${table} SET status = ?, status_comment = ?, status_by = ?, status_at = ? WHERE id = ?`).run(status, comment, by, at, id);
    if (info.changes !== 1) throw new FoveaException('NOT_FOUND', `There is no ${table === 'items' ? 'image' : 'series'} with id ${id}.`);
    return { status, comment, by, at };
  }

  listForDataset(datasetId: number, source?: AnnotationSource): AnnotationRow[] {
    const rows = source
      ? this.#db.prepare("SELECT * FROM annotations WHERE dataset_id = ? AND source = ? AND status <> 'deleted' ORDER BY id").all(datasetId, source)
      : this.#db.prepare("SELECT * FROM annotations WHERE dataset_id = ? AND status <> 'deleted' ORDER BY id").all(datasetId);
    return (rows as Record<string, unknown>[]).map(toRow);
  }
}

/** The fields a versioned update may change. */
export interface AnnotationChange {
  classId?: number;
  geometry?: unknown;
  status?: 'active' | 'proposed' | 'rejected' | 'deleted';
  source?: AnnotationSource;
  author?: string;
  score?: number | null;
}

export interface ClassRow {
  id: number;
  datasetId: number;
  name: string;
  color: string;
  hotkey: string | null;
  position: number;
}

export interface StatusRow {
  status: string;
  comment: string | null;
  by: string | null;
  at: string | null;
}

function toRow(r: Record<string, unknown>): AnnotationRow {
  return {
    id: r['id'] as number,
    datasetId: r['dataset_id'] as number,
    itemId: (r['item_id'] as number | null) ?? null,
    seriesId: (r['series_id'] as number | null) ?? null,
    frameIndex: (r['frame_index'] as number | null) ?? null,
    classId: r['class_id'] as number,
    kind: r['kind'] as AnnotationKind,
    geometry: r['geometry'] == null ? null : JSON.parse(r['geometry'] as string),
    score: (r['score'] as number | null) ?? null,
    source: r['source'] as AnnotationSource,
    status: r['status'] as string,
    author: r['author'] as string,
    version: r['version'] as number,
    createdAt: r['created_at'] as string,
    updatedAt: r['updated_at'] as string,
  };
}
