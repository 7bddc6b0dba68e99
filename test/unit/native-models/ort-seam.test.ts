/**
 * The one seam to onnxruntime-node's private binding (native-models/backends/ort-conv.ts): only
 * the exact version it was tested with is loaded; anything else falls back to the wasm kernels
 * with the reason, without touching the binding.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ORT_BINDING_VERSION, ortConvKernelsActive, ortConvKernelsReason, resolveNativeBinding } from '../../../native-models/backends/ort-conv';
import { REPO_ROOT } from '../../helpers/paths';

test('package.json pins onnxruntime-node to exactly the version the seam accepts', () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.equal(pkg.dependencies['onnxruntime-node'], ORT_BINDING_VERSION);
});

test('the installed version loads through the seam and runs the convolutions', () => {
  assert.equal(ortConvKernelsActive(), true, ortConvKernelsReason());
  assert.match(ortConvKernelsReason(), new RegExp(`onnxruntime-node ${ORT_BINDING_VERSION.replace(/\./g, '\\.')} runs the convolutions`));
});

test('another version is never loaded: null with the reason, and the binding is not touched', () => {
  let loaded = false;
  const r = resolveNativeBinding({
    version: () => '1.31.0',
    load: () => {
      loaded = true;
      throw new Error('must not be called');
    },
  });
  assert.equal(r.native, null);
  assert.equal(loaded, false);
  assert.match(r.reason, /onnxruntime-node 1\.31\.0 is not 1\.30\.0.*wasm kernels/);
});

test('not installed, or a binding of the wrong shape: null with the reason (never a crash)', () => {
  assert.match(resolveNativeBinding({ version: () => null, load: () => assert.fail('not installed') }).reason, /not installed/);
  const r = resolveNativeBinding({
    version: () => ORT_BINDING_VERSION,
    load: () => {
      throw new Error('the binding does not have the expected shape');
    },
  });
  assert.equal(r.native, null);
  assert.match(r.reason, /failed to load \(the binding does not have the expected shape\)/);
});
