/**
 * Data management at library scale (issue 19): batch status, hand split, deleting items and
 * deleting a whole dataset of `items` images (each with its blob, an import record, two labels
 * and a split), through the same service the app and the CLI call. Deleting the dataset is a job
 * (batches with the event loop free between them): its answer, its length and how long a request
 * waited meanwhile are measured. Blob files are not written
 * (rows only), so the figures are the database's work.
 */
import { join } from 'node:path';
import { createCore } from '../../electron/core/composition-root';
import { createMlEngine } from '../../native-models/engine';
import { tempDir } from '../helpers/temp-library';
import { report } from './bench-util';

export async function runDataManagementBench(items = Number(process.env['FOVEA_BENCH_DM_ITEMS'] ?? 100_000)): Promise<void> {
  const tmp = tempDir('fovea-bench-');
  const core = createCore({ libraryDir: join(tmp.dir, 'lib'), ml: createMlEngine() });
  try {
    const db = core.db;
    const ds = core.datasets.create('big', '');
    const cls = core.annotations.ensureClass(ds.id, 'c');
    db.transaction(() => {
      const job = Number(db.prepare("INSERT INTO import_jobs (dataset_id, started_at, status) VALUES (?, 'x', 'done')").run(ds.id).lastInsertRowid);
      const blob = db.prepare("INSERT INTO blobs (sha256, size, media_type, created_at) VALUES (?, 1, 'image/png', 'x')");
      const item = db.prepare(
        `INSERT INTO items (dataset_id, kind, blob_sha256, source_sha256, source_name, rows, columns, imported_at) VALUES (?, 'image', ?, ?, ?, 64, 64, 'x')`,
      );
      const file = db.prepare("INSERT INTO import_files (job_id, path, outcome, item_id) VALUES (?, ?, 'imported', ?)");
      const ann = db.prepare(
        `INSERT INTO annotations (dataset_id, item_id, class_id, kind, source, status, author, created_at, updated_at) VALUES (?, ?, ?, 'class', 'human', 'active', 'b', 'x', 'x')`,
      );
      const split = db.prepare("INSERT INTO splits (dataset_id, item_id, split, origin, seed, assigned_at) VALUES (?, ?, 'train', 'auto', 1, 'x')");
      for (let i = 0; i < items; i++) {
        const h = i.toString(16).padStart(64, '0');
        blob.run(h);
        const id = Number(item.run(ds.id, h, h, `img_${i}.png`).lastInsertRowid);
        file.run(job, `/data/img_${i}.png`, id);
        ann.run(ds.id, id, cls);
        ann.run(ds.id, id, cls);
        split.run(ds.id, id);
      }
    })();
    core.annotatorSettings.set({ annotatorName: 'bench' });
    const ids = db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY id').pluck().all(ds.id) as number[];
    const dm = core.dataManagement;
    const time = (metric: string, fn: () => void): void => {
      const t = performance.now();
      fn();
      report({ bench: 'datamgmt', metric: `${metric} (${items.toLocaleString('en-US')}-item dataset)`, value: performance.now() - t, unit: 'ms' });
    };
    time('set status of 10,000 items', () => dm.setStatus(ds.id, ids.slice(0, 10_000), 'done'));
    time('hand split of 10,000 items', () => dm.setSplit(ds.id, ids.slice(10_000, 20_000), 'test'));
    time('delete 1,000 items', () => dm.deleteItems(ds.id, ids.slice(20_000, 21_000)));
    // The delete is a job: the request's answer, the whole job, and the longest a request waited meanwhile.
    const finished = new Promise<void>((resolve) => core.on('datasets.delete.finished', () => resolve()));
    let running = true;
    const t0 = performance.now();
    time('delete the dataset: the answer', () => dm.deleteDataset(ds.id));
    void finished.then(() => (running = false));
    let worst = 0;
    while (running) {
      const asked = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 0));
      core.datasets.list();
      worst = Math.max(worst, performance.now() - asked);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    report({ bench: 'datamgmt', metric: `delete the dataset: the whole job (${items.toLocaleString('en-US')}-item dataset)`, value: performance.now() - t0, unit: 'ms' });
    report({ bench: 'datamgmt', metric: `delete the dataset: longest wait of datasets.list meanwhile (${items.toLocaleString('en-US')}-item dataset)`, value: worst, unit: 'ms' });
    const ok = core.maintenance.check().ok;
    process.stdout.write(`datamgmt   fovea check after the deletes: ${ok ? 'ok' : 'FAILED'}\n`);
  } finally {
    core.close();
    tmp.cleanup();
  }
}
