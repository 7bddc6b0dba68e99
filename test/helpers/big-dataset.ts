/**
 * A dataset of many items made directly through the store's tables (rows only, no blob files, no
 * decoding): each item with its blob row, an import record, two labels and a split, so a test or a
 * bench of library-scale data management starts in a second instead of importing for minutes.
 * The same shape test/bench/datamgmt.bench.ts measured the one-transaction delete with.
 */
import type { Core } from '../../electron/core/composition-root';

export interface BigDataset {
  datasetId: number;
  /** The run made with it (with per-item uncertainty and some batch losses) when `withRun`. */
  runId: number | null;
}

/**
 * `items` items in a new dataset `name`. `shareBlobWith`: the first item uses this blob hash (a file
 * another dataset also uses, which must outlive this dataset's delete).
 */
export function seedBigDataset(core: Core, name: string, items: number, options: { withRun?: boolean; shareBlobWith?: string } = {}): BigDataset {
  const db = core.db;
  const ds = core.datasets.create(name, '');
  const cls = core.annotations.ensureClass(ds.id, 'c');
  const runId = options.withRun ? core.runs.create(ds.id, core.ml.defaultConfig('classification', ['a', 'b'], 1), { items: [] }) : null;
  if (runId !== null) db.prepare("UPDATE runs SET status = 'done', pid = NULL WHERE id = ?").run(runId);
  // A prefix of the dataset id keeps the hashes of two big datasets apart.
  const prefix = ds.id.toString(16).padStart(4, '0');
  db.transaction(() => {
    const job = Number(db.prepare("INSERT INTO import_jobs (dataset_id, started_at, status) VALUES (?, 'x', 'done')").run(ds.id).lastInsertRowid);
    const blob = db.prepare("INSERT OR IGNORE INTO blobs (sha256, size, media_type, created_at) VALUES (?, 1, 'image/png', 'x')");
    const item = db.prepare(`INSERT INTO items (dataset_id, kind, blob_sha256, source_sha256, source_name, rows, columns, imported_at) VALUES (?, 'image', ?, ?, ?, 64, 64, 'x')`);
    const file = db.prepare("INSERT INTO import_files (job_id, path, outcome, item_id) VALUES (?, ?, 'imported', ?)");
    const ann = db.prepare(
      `INSERT INTO annotations (dataset_id, item_id, class_id, kind, source, status, author, created_at, updated_at) VALUES (?, ?, ?, 'class', 'human', 'active', 'b', 'x', 'x')`,
    );
    const split = db.prepare("INSERT INTO splits (dataset_id, item_id, split, origin, seed, assigned_at) VALUES (?, ?, 'train', 'auto', 1, 'x')");
    const uncertainty = db.prepare("INSERT INTO item_uncertainty (run_id, item_id, dataset_id, score, method, computed_at) VALUES (?, ?, ?, 0.5, 'entropy', 'x')");
    for (let i = 0; i < items; i++) {
      const h = i === 0 && options.shareBlobWith ? options.shareBlobWith : prefix + i.toString(16).padStart(60, '0');
      blob.run(h);
      const id = Number(item.run(ds.id, h, h, `img_${i}.png`).lastInsertRowid);
      file.run(job, `/data/img_${i}.png`, id);
      ann.run(ds.id, id, cls);
      ann.run(ds.id, id, cls);
      split.run(ds.id, id);
      if (runId !== null) uncertainty.run(runId, id, ds.id);
    }
    if (runId !== null) {
      const batch = db.prepare('INSERT INTO run_batches (run_id, epoch, batch, loss) VALUES (?, ?, ?, 0.1)');
      for (let e = 1; e <= 5; e++) for (let b = 1; b <= 400; b++) batch.run(runId, e, b);
      db.prepare("INSERT INTO run_epochs (run_id, epoch, train_loss, val_loss, best) VALUES (?, 1, 0.5, 0.6, 1)").run(runId);
    }
  })();
  return { datasetId: ds.id, runId };
}
