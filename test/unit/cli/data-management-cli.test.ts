/**
 * `fovea datasets rename|delete` and `fovea items delete|set-split|set-status` against a real
 * library, in-process: what they print, that `delete` without --yes only says what would go,
 * that `fovea check` passes afterwards, and that a read-only library refuses them (one door).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { main } from '../../../electron/cli/main';
import type { PolicyLoadResult } from '../../../electron/core/policy/policy';
import { createCore } from '../../../electron/core/composition-root';
import { DB_FILE } from '../../../electron/core/store/library-db';
import { createMlEngine } from '../../../native-models/engine';
import { tempDir } from '../../helpers/temp-library';

const NO_POLICY: PolicyLoadResult = { source: 'none', policy: {}, sources: [], origins: {}, errors: [], warnings: [] };

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main(argv, { policy: NO_POLICY });
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

async function library(dir: string): Promise<{ lib: string; ids: number[] }> {
  const lib = join(dir, 'lib');
  const src = join(dir, 'src');
  mkdirSync(src, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < 4; i++) {
    const f = join(src, `p${i}.png`);
    await sharp({ create: { width: 12, height: 12, channels: 3, background: { r: 40 * i, g: 20, b: 90 } } }).png().toFile(f);
    files.push(f);
  }
  const core = createCore({ libraryDir: lib, ml: createMlEngine() });
  try {
    const ds = core.datasets.create('Old name', '');
    await core.importFiles({ datasetId: ds.id, paths: files });
    return { lib, ids: core.db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY id').pluck().all(ds.id) as number[] };
  } finally {
    core.close();
  }
}

test('fovea datasets rename/delete and fovea items: what they print, --yes, and a clean `fovea check`', { timeout: 120_000 }, async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const { lib, ids } = await library(tmp.dir);
  const [a, b, c] = ids.map(String) as [string, string, string];

  let r = await run(['datasets', 'rename', 'Old name', 'Scans', '--library', lib]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Renamed dataset \d+ to "Scans"\.$/m);
  r = await run(['datasets', 'rename', 'Nope', 'X', '--library', lib]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /there is no dataset named "Nope"/);

  r = await run(['items', 'set-status', '--dataset', 'Scans', '--status', 'done', '--annotator', 'Dr Who', a, b, '--library', lib]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Set 2 item(s) to done.\n');
  r = await run(['items', 'set-status', '--dataset', 'Scans', '--status', 'done', a, '--library', lib]);
  assert.equal(r.code, 2, 'without an annotator name: VALIDATION');
  assert.match(r.stderr, /Enter your name as annotator first.*\[VALIDATION\]/);

  r = await run(['items', 'set-split', '--dataset', 'Scans', '--split', 'test', a, c, '--library', lib, '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as { written: number }).written, 2);
  r = await run(['items', 'set-split', '--dataset', 'Scans', '--split', 'holdout', a, '--library', lib]);
  assert.equal(r.code, 2);

  r = await run(['items', 'delete', '--dataset', 'Scans', c, '--library', lib]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Deleted 1 item\(s\) with 0 label\(s\)/);

  r = await run(['datasets', 'delete', 'Scans', '--library', lib]);
  assert.equal(r.code, 2, 'without --yes nothing is deleted');
  assert.match(r.stdout, /Deleting "Scans" would remove:\n {2}3 items/);
  assert.match(r.stdout, /This dataset has no training runs\./);
  assert.match(r.stderr, /Nothing was deleted\. Run again with --yes/);
  r = await run(['datasets', '--json', '--library', lib]);
  assert.equal((JSON.parse(r.stdout) as unknown[]).length, 1);

  r = await run(['datasets', 'delete', 'Scans', '--yes', '--library', lib]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Deleted dataset "Scans": 3 items/m);
  assert.match(r.stdout, /It had no training runs\./);
  r = await run(['datasets', '--json', '--library', lib]);
  assert.deepEqual(JSON.parse(r.stdout), []);
  r = await run(['check', '--library', lib, '--json']);
  assert.equal(r.code, 0, r.stdout);
  assert.equal((JSON.parse(r.stdout) as { ok: boolean }).ok, true);

  // A library written by a newer Fovea opens read-only: the same refusal as the app's.
  const core = createCore({ libraryDir: lib, ml: createMlEngine() });
  core.datasets.create('Kept', '');
  core.close();
  const db = new Database(join(lib, DB_FILE));
  db.pragma('user_version = 9999');
  db.close();
  for (const argv of [['datasets', 'rename', 'Kept', 'Other'], ['datasets', 'delete', 'Kept', '--yes'], ['items', 'delete', '--dataset', 'Kept', '1']]) {
    r = await run([...argv, '--library', lib]);
    assert.notEqual(r.code, 0, argv.join(' '));
    assert.match(r.stderr, /\[LIBRARY_READ_ONLY\]$/m, argv.join(' '));
  }
});

test('`fovea import` of paths that do not exist leaves no empty dataset behind (issue 19 item 1), an existing one stays', { timeout: 60_000 }, async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const lib = join(tmp.dir, 'lib');
  let r = await run(['import', join(tmp.dir, 'missing'), '--dataset', 'Ghost', '--library', lib]);
  assert.match(r.stderr, /Nothing was imported; the new dataset "Ghost" was not kept\./);
  r = await run(['datasets', '--json', '--library', lib]);
  assert.deepEqual(JSON.parse(r.stdout), []);
  const core = createCore({ libraryDir: lib, ml: createMlEngine() });
  core.datasets.create('Kept empty', '');
  core.close();
  await run(['import', join(tmp.dir, 'missing'), '--dataset', 'Kept empty', '--library', lib]);
  r = await run(['datasets', '--json', '--library', lib]);
  assert.deepEqual((JSON.parse(r.stdout) as { name: string }[]).map((d) => d.name), ['Kept empty']);
});
