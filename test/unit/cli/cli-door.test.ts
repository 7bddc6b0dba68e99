/**
 * One door: the `fovea` commands are admitted by the same core check as the app's requests.
 * - Every command that writes is refused on a read-only library (a library written by a newer
 *   Fovea) with LIBRARY_READ_ONLY and a message for a person, no stack; commands that only read
 *   still work there.
 * - Under IT's `sampleData: false`, `fovea demo` is refused (FORBIDDEN) as the app's sample
 *   button is, and makes no dataset.
 * The commands run in-process (the policy is passed in), against real libraries.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { main } from '../../../electron/cli/main';
import type { PolicyLoadResult } from '../../../electron/core/policy/policy';
import { createCore } from '../../../electron/core/composition-root';
import { DB_FILE } from '../../../electron/core/store/library-db';
import { createMlEngine } from '../../../native-models/engine';
import { SHARED_TESTDATA } from '../../helpers/paths';
import { tempDir } from '../../helpers/temp-library';

async function run(argv: string[], policy?: PolicyLoadResult): Promise<{ code: number; stdout: string; stderr: string }> {
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
    const code = await main(argv, policy ? { policy } : {});
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

const NO_POLICY: PolicyLoadResult = { source: 'none', policy: {}, sources: [], origins: {}, errors: [], warnings: [] };

/** A library, then marked as written by a much newer Fovea: it opens read-only. */
function newerLibrary(dir: string): string {
  const lib = join(dir, 'newer');
  const core = createCore({ libraryDir: lib, ml: createMlEngine() });
  core.datasets.create('Existing', '');
  core.close();
  const db = new Database(join(lib, DB_FILE));
  db.pragma('user_version = 9999');
  db.close();
  return lib;
}

const WRITING_COMMANDS = ['import', 'import-labels', 'export', 'demo', 'train', 'evaluate', 'predict', 'import-model'];
const READING_COMMANDS = ['datasets', 'runs', 'models', 'info'];

test('every command that writes is refused on a read-only library with its code and no stack; reading ones work', { timeout: 120_000 }, async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const lib = newerLibrary(tmp.dir);
  for (const cmd of WRITING_COMMANDS) {
    const r = await run([cmd, '--library', lib], NO_POLICY);
    assert.notEqual(r.code, 0, cmd);
    assert.match(r.stderr, new RegExp(`^fovea ${cmd}: This library was written by a newer version of Fovea.*\\[LIBRARY_READ_ONLY\\]`, 'm'), cmd);
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /i, cmd);
    const json = await run([cmd, '--library', lib, '--json'], NO_POLICY);
    assert.equal((JSON.parse(json.stdout.trim().split('\n').at(-1) ?? '{}') as { error?: { code: string } }).error?.code, 'LIBRARY_READ_ONLY', cmd);
  }
  for (const cmd of READING_COMMANDS) {
    const r = await run([cmd, '--library', lib], NO_POLICY);
    assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
  }
});

test("IT's sampleData: false refuses `fovea demo` as it refuses the app's request, and makes nothing", { timeout: 60_000 }, async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const lib = join(tmp.dir, 'lib');
  const policy: PolicyLoadResult = { ...NO_POLICY, source: 'policy', policy: { sampleData: false }, origins: { sampleData: 'test' } };
  const r = await run(['demo', '--library', lib], policy);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^fovea demo: Your IT policy turns the sample library off \(policy key sampleData\)\. \[FORBIDDEN\]$/m);
  const core = createCore({ libraryDir: lib, ml: createMlEngine(), policy });
  try {
    assert.deepEqual(core.datasets.list(), []);
    const app = await core.dispatch('samples.create', {});
    assert.equal(!app.ok && app.error.code, 'FORBIDDEN');
  } finally {
    core.close();
  }
});

test("IT's allowedExportFormats refuses `fovea export` of another format as it refuses the app's export.start, and writes nothing", { timeout: 60_000 }, async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const lib = join(tmp.dir, 'lib');
  const policy: PolicyLoadResult = { ...NO_POLICY, source: 'policy', policy: { allowedExportFormats: ['coco'] }, origins: { allowedExportFormats: 'test' } };
  const setup = createCore({ libraryDir: lib, ml: createMlEngine(), policy });
  const ds = setup.datasets.create('Cases', '');
  setup.close();
  const out = join(tmp.dir, 'out');
  const r = await run(['export', '--library', lib, '--dataset', 'Cases', '--format', 'voc', '--out', out], policy);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^fovea export: .*\[FORBIDDEN\]$/m);
  assert.equal(existsSync(out), false);
  const core = createCore({ libraryDir: lib, ml: createMlEngine(), policy });
  try {
    const app = await core.dispatch('export.start', { datasetId: ds.id, format: 'voc', outDir: out });
    assert.equal(!app.ok && app.error.code, 'FORBIDDEN');
    assert.equal(!app.ok && app.error.message, r.stderr.replace(/^fovea export: /, '').replace(/ \[FORBIDDEN\]\n$/, ''));
  } finally {
    core.close();
  }
});

test('a full disk is a clear message with its code, not an internal error with a stack (a real ENOSPC from /dev/full)', { skip: !existsSync('/dev/full') && 'no /dev/full on this OS' }, async () => {
  const r = await run(['pixels', join(SHARED_TESTDATA, 'dicom/pydicom/CT_small.dcm'), '--out', '/dev/full'], NO_POLICY);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr, 'fovea pixels: The disk is full: free some space and try again. Nothing already saved was lost. [IO]\n');
});
