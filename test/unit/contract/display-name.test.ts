import assert from 'node:assert/strict';
import { test } from 'node:test';
import { displayNameLines, itemDisplayNames, patientLabel, seriesLabel, splitDisplayName, uniquePathTails, type ItemNameFacts } from '../../../electron/contract/display-name';

function dicom(id: number, sourceName: string, o: Partial<ItemNameFacts> = {}): ItemNameFacts {
  return { id, kind: 'dicom', sourceName, patientName: 'DOE^JANE', patientId: 'P1', modality: 'CT', seriesNumber: 3, seriesDescription: 'Chest', instanceNumber: 12, ...o };
}
function photo(id: number, sourceName: string): ItemNameFacts {
  return { id, kind: 'image', sourceName, patientName: null, patientId: null, modality: null, seriesNumber: null, seriesDescription: null, instanceNumber: null };
}

test('a DICOM item is named patient · series · instance', () => {
  assert.deepEqual(itemDisplayNames([dicom(1, 'a/IM0001.dcm')]), ['DOE^JANE · CT 3 Chest · #12']);
});

test('the patient is the stored name, else the ID; trailing carets go', () => {
  assert.equal(patientLabel({ patientName: 'SYNTH^PATIENT^^', patientId: 'X' }), 'SYNTH^PATIENT');
  assert.equal(patientLabel({ patientName: '  ', patientId: 'SYNTH-001' }), 'SYNTH-001');
  assert.deepEqual(itemDisplayNames([dicom(1, 'x', { patientName: null, patientId: '77654033', modality: 'MR', seriesNumber: 700, seriesDescription: null, instanceNumber: 4 })]), ['77654033 · MR 700 · #4']);
});

test('a series reads modality, number and description, leaving out what is missing', () => {
  assert.equal(seriesLabel({ modality: 'CT', seriesNumber: 3, seriesDescription: ' Chest  w/o ' }), 'CT 3 Chest w/o');
  assert.equal(seriesLabel({ modality: null, seriesNumber: null, seriesDescription: null }), 'series');
});

test('IM0001.dcm in six patients gives six different names that carry the patient', () => {
  const items = Array.from({ length: 6 }, (_, p) => dicom(p + 1, `SYNTH-00${p + 1}/CT_AXIAL/IM0001.dcm`, { patientName: `SYNTH^PATIENT^00${p + 1}`, instanceNumber: 1 }));
  const names = itemDisplayNames(items);
  assert.equal(new Set(names).size, 6);
  names.forEach((n, p) => assert.equal(n, `SYNTH^PATIENT^00${p + 1} · CT 3 Chest · #1`));
});

test('photos get the shortest path tail that is unique in the dataset', () => {
  const names = itemDisplayNames([photo(1, 'val/frankfurt/000294.png'), photo(2, 'val/munich/000294.png'), photo(3, 'val/munich/000295.png'), photo(4, 'solo.jpg')]);
  assert.deepEqual(names, ['frankfurt/000294.png', 'munich/000294.png', '000295.png', 'solo.jpg']);
});

test('path tails go as deep as needed, and a path that is a tail of another keeps its whole self', () => {
  assert.deepEqual(uniquePathTails(['a/x/img.png', 'b/x/img.png', 'c/y/img.png']), ['a/x/img.png', 'b/x/img.png', 'y/img.png']);
  assert.deepEqual(uniquePathTails(['x/img.png', 'b/x/img.png']), ['x/img.png', 'b/x/img.png']);
  assert.deepEqual(uniquePathTails(['win\\dir\\a.png', 'other/dir/a.png']), ['win/dir/a.png', 'other/dir/a.png']);
});

test('names never repeat: equal DICOM names carry their path tail, equal paths a counter', () => {
  const names = itemDisplayNames([dicom(1, 'MR_small.dcm'), dicom(2, 'MR_small_RLE.dcm'), photo(3, 'dup/a.png'), photo(4, 'dup/a.png')]);
  assert.deepEqual(names, ['DOE^JANE · CT 3 Chest · #12 · MR_small.dcm', 'DOE^JANE · CT 3 Chest · #12 · MR_small_RLE.dcm', 'dup/a.png', 'dup/a.png (2)']);
});

test('a DICOM item without an instance number is named by its series and file', () => {
  assert.deepEqual(itemDisplayNames([dicom(1, 'p/CT2/17106', { instanceNumber: null })]), ['DOE^JANE · CT 3 Chest · 17106']);
});

test('one patient with "MR 1 FAST LOCALIZER" in two studies: the study tells them apart', () => {
  const names = itemDisplayNames([
    dicom(1, '98892003/MR1/15820', { patientName: 'Doe^Peter', modality: 'MR', seriesNumber: 1, seriesDescription: 'FAST LOCALIZER', instanceNumber: 1, studyDescription: 'Carotids' }),
    dicom(2, '98892003/MR1/5641', { patientName: 'Doe^Peter', modality: 'MR', seriesNumber: 1, seriesDescription: 'FAST LOCALIZER', instanceNumber: 1, studyDescription: 'Brain' }),
    dicom(3, '98892003/MR2/4950', { patientName: 'Doe^Peter', modality: 'MR', seriesNumber: 2, seriesDescription: 'PILOT', instanceNumber: 1, studyDescription: 'Brain' }),
  ]);
  assert.deepEqual(names, ['Doe^Peter · Carotids · MR 1 FAST LOCALIZER · #1', 'Doe^Peter · Brain · MR 1 FAST LOCALIZER · #1', 'Doe^Peter · MR 2 PILOT · #1']);
});

test('a name splits into a head that may be cut and a tail that stays', () => {
  assert.deepEqual(splitDisplayName('DOE^JANE · CT 3 Chest · #12'), { head: 'DOE^JANE · CT 3 Chest', tail: ' · #12' });
  assert.deepEqual(splitDisplayName('left/scene.png'), { head: 'left', tail: '/scene.png' });
  assert.deepEqual(splitDisplayName('solo.png'), { head: '', tail: 'solo.png' });
});

test('a grid cell shows the patient on one line and series · instance on the next', () => {
  const lines = displayNameLines('SYNTH^PATIENT^001 · CT 1 Synthetic axial chest · #3');
  assert.deepEqual(lines, { first: 'SYNTH^PATIENT^001', head: ' · CT 1 Synthetic axial chest', tail: ' · #3' });
  assert.deepEqual(displayNameLines('left/scene.png'), { first: '', head: 'left', tail: '/scene.png' });
  assert.deepEqual(displayNameLines('solo.png'), { first: '', head: '', tail: 'solo.png' });
});
