/**
 * Library store: label insert latency (each insert its own durable
 * transaction, synchronous=FULL), and the dataset browser's filtered listing
 * over 100,000 images and 1,000,000 annotations.
 */
import { join } from 'node:path';
import { createCore } from '../../electron/core/composition-root';
import { createMlEngine } from '../../native-models/engine';
import { ItemQuery, type ItemFilter } from '../../electron/core/store/item-query';
import { tempDir } from '../helpers/temp-library';
import { report, summarize } from './bench-util';

export async function runStoreBench(items = 100_000, annotations = 1_000_000): Promise<void> {
  const tmp = tempDir('fovea-bench-');
  const core = createCore({ libraryDir: join(tmp.dir, 'lib'), ml: createMlEngine() });
  try {
    const db = core.db;
    const ds = core.datasets.create('big', '');
    const classes = Array.from({ length: 8 }, (_, k) => core.annotations.ensureClass(ds.id, `class${k}`));
    const t0 = performance.now();
    db.transaction(() => {
      const blob = db.prepare("INSERT INTO blobs (sha256, size, media_type, created_at) VALUES (?, 1, 'image/png', 'x')");
      const item = db.prepare(
        `INSERT INTO items (dataset_id, kind, blob_sha256, source_sha256, source_name, modality, rows, columns, status, imported_at)
         VALUES (?, 'image', ?, ?, ?, ?, 512, 512, ?, 'x')`,
      );
      const statuses = ['unlabeled', 'in_progress', 'done', 'needs_review', 'approved', 'rejected'];
      for (let i = 0; i < items; i++) {
        const h = i.toString(16).padStart(64, '0');
        blob.run(h);
        item.run(ds.id, h, h, `scan_${String(i).padStart(6, '0')}.png`, i % 3 === 0 ? 'CT' : 'MR', statuses[i % 7 === 0 ? 2 : i % 6] ?? 'unlabeled');
      }
    })();
    const firstItem = (db.prepare('SELECT min(id) AS m FROM items WHERE dataset_id = ?').get(ds.id) as { m: number }).m;
    db.transaction(() => {
      const ann = db.prepare(
        `INSERT INTO annotations (dataset_id, item_id, class_id, kind, geometry, source, status, author, created_at, updated_at)
         VALUES (?, ?, ?, 'box', '{"x":1,"y":2,"width":3,"height":4}', ?, 'active', 'bench', 'x', 'x')`,
      );
      for (let a = 0; a < annotations; a++) {
        ann.run(ds.id, firstItem + ((a * 7919) % items), classes[a % classes.length] ?? 0, a % 10 === 0 ? 'model' : 'human');
      }
    })();
    db.pragma('optimize');
    process.stdout.write(`store      built ${items} items and ${annotations} annotations in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

    // Label insert latency: one durable transaction per label, as the viewer does.
    const lat: number[] = [];
    for (let i = 0; i < 500; i++) {
      const s = performance.now();
      core.annotations.create({ datasetId: ds.id, itemId: firstItem + i, classId: classes[0] ?? 0, kind: 'box', geometry: { x: i, y: i, width: 5, height: 5 }, source: 'human', author: 'bench' });
      lat.push(performance.now() - s);
    }
    const l = summarize(lat);
    report({ bench: 'store', metric: 'label insert latency p50 (synchronous=FULL)', value: l.p50, unit: 'ms' });
    report({ bench: 'store', metric: 'label insert latency p99 (synchronous=FULL)', value: l.p99, unit: 'ms' });

    // The active-learning queue: a run's uncertainty score for 60% of the items (what fovea predict writes).
    const runId = core.runs.create(ds.id, createMlEngine().defaultConfig('classification', ['a', 'b'], 1), {});
    db.transaction(() => {
      const u = db.prepare("INSERT INTO item_uncertainty (run_id, item_id, dataset_id, score, method, computed_at) VALUES (?, ?, ?, ?, 'entropy', 'x')");
      for (let i = 0; i < items; i++) if (i % 5 < 3) u.run(runId, firstItem + i, ds.id, ((i * 7919) % 10007) / 10007);
    })();
    db.pragma('optimize');

    const q = new ItemQuery(db);
    const filters: [string, ItemFilter, { sort?: 'id' | 'name' | 'status' | 'uncertainty'; offset?: number; withTotal?: boolean }][] = [
      ['all, first page', { datasetId: ds.id }, {}],
      ['status=done', { datasetId: ds.id, status: ['done'] }, {}],
      ['class filter', { datasetId: ds.id, classId: classes[3] ?? 0 }, {}],
      ['label source=model', { datasetId: ds.id, labelSource: 'model' }, {}],
      ['modality=CT + status, sorted by name', { datasetId: ds.id, modality: 'CT', status: ['in_progress', 'needs_review'] }, { sort: 'name' }],
      ['search "scan_0999" sorted by name', { datasetId: ds.id, search: 'scan_0999' }, { sort: 'name' }],
      ['deep page (offset 90,000)', { datasetId: ds.id }, { offset: 90_000 }],
      ['class filter with total count', { datasetId: ds.id, classId: classes[5] ?? 0 }, { withTotal: true }],
      ['most uncertain first, first page', { datasetId: ds.id }, { sort: 'uncertainty' }],
      ['most uncertain first, status=unlabeled', { datasetId: ds.id, status: ['unlabeled'] }, { sort: 'uncertainty' }],
      ['most uncertain first, page at offset 59,900 (the unscored start)', { datasetId: ds.id }, { sort: 'uncertainty', offset: 59_900 }],
    ];
    for (const [name, f, o] of filters) {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const s = performance.now();
        q.list(f, { limit: 200, ...o });
        times.push(performance.now() - s);
      }
      const t = summarize(times);
      report({ bench: 'store', metric: `listing: ${name} (p50)`, value: t.p50, unit: 'ms', goal: '< 50 ms' });
    }
  } finally {
    core.close();
    tmp.cleanup();
  }
}
