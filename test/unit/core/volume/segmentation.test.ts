/**
 * Labels in 3-D: a segment is a volume per series over the stored mask rows. A brush stroke in
 * the coronal view edits the voxels the axial view shows; it is saved at once as mask rows on the
 * images it touched (visible to another connection when the request returns), audited, undone
 * and redone as inverse deltas; a change made in the 2-D viewer is picked up; and the NIfTI
 * export after 3-D edits holds exactly the painted voxels (nibabel, through its affine).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Core } from '../../../../electron/core/composition-root';
import { createCore } from '../../../../electron/core/composition-root';
import type { SegmentStatistics, VolumeEditResult, VolumeInfo, VolumeLabelPlane, VolumePlaneImage } from '../../../../electron/contract/volume';
import { exportNifti } from '../../../../electron/core/export/nifti-export';
import { decodeRle, encodeMask } from '../../../../electron/core/labels/rle';
import { parseDicom } from '../../../../electron/core/dicom';
import { createMlEngine } from '../../../../native-models/engine';
import { REPO_ROOT } from '../../../helpers/paths';
import { tempCore } from '../../../helpers/temp-library';
import { NIFTI_CHECK, python, runExport, type NiftiDump } from '../export/volume-fixtures';
import { requirePython, syntheticSeries, type ImportedSeries } from './volume-fixtures';

let core: Core;
let dir: string;
let cleanup: () => void;
let s: ImportedSeries;
let lesionClass: number;
let organClass: number;
let info: VolumeInfo;

async function ok<T>(p: Promise<{ ok: boolean }>): Promise<T> {
  const r = (await p) as { ok: true; value: T } | { ok: false; error: unknown };
  assert.ok(r.ok, JSON.stringify(r));
  return r.value;
}

before(async () => {
  const t = tempCore();
  core = t.core;
  dir = t.dir;
  cleanup = t.cleanup;
  s = await syntheticSeries(core, dir, 'ct', { slicesPerSeries: 12, size: 40, seed: 21 });
  // The generator's lesion masks, imported as labels (the sample library's way).
  const m = s.manifest;
  assert.ok(m && m.patients[0] && m.patients[0].lesions.length > 0);
  const maskDir = join(dir, 'masks', m.patients[0].series.dir);
  mkdirSync(maskDir, { recursive: true });
  renameSync(join(dir, 'ct', m.patients[0].series.dir, 'masks'), join(maskDir, 'masks'));
  await core.importLabels(s.datasetId, join(dir, 'masks'), 'masks', 'tester', { classes: ['background', 'lesion'] });
  lesionClass = core.annotations.ensureClass(s.datasetId, 'lesion');
  organClass = core.annotations.ensureClass(s.datasetId, 'organ');
  core.annotatorSettings.set({ annotatorName: 'Dr Volume' });
  info = await ok<VolumeInfo>(core.dispatch('volume.open', { seriesId: s.seriesId }));
});

after(() => cleanup?.());

function discRle(width: number, height: number, cx: number, cy: number, r: number): { size: [number, number]; counts: number[] } {
  const m = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) m[y * width + x] = 1;
  return encodeMask(m, height, width);
}

function slotPixels(p: VolumeLabelPlane, classId: number): number[] {
  const slot = p.classIds.indexOf(classId) + 1;
  const out: number[] = [];
  p.labels?.forEach((v, i) => {
    if (slot > 0 && v === slot) out.push(i);
  });
  return out;
}

test('the imported lesion masks are a segment volume: voxel count, mL, HU statistics', async () => {
  const lesions = s.manifest?.patients[0]?.lesions ?? [];
  const seg = info.segments.find((x) => x.classId === lesionClass);
  assert.equal(seg?.voxels, lesions.reduce((n, l) => n + l.voxelCount, 0));
  const stats = await ok<SegmentStatistics[]>(core.dispatch('volume.stats', { seriesId: s.seriesId }));
  const st = stats.find((x) => x.classId === lesionClass) as SegmentStatistics;
  assert.equal(st.voxels, seg?.voxels);
  assert.ok(Math.abs(st.volumeMl - (st.voxels * 0.8 * 0.8 * 2.5) / 1000) < 1e-9, String(st.volumeMl));
  assert.equal(st.units, 'HU');
  // Mean/min/max from the axial planes' stored values (exact) under the lesion rows.
  let sum = 0;
  let n = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let k = 0; k < info.views.axial.count; k++) {
    const img = await ok<VolumePlaneImage>(core.dispatch('volume.plane', { seriesId: s.seriesId, plane: 'axial', index: k }));
    const lab = await ok<VolumeLabelPlane>(core.dispatch('volume.labels', { seriesId: s.seriesId, plane: 'axial', index: k }));
    for (const i of slotPixels(lab, lesionClass)) {
      const hu = (img.data[i] as number) * img.slope + img.intercept;
      sum += hu;
      n++;
      min = Math.min(min, hu);
      max = Math.max(max, hu);
    }
  }
  assert.equal(n, st.voxels);
  assert.ok(Math.abs((st.mean ?? NaN) - sum / n) < 1e-9);
  assert.equal(st.min, min);
  assert.equal(st.max, max);
});

test('fovea segment-stats prints the same statistics (JSON and text)', async () => {
  const item = core.db.prepare('SELECT min(id) FROM items WHERE series_id = ?').pluck().get(s.seriesId) as number;
  const stats = await ok<SegmentStatistics[]>(core.dispatch('volume.stats', { seriesId: s.seriesId }));
  const run = (json: boolean) =>
    spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'electron/cli/main.ts'), 'segment-stats', '--item', String(item), ...(json ? ['--json'] : []), '--library', join(dir, 'library')], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
  const r = run(true);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { seriesId: s.seriesId, segments: stats });
  const text = run(false);
  assert.equal(text.status, 0, text.stderr);
  const lesion = stats.find((x) => x.classId === lesionClass) as SegmentStatistics;
  assert.match(text.stdout, new RegExp(`lesion: ${lesion.voxels} voxels, ${lesion.volumeMl.toFixed(3)} mL, mean ${(lesion.mean ?? 0).toFixed(1)} HU`));
  const bad = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'electron/cli/main.ts'), 'segment-stats', '--library', join(dir, 'library')], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--item takes an item id/);
});

test('a stroke in the coronal view edits the voxels the axial view shows, saved at once, audited, undone and redone', async () => {
  const cor = info.views.coronal;
  const index = 20; // a coronal plane (image row 20)
  const changes: unknown[] = [];
  const off = core.on('labels.changed', (c) => changes.push(c));
  const auditBefore = core.db.prepare("SELECT count(*) FROM audit_log WHERE action = 'segmentation.edit'").pluck().get() as number;
  // A disc 3 pixels across horizontally on the coronal picture: its rows are slices.
  const res = await ok<VolumeEditResult>(core.dispatch('volume.paint', { seriesId: s.seriesId, classId: organClass, plane: 'coronal', index, mask: discRle(cor.width, cor.height, 15, 5, 2.2) }));
  off();
  assert.ok(res.slicesWritten >= 3, JSON.stringify(res));
  assert.deepEqual(changes, [{ datasetId: s.datasetId, itemId: null, seriesId: s.seriesId }]);
  assert.equal(core.db.prepare("SELECT count(*) FROM audit_log WHERE action = 'segmentation.edit'").pluck().get(), auditBefore + 1);
  const audit = JSON.parse(core.db.prepare("SELECT details FROM audit_log WHERE action = 'segmentation.edit' ORDER BY id DESC LIMIT 1").pluck().get() as string) as { created: number[]; operation: string };
  assert.equal(audit.created.length, res.slicesWritten);
  assert.match(audit.operation, /Paint organ \(coronal\)/);
  // The coronal picture's row y is display slice (count - 1 - y) (feet down); in the axial view that
  // slice shows the stroke on image row 20 at the stroke's columns.
  const painted = new Map<number, number[]>();
  for (let y = 0; y < cor.height; y++) for (let x = 0; x < cor.width; x++) if ((x - 15) ** 2 + (y - 5) ** 2 <= 2.2 * 2.2) painted.set(cor.height - 1 - y, [...(painted.get(cor.height - 1 - y) ?? []), x]);
  for (const [k, xs] of painted) {
    const ax = await ok<VolumeLabelPlane>(core.dispatch('volume.labels', { seriesId: s.seriesId, plane: 'axial', index: k }));
    assert.deepEqual(slotPixels(ax, organClass), xs.map((x) => index * ax.width + x).sort((a, b) => a - b), `axial slice ${k}`);
  }
  // Saved: another connection to the library sees the rows (one active mask per slice, by Dr Volume).
  const other = createCore({ libraryDir: join(dir, 'library'), ml: createMlEngine() });
  try {
    const rows = other.db.prepare("SELECT author, source FROM annotations WHERE class_id = ? AND status = 'active' AND kind = 'mask'").all(organClass) as { author: string; source: string }[];
    assert.equal(rows.length, painted.size);
    assert.ok(rows.every((r) => r.author === 'Dr Volume' && r.source === 'human'));
  } finally {
    other.close();
  }
  // Undo: the rows are deleted (kept as status deleted) and the voxels gone; redo brings them back.
  const undone = await ok<VolumeEditResult>(core.dispatch('volume.undo', { seriesId: s.seriesId }));
  assert.equal(undone.history.canRedo, true);
  assert.equal(undone.segments.find((x) => x.classId === organClass)?.voxels, 0);
  assert.equal(core.db.prepare("SELECT count(*) FROM annotations WHERE class_id = ? AND status = 'active'").pluck().get(organClass), 0);
  const redone = await ok<VolumeEditResult>(core.dispatch('volume.redo', { seriesId: s.seriesId }));
  const voxels = [...painted.values()].reduce((n, xs) => n + xs.length, 0);
  assert.equal(redone.segments.find((x) => x.classId === organClass)?.voxels, voxels);
  assert.equal(core.db.prepare("SELECT count(*) FROM annotations WHERE class_id = ? AND status = 'active'").pluck().get(organClass), painted.size);
});

test('the eraser and the brush limited to an HU range touch only their voxels', async () => {
  const ax = info.views.axial;
  const k = 1; // a slice the coronal stroke did not reach
  const img = await ok<VolumePlaneImage>(core.dispatch('volume.plane', { seriesId: s.seriesId, plane: 'axial', index: k }));
  const disc = discRle(ax.width, ax.height, 20, 20, 12);
  await ok(core.dispatch('volume.paint', { seriesId: s.seriesId, classId: organClass, plane: 'axial', index: k, mask: disc, range: { min: -50, max: 150 } }));
  const lab = await ok<VolumeLabelPlane>(core.dispatch('volume.labels', { seriesId: s.seriesId, plane: 'axial', index: k }));
  const got = new Set(slotPixels(lab, organClass));
  for (let y = 0; y < ax.height; y++) {
    for (let x = 0; x < ax.width; x++) {
      const i = y * ax.width + x;
      const hu = (img.data[i] as number) * img.slope + img.intercept;
      const inDisc = (x - 20) ** 2 + (y - 20) ** 2 <= 144;
      if (inDisc) assert.equal(got.has(i), hu >= -50 && hu <= 150, `pixel ${x},${y} HU ${hu}`);
    }
  }
  await ok(core.dispatch('volume.paint', { seriesId: s.seriesId, classId: organClass, plane: 'axial', index: k, mask: disc, erase: true }));
  const after = await ok<VolumeLabelPlane>(core.dispatch('volume.labels', { seriesId: s.seriesId, plane: 'axial', index: k }));
  for (const i of slotPixels(after, organClass)) assert.ok(!((i % ax.width - 20) ** 2 + (Math.floor(i / ax.width) - 20) ** 2 <= 144));
});

test('a change made in the 2-D viewer is picked up (and the volume history, now stale, is dropped)', async () => {
  const row = core.db.prepare("SELECT id, version FROM annotations WHERE class_id = ? AND status = 'active' ORDER BY id LIMIT 1").get(organClass) as { id: number; version: number };
  const before = (await ok<VolumeInfo>(core.dispatch('volume.open', { seriesId: s.seriesId }))).segments.find((x) => x.classId === organClass)?.voxels ?? 0;
  const del = await core.dispatch('annotations.delete', { id: row.id, expectedVersion: row.version });
  assert.ok(del.ok, JSON.stringify(del));
  const now = await ok<VolumeInfo>(core.dispatch('volume.open', { seriesId: s.seriesId }));
  assert.ok((now.segments.find((x) => x.classId === organClass)?.voxels ?? 0) < before);
  assert.equal(now.history.canUndo, false);
});

test('after 3-D edits the NIfTI export holds exactly the segment voxels where the DICOM pixels are (nibabel)', async () => {
  requirePython('nibabel, pydicom, numpy');
  // A fresh stroke in the sagittal view.
  const sag = info.views.sagittal;
  await ok(core.dispatch('volume.paint', { seriesId: s.seriesId, classId: organClass, plane: 'sagittal', index: 22, mask: discRle(sag.width, sag.height, 18, 6, 3) }));
  const { writer } = await runExport(core, s.datasetId, exportNifti, join(dir, 'nifti'));
  const file = writer.files.find((f) => f.path.endsWith('.nii.gz'));
  assert.ok(file, JSON.stringify(writer.files));
  const values = JSON.parse(readFileSync(join(dir, 'nifti', 'classes.json'), 'utf8')) as Record<string, string>;
  assert.deepEqual(values, { 0: 'background', 1: 'lesion', 2: 'organ' });
  const classValue = (name: string): number => Number(Object.entries(values).find(([, n]) => n === name)?.[0]);
  // Every voxel of the axial planes: its class (or 0) must be what nibabel finds at that pixel's centre.
  const items = core.db.prepare('SELECT id, instance_number AS n FROM items WHERE series_id = ?').all(s.seriesId) as { id: number; n: number }[];
  const fileOf = new Map(items.map((it) => [it.n, s.files.find((f) => f.endsWith(`IM${String(it.n).padStart(4, '0')}.dcm`)) as string]));
  const queries: { dicom: string; row: number; col: number; want: number }[] = [];
  const ax = info.views.axial;
  for (let k = 0; k < ax.count; k++) {
    const lab = await ok<VolumeLabelPlane>(core.dispatch('volume.labels', { seriesId: s.seriesId, plane: 'axial', index: k }));
    // Axial index k ascends along the normal (feet to head): instance numbers count head first.
    const dicom = fileOf.get(ax.count - k) as string;
    for (let i = 0; i < ax.width * ax.height; i++) {
      const slot = lab.labels?.[i] ?? 0;
      const classId = slot ? (lab.classIds[slot - 1] as number) : 0;
      const want = classId === lesionClass ? classValue('lesion') : classId === organClass ? classValue('organ') : 0;
      if (want || i % 7 === 0) queries.push({ dicom, row: Math.floor(i / ax.width), col: i % ax.width, want });
    }
  }
  const dump = python<NiftiDump>(NIFTI_CHECK, [], { nifti: join(dir, 'nifti', file.path), queries });
  const wrong = dump.answers.map((a, i) => ({ a, q: queries[i] })).filter(({ a, q }) => a.value !== q?.want || a.distanceMm > 1e-3);
  assert.deepEqual(wrong.slice(0, 5), []);
  assert.ok(queries.filter((q) => q.want === classValue('organ')).length > 20);
});

test('on a tilted (resampled) series a stroke lands on the nearest acquired voxel', async () => {
  const tilted = await syntheticSeries(core, dir, 'tilted', { slicesPerSeries: 10, size: 32, seed: 3, gantryTiltDeg: 15 });
  const cls = core.annotations.ensureClass(tilted.datasetId, 'spot');
  const v = await ok<VolumeInfo>(core.dispatch('volume.open', { seriesId: tilted.seriesId }));
  assert.ok(v.resampled);
  const ax = v.views.axial;
  assert.deepEqual([ax.horizontal, ax.vertical, ax.normalAxis], [{ axis: 0, flip: false }, { axis: 1, flip: false }, 2]);
  // The shear moves each slice's footprint by about 0.8 rows a slice: these voxels lie inside all of them.
  for (const [i, j, k] of [[10, 12, 4], [20, 15, 7], [3, 28, 1]] as const) {
    const m = new Uint8Array(32 * 32);
    m[j * 32 + i] = 1;
    const res = await ok<VolumeEditResult>(core.dispatch('volume.paint', { seriesId: tilted.seriesId, classId: cls, plane: 'axial', index: k, mask: encodeMask(m, 32, 32) }));
    assert.equal(res.slicesWritten, 1);
    // The row written: one voxel on one image; its centre in the patient, from that file's header.
    const row = core.db.prepare("SELECT a.item_id AS itemId, a.geometry, i.source_name AS name FROM annotations a JOIN items i ON i.id = a.item_id WHERE a.class_id = ? AND a.status = 'active' ORDER BY a.updated_at DESC, a.id DESC LIMIT 1").get(cls) as { itemId: number; geometry: string; name: string };
    const pixels = [...decodeRle((JSON.parse(row.geometry) as { rle: { size: [number, number]; counts: number[] } }).rle).entries()].filter(([, x]) => x).map(([p]) => p);
    const file = tilted.files.find((f) => f.endsWith(row.name.split('/').pop() as string)) as string;
    const ds = parseDicom(readFileSync(file));
    const ipp = ds.nums('00200032');
    const iop = ds.nums('00200037');
    const ps = ds.nums('00280030');
    // The display voxel painted, in the patient.
    const want = [0, 1, 2].map((c) => (v.origin[c] as number) + i * v.spacing[0] * (v.axes[0][c] as number) + j * v.spacing[1] * (v.axes[1][c] as number) + k * v.spacing[2] * (v.axes[2][c] as number));
    const dists = pixels.map((p) => {
      const col = p % 32;
      const r = Math.floor(p / 32);
      const at = [0, 1, 2].map((c) => (ipp[c] as number) + col * (ps[1] as number) * (iop[c] as number) + r * (ps[0] as number) * (iop[3 + c] as number));
      return Math.hypot(...at.map((x, c) => x - (want[c] as number)));
    });
    // Nearest acquired voxel: within half a voxel diagonal of the painted display voxel.
    const half = 0.5 * Math.hypot(0.8, 0.8, 2.5);
    assert.ok(dists.some((d) => d <= half), `voxel ${i},${j},${k}: distances ${dists.map((d) => d.toFixed(2)).join(', ')} > ${half.toFixed(2)}`);
  }
});
