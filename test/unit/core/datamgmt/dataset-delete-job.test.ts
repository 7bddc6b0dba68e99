/**
 * Deleting a big dataset is a job (task datajob): the dataset is gone from every list the moment
 * the request answers, the core keeps answering other requests while the rows go in batches, the
 * job reports "Deleting: k of N items", and a delete cut short by closing the library (or a crash)
 * goes on when the library opens again, leaving it consistent (`fovea check`).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { Events } from '../../../../electron/contract/api';
import type { DatasetDeleteStarted } from '../../../../electron/contract/data-management';
import type { JobEvents } from '../../../../electron/contract/jobs';
import { createCore, type Core } from '../../../../electron/core/composition-root';
import { DB_FILE } from '../../../../electron/core/store/library-db';
import { createMlEngine } from '../../../../native-models/engine';
import { seedBigDataset } from '../../../helpers/big-dataset';
import { tempDir } from '../../../helpers/temp-library';

const TABLES = ['items', 'annotations', 'label_classes', 'splits', 'series', 'patients', 'runs', 'import_jobs', 'item_uncertainty', 'measurements'];

function rowsLeft(core: Core, datasetId: number): Record<string, number> {
  return Object.fromEntries(TABLES.map((t) => [t, core.db.prepare(`SELECT count(*) FROM ${t} WHERE dataset_id = ?`).pluck().get(datasetId) as number]));
}

function waitFor<E extends keyof Events>(core: Core, name: E, match: (e: Events[E]) => boolean, ms = 120_000): Promise<Events[E]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${name}`));
    }, ms);
    const off = core.on(name, (e) => {
      if (!match(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

function openCore(lib: string): Core {
  return createCore({ libraryDir: lib, ml: createMlEngine() });
}

test('a 20,000-item dataset: gone from lists at once, datasets.list answers within 200 ms (95th percentile) meanwhile, progress "Deleting: k of N items", then everything is gone', { timeout: 300_000 }, async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const core = openCore(join(tmp.dir, 'lib'));
  t.after(() => core.close());
  const other = seedBigDataset(core, 'Other', 50);
  const shared = core.db.prepare('SELECT blob_sha256 FROM items WHERE dataset_id = ? ORDER BY id LIMIT 1').pluck().get(other.datasetId) as string;
  const big = seedBigDataset(core, 'Big', 20_000, { withRun: true, shareBlobWith: shared });
  assert.equal(core.datasets.get(big.datasetId).counts.items, 20_000);

  const progress: JobEvents['job.progress'][] = [];
  const jobEvents: string[] = [];
  core.on('job.progress', (p) => p.kind === 'dataset-delete' && progress.push(p));
  core.on('job.started', (j) => j.kind === 'dataset-delete' && jobEvents.push('job.started'));
  core.on('job.finished', (j) => j.kind === 'dataset-delete' && jobEvents.push(`job.finished:${j.outcome}`));
  core.on('datasets.delete.finished', () => jobEvents.push('datasets.delete.finished'));

  const t0 = performance.now();
  const started = await core.dispatch('datasets.delete', { id: big.datasetId });
  const answerMs = performance.now() - t0;
  assert.ok(started.ok, JSON.stringify(started));
  const s = started.value as DatasetDeleteStarted;
  assert.equal(s.items, 20_000);
  assert.equal(s.name, 'Big');
  assert.deepEqual(s.runIds, [big.runId]);
  const finished = waitFor(core, 'datasets.delete.finished', (e) => e.jobId === s.jobId);

  // Gone at once: from the list, by id, and its name is free for a new dataset.
  const list = await core.dispatch('datasets.list', {});
  assert.ok(list.ok);
  assert.deepEqual((list.value as { name: string }[]).map((d) => d.name), ['Other']);
  assert.equal((await core.dispatch('datasets.get', { id: big.datasetId })).ok, false);
  const runs = await core.dispatch('runs.list', {});
  assert.deepEqual(runs.ok && runs.value, [], 'its runs are not listed either');
  const again = await core.dispatch('datasets.delete', { id: big.datasetId });
  assert.equal(again.ok ? 'ok' : again.error.code, 'NOT_FOUND', 'a second delete of it finds nothing');
  const jobs = await core.dispatch('jobs.list', { kind: 'dataset-delete' });
  assert.ok(jobs.ok);
  assert.deepEqual((jobs.value as JobEvents['job.started'][]).map((j) => [j.jobId, j.subject.datasetId]), [[s.jobId, big.datasetId]]);

  // While the rows go, a request that arrives waits for at most one batch.
  const waits: number[] = [];
  let running = true;
  void finished.then(() => (running = false));
  while (running) {
    const asked = performance.now();
    // A timer fires once the batch running now ends, as a request from the UI would be read.
    await new Promise((resolve) => setTimeout(resolve, 0));
    const r = await core.dispatch('datasets.list', {});
    assert.ok(r.ok);
    if (running) waits.push(performance.now() - asked);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const ended = await finished;
  const totalMs = performance.now() - t0;
  const sorted = [...waits].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const worst = sorted.at(-1) ?? 0;
  console.log(
    `[datajob] 20,000 items: request answered in ${answerMs.toFixed(0)} ms, delete took ${(totalMs / 1000).toFixed(1)} s; ` +
      `datasets.list during it: ${waits.length} answers, median ${at(0.5).toFixed(0)} ms, p95 ${at(0.95).toFixed(0)} ms, worst ${worst.toFixed(0)} ms`,
  );
  assert.ok(waits.length >= 5, `datasets.list should be answered many times while the delete runs (${waits.length})`);
  // A step is ~15 ms of work; on a busy shared machine the OS (preemption, a WAL checkpoint's fsync)
  // adds the odd spike that no step size removes, hence the 95th percentile for the 200 ms rule and
  // a loose bound on the worst (the one-transaction delete held every request for the whole delete).
  assert.ok(at(0.95) < 200, `datasets.list waited ${at(0.95).toFixed(0)} ms at the 95th percentile`);
  assert.ok(worst < 1000, `datasets.list waited ${worst.toFixed(0)} ms once`);

  // Progress: "Deleting: k of 20,000 items", k never going back, the last step the whole.
  assert.ok(progress.length >= 3, `progress events: ${progress.length}`);
  for (const p of progress) {
    assert.equal(p.jobId, s.jobId);
    assert.equal(p.progress.total, 20_000);
    assert.match(p.progress.phase ?? '', /^Deleting: [\d,]+ of 20,000 items$/);
  }
  const dones = progress.map((p) => p.progress.done);
  assert.deepEqual(dones, [...dones].sort((a, b) => a - b));
  assert.equal(dones.at(-1), 20_000);
  assert.equal(progress.at(-1)?.progress.phase, 'Deleting: 20,000 of 20,000 items');
  assert.ok(dones.some((d) => d > 0 && d < 20_000), 'a step between the first and the last');
  assert.deepEqual(jobEvents, ['job.started', 'datasets.delete.finished', 'job.finished:done']);

  assert.equal(ended.error, null);
  assert.equal(ended.result?.items, 20_000);
  assert.equal(ended.result?.runs, 1);
  assert.equal(ended.result?.blobs, 19_999, 'every blob but the shared one');
  assert.deepEqual(rowsLeft(core, big.datasetId), Object.fromEntries(TABLES.map((t) => [t, 0])));
  assert.equal(core.db.prepare('SELECT count(*) FROM datasets WHERE id = ?').pluck().get(big.datasetId), 0);
  assert.equal(core.db.prepare('SELECT count(*) FROM run_batches WHERE run_id = ?').pluck().get(big.runId), 0);
  assert.equal(core.datasets.get(other.datasetId).counts.items, 50);
  assert.equal(core.db.prepare('SELECT count(*) FROM blobs WHERE sha256 = ?').pluck().get(shared), 1, 'a blob another dataset uses stays');
  assert.equal(core.db.prepare('SELECT count(*) FROM blobs').pluck().get(), 50, "every blob only Big used is gone");
  // One audit row, written when the delete began, with ids and counts (never the name).
  const audit = core.db.prepare("SELECT object_id, details FROM audit_log WHERE action = 'dataset.delete'").all() as { object_id: string; details: string }[];
  assert.equal(audit.length, 1);
  assert.equal(audit[0]?.object_id, String(big.datasetId));
  assert.equal((JSON.parse(audit[0]?.details ?? '{}') as { items: number }).items, 20_000);
  assert.ok(!/big/i.test(audit[0]?.details ?? ''));
  assert.equal(core.audit.verify(), null);
});

test('a delete cut short (the library closed mid-way) leaves a consistent library and goes on when it opens again', { timeout: 300_000 }, async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const lib = join(tmp.dir, 'lib');
  let core = openCore(lib);
  const keep = seedBigDataset(core, 'Keep', 20).datasetId;
  const big = seedBigDataset(core, 'Half', 6_000, { withRun: true }).datasetId;
  const started = await core.dispatch('datasets.delete', { id: big });
  assert.ok(started.ok);
  const { jobId } = started.value as DatasetDeleteStarted;
  // Close as soon as some items (not all) are gone: the job stops between two batches.
  const cancelled = waitFor(core, 'datasets.delete.finished', (e) => e.jobId === jobId);
  await waitFor(core, 'job.progress', (p) => p.jobId === jobId && p.progress.done > 0 && p.progress.done < 6_000);
  core.close();
  const cut = await cancelled;
  assert.equal(cut.error?.code, 'CANCELLED');
  assert.match(cut.error?.message ?? '', /goes on when the library opens again/);

  // What is on disk now: the dataset is marked, some of its items are gone, the rest is whole.
  const raw = new Database(join(lib, DB_FILE), { readonly: true });
  const row = raw.prepare('SELECT deleting FROM datasets WHERE id = ?').get(big) as { deleting: string | null } | undefined;
  const left = raw.prepare('SELECT count(*) FROM items WHERE dataset_id = ?').pluck().get(big) as number;
  const orphans = raw.prepare('SELECT count(*) FROM annotations a WHERE a.item_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM items i WHERE i.id = a.item_id)').pluck().get() as number;
  raw.close();
  assert.ok(row?.deleting, 'still marked as being deleted');
  assert.ok(left > 0 && left < 6_000, `items left: ${left}`);
  assert.equal(orphans, 0, 'no label outlived its item');

  // Open again: the delete goes on by itself and finishes; meanwhile the dataset stays out of the lists.
  core = openCore(lib);
  t.after(() => core.close());
  const resumed = core.jobs.list('dataset-delete');
  assert.equal(resumed.length, 1);
  assert.equal(resumed[0]?.subject.datasetId, big);
  const done = waitFor(core, 'datasets.delete.finished', (e) => e.jobId === resumed[0]?.jobId);
  assert.deepEqual(core.datasets.list().map((d) => d.id), [keep]);
  const e = await done;
  assert.equal(e.error, null);
  assert.equal(e.result?.name, 'Half', 'the result names the dataset as it was');
  assert.equal(e.result?.items, 6_000);
  assert.equal(core.db.prepare('SELECT count(*) FROM datasets WHERE id = ?').pluck().get(big), 0);
  assert.deepEqual(rowsLeft(core, big), Object.fromEntries(TABLES.map((x) => [x, 0])));
  assert.equal(core.datasets.get(keep).counts.items, 20);
  // `fovea check`, but for the blob files: the seeded rows have none.
  const check = core.maintenance.check();
  assert.deepEqual(
    { integrity: check.integrity, foreignKeys: check.foreignKeys, unreferencedBlobRows: check.unreferencedBlobRows, audit: check.auditChainBrokenAt, missing: check.missingBlobFiles.length },
    { integrity: ['ok'], foreignKeys: [], unreferencedBlobRows: [], audit: null, missing: 20 },
  );
  assert.equal(core.db.prepare("SELECT count(*) FROM audit_log WHERE action = 'dataset.delete'").pluck().get(), 1, 'resuming adds no second audit row');

  // A library opened again with nothing left to delete starts no job.
  core.close();
  core = openCore(lib);
  assert.deepEqual(core.jobs.list(), []);
});
