/**
 * Cancelling an import (Ctrl-C in the CLI, Cancel in the UI) stops after the
 * files in hand, leaves the library consistent, and the same import run
 * again finishes the job without duplicating anything.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeDicomSet } from '../helpers/dicom-set';
import { tempCore } from '../helpers/temp-library';

test('a cancelled import is consistent and the re-run completes it', async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const set = makeDicomSet(join(dir, 'set'), 120);
  const ds = core.datasets.create('cancel', '');
  const controller = new AbortController();
  let seen = 0;
  const first = await core.importFiles({
    datasetId: ds.id,
    paths: [join(dir, 'set')],
    signal: controller.signal,
    batchSize: 4,
    onFile: () => {
      if (++seen === 20) controller.abort();
    },
  });
  assert.equal(first.cancelled, true);
  assert.ok(first.filesDone < set.paths.length, `stopped early (${first.filesDone} of ${set.paths.length})`);
  const afterCancel = core.datasets.get(ds.id).counts.items;
  assert.equal(afterCancel, first.counts.imported);
  assert.ok(core.maintenance.check().ok);
  const job = core.db.prepare('SELECT status FROM import_jobs WHERE id = ?').get(first.importJobId) as { status: string };
  assert.equal(job.status, 'cancelled');

  const second = await core.importFiles({ datasetId: ds.id, paths: [join(dir, 'set')] });
  assert.equal(second.cancelled, false);
  assert.equal(second.counts.duplicate, afterCancel, 'what the first run imported is skipped');
  assert.equal(second.counts.imported, set.paths.length - afterCancel);
  assert.equal(core.datasets.get(ds.id).counts.items, set.paths.length);
  const check = core.maintenance.check();
  assert.ok(check.ok, JSON.stringify(check));
  assert.deepEqual(check.orphanBlobFiles, []);
});
