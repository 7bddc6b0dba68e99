/**
 * Label classes and annotations. Every write is its own transaction, and
 * the connection runs with synchronous=FULL (library-db.ts): when a write
 * returns, the label is on disk and survives a crash or power cut.
 */
import { FoveaException } from '../../contract/result';
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
    return this.#db
      .prepare('SELECT id, name, color, hotkey, position FROM label_classes WHERE dataset_id = ? ORDER BY position, id')
      .all(datasetId) as { id: number; name: string; color: string; hotkey: string | null; position: number }[];
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

  listForDataset(datasetId: number, source?: AnnotationSource): AnnotationRow[] {
    const rows = source
      ? this.#db.prepare("SELECT * FROM annotations WHERE dataset_id = ? AND source = ? AND status <> 'deleted' ORDER BY id").all(datasetId, source)
      : this.#db.prepare("SELECT * FROM annotations WHERE dataset_id = ? AND status <> 'deleted' ORDER BY id").all(datasetId);
    return (rows as Record<string, unknown>[]).map(toRow);
  }
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
