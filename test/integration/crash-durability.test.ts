/**
 * kill -9 at random moments during an import of 1,000 files while labels
 * are being written, 10 times: afterwards integrity_check is ok, no foreign
 * key violations or unreferenced rows, every acknowledged label is present,
 * and re-running the import completes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { createCore } from '../../electron/core/composition-root';
import { createMlEngine } from '../../native-models/engine';
import { makeDicomSet } from '../helpers/dicom-set';
import { REPO_ROOT, SHARED_TESTDATA } from '../helpers/paths';
import { tempDir } from '../helpers/temp-library';

const KILLS = Number(process.env['FOVEA_CRASH_KILLS'] ?? 10);
const FILES = Number(process.env['FOVEA_CRASH_FILES'] ?? 1000);

function runUntilKilled(libraryDir: string, importDir: string, itemIds: string, killAfterMs: number): Promise<{ acked: number[]; done: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test/integration/fixtures/crash-writer.ts'), libraryDir, importDir, itemIds], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acked: number[] = [];
    let buf = '';
    let done = false;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('ACK ')) acked.push(Number(line.slice(4)));
        else if (line === 'READY') setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        else if (line === 'DONE') done = true;
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL' && code !== 0) reject(new Error(`writer exited ${code}: ${stderr}`));
      else resolve({ acked, done });
    });
  });
}

test(`kill -9 during an import of ${FILES} files while labels are written, ${KILLS} times: nothing acknowledged is lost, the library stays consistent`, { timeout: 600_000 }, async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const libraryDir = join(tmp.dir, 'library');
  const importDir = join(tmp.dir, 'set');
  const set = makeDicomSet(importDir, FILES);

  // A dataset with a few images to label, and the dataset the import goes into.
  const setup = createCore({ libraryDir, ml: createMlEngine() });
  const labels = setup.datasets.create('labels', '');
  setup.datasets.create('crash', '');
  await setup.importFiles({ datasetId: labels.id, paths: [join(SHARED_TESTDATA, 'road/udacity-lanelines')] });
  const itemIds = (setup.db.prepare('SELECT id FROM items WHERE dataset_id = ?').pluck().all(labels.id) as number[]).join(',');
  setup.close();

  const allAcked: number[] = [];
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < KILLS; i++) {
    const { acked } = await runUntilKilled(libraryDir, importDir, itemIds, 150 + Math.floor(rand() * 1500));
    assert.ok(acked.length > 0, 'labels were written before the kill');
    allAcked.push(...acked);

    const core = createCore({ libraryDir, ml: createMlEngine() });
    try {
      assert.equal(core.db.pragma('integrity_check', { simple: true }), 'ok');
      assert.deepEqual(core.db.pragma('foreign_key_check'), []);
      const present = new Set(core.db.prepare('SELECT id FROM annotations').pluck().all() as number[]);
      const lost = allAcked.filter((id) => !present.has(id));
      assert.deepEqual(lost, [], `kill ${i + 1}: acknowledged labels missing`);
      const check = core.maintenance.check();
      assert.deepEqual(check.missingBlobFiles, []);
      assert.deepEqual(check.unreferencedBlobRows, []);
      assert.equal(check.auditChainBrokenAt, null);
      assert.ok(check.ok);
    } finally {
      core.close();
    }
  }

  // Re-running the import completes: every file is in, orphaned blob files are reused.
  const core = createCore({ libraryDir, ml: createMlEngine() });
  try {
    const ds = core.datasets.findByName('crash');
    assert.ok(ds);
    const report = await core.importFiles({ datasetId: ds.id, paths: [importDir] });
    assert.equal(report.counts.failed, 0);
    assert.equal(report.counts.imported + report.counts.duplicate, set.paths.length);
    assert.equal(core.datasets.get(ds.id).counts.items, set.paths.length);
    const check = core.maintenance.check();
    assert.ok(check.ok, JSON.stringify(check));
    assert.deepEqual(check.orphanBlobFiles, [], 'blob files left by the kills were reused');
  } finally {
    core.close();
  }
});
