/**
 * The viewer's `dicom.tags` request and the frame orientation against a real temporary
 * library: the rows are `fovea inspect`'s attributes (same tags, VRs, keywords), pixel data
 * goes out as its length only, a plain image is UNSUPPORTED, bad ids are refused; pixels.get
 * carries ImageOrientationPatient for DICOM and null for a photo.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import type { DicomTags } from '../../../../electron/contract/dicom-tags';
import type { ItemPage, PixelFrame } from '../../../../electron/contract/domain';
import type { Core } from '../../../../electron/core/composition-root';
import { inspectDicom, parseDicom } from '../../../../electron/core/dicom';
import { SHARED_TESTDATA } from '../../../helpers/paths';
import { tempCore } from '../../../helpers/temp-library';

const DICOM = join(SHARED_TESTDATA, 'dicom');
const CT = join(DICOM, 'pydicom', 'CT_small.dcm');
const CORONAL = join(DICOM, 'pydicom', 'dicomdirtests', '98892003', 'MR2', '4950');

let core: Core;
let cleanup: () => void;
let datasetId: number;

async function call<T>(name: string, input: unknown): Promise<T> {
  const res = await core.dispatch(name, input);
  if (!res.ok) throw new Error(`${name}: ${res.error.code} ${res.error.message}`);
  return res.value as T;
}

async function itemId(search: string): Promise<number> {
  const row = (await call<ItemPage>('items.list', { datasetId, search })).rows[0];
  assert.ok(row, search);
  return row.id;
}

before(async () => {
  const t = tempCore();
  core = t.core;
  cleanup = t.cleanup;
  const png = join(t.dir, 'photo.png');
  writeFileSync(png, await sharp(Buffer.alloc(8 * 8 * 3, 90), { raw: { width: 8, height: 8, channels: 3 } }).png().toBuffer());
  datasetId = core.datasets.create('tags', '').id;
  await core.importFiles({ datasetId, paths: [CT, CORONAL, png] });
});

after(() => cleanup?.());

test('dicom.tags gives every attribute fovea inspect reads, pixel data as a length only', async () => {
  const id = await itemId('CT_small');
  const tags = await call<DicomTags>('dicom.tags', { itemId: id });
  assert.equal(tags.itemId, id);
  assert.match(tags.sourceName, /CT_small\.dcm$/);
  const inspected = inspectDicom(parseDicom(new Uint8Array(readFileSync(CT))));
  assert.deepEqual(
    tags.rows.map((r) => [r.tag.replace(/[(),]/g, ''), r.vr, r.name]),
    Object.entries(inspected).map(([k, a]) => [k, a.vr, a.keyword ?? '']),
  );
  assert.equal(tags.rows.find((r) => r.tag === '(0010,0010)')?.value, 'CompressedSamples^CT1');
  assert.equal(tags.rows.find((r) => r.tag === '(7FE0,0010)')?.value, '(pixel data, 32768 bytes)');
  // Nothing the size of the pixels crosses: the whole answer is a few kB.
  assert.ok(JSON.stringify(tags).length < 32768, `${JSON.stringify(tags).length} characters`);
});

test('dicom.tags: a photo is UNSUPPORTED, a missing item NOT_FOUND, a bad id VALIDATION', async () => {
  const photo = await core.dispatch('dicom.tags', { itemId: await itemId('photo') });
  assert.equal(!photo.ok && photo.error.code, 'UNSUPPORTED');
  assert.match(!photo.ok ? photo.error.message : '', /not a DICOM file/);
  const missing = await core.dispatch('dicom.tags', { itemId: 99999 });
  assert.equal(!missing.ok && missing.error.code, 'NOT_FOUND');
  const bad = await core.dispatch('dicom.tags', { itemId: 'x' });
  assert.equal(!bad.ok && bad.error.code, 'VALIDATION');
});

test('pixels.get carries the frame\'s ImageOrientationPatient; a photo has none', async () => {
  const coronal = await call<PixelFrame>('pixels.get', { itemId: await itemId('4950'), frame: 0 });
  // The file writes -0.000 for some cosines: compare values, not the sign of zero.
  assert.deepEqual(coronal.orientation?.map((x) => x + 0), [1, 0, 0, 0, 0, -1]);
  const axial = await call<PixelFrame>('pixels.get', { itemId: await itemId('CT_small'), frame: 0 });
  assert.deepEqual(axial.orientation?.map((x) => x + 0), [1, 0, 0, 0, 1, 0]);
  const photo = await call<PixelFrame>('pixels.get', { itemId: await itemId('photo'), frame: 0 });
  assert.equal(photo.orientation, null);
});
