/**
 * Export safety: names are sanitised and confined to the chosen folder, links are refused, no
 * silent overwrite, a failed export leaves nothing half-written, the manifest's SHA-256s match the
 * files, and every export (and refusal) is in the audit log.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { FoveaException } from '../../../../electron/contract/result';
import { exportLabels } from '../../../../electron/core/export/label-export';
import { ExportWriter, sanitizeRelativePath, sanitizeSegment } from '../../../../electron/core/export/safe-output';
import { SHARED_TESTDATA } from '../../../helpers/paths';
import { tempCore, tempDir } from '../../../helpers/temp-library';

const PED_IMAGE = join(SHARED_TESTDATA, 'train/pennfudan_ped/PNGImages/FudanPed00001.png');

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

function isInside(root: string, p: string): boolean {
  const r = relative(root, resolve(p));
  return r !== '' && !r.startsWith('..') && !r.includes(':');
}

async function rejectsWith(p: Promise<unknown>, code: string, re?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof FoveaException, String(e));
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

test('hostile names are sanitised: .., absolute, drive and UNC paths, reserved Windows names, control and bidi characters, long names', () => {
  assert.equal(sanitizeRelativePath('../../x'), '_/_/x');
  assert.equal(sanitizeRelativePath('..\\..\\evil.png'), '_/_/evil.png');
  assert.equal(sanitizeRelativePath('/etc/passwd'), 'etc/passwd');
  assert.equal(sanitizeRelativePath('C:\\Windows\\x.png'), 'C_/Windows/x.png');
  assert.equal(sanitizeRelativePath('\\\\server\\share\\x'), 'server/share/x');
  assert.equal(sanitizeSegment('CON'), '_CON');
  assert.equal(sanitizeSegment('nul.txt'), '_nul.txt');
  assert.equal(sanitizeSegment('COM1'), '_COM1');
  assert.equal(sanitizeSegment('aux.tar.gz'), '_aux.tar.gz');
  assert.equal(sanitizeSegment('a\u0000b\u001fc\u007fd.png'), 'abcd.png');
  assert.equal(sanitizeSegment('photo\u202egnp.exe'), 'photognp.exe');
  assert.equal(sanitizeSegment('x\u2066y\u200fz\u061c.png'), 'xyz.png');
  assert.equal(sanitizeSegment('name. . '), 'name');
  assert.equal(sanitizeSegment('..'), '_');
  const long = sanitizeSegment(`${'é'.repeat(300)}.png`);
  assert.ok(Buffer.byteLength(long) <= 200);
  assert.ok(long.endsWith('.png'));
  // Over-long names without an extension, cut inside multi-byte characters, stay valid UTF-8.
  const cjk = sanitizeSegment('漢'.repeat(500));
  assert.ok(Buffer.byteLength(cjk) <= 200 && !cjk.includes('\ufffd'));
  assert.throws(() => sanitizeRelativePath('//'), /not a file name/);
  assert.throws(() => sanitizeRelativePath(Array(20).fill('d').join('/')), /deep/);
});

test('every hostile path is written inside the export folder', async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const root = join(tmp.dir, 'out');
  const w = await ExportWriter.open(root);
  const hostile = ['../../escape.txt', '..\\..\\escape2.txt', '/abs/x.txt', 'C:\\x.txt', '\\\\server\\share\\y.txt', 'CON', 'nul.txt', 'COM1.json', 'a\u202etxt.exe', `${'x'.repeat(400)}.txt`, 'ctl\u0001\u0002.txt'];
  for (const h of hostile) {
    const f = await w.write(h, 'data');
    assert.ok(isInside(w.root, join(w.root, f.path)), `${h} -> ${f.path}`);
  }
  await w.finish({ test: true });
  for (const f of walk(w.root)) assert.ok(isInside(w.root, f), f);
  assert.equal(existsSync(join(tmp.dir, 'escape.txt')), false);
  assert.equal(readdirSync(tmp.dir).sort().join(','), 'out');
});

test('discard removes exactly what this export wrote and the folders it made, never what was there before', async (t) => {
  const tmp = tempDir('fovea-discard-');
  t.after(tmp.cleanup);
  const out = join(tmp.dir, 'out');
  mkdirSync(join(out, 'mine', 'keep'), { recursive: true });
  writeFileSync(join(out, 'mine', 'keep', 'notes.txt'), 'the user');
  writeFileSync(join(out, 'readme.txt'), 'the user');
  const w = await ExportWriter.open(out);
  await w.write('labels/a/b.json', '{}');
  await w.write('mine/keep/new.json', '{}');
  await w.write('top.json', '{}');
  assert.equal(await w.discard(), 3);
  assert.deepEqual(readdirSync(out).sort(), ['mine', 'readme.txt']);
  assert.deepEqual(readdirSync(join(out, 'mine', 'keep')), ['notes.txt']);
  await assert.rejects(w.write('late.json', '{}'), /already finished/);
});

test('a symbolic link inside the export folder is refused, not followed', async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const root = join(tmp.dir, 'out');
  const outside = join(tmp.dir, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  symlinkSync(outside, join(root, 'linked'));
  symlinkSync(join(outside, 'target.txt'), join(root, 'file.txt'));
  const w = await ExportWriter.open(root);
  await rejectsWith(w.write('linked/a.txt', 'x'), 'BAD_INPUT', /symbolic link/);
  await rejectsWith(w.write('file.txt', 'x'), 'CONFLICT', /not a plain file/);
  assert.deepEqual(readdirSync(outside), []);
});

test('no silent overwrite: an existing file is a CONFLICT, names differing in case collide, long colliding names get unique names', async (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const root = join(tmp.dir, 'out');
  mkdirSync(root);
  writeFileSync(join(root, 'keep.txt'), 'precious');
  const w = await ExportWriter.open(root);
  await rejectsWith(w.write('keep.txt', 'new'), 'CONFLICT', /already exists/);
  assert.equal(readFileSync(join(root, 'keep.txt'), 'utf8'), 'precious');
  await w.write('A.png', 'a');
  await rejectsWith(w.write('a.png', 'b'), 'CONFLICT', /case/);
  assert.equal(w.uniquePath('a.png'), 'a-2.png');
  const long = `${'n'.repeat(300)}.png`;
  const first = w.uniquePath(long);
  await w.write(first, '1');
  const second = w.uniquePath(long);
  assert.notEqual(second, first);
  assert.ok(second.endsWith('-2.png') && Buffer.byteLength(second) <= 200);
  // With overwrite confirmed, the file is replaced atomically.
  const w2 = await ExportWriter.open(join(tmp.dir, 'out2'));
  await w2.finish({});
  await rejectsWith(ExportWriter.open(join(tmp.dir, 'out2')), 'CONFLICT', /already holds a Fovea export/);
  const w3 = await ExportWriter.open(root, { overwrite: true });
  await w3.write('keep.txt', 'replaced');
  assert.equal(readFileSync(join(root, 'keep.txt'), 'utf8'), 'replaced');
  assert.equal(readdirSync(root).filter((n) => n.startsWith('.fovea-tmp')).length, 0, 'no temporary files left');
});

test('dataset export: manifest SHA-256s match, audit entries for success, conflict (nothing half-written) and policy refusal', async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  // Items whose source names are hostile: "..\..\evil.png" (a legal file name on Linux) and a
  // right-to-left override.
  const src = join(dir, 'src');
  mkdirSync(src);
  const names = ['..\\..\\evil.png', 'gnp.\u202eevil.png', 'plain.png'];
  // Distinct bytes per file (the importer skips identical files as duplicates).
  names.forEach((n, i) => {
    copyFileSync(PED_IMAGE, join(src, n));
    writeFileSync(join(src, n), Buffer.concat([readFileSync(PED_IMAGE), Buffer.from([i])]));
  });
  const ds = core.datasets.create('hostile', '');
  // Files named one by one: a folder walk skips dot-files such as the first.
  const imp = await core.importFiles({ datasetId: ds.id, paths: names.map((n) => join(src, n)) });
  assert.equal(imp.counts.imported, 3);
  assert.deepEqual((core.db.prepare('SELECT source_name FROM items ORDER BY id').pluck().all() as string[]).sort(), ['../../evil.png', 'gnp.\u202eevil.png', 'plain.png'].sort());
  const cls = core.annotations.ensureClass(ds.id, 'person');
  for (const id of core.db.prepare('SELECT id FROM items WHERE dataset_id = ?').pluck().all(ds.id) as number[]) {
    core.annotations.create({ datasetId: ds.id, itemId: id, classId: cls, kind: 'box', geometry: { x: 10, y: 20, width: 30, height: 40 }, source: 'human', author: 't' });
  }
  const sources = { db: core.db, blobs: core.blobs, annotations: core.annotations, datasets: core.datasets, audit: core.audit };
  const outDir = join(dir, 'export');
  const res = await exportLabels(sources, { datasetId: ds.id, format: 'coco', outDir, options: { withImages: true } });
  assert.equal(res.items, 3);
  const files = walk(res.root);
  for (const f of files) {
    assert.ok(isInside(res.root, f), f);
    assert.ok(!/[\u202e]/u.test(f), `no bidi override in ${f}`);
  }
  assert.equal(readdirSync(dir).sort().join(','), 'export,library,src', 'nothing written beside the export folder');
  const manifest = JSON.parse(readFileSync(res.manifest, 'utf8')) as { format: string; dataset: string; files: { path: string; sha256: string; bytes: number }[] };
  assert.equal(manifest.format, 'coco');
  assert.equal(manifest.dataset, 'hostile');
  assert.equal(manifest.files.length, files.length - 1);
  for (const f of manifest.files) {
    const bytes = readFileSync(join(res.root, ...f.path.split('/')));
    assert.equal(createHash('sha256').update(bytes).digest('hex'), f.sha256, f.path);
    assert.equal(bytes.length, f.bytes);
  }
  const coco = JSON.parse(readFileSync(join(res.root, 'annotations.json'), 'utf8')) as { images: { file_name: string }[] };
  assert.ok(coco.images.every((i) => !i.file_name.includes('..') && !i.file_name.includes('\u202e')));
  for (const i of coco.images) assert.ok(existsSync(join(res.root, 'images', ...i.file_name.split('/'))), i.file_name);

  // The same export again, into the same folder, without overwrite: CONFLICT before anything is written.
  const before = walk(res.root).map((f) => [f, readFileSync(f).toString('base64')]);
  await rejectsWith(exportLabels(sources, { datasetId: ds.id, format: 'coco', outDir }), 'CONFLICT');
  assert.deepEqual(walk(res.root).map((f) => [f, readFileSync(f).toString('base64')]), before);

  // A conflict in the middle (a file the user has where a label file would go): the files
  // written before it are removed again, the user's file is untouched.
  const mid = join(dir, 'mid');
  mkdirSync(join(mid, 'Annotations'), { recursive: true });
  writeFileSync(join(mid, 'Annotations', 'plain.xml'), 'mine');
  await rejectsWith(exportLabels(sources, { datasetId: ds.id, format: 'voc', outDir: mid }), 'CONFLICT');
  assert.deepEqual(walk(mid), [join(mid, 'Annotations', 'plain.xml')]);
  assert.equal(readFileSync(join(mid, 'Annotations', 'plain.xml'), 'utf8'), 'mine');

  // Policy: a format IT did not allow is refused with FORBIDDEN, and nothing is written.
  const refusedDir = join(dir, 'refused');
  await rejectsWith(exportLabels({ ...sources, allowedFormats: ['dicom-deid'] }, { datasetId: ds.id, format: 'yolo', outDir: refusedDir }), 'FORBIDDEN', /IT policy.*allowedExportFormats.*dicom-deid/);
  assert.equal(existsSync(refusedDir), false);

  const audit = core.db.prepare("SELECT outcome, details FROM audit_log WHERE action = 'export.labels' ORDER BY id").all() as { outcome: string; details: string }[];
  assert.deepEqual(audit.map((a) => a.outcome), ['ok', 'failed', 'failed', 'refused']);
  const okDetails = JSON.parse(audit[0]?.details ?? '{}') as { format: string; files: number; manifestSha256: string };
  assert.equal(okDetails.format, 'coco');
  assert.equal(okDetails.files, manifest.files.length);
  assert.equal(okDetails.manifestSha256, createHash('sha256').update(readFileSync(res.manifest)).digest('hex'));
  assert.equal(core.maintenance.check().auditChainBrokenAt, null, 'the audit chain verifies');
});

test('cancelling an export removes what it wrote and audits the cancellation', async (t) => {
  const { core, dir, cleanup } = tempCore();
  t.after(cleanup);
  const ds = core.datasets.create('one', '');
  await core.importFiles({ datasetId: ds.id, paths: [PED_IMAGE] });
  const sources = { db: core.db, blobs: core.blobs, annotations: core.annotations, datasets: core.datasets, audit: core.audit };
  const ac = new AbortController();
  ac.abort();
  const outDir = join(dir, 'cancelled');
  await rejectsWith(exportLabels(sources, { datasetId: ds.id, format: 'yolo', outDir }, ac.signal), 'CANCELLED');
  assert.deepEqual(readdirSync(outDir), []);
  const row = core.db.prepare("SELECT outcome FROM audit_log WHERE action = 'export.labels'").get() as { outcome: string };
  assert.equal(row.outcome, 'cancelled');
  await rejectsWith(exportLabels(sources, { datasetId: 999, format: 'coco', outDir }), 'NOT_FOUND');
  await rejectsWith(exportLabels(sources, { datasetId: ds.id, format: 'coco', outDir: 'relative/dir' }), 'BAD_INPUT', /absolute/);
});

test("'export.start' answers FORBIDDEN for a format the policy refuses, and runs an allowed one as a job with events", async (t) => {
  const { core, dir, cleanup } = tempCore({
    policy: { source: 'policy', policy: { allowedExportFormats: ['coco', 'dicom-deid'] }, sources: [], origins: {}, errors: [], warnings: [] },
  });
  t.after(cleanup);
  const ds = core.datasets.create('one', '');
  await core.importFiles({ datasetId: ds.id, paths: [PED_IMAGE] });
  const refused = await core.dispatch('export.start', { datasetId: ds.id, format: 'yolo', outDir: join(dir, 'y') });
  assert.equal(refused.ok, false);
  assert.equal(!refused.ok && refused.error.code, 'FORBIDDEN');
  assert.match(!refused.ok ? refused.error.message : '', /Allowed here: coco, dicom-deid/);
  assert.equal(existsSync(join(dir, 'y')), false);
  const finished = new Promise<{ result: { files: unknown[] } | null; error: unknown }>((res) => core.on('export.finished', (e) => res(e)));
  const started = await core.dispatch('export.start', { datasetId: ds.id, format: 'coco', outDir: join(dir, 'c') });
  assert.equal(started.ok, true);
  const end = await finished;
  assert.equal(end.error, null);
  assert.equal(end.result?.files.length, 1);
  const outcomes = core.db.prepare("SELECT outcome FROM audit_log WHERE action = 'export.labels' ORDER BY id").pluck().all();
  assert.deepEqual(outcomes, ['refused', 'ok']);
});
