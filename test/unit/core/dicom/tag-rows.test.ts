/**
 * The tag browser's rows from real files: the same attributes as `fovea inspect`, nested
 * sequences, and pixel data as a length only (its bytes never reach the page).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DICOM_TAG_VALUE_MAX, type DicomTagRow } from '../../../../electron/contract/dicom-tags';
import { inspectDicom, parseDicom, toTagRows } from '../../../../electron/core/dicom';
import { SHARED_TESTDATA } from '../../../helpers/paths';

const DICOM = join(SHARED_TESTDATA, 'dicom');

function rowsOf(path: string): DicomTagRow[] {
  return toTagRows(inspectDicom(parseDicom(new Uint8Array(readFileSync(path)))));
}

test('CT_small: patient name, VR and keyword; pixel data only as its length', () => {
  const rows = rowsOf(join(DICOM, 'pydicom', 'CT_small.dcm'));
  const name = rows.find((r) => r.tag === '(0010,0010)');
  assert.deepEqual(name, { tag: '(0010,0010)', vr: 'PN', name: 'PatientName', value: 'CompressedSamples^CT1' });
  const iop = rows.find((r) => r.tag === '(0020,0037)');
  assert.equal(iop?.vr, 'DS');
  assert.equal(iop?.value, '1\\0\\0\\0\\1\\0');
  const pixels = rows.find((r) => r.tag === '(7FE0,0010)');
  assert.ok(pixels);
  assert.match(pixels.value, /^\(pixel data, 32768 bytes\)$/);
  assert.equal(pixels.items, undefined);
  // Every value is text of bounded length.
  const all = (rs: DicomTagRow[]): DicomTagRow[] => rs.flatMap((r) => [r, ...(r.items ?? []).flatMap(all)]);
  for (const r of all(rows)) assert.ok(typeof r.value === 'string' && r.value.length <= DICOM_TAG_VALUE_MAX);
});

test('a SEG: sequences nest as items of rows', () => {
  const rows = rowsOf(join(DICOM, 'pydicom-data', 'liver.dcm'));
  const segments = rows.find((r) => r.tag === '(0062,0002)');
  assert.ok(segments?.items, 'SegmentSequence has items');
  assert.equal(segments.vr, 'SQ');
  assert.equal(segments.name, 'SegmentSequence');
  assert.equal(segments.value, `${segments.items.length} item${segments.items.length === 1 ? '' : 's'}`);
  assert.ok(segments.items[0]?.some((r) => r.tag === '(0062,0005)' && r.name === 'SegmentLabel' && r.value.length > 0));
});
