/**
 * The one job model: every job sends 'job.started' before its start request answers, its own
 * finished event then 'job.finished' exactly once, throttled progress with the last step always
 * sent, an error mapped once, and `jobs.list` names the jobs running now. Run against the real
 * core over a temporary library (a real import of real PNG files), and the runner alone for the
 * timing rules.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import type { EventName, Events } from '../../../../electron/contract/api';
import * as v from 'valibot';
import { jobEventSchemas, type JobEvents } from '../../../../electron/contract/jobs';
import { FoveaException } from '../../../../electron/contract/result';
import { JobRunner } from '../../../../electron/core/jobs/job-runner';
import { tempCore } from '../../../helpers/temp-library';

/** Every generic job event the core sends passes its contract schema. */
function assertValid(name: string, payload: unknown): void {
  if (!(name in jobEventSchemas)) return;
  const r = v.safeParse(jobEventSchemas[name as keyof JobEvents], payload);
  assert.ok(r.success, `${name}: ${JSON.stringify(r.issues?.map((i) => i.message))} in ${JSON.stringify(payload)}`);
}

function record(core: ReturnType<typeof tempCore>['core']): { name: EventName; payload: Events[EventName] }[] {
  const seen: { name: EventName; payload: Events[EventName] }[] = [];
  core.events.onAny((name, payload) => {
    assertValid(name, payload);
    seen.push({ name, payload });
  });
  return seen;
}

function until(check: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (check()) resolve();
      else if (Date.now() > end) reject(new Error('timed out waiting'));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

test('an import of a path that does not exist finishes, leaves no empty dataset, and its events come in order', async () => {
  const { core, dir, cleanup } = tempCore();
  try {
    const seen = record(core);
    const started = await core.dispatch('import.start', { datasetName: 'Nothing here', paths: [join(dir, 'no-such-folder')] });
    assert.ok(started.ok);
    const { jobId, datasetId } = started.value as { jobId: string; datasetId: number };
    // 'job.started' went out before the request answered: a UI must buffer it.
    assert.equal(seen[0]?.name, 'job.started');
    assert.equal((seen[0]?.payload as JobEvents['job.started']).jobId, jobId);
    assert.deepEqual((seen[0]?.payload as JobEvents['job.started']).subject, { datasetId, runId: null });
    await until(() => seen.some((e) => e.name === 'job.finished'));
    const names = seen.map((e) => e.name);
    assert.ok(names.indexOf('import.finished') < names.indexOf('job.finished'), names.join(','));
    const fin = seen.find((e) => e.name === 'import.finished')?.payload as Events['import.finished'];
    assert.equal(fin.error, null);
    assert.equal(fin.report?.problems.length, 1);
    assert.match(fin.report?.problems[0]?.reason ?? '', /not found|does not exist|no such/i);
    const job = seen.find((e) => e.name === 'job.finished')?.payload as JobEvents['job.finished'];
    assert.equal(job.kind, 'import');
    assert.equal(job.outcome, 'done');
    assert.equal(seen.filter((e) => e.name === 'job.finished').length, 1);
    // The dataset this import created, with nothing in it, is gone again.
    const list = await core.dispatch('datasets.list', {});
    assert.ok(list.ok);
    assert.deepEqual((list.value as { name: string }[]).map((d) => d.name), []);
    const listed = await core.dispatch('jobs.list', {});
    assert.deepEqual(listed, { ok: true, value: [] });
  } finally {
    cleanup();
  }
});

test('a failed import into an existing dataset keeps that dataset; jobs.list shows a running import', async () => {
  const { core, dir, cleanup } = tempCore();
  try {
    const images = join(dir, 'images');
    mkdirSync(images);
    for (let i = 0; i < 40; i++) {
      writeFileSync(join(images, `img_${i}.png`), await sharp(Buffer.alloc(64 * 64, i * 5), { raw: { width: 64, height: 64, channels: 1 } }).png().toBuffer());
    }
    const created = await core.dispatch('datasets.create', { name: 'Kept' });
    assert.ok(created.ok);
    const seen = record(core);
    const started = await core.dispatch('import.start', { datasetName: 'Kept', paths: [images] });
    assert.ok(started.ok);
    const { jobId } = started.value as { jobId: string };
    const running = await core.dispatch('jobs.list', { kind: 'import' });
    assert.ok(running.ok);
    assert.deepEqual((running.value as { jobId: string }[]).map((j) => j.jobId), [jobId]);
    const otherKind = await core.dispatch('jobs.list', { kind: 'training' });
    assert.deepEqual(otherKind, { ok: true, value: [] });
    const bad = await core.dispatch('jobs.list', { kind: 'nonsense' });
    assert.equal(bad.ok, false);
    assert.equal(!bad.ok && bad.error.code, 'VALIDATION');
    await until(() => seen.some((e) => e.name === 'job.finished'));
    const progress = seen.filter((e) => e.name === 'job.progress').map((e) => (e.payload as JobEvents['job.progress']).progress);
    assert.ok(progress.length >= 1);
    // The last step always goes out.
    assert.deepEqual(progress.at(-1), { done: 40, total: 40, phase: null });
    const ds = await core.dispatch('datasets.list', {});
    assert.ok(ds.ok);
    assert.deepEqual((ds.value as { name: string; counts: { items: number } }[]).map((d) => [d.name, d.counts.items]), [['Kept', 40]]);
  } finally {
    cleanup();
  }
});

test('the runner: throttled progress, last step always sent, errors mapped once, cancel ends as cancelled', async () => {
  const events: { name: keyof JobEvents; payload: JobEvents[keyof JobEvents] }[] = [];
  const runner = new JobRunner((name, payload) => {
    assertValid(name, payload);
    events.push({ name, payload });
  });
  const results: string[] = [];
  const { jobId } = runner.run({
    kind: 'export',
    throttleMs: 10_000,
    task: async (job) => {
      for (let i = 1; i <= 50; i++) job.progress({ done: i, total: 50 });
      return 'ok';
    },
    finished: (r) => results.push(r.ok ? String(r.value) : r.error.code),
  });
  assert.equal(events.length, 1, 'only job.started before run returns');
  assert.deepEqual(runner.list().map((j) => j.jobId), [jobId]);
  await until(() => events.some((e) => e.name === 'job.finished'));
  const steps = events.filter((e) => e.name === 'job.progress').map((e) => (e.payload as JobEvents['job.progress']).progress.done);
  assert.deepEqual(steps, [1, 50]);
  assert.deepEqual(results, ['ok']);
  assert.deepEqual(runner.list(), []);

  events.length = 0;
  const failing = runner.run({
    kind: 'export',
    task: () => Promise.reject(new FoveaException('FORBIDDEN', 'not allowed')),
    finished: (r) => results.push(r.ok ? 'ok' : r.error.code),
  });
  await until(() => events.some((e) => e.name === 'job.finished'));
  const fin = events.find((e) => e.name === 'job.finished')?.payload as JobEvents['job.finished'];
  assert.equal(fin.jobId, failing.jobId);
  assert.equal(fin.outcome, 'failed');
  assert.deepEqual(fin.error, { code: 'FORBIDDEN', message: 'not allowed' });

  events.length = 0;
  const cancelled = runner.run({
    kind: 'import',
    task: (job) =>
      new Promise((_resolve, reject) => {
        // Cancelled before the task began (it starts on a later turn) or while it waits.
        if (job.signal.aborted) reject(new FoveaException('CANCELLED', 'stopped'));
        job.signal.addEventListener('abort', () => reject(new FoveaException('CANCELLED', 'stopped')));
      }),
    finished: (r) => results.push(r.ok ? 'ok' : r.error.code),
  });
  assert.equal(runner.cancel(cancelled.jobId), true);
  await until(() => events.some((e) => e.name === 'job.finished'));
  assert.equal((events.find((e) => e.name === 'job.finished')?.payload as JobEvents['job.finished']).outcome, 'cancelled');
  assert.equal(runner.cancel(cancelled.jobId), false);
  assert.deepEqual(results, ['ok', 'FORBIDDEN', 'CANCELLED']);
});
