/** The tag browser's filter: tag numbers in any spelling, keywords, values; sequences keep only what matches inside. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DicomTagRow } from '../../../../electron/contract/dicom-tags';
import { countTagRows, filterTagRows } from '../../../../renderer/src/viewer/tag-filter';

const ROWS: DicomTagRow[] = [
  { tag: '(0010,0010)', vr: 'PN', name: 'PatientName', value: 'Doe^Jane' },
  { tag: '(0028,0010)', vr: 'US', name: 'Rows', value: '512' },
  {
    tag: '(0010,1002)',
    vr: 'SQ',
    name: 'OtherPatientIDsSequence',
    value: '2 items',
    items: [
      [{ tag: '(0010,0020)', vr: 'LO', name: 'PatientID', value: 'ABC' }, { tag: '(0010,0022)', vr: 'CS', name: 'TypeOfPatientID', value: 'TEXT' }],
      [{ tag: '(0010,0020)', vr: 'LO', name: 'PatientID', value: 'XYZ' }],
    ],
  },
];

test('an empty filter keeps everything; counts include sequence items', () => {
  assert.equal(filterTagRows(ROWS, '  ').length, 3);
  assert.equal(countTagRows(ROWS), 6);
});

test('by tag in any spelling, by keyword, by value, ignoring case', () => {
  for (const q of ['0028,0010', '00280010', '(0028,0010)', 'rows', '512']) assert.deepEqual(filterTagRows(ROWS, q).map((r) => r.tag), ['(0028,0010)'], q);
  assert.deepEqual(filterTagRows(ROWS, 'doe^jane').map((r) => r.tag), ['(0010,0010)']);
});

test('a match inside a sequence keeps the sequence with only the matching rows', () => {
  const out = filterTagRows(ROWS, 'xyz');
  assert.equal(out.length, 1);
  assert.equal(out[0]?.tag, '(0010,1002)');
  assert.deepEqual(out[0]?.items?.map((i) => i.map((r) => r.value)), [[], ['XYZ']]);
  // A sequence that matches itself stays whole.
  assert.equal(countTagRows(filterTagRows(ROWS, 'OtherPatientIDs')), 4);
});
