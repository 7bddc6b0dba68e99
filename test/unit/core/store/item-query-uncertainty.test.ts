/**
 * The active-learning sort: "most uncertain first" walks item_uncertainty_rank, then the items the
 * run did not score. Every page, at every offset and with filters, must equal the one-query
 * definition (score DESC NULLS LAST, then id) over a real library.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ItemQuery, type ItemFilter } from '../../../../electron/core/store/item-query';
import { createMlEngine } from '../../../../native-models/engine';
import { tempCore } from '../../../helpers/temp-library';

test('most uncertain first: paged results equal score DESC NULLS LAST, id at every offset, with and without filters', (t) => {
  const { core, cleanup } = tempCore();
  t.after(cleanup);
  const db = core.db;
  const ds = core.datasets.create('queue', '');
  const N = 97;
  db.transaction(() => {
    const blob = db.prepare("INSERT INTO blobs (sha256, size, media_type, created_at) VALUES (?, 1, 'image/png', 'x')");
    const item = db.prepare(
      `INSERT INTO items (dataset_id, kind, blob_sha256, source_sha256, source_name, modality, rows, columns, status, imported_at)
       VALUES (?, 'image', ?, ?, ?, 'CT', 8, 8, ?, 'x')`,
    );
    for (let i = 0; i < N; i++) {
      const h = i.toString(16).padStart(64, '0');
      blob.run(h);
      item.run(ds.id, h, h, `img_${i}.png`, i % 3 === 0 ? 'done' : 'unlabeled');
    }
  })();
  const ids = db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY id').pluck().all(ds.id) as number[];
  const config = createMlEngine().defaultConfig('classification', ['a', 'b'], 1);
  const run = core.runs.create(ds.id, config, {});
  const other = core.runs.create(ds.id, config, {});
  const ins = db.prepare("INSERT INTO item_uncertainty (run_id, item_id, dataset_id, score, method, computed_at) VALUES (?, ?, ?, ?, 'entropy', ?)");
  ids.forEach((id, i) => {
    // Two of every five unscored; scores with many ties; the other run scores everything, in reverse.
    if (i % 5 >= 2) ins.run(run, id, ds.id, (i * 37) % 11 / 10, '2026-01-01');
    ins.run(other, id, ds.id, 1 - i / N, '2025-01-01');
  });
  const q = new ItemQuery(db);
  const expected = (filter: string, runId: number): number[] =>
    db
      .prepare(
        `SELECT i.id FROM items i WHERE i.dataset_id = ? ${filter}
         ORDER BY (SELECT u.score FROM item_uncertainty u WHERE u.item_id = i.id AND u.run_id = ?) DESC NULLS LAST, i.id`,
      )
      .pluck()
      .all(ds.id, runId) as number[];
  const cases: [ItemFilter, string, number | undefined, number][] = [
    [{ datasetId: ds.id }, '', undefined, run], // default run: the newest scores (run, 2026)
    [{ datasetId: ds.id, status: ['unlabeled'] }, "AND i.status = 'unlabeled'", run, run],
    [{ datasetId: ds.id }, '', other, other],
  ];
  for (const [filter, sql, runId, want] of cases) {
    const all = expected(sql, want);
    for (const limit of [1, 7, 200]) {
      for (let offset = 0; offset < all.length + 3; offset += limit === 200 ? 13 : limit) {
        const page = q.list(filter, { sort: 'uncertainty', limit, offset, ...(runId ? { uncertaintyRunId: runId } : {}) }).rows.map((r) => r.id);
        assert.deepEqual(page, all.slice(offset, offset + limit), `run ${want}, ${sql || 'no filter'}, limit ${limit}, offset ${offset}`);
      }
    }
  }
  // The plan walks the rank index, not a sort of every item.
  const plan = db
    .prepare(`EXPLAIN QUERY PLAN SELECT i.id FROM item_uncertainty u JOIN items i ON i.id = u.item_id WHERE u.run_id = ? AND i.dataset_id = ? ORDER BY u.score DESC, u.item_id LIMIT 10`)
    .all(run, ds.id) as { detail: string }[];
  assert.ok(plan.some((p) => /item_uncertainty_rank/.test(p.detail)), JSON.stringify(plan));
  assert.ok(!plan.some((p) => /TEMP B-TREE/.test(p.detail)), JSON.stringify(plan));
});
