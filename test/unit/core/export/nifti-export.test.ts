/**
 * NIfTI label volumes from DICOM series, checked by nibabel: for every labelled pixel (and the
 * corners of every slice) the pixel's centre placed in the patient from the DICOM file itself
 * (pydicom) must land, through nibabel's affine, on a voxel centre within 1e-3 mm holding that
 * pixel's class. Fovea's synthetic CT (with an asymmetric marker in one corner of one slice) and
 * real CT series from ../shared/testdata (axial, two scout orientations, uneven spacing).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Core } from '../../../../electron/core/composition-root';
import { encodeNifti1, exportNifti, quaternFromRotation } from '../../../../electron/core/export/nifti-export';
import { gzipSync } from 'node:zlib';
import { parseNifti } from '../../../../electron/core/labels/parse-nifti';
import { tempCore } from '../../../helpers/temp-library';
import {
  addMask,
  dicomItems,
  NIFTI_CHECK,
  python,
  REAL_CT_SERIES,
  REAL_GAPPED_SERIES,
  REAL_SCOUT_SERIES,
  rect,
  runExport,
  storedMasks,
  syntheticCtDataset,
  type ItemRow,
  type NiftiDump,
} from './volume-fixtures';

interface Query {
  dicom: string;
  row: number;
  col: number;
  want: number;
}

/** Every labelled pixel of the items, plus the four corners of each, with the class value it must have. */
function queriesFor(core: Core, datasetId: number, items: ItemRow[], pathOf: (it: ItemRow) => string, valueOf: Record<string, number>): Query[] {
  const masks = storedMasks(core, datasetId);
  const out: Query[] = [];
  for (const it of items) {
    const labelled = new Map<number, number>();
    for (const [key, pixels] of masks) {
      const [sop, , name] = key.split('/');
      if (sop !== it.sop) continue;
      for (const p of pixels) labelled.set(p, valueOf[name as string] as number);
    }
    for (const p of [0, it.columns - 1, (it.rows - 1) * it.columns, it.rows * it.columns - 1]) if (!labelled.has(p)) labelled.set(p, 0);
    for (const [p, want] of labelled) out.push({ dicom: pathOf(it), row: Math.floor(p / it.columns), col: p % it.columns, want });
  }
  return out;
}

function checkPlacement(dump: NiftiDump, queries: Query[]): void {
  assert.equal(dump.answers.length, queries.length);
  dump.answers.forEach((a, i) => {
    const q = queries[i] as Query;
    assert.ok(a.distanceMm < 1e-3, `pixel (${q.row}, ${q.col}) of ${q.dicom}: nearest voxel centre is ${a.distanceMm} mm away`);
    for (const v of a.voxel) assert.ok(Math.abs(v - Math.round(v)) < 1e-3, `voxel index ${a.voxel.join(', ')} is not whole`);
    assert.equal(a.value, q.want, `pixel (${q.row}, ${q.col}) of ${q.dicom} should hold ${q.want}`);
  });
  // nibabel's qform (quaternion) and sform agree for unsheared stacks.
  for (let c = 0; c < 4; c++) {
    const scale = Math.max(1, ...[0, 1, 2].map((r) => Math.abs(dump.sform[r]?.[c] ?? 0)));
    for (let r = 0; r < 3; r++) assert.ok(Math.abs((dump.qform[r]?.[c] ?? 0) - (dump.sform[r]?.[c] ?? 0)) < 1e-6 * scale, `qform and sform differ at [${r}][${c}]`);
  }
}

describe('NIfTI label export', () => {
  it('places the synthetic CT lesions and an asymmetric marker where nibabel says, with the spacing of the series', async (t) => {
    const { core, dir, cleanup } = tempCore();
    t.after(cleanup);
    const { datasetId, manifest, ctDir } = await syntheticCtDataset(core, dir);
    const fileOf = new Map(manifest.ct.patients.flatMap((p) => p.series.slices.map((s) => [s.sopInstanceUid, join(ctDir, s.file)] as const)));
    const lesionPatient = manifest.ct.patients.find((p) => p.lesions.length > 0);
    assert.ok(lesionPatient);
    const items = dicomItems(core, datasetId).filter((it) => lesionPatient.series.slices.some((s) => s.sopInstanceUid === it.sop));
    const top = items.find((it) => it.instanceNumber === 1) as ItemRow;
    // Top-left corner of the most superior slice (instance 1): 4 rows x 8 columns.
    addMask(core, datasetId, top, 'marker', rect(0, 4, 0, 8));

    const out = join(dir, 'out');
    const { result, writer } = await runExport(core, datasetId, exportNifti, out);
    const ordinal = 1 + manifest.ct.patients.indexOf(lesionPatient);
    assert.deepEqual(writer.files.map((f) => f.path).sort(), ['classes.json', `series-${ordinal}.nii.gz`, 'volumes.json']);
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'classes.json'), 'utf8')), { 0: 'background', 1: 'lesion', 2: 'marker' });
    assert.equal(result.items, items.length);
    // Every mask of the dataset is on the lesion patient's series (the other patient has none).
    assert.equal(result.annotations, core.db.prepare("SELECT count(*) FROM annotations WHERE dataset_id = ? AND kind = 'mask'").pluck().get(datasetId));
    assert.ok(!result.warnings.some((w) => /spaced|tilt|orientation/.test(w)), result.warnings.join('\n'));
    // No patient data in names or in the sidecar.
    const sidecar = readFileSync(join(out, 'volumes.json'), 'utf8');
    assert.ok(!sidecar.includes(lesionPatient.patientId) && !sidecar.includes(lesionPatient.series.seriesInstanceUid));

    const queries = queriesFor(core, datasetId, items, (it) => fileOf.get(it.sop) as string, { lesion: 1, marker: 2 });
    const dump = python<NiftiDump>(NIFTI_CHECK, [], { nifti: join(out, `series-${ordinal}.nii.gz`), queries });
    assert.deepEqual(dump.shape, [64, 64, 6]);
    assert.equal(dump.dtype, 'uint8');
    assert.equal(dump.qformCode, 1);
    assert.equal(dump.sformCode, 1);
    assert.equal(dump.intentCode, 1002);
    dump.zooms.forEach((z, i) => assert.ok(Math.abs(z - ([0.8, 0.8, 2.5][i] ?? 0)) < 1e-6, `zoom ${i} = ${z}`));
    assert.deepEqual(dump.axcodes, ['L', 'P', 'S']);
    checkPlacement(dump, queries);
    assert.equal(dump.counts['2'], 32);
    // The marker: DICOM pixel (row 0, col 0) of instance 1 is voxel (0, 0, 5) (slices ascend to the head),
    // at RAS (25.2, 25.2, 6.25): IPP (-25.2, -25.2, 6.25) in LPS.
    const m0 = dump.answers[queries.findIndex((q) => q.want === 2 && q.row === 0 && q.col === 0)];
    assert.deepEqual(m0?.voxel.map((v) => Math.round(v)), [0, 0, 5]);
    m0?.ras.forEach((v, i) => assert.ok(Math.abs(v - ([25.2, 25.2, 6.25][i] ?? 0)) < 1e-6));
    const m1 = dump.answers[queries.findIndex((q) => q.want === 2 && q.row === 3 && q.col === 7)];
    assert.deepEqual(m1?.voxel.map((v) => Math.round(v)), [7, 3, 5]);
  });

  it('exports a real CT series (instance order against the slice axis) and keeps each slice at its DICOM position', async (t) => {
    const { core, dir, cleanup } = tempCore();
    t.after(cleanup);
    const ds = core.datasets.create('real', '');
    await core.importFiles({ datasetId: ds.id, paths: [REAL_CT_SERIES] });
    const items = dicomItems(core, ds.id);
    assert.equal(items.length, 5);
    const byInstance = (n: number): ItemRow => items.find((it) => it.instanceNumber === n) as ItemRow;
    addMask(core, ds.id, byInstance(6), 'organ', rect(0, 3, 0, 5));
    addMask(core, ds.id, byInstance(9), 'organ', rect(10, 16, 12, 16));
    addMask(core, ds.id, byInstance(9), 'vessel', rect(2, 4, 9, 11));
    const out = join(dir, 'out');
    const { result } = await runExport(core, ds.id, exportNifti, out);
    assert.deepEqual(result.warnings, []);
    const queries: Query[] = [];
    const masks = storedMasks(core, ds.id);
    for (const it of items) {
      for (let p = 0; p < it.rows * it.columns; p++) {
        const organ = masks.get(`${it.sop}/0/organ`)?.includes(p);
        const vessel = masks.get(`${it.sop}/0/vessel`)?.includes(p);
        queries.push({ dicom: join(REAL_CT_SERIES, it.sourceName), row: Math.floor(p / it.columns), col: p % it.columns, want: vessel ? 2 : organ ? 1 : 0 });
      }
    }
    const dump = python<NiftiDump>(NIFTI_CHECK, [], { nifti: join(out, 'series-1.nii.gz'), queries });
    assert.deepEqual(dump.shape, [16, 16, 5]);
    dump.zooms.forEach((z, i) => assert.ok(Math.abs(z - ([0.488281, 0.488281, 2.5][i] ?? 0)) < 1e-5, `zoom ${i} = ${z}`));
    checkPlacement(dump, queries);
    // Instance 6 is the most superior (z = 8.7625): the last slice.
    const top = dump.answers[queries.findIndex((q) => q.dicom === join(REAL_CT_SERIES, byInstance(6).sourceName))];
    assert.equal(Math.round(top?.voxel[2] ?? -1), 4);
  });

  it('writes one volume per orientation of a series, and says when slices are unevenly spaced', async (t) => {
    const { core, dir, cleanup } = tempCore();
    t.after(cleanup);
    const ds = core.datasets.create('scouts', '');
    await core.importFiles({ datasetId: ds.id, paths: [REAL_SCOUT_SERIES, REAL_GAPPED_SERIES] });
    const items = dicomItems(core, ds.id);
    // Source names are relative to the folder imported: the scouts are 6293 and 6924.
    const isScout = (it: ItemRow): boolean => ['6293', '6924'].includes(it.sourceName);
    assert.equal(items.filter(isScout).length, 2);
    for (const it of items) addMask(core, ds.id, it, 'region', rect(1, 5, 2, 9));
    const out = join(dir, 'out');
    const { result, writer } = await runExport(core, ds.id, exportNifti, out);
    const files = writer.files.map((f) => f.path).filter((p) => p.endsWith('.nii.gz')).sort();
    assert.equal(files.length, 3, files.join(', '));
    assert.ok(files.some((f) => /^series-\d+-1\.nii\.gz$/.test(f)) && files.some((f) => /^series-\d+-2\.nii\.gz$/.test(f)), files.join(', '));
    assert.ok(result.warnings.some((w) => /not evenly spaced/.test(w)), result.warnings.join('\n'));
    const pathOf = (it: ItemRow): string => join(isScout(it) ? REAL_SCOUT_SERIES : REAL_GAPPED_SERIES, it.sourceName);
    const axcodes = new Set<string>();
    for (const f of files) {
      const probe = python<NiftiDump>(NIFTI_CHECK, [], { nifti: join(out, f), queries: [] });
      axcodes.add(probe.axcodes.join(''));
      if (probe.shape[2] === 4) {
        // The gapped series: its first and last slices are exact; the spacing warning covers the rest.
        const gapped = items.filter((it) => !isScout(it)).sort((a, b) => (a.instanceNumber ?? 0) - (b.instanceNumber ?? 0));
        const ends = [gapped[0], gapped[gapped.length - 1]] as ItemRow[];
        const queries = ends.flatMap((it) => rect(0, 16, 0, 16).map(([row, col]) => ({ dicom: pathOf(it), row, col, want: row >= 1 && row < 5 && col >= 2 && col < 9 ? 1 : 0 })));
        checkPlacement(python<NiftiDump>(NIFTI_CHECK, [], { nifti: join(out, f), queries }), queries);
      } else {
        assert.equal(probe.shape[2], 1);
        const it = items.find((x) => isScout(x) && checkOne(x, f, out, pathOf));
        assert.ok(it, `${f}: no scout image lies on it`);
      }
    }
    assert.equal(axcodes.size, 3, [...axcodes].join(' '));
  });

  it('encodes 16-bit labels and reflections the way nibabel reads them', () => {
    const dir = tempCore();
    try {
      const data = new Uint16Array(3 * 2 * 2);
      data[0] = 300;
      data[11] = 7;
      // A left-handed grid (a flipped axis): qfac -1.
      const voxelToRas = [
        [0.5, 0, 0, 10],
        [0, -0.75, 0, 20],
        [0, 0, -2, 30],
        [0, 0, 0, 1],
      ] as Parameters<typeof encodeNifti1>[0]['voxelToRas'];
      const file = join(dir.dir, 'v.nii.gz');
      writeFileSync(file, gzipSync(encodeNifti1({ dims: [3, 2, 2], data, voxelToRas, pixdim: [0.5, 0.75, 2], oriented: true, maxValue: 300 })));
      const dump = python<NiftiDump>(NIFTI_CHECK, [], { nifti: file, queries: [] });
      assert.equal(dump.dtype, 'uint16');
      assert.deepEqual(dump.counts, { 0: 10, 7: 1, 300: 1 });
      for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) {
        assert.ok(Math.abs((dump.qform[r]?.[c] ?? 0) - (voxelToRas[r]?.[c] ?? 0)) < 1e-6, `qform[${r}][${c}]`);
        assert.ok(Math.abs((dump.sform[r]?.[c] ?? 0) - (voxelToRas[r]?.[c] ?? 0)) < 1e-6, `sform[${r}][${c}]`);
      }
      assert.equal(quaternFromRotation([[1, 0, 0], [0, -1, 0], [0, 0, -1]]).qfac, 1);
      assert.equal(quaternFromRotation([[1, 0, 0], [0, 1, 0], [0, 0, -1]]).qfac, -1);
    } finally {
      dir.cleanup();
    }
  });

  it('reads its own volumes back with the same affine, from the sform or (when that is absent) the qform', async () => {
    const dir = tempCore();
    try {
      // A coronal-like grid with a 180-degree rotation (quaternion a = 0) and a reflection.
      const voxelToRas = [
        [-0.6, 0, 0, 265],
        [0, 0, -3, 0],
        [0, -0.5, 0, 50],
        [0, 0, 0, 1],
      ] as Parameters<typeof encodeNifti1>[0]['voxelToRas'];
      const data = new Uint8Array(4 * 3 * 2).map((_, i) => i % 3);
      const bytes = encodeNifti1({ dims: [4, 3, 2], data, voxelToRas, pixdim: [0.6, 0.5, 3], oriented: true, maxValue: 2 });
      const qformOnly = Uint8Array.from(bytes);
      new DataView(qformOnly.buffer).setInt16(254, 0, true); // sform_code 0
      for (const [name, b] of [['sform.nii', bytes], ['qform.nii.gz', gzipSync(qformOnly)]] as const) {
        writeFileSync(join(dir.dir, name), b);
        const parsed = await parseNifti(join(dir.dir, name), { classes: ['background', 'a', 'b'] });
        const vol = parsed.volumes?.[0];
        assert.ok(vol, name);
        assert.deepEqual(vol.dims, [4, 3, 2]);
        assert.deepEqual([...vol.values], [...data]);
        assert.deepEqual([...vol.classes], [[1, 'a'], [2, 'b']]);
        // Back to LPS: x and y negated.
        for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) assert.ok(Math.abs((vol.voxelToLps[r]?.[c] ?? NaN) - (r < 2 ? -1 : 1) * (voxelToRas[r]?.[c] ?? 0)) < 1e-5, `${name} [${r}][${c}] = ${vol.voxelToLps[r]?.[c]}`);
      }
    } finally {
      dir.cleanup();
    }
  });

  it('writes no volume, and says so, when no DICOM series has region labels', async (t) => {
    const { core, dir, cleanup } = tempCore();
    t.after(cleanup);
    const ds = core.datasets.create('empty', '');
    await core.importFiles({ datasetId: ds.id, paths: [REAL_CT_SERIES] });
    const [it] = dicomItems(core, ds.id);
    core.annotations.create({ datasetId: ds.id, itemId: (it as ItemRow).id, classId: core.annotations.ensureClass(ds.id, 'box'), kind: 'box', geometry: { x: 1, y: 1, width: 3, height: 3 }, source: 'human', author: 't' });
    const { result, writer } = await runExport(core, ds.id, exportNifti, join(dir, 'out'));
    assert.ok(!writer.files.some((f) => f.path.endsWith('.nii.gz')));
    assert.ok(result.warnings.some((w) => /1 box label/.test(w)));
    assert.ok(result.warnings.some((w) => /no label volume was written/.test(w)));
  });
});

/** Whether the scout image `it` lies on the single-slice volume `file` with its region where nibabel says. */
function checkOne(it: ItemRow, file: string, out: string, pathOf: (it: ItemRow) => string): boolean {
  const queries = rect(0, 16, 0, 16).map(([row, col]) => ({ dicom: pathOf(it), row, col, want: row >= 1 && row < 5 && col >= 2 && col < 9 ? 1 : 0 }));
  const dump = python<NiftiDump>(NIFTI_CHECK, [], { nifti: join(out, file), queries });
  if (!dump.answers.every((a) => a.distanceMm < 1e-3 && a.value !== null)) return false;
  checkPlacement(dump, queries);
  return true;
}
