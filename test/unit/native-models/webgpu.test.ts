/**
 * The WebGPU backend without a GPU: SwiftShader (Chromium's software Vulkan driver, Debian's
 * chromium package) gives Dawn an adapter. Its environment (VK_ICD_FILENAMES, LD_LIBRARY_PATH) is
 * set for the child process that runs each suite only, never for this test runner. A missing
 * SwiftShader FAILS these tests with the install command: a GPU path never checked must not look
 * like one that passed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../../helpers/paths';
import { requireTool, swiftShaderEnv } from '../../helpers/reference-tools';

function runSuite(file: string): void {
  requireTool('swiftshader');
  // Without NODE_TEST_CONTEXT the child runs its own tests instead of reporting to this runner.
  const { NODE_TEST_CONTEXT: _context, ...env } = swiftShaderEnv();
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', join(REPO_ROOT, 'test/unit/native-models/webgpu', file)], {
    cwd: REPO_ROOT,
    env,
    encoding: 'utf8',
    timeout: 1_500_000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.error, undefined, `${file}: ${r.error?.message}`);
  assert.equal(r.status, 0, `${file} failed under SwiftShader:\n${out.slice(-6000)}`);
  assert.match(r.stdout, /ℹ pass [1-9]/, `${file} ran no test:\n${out.slice(-2000)}`);
  assert.match(r.stdout, /ℹ fail 0/);
}

test('WebGPU gradients of every kernel the three model families use equal the cpu backend within 1e-4 (SwiftShader)', { timeout: 1_600_000 }, () => {
  runSuite('gradients.swiftshader.ts');
});

test('WebGPU training in the worker for each task, webgpu <-> wasm resume, and a GPU fault stopping a run (SwiftShader)', { timeout: 1_600_000 }, () => {
  runSuite('training.swiftshader.ts');
});
