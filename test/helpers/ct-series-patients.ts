/**
 * A small DICOM series dataset for 2.5-D tests: pydicom's 77654033/CT2 (4
 * CT slices of 16x16 px, median 1.25 mm apart for 0.49 mm pixels) copied
 * for three patients (pixels and geometry byte-identical; pydicom writes a
 * new Patient ID and new study, series and SOP Instance UIDs), so that the
 * splits, which keep a patient whole, can put one series in each of train,
 * val and test. Needs /usr/bin/python3 with pydicom (requireTool('pydicom')).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Core } from '../../electron/core/composition-root';
import { encodeMask } from '../../electron/core/labels/rle';
import { SHARED_TESTDATA } from './paths';
import { PYTHON } from './reference-tools';

export const CT2_SERIES = join(SHARED_TESTDATA, 'dicom', 'pydicom', 'dicomdirtests', '77654033', 'CT2');

/**
 * The three copies (of `src`, CT2 unless given) in a new temporary folder (p0/, p1/, p2/); the caller
 * removes it. `pixelSpacing` (mm) replaces the files' Pixel Spacing when given (pixels and positions unchanged).
 */
export function ctSeriesForThreePatients(src: string = CT2_SERIES, pixelSpacing?: number): string {
  const out = mkdtempSync(join(tmpdir(), 'fovea-25d-series-'));
  const script = `
import os, sys
import pydicom
from pydicom.uid import generate_uid
src, out, spacing = sys.argv[1], sys.argv[2], sys.argv[3]
for p in range(3):
    study = generate_uid(entropy_srcs=['study', str(p)])
    series = generate_uid(entropy_srcs=['series', str(p)])
    os.makedirs(os.path.join(out, 'p%d' % p))
    for f in sorted(os.listdir(src)):
        d = pydicom.dcmread(os.path.join(src, f))
        d.PatientID = 'P%d' % p
        d.StudyInstanceUID = study
        d.SeriesInstanceUID = series
        d.SOPInstanceUID = generate_uid(entropy_srcs=['sop', str(p), f])
        d.file_meta.MediaStorageSOPInstanceUID = d.SOPInstanceUID
        if spacing:
            d.PixelSpacing = [spacing, spacing]
        d.save_as(os.path.join(out, 'p%d' % p, f + '.dcm'))
`;
  const r = spawnSync(PYTHON, ['-c', script, src, out, pixelSpacing === undefined ? '' : String(pixelSpacing)], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return out;
}

export interface SeriesSliceItem {
  id: number;
  sha: string;
  rows: number;
  columns: number;
  instance: number;
  position: number;
  series: number;
}

/**
 * A dataset of the three copies: every slice labelled 'organ' (the same rectangle), the first series
 * (by id) in train, the second in val, the third in test.
 */
export async function importThreePatientSeries(core: Core, dir: string): Promise<{ datasetId: number; rows: SeriesSliceItem[]; seriesIds: number[] }> {
  const datasetId = core.datasets.create('ct2 series', '').id;
  const imp = await core.importFiles({ datasetId, paths: [dir] });
  assert.equal(imp.counts.imported, 12);
  const rows = core.db
    .prepare('SELECT id, blob_sha256 AS sha, rows, columns, instance_number AS instance, slice_position AS position, series_id AS series FROM items WHERE dataset_id = ? ORDER BY id')
    .all(datasetId) as SeriesSliceItem[];
  const seriesIds = [...new Set(rows.map((r) => r.series))].sort((a, b) => a - b);
  assert.equal(seriesIds.length, 3);
  const organ = core.annotations.ensureClass(datasetId, 'organ');
  const m = new Uint8Array(16 * 16);
  for (let y = 4; y < 12; y++) for (let x = 3; x < 13; x++) m[y * 16 + x] = 1;
  for (const r of rows) core.annotations.create({ datasetId, itemId: r.id, classId: organ, kind: 'mask', geometry: { rle: encodeMask(m, 16, 16) }, source: 'human', author: 'test' });
  const ofSeries = (k: number): number[] => rows.filter((r) => r.series === seriesIds[k]).map((r) => r.id);
  core.splits.setSplit(datasetId, ofSeries(0), 'train');
  core.splits.setSplit(datasetId, ofSeries(1), 'val');
  core.splits.setSplit(datasetId, ofSeries(2), 'test');
  return { datasetId, rows, seriesIds };
}
