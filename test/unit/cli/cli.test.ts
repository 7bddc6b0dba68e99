import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../helpers/paths';
import { tempDir } from '../../helpers/temp-library';

function fovea(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'electron', 'cli', 'main.ts'), ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('fovea info --json prints valid JSON with the backend table: wasm chosen, tfjs-node-gpu unavailable with the reason', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const lib = join(tmp.dir, 'lib');
  const r = fovea(['info', '--json', '--library', lib]);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout) as {
    versions: Record<string, string | null>;
    library: { path: string };
    ml: { chosen: string; why: string; backends: { name: string; available: boolean; reason: string; package: string }[] };
  };
  assert.equal(info.library.path, lib);
  assert.equal(info.versions['node'], process.versions.node);
  assert.match(info.versions['sqlite'] ?? '', /^3\.\d+/);
  assert.equal(info.versions['tfjs'], '4.22.0');
  assert.equal(info.versions['electron'], null);
  assert.deepEqual(info.ml.backends.map((b) => b.name), ['tensorflow-gpu', 'webgpu', 'tensorflow-cpu', 'wasm', 'cpu']);
  const gpu = info.ml.backends.find((b) => b.name === 'tensorflow-gpu');
  assert.equal(gpu?.package, '@tensorflow/tfjs-node-gpu');
  assert.equal(gpu?.available, false);
  assert.match(gpu?.reason ?? '', /not installed.*CUDA 11\.2 and cuDNN 8\.1/s);
  assert.equal(info.ml.chosen, 'wasm');
  assert.match(info.ml.why, /^Using wasm because/);
});

test('FOVEA_LIBRARY selects the library; the human output names the backend in use', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const r = fovea(['info'], { FOVEA_LIBRARY: join(tmp.dir, 'env-lib') });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`Library\\s+${join(tmp.dir, 'env-lib').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.match(r.stdout, /Using: wasm\./);
});

test('exit code 2 for bad usage and for an unusable library, with a message', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  assert.equal(fovea(['frobnicate']).code, 2);
  const badFlag = fovea(['info', '--nope']);
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /Unknown option '--nope'/);
  const notDir = join(tmp.dir, 'file');
  writeFileSync(notDir, 'x');
  const unusable = fovea(['datasets', '--library', notDir]);
  assert.equal(unusable.code, 2);
  assert.match(unusable.stderr, /Cannot create the library folder/);
});

test('fovea datasets --json lists datasets', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const r = fovea(['datasets', '--json', '--library', join(tmp.dir, 'lib')]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), []);
});
