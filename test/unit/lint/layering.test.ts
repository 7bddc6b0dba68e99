/**
 * The layering lint: 'electron' only in electron/main and electron/preload;
 * no network modules in shipped code; the contract pure; the renderer only
 * through the contract. Lints virtual files at real paths with the repo's
 * own ESLint config.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ESLint } from 'eslint';
import { REPO_ROOT } from '../../helpers/paths';

const eslint = new ESLint({ cwd: REPO_ROOT });

async function restrictedImportErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

test("importing 'electron' outside electron/main and electron/preload fails the lint", async () => {
  for (const file of ['electron/core/store/x.ts', 'electron/cli/x.ts', 'electron/contract/x.ts', 'native-models/x.ts', 'renderer/src/lib/x.ts']) {
    const errors = await restrictedImportErrors(file, "import { app } from 'electron';\nexport const a = app;\n");
    assert.ok(errors.some((m) => /Only electron\/main and electron\/preload/.test(m)), `${file}: ${errors.join(' | ')}`);
  }
  assert.deepEqual(await restrictedImportErrors('electron/main/x.ts', "import { app } from 'electron';\nexport const a = app;\n"), []);
  assert.deepEqual(await restrictedImportErrors('electron/preload/x.ts', "import { contextBridge } from 'electron';\nexport const a = contextBridge;\n"), []);
});

test('importing http/https/net (or Electron net, autoUpdater) in shipped code fails the lint', async () => {
  const cases: [string, string][] = [
    ['electron/core/x.ts', "import http from 'node:http';\nexport const a = http;\n"],
    ['electron/core/x.ts', "import * as https from 'https';\nexport const a = https;\n"],
    ['electron/main/x.ts', "import { createConnection } from 'net';\nexport const a = createConnection;\n"],
    ['electron/main/x.ts', "import { net } from 'electron';\nexport const a = net;\n"],
    ['electron/main/x.ts', "import { autoUpdater } from 'electron';\nexport const a = autoUpdater;\n"],
    ['native-models/x.ts', "import tls from 'node:tls';\nexport const a = tls;\n"],
    ['renderer/src/x.ts', "import dns from 'dns';\nexport const a = dns;\n"],
  ];
  for (const [file, code] of cases) {
    const errors = await restrictedImportErrors(file, code);
    assert.ok(errors.some((m) => /No network|No network, updater/.test(m)), `${file} ${code}: ${errors.join(' | ')}`);
  }
  // Test tooling (the loopback harness) may use http.
  assert.deepEqual(await restrictedImportErrors('test/harness/x.ts', "import http from 'node:http';\nexport const a = http;\n"), []);
});

test('the contract is pure, and the renderer reaches the backend only through the contract', async () => {
  assert.ok((await restrictedImportErrors('electron/contract/x.ts', "import { readFileSync } from 'node:fs';\nexport const a = readFileSync;\n")).length > 0);
  assert.ok((await restrictedImportErrors('electron/contract/x.ts', "import { Core } from '../core/composition-root';\nexport type A = Core;\n")).length > 0);
  assert.ok((await restrictedImportErrors('renderer/src/lib/x.ts', "import { createCore } from '../../../electron/core/composition-root';\nexport const a = createCore;\n")).length > 0);
  assert.deepEqual(await restrictedImportErrors('renderer/src/lib/x.ts', "import type { Dataset } from '../../../electron/contract/domain';\nexport type A = Dataset;\n"), []);
  assert.ok((await restrictedImportErrors('native-models/x.ts', "import { createCore } from '../electron/core/composition-root';\nexport const a = createCore;\n")).length > 0);
  // The core gets the ML engine injected; it never imports native-models or TensorFlow.js.
  assert.ok((await restrictedImportErrors('electron/core/x.ts', "import { createMlEngine } from '../../native-models/engine';\nexport const a = createMlEngine;\n")).length > 0);
  assert.ok((await restrictedImportErrors('electron/core/x.ts', "import * as tf from '@tensorflow/tfjs';\nexport const a = tf;\n")).length > 0);
});
