// The synthetic CT series checked by real DICOM tools: dcmtk (dcmftest, dcmdump,
// dcmj2pnm) and pydicom (under /usr/bin/python3). A missing tool fails the test with the
// command that installs it (test/helpers/reference-tools.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { writeSyntheticCtStudies, type SyntheticCtManifest } from '../../../../electron/core/samples/synthetic-ct';
import { PYTHON, requireTool } from '../../../helpers/reference-tools';
import { tempDir } from '../../../helpers/temp-library';

const OPTIONS = { patients: 3, slicesPerSeries: 6, size: 64, seed: 11 };

let tmp: { dir: string; cleanup(): void };
let out: string;
let manifest: SyntheticCtManifest;
/** mask file -> flat indices of lesion pixels, decoded from the PNGs. */
const lesionIndices = new Map<string, number[]>();

before(async () => {
  tmp = tempDir('fovea-ct-');
  out = join(tmp.dir, 'ct');
  manifest = await writeSyntheticCtStudies(out, OPTIONS);
  for (const p of manifest.patients) {
    for (const s of p.series.slices) {
      const { data, info } = await sharp(join(out, s.mask)).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
      assert.equal(info.channels, 1);
      const idx: number[] = [];
      for (let i = 0; i < data.length; i++) if (data[i] !== 0) idx.push(i);
      lesionIndices.set(s.mask, idx);
    }
  }
});
after(() => tmp.cleanup());

const allFiles = (): string[] => manifest.patients.flatMap((p) => p.series.slices.map((s) => join(out, s.file)));

test('manifest, labels and masks describe the series', async () => {
  assert.equal(manifest.kind, 'fovea-synthetic-ct');
  assert.equal(manifest.patients.length, 3);
  const labels = manifest.patients.map((p) => p.label);
  assert.ok(labels.includes('lesion') && labels.includes('normal'), `both classes present: ${labels.join(',')}`);
  const csv = readFileSync(join(out, manifest.labelsFile), 'utf8').trim().split('\n');
  assert.equal(csv[0], 'patient_id,series_instance_uid,series_dir,label,lesion_count');
  assert.equal(csv.length, 4);
  for (const [i, p] of manifest.patients.entries()) {
    assert.match(p.patientName, /^SYNTH\^PATIENT\^\d{3}$/);
    assert.equal(csv[i + 1], `${p.patientId},${p.series.seriesInstanceUid},${p.series.dir},${p.label},${p.lesions.length}`);
    assert.equal(p.label === 'lesion', p.lesions.length > 0);
    assert.ok(p.lesions.length <= 3);
    assert.equal(p.series.slices.length, OPTIONS.slicesPerSeries);
    for (const l of p.lesions) {
      assert.ok(l.radiusMm >= 3 - 1e-9 && l.radiusMm <= 10, `radius ${l.radiusMm} mm`);
      assert.ok(l.contrastHu >= 60 && l.contrastHu <= 120);
      assert.ok(l.voxelCount > 0 && l.sliceIndices.length > 0);
    }
    for (const s of p.series.slices) {
      const meta = await sharp(join(out, s.mask)).metadata();
      assert.equal(meta.format, 'png');
      assert.equal(meta.depth, 'uchar');
      assert.equal(meta.channels, 1, 'masks are single-channel');
      assert.equal(lesionIndices.get(s.mask)?.length, s.lesionPixels);
      const inSomeLesion = p.lesions.some((l) => l.sliceIndices.includes(s.index));
      assert.equal(s.lesionPixels > 0, inSomeLesion, `slice ${s.index}`);
    }
  }
  const { data } = await sharp(join(out, manifest.patients[0]?.series.slices[0]?.mask ?? '')).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  assert.ok([...data].every((v) => v === 0 || v === 1), 'mask values are class indices 0/1');
});

test('dcmtk accepts every file as clean Part-10 CT', () => {
  requireTool('dcmtk');
  const files = allFiles();
  const ftest = spawnSync('dcmftest', files, { encoding: 'utf8' });
  assert.equal(ftest.status, 0, ftest.stdout + ftest.stderr);
  assert.equal(ftest.stdout.match(/^yes: /gm)?.length, files.length);

  // -dc: no silent "corrections", so a fixable defect still shows up as a warning.
  const dump = spawnSync('dcmdump', ['-dc', ...files], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(dump.status, 0, dump.stderr);
  assert.equal(dump.stderr, '', 'dcmdump printed no warnings or errors');
  assert.equal(dump.stdout.match(/^# Dicom-File-Format$/gm)?.length, files.length);
  for (const line of [
    /^\(0002,0010\) UI =LittleEndianExplicit/m,
    /^\(0008,0016\) UI =CTImageStorage/m,
    // (-dc shows the even-length padding inside the brackets.)
    /^\(0008,0060\) CS \[CT ?\]/m,
    /^\(0018,0015\) CS \[CHEST ?\]/m,
    /^\(0010,0010\) PN \[SYNTH\^PATIENT\^001 ?\]/m,
    /^\(0028,0103\) US 1 /m,
    /^\(0028,1052\) DS \[-1024 ?\]/m,
    /^\(0028,1050\) DS \[40 ?\]/m,
    /^\(0028,1051\) DS \[400 ?\]/m,
    /^\(0028,0004\) CS \[MONOCHROME2 ?\]/m,
  ]) {
    assert.match(dump.stdout, line);
  }
  assert.doesNotMatch(dump.stdout, /\?\?|Unknown Tag/, 'every tag is in the dictionary');

  // dcmtk's own renderer decodes the pixels (one slice per series is enough).
  for (const p of manifest.patients) {
    const first = join(out, p.series.slices[0]?.file ?? '');
    const pgm = join(tmp.dir, `${p.patientId}.pgm`);
    const r = spawnSync('dcmj2pnm', ['+Wm', first, pgm], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(readFileSync(pgm).subarray(0, 16).toString('latin1'), new RegExp(`^P5\\s+${OPTIONS.size}\\s+${OPTIONS.size}\\s`));
  }
});

// Reads every file with pydicom in strict mode and checks attributes, geometry, HU and
// masks against the manifest, recomputing the lesion spheres independently.
const PYDICOM_CHECK = String.raw`
import json, math, os, sys, warnings
import numpy as np
import pydicom
from pydicom import config
config.settings.reading_validation_mode = config.RAISE
warnings.simplefilter('error')

inp = json.load(open(sys.argv[1]))
root, man, masks = inp['root'], inp['manifest'], inp['masks']
noise = man['options']['noiseHu']
fail = []
def check(cond, msg):
    if not cond:
        fail.append(msg)
sops = set()
stats = {'files': 0, 'min_stored': 1 << 20, 'air_mean': [], 'air_sd': [], 'lesions': []}
for p in man['patients']:
    s = p['series']
    rows, cols, T = s['rows'], s['columns'], s['sliceThicknessMm']
    ps = s['pixelSpacingMm']
    vol, ipps = [], []
    for sl in s['slices']:
        where = sl['file']
        ds = pydicom.dcmread(os.path.join(root, sl['file']))
        stats['files'] += 1
        check(ds.file_meta.TransferSyntaxUID == '1.2.840.10008.1.2.1', where + ' transfer syntax')
        check(ds.file_meta.MediaStorageSOPClassUID == '1.2.840.10008.5.1.4.1.1.2', where + ' media SOP class')
        check(ds.SOPClassUID == '1.2.840.10008.5.1.4.1.1.2', where + ' SOP class')
        check(ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID, where + ' meta SOP instance')
        check(ds.SOPInstanceUID == sl['sopInstanceUid'], where + ' SOP instance UID')
        check(ds.SOPInstanceUID not in sops, where + ' SOP instance UID unique')
        sops.add(ds.SOPInstanceUID)
        for uid in (ds.SOPInstanceUID, ds.SeriesInstanceUID, ds.StudyInstanceUID, ds.FrameOfReferenceUID):
            check(uid.startswith('2.25.') and len(uid) <= 64 and uid.is_valid, where + ' UID form ' + uid)
        check(ds.SeriesInstanceUID == s['seriesInstanceUid'], where + ' series UID')
        check(ds.StudyInstanceUID == p['studyInstanceUid'], where + ' study UID')
        check(ds.FrameOfReferenceUID == s['frameOfReferenceUid'], where + ' frame of reference')
        check(ds.Modality == 'CT' and ds.BodyPartExamined == 'CHEST', where + ' modality/body part')
        check(ds.PatientID == p['patientId'] and str(ds.PatientName) == p['patientName'], where + ' patient')
        check(str(ds.PatientName).startswith('SYNTH^'), where + ' synthetic name')
        check(ds.StudyDate == p['studyDate'] and len(ds.StudyDate) == 8, where + ' study date')
        check(ds.SeriesDescription == s['seriesDescription'], where + ' series description')
        check(int(ds.InstanceNumber) == sl['instanceNumber'], where + ' instance number')
        check((ds.SamplesPerPixel, ds.PhotometricInterpretation) == (1, 'MONOCHROME2'), where + ' photometric')
        check((ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation) == (16, 16, 15, 1), where + ' bits')
        check((ds.Rows, ds.Columns) == (rows, cols), where + ' rows/columns')
        check([float(v) for v in ds.PixelSpacing] == ps, where + ' pixel spacing')
        check(float(ds.SliceThickness) == T, where + ' slice thickness')
        check([float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0], where + ' axial orientation')
        check((float(ds.WindowCenter), float(ds.WindowWidth)) == (40.0, 400.0), where + ' window')
        check((float(ds.RescaleIntercept), float(ds.RescaleSlope)) == (-1024.0, 1.0), where + ' rescale')
        arr = ds.pixel_array
        check(arr.shape == (rows, cols) and arr.dtype == np.int16, where + ' pixel array %s %s' % (arr.shape, arr.dtype))
        stats['min_stored'] = min(stats['min_stored'], int(arr.min()))
        vol.append(arr.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept))
        ipps.append([float(v) for v in ds.ImagePositionPatient])
        check(abs(float(ds.SliceLocation) - ipps[-1][2]) < 1e-6, where + ' slice location')
    vol = np.stack(vol)
    ipps = np.array(ipps)
    nz = vol.shape[0]
    check(np.allclose(np.diff(ipps[:, 2]), -T, atol=1e-4), p['patientId'] + ' z step = -slice thickness (head first)')
    check(np.allclose(ipps[:, :2], ipps[0, :2]), p['patientId'] + ' x/y origin constant')
    # Air: the image corners are outside the body.
    c = max(4, rows // 10)
    air = np.concatenate([vol[:, :c, :c].ravel(), vol[:, :c, -c:].ravel()])
    stats['air_mean'].append(float(air.mean()))
    stats['air_sd'].append(float(air.std()))
    check(abs(air.mean() + 1000) < 4 * noise / math.sqrt(air.size) + 0.5, p['patientId'] + ' air mean %.2f' % air.mean())
    check(abs(air.std() - noise) < 0.15 * noise, p['patientId'] + ' air noise sd %.2f' % air.std())
    # Masks against spheres recomputed from the manifest's centres and radii.
    mask = np.zeros(vol.shape, dtype=bool)
    for k, sl in enumerate(s['slices']):
        mask[k].ravel()[masks[sl['mask']]] = True
    zz, yy, xx = np.meshgrid(np.arange(nz), np.arange(rows), np.arange(cols), indexing='ij')
    spheres = np.zeros(vol.shape, dtype=bool)
    for les in p['lesions']:
        cx, cy, cz = les['centerVoxel']
        d2 = ((xx - cx) * ps[1]) ** 2 + ((yy - cy) * ps[0]) ** 2 + ((zz - cz) * T) ** 2
        inside = d2 <= les['radiusMm'] ** 2
        spheres |= inside
        vals = vol[inside]
        n = int(vals.size)
        check(n == les['voxelCount'], p['patientId'] + ' lesion voxel count')
        mean = float(vals.mean())
        check(abs(mean - les['hu']) <= 4 * noise / math.sqrt(n) + 0.5, p['patientId'] + ' lesion HU %.1f vs %d' % (mean, les['hu']))
        ring = (d2 > (les['radiusMm'] + 1.5 * ps[0]) ** 2) & (d2 <= (les['radiusMm'] + 4 * ps[0]) ** 2) & (zz == int(round(cz)))
        check(float(vol[ring].mean()) < les['hu'] - les['contrastHu'] / 2, p['patientId'] + ' lesion stands out from its surroundings')
        # Slices run head to feet: z falls by T per instance.
        centre = [ipps[0, 0] + cx * ps[1], ipps[0, 1] + cy * ps[0], ipps[0, 2] - cz * T]
        check(np.allclose(centre, les['centerMm'], atol=1e-3), p['patientId'] + ' lesion centre in mm')
        check(sorted(set(np.nonzero(inside)[0].tolist())) == les['sliceIndices'], p['patientId'] + ' lesion slices')
        stats['lesions'].append({'n': n, 'mean': mean, 'hu': les['hu'], 'sd': float(vals.std())})
    check(bool((mask == spheres).all()), p['patientId'] + ' mask == union of lesion spheres')
    check((mask.sum() > 0) == (p['label'] == 'lesion'), p['patientId'] + ' label matches mask')
check(stats['min_stored'] < 0, 'noise in air reaches negative stored values (signed pixels exercised)')
print(json.dumps({'failures': fail, 'stats': stats}))
`;

test('pydicom reads every file: attributes, geometry, HU, masks on the lesions', () => {
  requireTool('pydicom');
  const input = join(tmp.dir, 'pydicom-input.json');
  writeFileSync(input, JSON.stringify({ root: out, manifest, masks: Object.fromEntries(lesionIndices) }));
  const r = spawnSync(PYTHON, ['-c', PYDICOM_CHECK, input], { encoding: 'utf8', maxBuffer: 16 << 20 });
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout) as { failures: string[]; stats: { files: number; lesions: unknown[] } };
  assert.deepEqual(result.failures, []);
  assert.equal(result.stats.files, OPTIONS.patients * OPTIONS.slicesPerSeries);
  assert.equal(result.stats.lesions.length, manifest.patients.reduce((n, p) => n + p.lesions.length, 0));
  assert.ok(result.stats.lesions.length > 0);
});

test('options are checked', async () => {
  await assert.rejects(writeSyntheticCtStudies(join(tmp.dir, 'bad'), { ...OPTIONS, patients: 0 }), RangeError);
  await assert.rejects(writeSyntheticCtStudies(join(tmp.dir, 'bad'), { ...OPTIONS, size: 8 }), RangeError);
});
