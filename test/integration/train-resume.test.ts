/**
 * Crash and resume: `fovea train --json` is killed with SIGKILL in the middle
 * of its second epoch; `fovea train --resume RUN` continues from the last
 * checkpoint and ends with the same number of epochs. The JSON lines' last
 * line carries the runId.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createCore } from '../../electron/core/composition-root';
import { createMlEngine } from '../../native-models/engine';
import { REPO_ROOT } from '../helpers/paths';
import { writePneumoniaMnist } from '../helpers/pneumoniamnist';
import { tempDir } from '../helpers/temp-library';

type Line = Record<string, unknown> & { type?: string };

function fovea(args: string[], onLine: (l: Line, kill: () => void) => void): Promise<{ code: number | null; signal: NodeJS.Signals | null; lines: Line[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'electron/cli/main.ts'), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Line[] = [];
    let buf = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const line = JSON.parse(text) as Line;
        lines.push(line);
        onLine(line, () => child.kill('SIGKILL'));
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, lines, stderr }));
  });
}

test('a training run killed mid-epoch resumes from its last checkpoint and ends with the same number of epochs', { timeout: 600_000 }, async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const lib = join(tmp.dir, 'lib');
  const files = await writePneumoniaMnist(join(tmp.dir, 'data'), { train: 400, val: 80, test: 40 });
  const core = createCore({ libraryDir: lib, ml: createMlEngine() });
  const ds = core.datasets.create('P', '');
  await core.importFiles({ datasetId: ds.id, paths: [files.imagesDir] });
  await core.importLabels(ds.id, files.labelsCsv, 'csv', 'test');
  core.close();

  const common = ['--library', lib, '--json'];
  let killedIn: number | null = null;
  const first = await fovea(['train', '--dataset', 'P', '--task', 'classify', '--epochs', '3', '--size', '28', '--batch', '16', '--backend', 'wasm', ...common], (l, kill) => {
    if (l.type === 'batch' && l['epoch'] === 2 && (l['batch'] as number) >= 3 && killedIn === null) {
      killedIn = 2;
      kill();
    }
  });
  assert.equal(first.signal, 'SIGKILL', `the run should have been killed: ${first.stderr}`);
  const start = first.lines.find((l) => l.type === 'start');
  const runId = start?.['runId'] as number;
  assert.ok(runId > 0);
  assert.ok(first.lines.some((l) => l.type === 'epoch' && l['epoch'] === 1), 'epoch 1 completed before the kill');
  assert.ok(existsSync(join(lib, 'runs', String(runId), 'epoch-1')), 'epoch 1 checkpoint on disk');

  const listed = await fovea(['runs', ...common], () => {});
  const runs = listed.lines[0] as unknown as { id: number; status: string }[];
  assert.equal(runs.find((r) => r.id === runId)?.status, 'interrupted');

  const resumed = await fovea(['train', '--resume', String(runId), ...common], () => {});
  assert.equal(resumed.code, 0, resumed.stderr);
  const epochs = resumed.lines.filter((l) => l.type === 'epoch').map((l) => l['epoch']);
  assert.deepEqual(epochs, [2, 3], 'continues at epoch 2');
  const last = resumed.lines.at(-1);
  assert.equal(last?.['runId'], runId, 'the last JSON line carries the runId');
  assert.equal(last?.['status'], 'done');
  assert.equal(last?.['epochsCompleted'], 3);

  const after = createCore({ libraryDir: lib, ml: createMlEngine() });
  try {
    const run = after.runs.get(runId);
    assert.equal(run.status, 'done');
    assert.equal(run.epochsCompleted, 3);
    assert.deepEqual(after.runs.epochs(runId).map((e) => e.epoch), [1, 2, 3]);
  } finally {
    after.close();
  }
});
