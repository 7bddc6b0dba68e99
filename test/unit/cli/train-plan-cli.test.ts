/**
 * `fovea train --plan-only --json` prints the recipe planned from the data (the same plan,
 * byte for byte, as the core plans in this process: deterministic across processes), and
 * `fovea train --time-budget MINUTES` trains a planned run that stops in time with the budget
 * left in its progress lines; bad budgets are usage errors. Real DRIVE data, real training.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { DRIVE } from '../../helpers/learning';
import { REPO_ROOT } from '../../helpers/paths';
import { tempCore } from '../../helpers/temp-library';

function fovea(args: string[], timeout = 120_000) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'electron', 'cli', 'main.ts'), ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('fovea train --plan-only --json and --time-budget on DRIVE', async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const library = join(dir, 'library');
  const ds = core.datasets.create('drive', '');
  const imp = await core.importFiles({ datasetId: ds.id, paths: [join(DRIVE, 'images')] });
  assert.equal(imp.counts.imported, 20);
  await core.importLabels(ds.id, join(DRIVE, '1st_manual'), 'masks', 'cli-test', { classes: { 0: 'background', 255: 'vessel' } });
  const inProcess = await core.training.plan(ds.id, 'segmentation', { timeBudgetSeconds: 30 });
  core.close();

  const r = fovea(['train', '--dataset', 'drive', '--task', 'segment', '--time-budget', '0.5', '--plan-only', '--json', '--library', library]);
  assert.equal(r.code, 0, r.stderr);
  const line = JSON.parse(r.stdout.trim()) as { type: string; plan: unknown; config: { timeBudgetSeconds: number; patch: unknown } };
  assert.equal(line.type, 'plan');
  assert.equal(JSON.stringify(line.plan), JSON.stringify(inProcess.plan));
  assert.equal(line.config.timeBudgetSeconds, 30);
  assert.ok(line.config.patch);

  const text = fovea(['train', '--dataset', 'drive', '--task', 'segment', '--plan-only', '--library', library]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /resolution: The thinnest class, vessel/);
  assert.match(text.stdout, /sampling: Patches of \d+ px at native resolution/);

  for (const bad of [['--time-budget', '0'], ['--time-budget=-1'], ['--time-budget', 'soon']]) {
    const u = fovea(['train', '--dataset', 'drive', '--task', 'segment', ...bad, '--plan-only', '--library', library]);
    assert.equal(u.code, 2, bad.join(' '));
    assert.match(u.stderr, /--time-budget takes minutes/);
  }

  // A real budgeted run: 0.25 min of training (start-up and data preparation are not charged).
  const t0 = performance.now();
  const run = fovea(['train', '--dataset', 'drive', '--task', 'segment', '--time-budget', '0.25', '--backend', 'wasm', '--json', '--library', library], 300_000);
  const seconds = (performance.now() - t0) / 1000;
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const batches = lines.filter((l) => l['type'] === 'batch');
  assert.ok(batches.length > 0 && batches.every((b) => typeof b['budgetLeftSeconds'] === 'number' && (b['budgetLeftSeconds'] as number) <= 15));
  const done = lines.at(-1) as { type: string; status: string; epochsCompleted: number; bestEpoch: number | null };
  assert.equal(done.type, 'done');
  assert.equal(done.status, 'done');
  assert.ok(done.epochsCompleted >= 1 && done.bestEpoch !== null);
  const start = lines.find((l) => l['type'] === 'start') as { config: { timeBudgetSeconds: number; plan: { format: string }; inputSize: number } };
  assert.equal(start.config.timeBudgetSeconds, 15);
  assert.equal(start.config.plan.format, 'fovea-recipe-plan');
  assert.equal(start.config.inputSize, 64, 'a budget under 3 minutes on a CPU trains 64 px patches');
  assert.ok(seconds < 120, `the whole command took ${seconds.toFixed(0)} s`);
});
