/**
 * `fovea export`, as a user runs it: import real Penn-Fudan images and their boxes with the CLI,
 * export them as Pascal VOC with --json, then the exit codes for an existing export (no silent
 * overwrite), --overwrite, and bad usage.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, SHARED_TESTDATA } from '../../helpers/paths';
import { tempDir } from '../../helpers/temp-library';

const PED = join(SHARED_TESTDATA, 'train/pennfudan_ped');

function fovea(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'electron', 'cli', 'main.ts'), ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('fovea export writes VOC files and a manifest; an existing export is a conflict unless --overwrite; bad usage exits 2', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const lib = join(tmp.dir, 'lib');
  const imgs = join(tmp.dir, 'imgs');
  mkdirSync(imgs);
  for (const f of ['FudanPed00001.png', 'FudanPed00002.png', 'FudanPed00004.png']) symlinkSync(join(PED, 'PNGImages', f), join(imgs, f));
  assert.equal(fovea(['import', imgs, '--dataset', 'Ped', '--library', lib, '--json']).code, 0);
  // The annotation folder names 119 images; 3 are in the dataset (exit 1: unmatched entries).
  assert.equal(fovea(['import-labels', join(PED, 'Annotation'), '--format', 'voc', '--dataset', 'Ped', '--library', lib]).code, 1);

  const out = join(tmp.dir, 'voc out');
  const r = fovea(['export', '--dataset', 'Ped', '--format', 'voc', '--out', out, '--library', lib, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { format: string; items: number; annotations: number; files: number; manifest: string; warnings: string[] };
  assert.equal(res.format, 'voc');
  assert.equal(res.items, 3);
  assert.ok(res.annotations >= 3);
  assert.deepEqual(readdirSync(join(out, 'Annotations')).sort(), ['FudanPed00001.xml', 'FudanPed00002.xml', 'FudanPed00004.xml']);
  const manifest = JSON.parse(readFileSync(res.manifest, 'utf8')) as { files: unknown[]; format: string; dataset: string };
  assert.equal(manifest.files.length, 3);
  assert.equal(manifest.dataset, 'Ped');

  const again = fovea(['export', '--dataset', 'Ped', '--format', 'voc', '--out', out, '--library', lib]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already holds a Fovea export/);
  const forced = fovea(['export', '--dataset', 'Ped', '--format', 'voc', '--out', out, '--library', lib, '--overwrite']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, /Exported \d+ annotations on 3 images of "Ped" as voc: 3 files/);

  assert.equal(fovea(['export', '--dataset', 'Ped', '--format', 'tiff', '--out', out, '--library', lib]).code, 2);
  const badSplit = fovea(['export', '--dataset', 'Ped', '--format', 'coco', '--out', join(tmp.dir, 'x'), '--split', 'holdout', '--library', lib]);
  assert.equal(badSplit.code, 2);
  assert.match(badSplit.stderr, /--split must be/);
});
