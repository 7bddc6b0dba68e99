/**
 * The dataset browser's listing: filter, sort and page a dataset's items.
 * Built to stay fast at 100,000 images and 1,000,000 annotations: every
 * filter is an indexed lookup, or an IN over a covering index of the
 * annotations or splits table, and counts are computed only when asked for.
 */
import type { ItemPage, ItemRow, ItemSort, ItemStatus } from '../../contract/domain';
import { datasetItemNames } from './item-names';
import type { Db } from './library-db';

export type { ItemPage, ItemSort, ItemStatus };

export interface ItemFilter {
  datasetId: number;
  status?: ItemStatus[];
  /** Items with at least one active annotation of this class. */
  classId?: number;
  split?: 'train' | 'val' | 'test' | 'none';
  modality?: string;
  seriesId?: number;
  /** Items with at least one active annotation from this source. */
  labelSource?: 'human' | 'model' | 'imported';
  /** Substring of the source file name (case-insensitive). */
  search?: string;
  kind?: 'dicom' | 'image';
}

/** The browser's row and page shapes are the contract's (domain.ts). */
export type ItemListRow = ItemRow;

const COLUMNS = `i.id, i.kind, i.source_name AS sourceName, i.modality, i.rows, i.columns, i.frames, i.status,
  i.series_id AS seriesId, i.instance_number AS instanceNumber, i.thumb_sha256 AS thumbSha256`;

const SORT_SQL: Record<ItemSort, string> = {
  id: 'i.id',
  name: 'i.source_name COLLATE NOCASE, i.id',
  instance: 'i.series_id, i.instance_number, i.slice_position, i.id',
  status: 'i.status, i.id',
  // Most uncertain first: a query of its own (ItemQuery.#byUncertainty).
  uncertainty: 'i.id',
};

export class ItemQuery {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  #where(f: ItemFilter): { sql: string; params: Record<string, unknown> } {
    const clauses = ['i.dataset_id = @datasetId'];
    const params: Record<string, unknown> = { datasetId: f.datasetId };
    if (f.status?.length) {
      clauses.push(`i.status IN (${f.status.map((_, k) => `@status${k}`).join(', ')})`);
      f.status.forEach((s, k) => (params[`status${k}`] = s));
    }
    if (f.kind) {
      clauses.push('i.kind = @kind');
      params['kind'] = f.kind;
    }
    if (f.modality) {
      clauses.push('i.modality = @modality');
      params['modality'] = f.modality;
    }
    if (f.seriesId !== undefined) {
      clauses.push('i.series_id = @seriesId');
      params['seriesId'] = f.seriesId;
    }
    if (f.classId !== undefined) {
      // IN over a covering index on annotations (dataset, class, status, item): SQLite builds
      // the set once, instead of probing every item's annotations.
      clauses.push("i.id IN (SELECT a.item_id FROM annotations a WHERE a.dataset_id = @datasetId AND a.class_id = @classId AND a.status = 'active')");
      params['classId'] = f.classId;
    }
    if (f.labelSource) {
      clauses.push("i.id IN (SELECT a.item_id FROM annotations a WHERE a.dataset_id = @datasetId AND a.source = @labelSource AND a.status IN ('active', 'proposed'))");
      params['labelSource'] = f.labelSource;
    }
    if (f.split === 'none') clauses.push('i.id NOT IN (SELECT s.item_id FROM splits s WHERE s.dataset_id = @datasetId)');
    else if (f.split) {
      clauses.push('i.id IN (SELECT s.item_id FROM splits s WHERE s.dataset_id = @datasetId AND s.split = @split)');
      params['split'] = f.split;
    }
    if (f.search) {
      clauses.push("i.source_name LIKE @search ESCAPE '\\'");
      params['search'] = `%${f.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    }
    return { sql: clauses.join(' AND '), params };
  }

  list(filter: ItemFilter, options: { sort?: ItemSort; offset?: number; limit?: number; withTotal?: boolean; uncertaintyRunId?: number } = {}): ItemPage {
    const { sql, params } = this.#where(filter);
    const limit = Math.min(Math.max(options.limit ?? 200, 1), 5000);
    const offset = Math.max(options.offset ?? 0, 0);
    const rows =
      options.sort === 'uncertainty'
        ? this.#byUncertainty(sql, params, options.uncertaintyRunId ?? this.#latestUncertaintyRun(filter.datasetId), limit, offset)
        : (this.#db
            .prepare(`SELECT ${COLUMNS} FROM items i WHERE ${sql} ORDER BY ${SORT_SQL[options.sort ?? 'id']} LIMIT @limit OFFSET @offset`)
            .all({ ...params, limit, offset }) as ItemListRow[]);
    const total = options.withTotal ? (this.#db.prepare(`SELECT count(*) AS n FROM items i WHERE ${sql}`).get(params) as { n: number }).n : null;
    const names = datasetItemNames(this.#db, filter.datasetId);
    for (const r of rows) r.displayName = names.get(r.id) ?? r.sourceName;
    return { rows, total };
  }

  /**
   * Most uncertain first (the run's item_uncertainty scores, ties by id), then the items it did not
   * score, by id. Two index walks instead of one sort over every item: the scored part walks
   * item_uncertainty_rank (migration 4); the unscored part is asked for only when the page reaches it.
   */
  #byUncertainty(sql: string, params: Record<string, unknown>, runId: number, limit: number, offset: number): ItemListRow[] {
    const scoredFrom = `FROM item_uncertainty u JOIN items i ON i.id = u.item_id WHERE u.run_id = @runId AND ${sql}`;
    const scored = this.#db
      .prepare(`SELECT ${COLUMNS} ${scoredFrom} ORDER BY u.score DESC, u.item_id LIMIT @limit OFFSET @offset`)
      .all({ ...params, runId, limit, offset }) as ItemListRow[];
    if (scored.length === limit) return scored;
    const scoredTotal = scored.length > 0 ? offset + scored.length : (this.#db.prepare(`SELECT count(*) AS n ${scoredFrom}`).get({ ...params, runId }) as { n: number }).n;
    const rest = this.#db
      .prepare(
        `SELECT ${COLUMNS} FROM items i WHERE ${sql}
           AND NOT EXISTS (SELECT 1 FROM item_uncertainty u WHERE u.run_id = @runId AND u.item_id = i.id)
         ORDER BY i.id LIMIT @limit OFFSET @offset`,
      )
      .all({ ...params, runId, limit: limit - scored.length, offset: Math.max(0, offset - scoredTotal) }) as ItemListRow[];
    return [...scored, ...rest];
  }

  /** The run whose uncertainty scores of this dataset are newest (0: none). */
  #latestUncertaintyRun(datasetId: number): number {
    const r = this.#db.prepare('SELECT run_id FROM item_uncertainty WHERE dataset_id = ? ORDER BY computed_at DESC LIMIT 1').get(datasetId) as { run_id: number } | undefined;
    return r?.run_id ?? 0;
  }
}
