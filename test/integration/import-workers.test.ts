/**
 * Parallel import (issue 12, deliverable 6): a pool of worker threads reads,
 * hashes, decodes and thumbnails; the engine's thread decides and commits in
 * file order. The same files imported with the pool and in the calling
 * thread give the same per-file outcomes in the same order and the same
 * rows, blobs and hierarchy, including in-run duplicates (by content and by
 * SOP Instance UID), skipped and failed files.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ImportFileOutcome, ImportReport } from '../../electron/contract/domain';
import type { Core } from '../../electron/core/composition-root';
import { POOL_MIN_FILES } from '../../electron/core/import/import-engine';
import { makeDicomSet } from '../helpers/dicom-set';
import { SHARED_TESTDATA } from '../helpers/paths';
import { tempCore, tempDir } from '../helpers/temp-library';

const EXTRAS = [
  'dicom/pydicom/MR_small.dcm',
  'dicom/pydicom/MR_small_RLE.dcm', // the same SOP Instance UID as MR_small: a duplicate by UID
  'dicom/pydicom/MR_truncated.dcm', // refused: truncated
  'dicom/pydicom/test-SR.dcm', // skipped: not an image
  'dicom/pydicom/dicomdirtests/README.txt', // skipped: not DICOM
  'road/udacity-lanelines/solidWhiteCurve.jpg',
  'dicom/pydicom-data/emri_small.dcm',
];

function makeInput(dir: string): string {
  const input = join(dir, 'input');
  makeDicomSet(join(input, 'set'), 40);
  mkdirSync(join(input, 'extras'), { recursive: true });
  for (const [i, rel] of EXTRAS.entries()) copyFileSync(join(SHARED_TESTDATA, rel), join(input, 'extras', `${i}-${rel.split('/').pop() ?? ''}`));
  // The same bytes twice: the second is a duplicate by content.
  copyFileSync(join(SHARED_TESTDATA, 'dicom/pydicom/CT_small.dcm'), join(input, 'extras', 'ct-a.dcm'));
  copyFileSync(join(SHARED_TESTDATA, 'dicom/pydicom/CT_small.dcm'), join(input, 'extras', 'ct-b.dcm'));
  return input;
}

async function importWith(input: string, workers: number): Promise<{ core: Core; cleanup(): void; report: ImportReport; files: ImportFileOutcome[] }> {
  const t = tempCore();
  const ds = t.core.datasets.create('workers', '');
  const files: ImportFileOutcome[] = [];
  const report = await t.core.importFiles({ datasetId: ds.id, paths: [input], workers, onFile: (f) => files.push({ ...f }) });
  return { core: t.core, cleanup: t.cleanup, report, files };
}

function rows(core: Core): unknown {
  const q = (sql: string): unknown[] => core.db.prepare(sql).all();
  return {
    items: q(`SELECT i.id, i.kind, i.blob_sha256, i.source_sha256, i.thumb_sha256, i.sop_instance_uid, i.source_name, i.modality, i.rows, i.columns, i.frames,
                     i.samples_per_pixel, i.photometric, i.transfer_syntax, i.instance_number, i.slice_position, s.series_uid
              FROM items i LEFT JOIN series s ON s.id = i.series_id ORDER BY i.id`),
    blobs: q('SELECT sha256, size, media_type FROM blobs ORDER BY sha256'),
    series: q('SELECT series_uid, modality, description FROM series ORDER BY series_uid'),
    files: q('SELECT path, outcome, reason, item_id FROM import_files ORDER BY path'),
  };
}

test('the worker pool imports exactly what the calling thread imports, in the same order', async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const input = makeInput(tmp.dir);
  const inThread = await importWith(input, 0);
  t.after(inThread.cleanup);
  const pooled = await importWith(input, 2);
  t.after(pooled.cleanup);

  assert.ok(pooled.files.length >= POOL_MIN_FILES, 'enough files for the pool to run');
  const outcome = (f: ImportFileOutcome) => [f.path, f.outcome, f.kind ?? null, f.code ?? null, f.reason ?? null, f.itemId ?? null];
  assert.deepEqual(pooled.files.map(outcome), inThread.files.map(outcome), 'per-file outcomes, in order');
  assert.deepEqual(pooled.report.counts, inThread.report.counts);
  const counts = pooled.report.counts;
  assert.ok(counts.imported >= 44 && counts.duplicate >= 2 && counts.skipped >= 2 && counts.failed >= 1, JSON.stringify(counts));
  assert.deepEqual(rows(pooled.core), rows(inThread.core), 'items, blobs, series and import records');
  for (const core of [pooled.core, inThread.core]) {
    const check = core.maintenance.check();
    assert.ok(check.ok, JSON.stringify(check));
    assert.deepEqual(check.orphanBlobFiles, []);
  }
  t.diagnostic(`${pooled.files.length} files: ${JSON.stringify(counts)}; in-thread ${inThread.report.seconds.toFixed(1)} s, 2 workers ${pooled.report.seconds.toFixed(1)} s (machine shared)`);
});
