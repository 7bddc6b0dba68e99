/**
 * `fovea export-training`'s help and usage errors (issue 18): the only target is pytorch, and both
 * the help and a request for another target say why no MONAI bundle is offered (Fovea's plans are
 * never 3-D).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../helpers/paths';
import { tempDir } from '../../helpers/temp-library';

function fovea(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'electron', 'cli', 'main.ts'), ...args], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, FOVEA_LIBRARY: '' }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('fovea export-training --help names the pytorch target, multi-label, and why there is no MONAI bundle', () => {
  const r = fovea(['export-training', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /--target pytorch/);
  assert.match(r.stdout, /multi-label datasets train with sigmoid outputs/);
  assert.match(r.stdout, /MONAI bundle target is not offered: it is meant for 3-D segmentation, and Fovea's training plans are never 3-D/);
});

test('fovea export-training --target monai: bad usage (exit 2) with the reason, nothing exported', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const out = join(tmp.dir, 'monai');
  const r = fovea(['export-training', '--library', join(tmp.dir, 'lib'), '--dataset', 'Any', '--task', 'segment', '--target', 'monai', '--out', out]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--target must be one of pytorch\. A MONAI bundle target is not offered/);
  assert.match(r.stderr, /never 3-D/);
  assert.equal(existsSync(out), false);
});
