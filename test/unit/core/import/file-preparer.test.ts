/**
 * The import worker pool (electron/core/import/file-preparer.ts) against
 * the calling-thread preparer: the same stages and the same blob files for
 * the same inputs, the library's "already have it" answer honoured (asked
 * only for hashes the dataset's filter may hold), and a worker that cannot start fails its files with the reason instead of
 * leaving the import waiting.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InThreadPreparer, WorkerPoolPreparer, type FilePreparer } from '../../../../electron/core/import/file-preparer';
import { createDicomSupport } from '../../../../electron/core/import/dicom-support';
import { hashPrefixFilter, mayBeKnown } from '../../../../electron/core/import/prepare-file';
import { SHARED_TESTDATA } from '../../../helpers/paths';

const FILES = ['dicom/pydicom/CT_small.dcm', 'dicom/pydicom/test-SR.dcm', 'dicom/pydicom/MR_truncated.dcm', 'road/udacity-lanelines/solidWhiteRight.jpg'].map((f) => join(SHARED_TESTDATA, f));

async function run(preparer: FilePreparer, known: string | null, asked: string[] = []): Promise<unknown[]> {
  const out: unknown[] = [];
  try {
    const jobs = FILES.map((path) =>
      preparer.start(path, 0, (sha) => {
        asked.push(sha);
        return sha === known ? 7 : null;
      }),
    );
    for (const job of jobs) {
      const stage = await job.stage;
      out.push({ stage, written: stage.status === 'prepared' && stage.summary.kind !== 'skip' ? await job.finish(true) : await job.finish(false) });
    }
  } finally {
    await preparer.close();
  }
  return out;
}

test('workers give the same stages and blobs as the calling thread', async (t) => {
  const a = mkdtempSync(join(tmpdir(), 'fovea-prep-a-'));
  const b = mkdtempSync(join(tmpdir(), 'fovea-prep-b-'));
  t.after(() => {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  });
  const inThread = await run(new InThreadPreparer(a, createDicomSupport()), null);
  const pooled = await run(new WorkerPoolPreparer({ workers: 2, blobRoot: b }), null);
  assert.deepEqual(pooled, inThread);
  const statuses = inThread.map((r) => (r as { stage: { status: string } }).stage.status);
  assert.deepEqual(statuses, ['prepared', 'prepared', 'failed', 'prepared']);
  const written = pooled.flatMap((r) => {
    const w = (r as { written: { blob?: { sha256: string } } | null }).written;
    return w?.blob ? [w.blob.sha256] : [];
  });
  assert.equal(written.length, 2, 'the CT and the photo were written; the SR (skipped) and the truncated file were not');
  for (const sha of written) assert.ok(existsSync(join(b, sha.slice(0, 2), sha)), `blob ${sha} is on disk`);
});

test("a file the library already has stops after hashing; workers ask only about possible matches", async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'fovea-prep-known-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const first = (await run(new InThreadPreparer(root, createDicomSupport()), null))[0] as { stage: { sha256: string } };
  const asked: string[] = [];
  const results = await run(new WorkerPoolPreparer({ workers: 1, blobRoot: root, knownHashPrefixes: hashPrefixFilter([first.stage.sha256]) }), first.stage.sha256, asked);
  assert.deepEqual(results[0], { stage: { status: 'known', sha256: first.stage.sha256, itemId: 7 }, written: null });
  // The other three files are not in the filter: decoded without a round trip to this thread.
  assert.deepEqual(asked, [first.stage.sha256]);
  assert.equal(mayBeKnown(hashPrefixFilter([first.stage.sha256, 'f'.repeat(64)]), first.stage.sha256), true);
  assert.equal(mayBeKnown(hashPrefixFilter(['f'.repeat(64)]), first.stage.sha256), false);
  assert.equal(mayBeKnown(hashPrefixFilter([]), first.stage.sha256), false);
});

test('a worker that cannot start fails its files with the reason, and nothing waits forever', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'fovea-prep-missing-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const pool = new WorkerPoolPreparer({ workers: 2, blobRoot: root, workerUrl: new URL('file:///nonexistent/fovea-import-worker.mjs') });
  try {
    const job = pool.start(FILES[0] ?? '', 0, () => null);
    const stage = await job.stage;
    assert.equal(stage.status, 'failed');
    assert.match(stage.status === 'failed' ? stage.failure.reason : '', /the import worker stopped while decoding it \(.*(Cannot find|ERR_MODULE_NOT_FOUND|no such file)/i);
    assert.deepEqual(await job.finish(true), { outcome: 'failed', code: 'INTERNAL', reason: 'the import worker stopped before writing it' });
  } finally {
    await pool.close();
  }
});
