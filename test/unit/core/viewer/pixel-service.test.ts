/**
 * The viewer's backend requests against a real temporary library: items.list
 * (filters, sort, paging, total), pixels.get (stored values for greyscale,
 * RGBA for palette colour, plain images through sharp), series.get (display
 * order), classes.list, and the harness bridge's typed-array encoding.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import type { GreyPixelFrame, ItemPage, PixelFrame, RgbaPixelFrame, SeriesStack } from '../../../../electron/contract/domain';
import type { Core } from '../../../../electron/core/composition-root';
import { decodeFrame, parseDicom, readImageInfo } from '../../../../electron/core/dicom';
import { encodeBridgeJson, TYPED_ARRAY_TAG } from '../../../harness/bridge-server';
import { SHARED_TESTDATA } from '../../../helpers/paths';
import { tempCore } from '../../../helpers/temp-library';

const PYDICOM = join(SHARED_TESTDATA, 'dicom', 'pydicom');
const CT = join(PYDICOM, 'CT_small.dcm');
const PALETTE = join(PYDICOM, 'examples_palette.dcm');
const CR = join(PYDICOM, 'dicomdirtests', '77654033', 'CR1', '6154');

let core: Core;
let cleanup: () => void;
let datasetId: number;

async function call<T>(name: string, input: unknown): Promise<T> {
  const res = await core.dispatch(name, input);
  if (!res.ok) throw new Error(`${name}: ${res.error.code} ${res.error.message}`);
  return res.value as T;
}

before(async () => {
  const t = tempCore();
  core = t.core;
  cleanup = t.cleanup;
  const png = join(t.dir, 'grey.png');
  const pixels = Buffer.alloc(16 * 8);
  for (let i = 0; i < pixels.length; i++) pixels[i] = i * 2;
  writeFileSync(png, await sharp(pixels, { raw: { width: 16, height: 8, channels: 1 } }).toColourspace('b-w').png().toBuffer());
  datasetId = core.datasets.create('viewer', '').id;
  await core.importFiles({ datasetId, paths: [CT, PALETTE, CR, join(PYDICOM, 'MR_small.dcm'), png] });
});

after(() => cleanup?.());

test('items.list filters, sorts, pages and counts', async () => {
  const all = await call<ItemPage>('items.list', { datasetId, sort: 'name' });
  assert.equal(all.total, 5);
  assert.deepEqual(all.rows.map((r) => r.sourceName), [...all.rows.map((r) => r.sourceName)].sort((a, b) => a.localeCompare(b, 'en', { sensitivity: 'base' })));
  assert.ok(all.rows.every((r) => r.thumbSha256 && /^[0-9a-f]{64}$/.test(r.thumbSha256)));
  const ct = await call<ItemPage>('items.list', { datasetId, modality: 'CT' });
  assert.deepEqual(ct.rows.map((r) => r.sourceName.endsWith('CT_small.dcm')), [true]);
  const page = await call<ItemPage>('items.list', { datasetId, sort: 'name', offset: 2, limit: 2 });
  assert.deepEqual(page.rows.map((r) => r.id), all.rows.slice(2, 4).map((r) => r.id));
  assert.equal(page.total, 5);
  const search = await call<ItemPage>('items.list', { datasetId, search: 'palette', withTotal: false });
  assert.equal(search.rows.length, 1);
  assert.equal(search.total, null);
  const images = await call<ItemPage>('items.list', { datasetId, kind: 'image', status: ['unlabeled'] });
  assert.equal(images.rows.length, 1);
  assert.equal((await call<ItemPage>('items.list', { datasetId, status: ['done'] })).total, 0);
  assert.equal((await call<ItemPage>('items.list', { datasetId, split: 'train' })).total, 0);
  assert.equal((await call<ItemPage>('items.list', { datasetId, labelSource: 'human' })).total, 0);
  assert.deepEqual(await call('classes.list', { datasetId }), []);
  const bad = await core.dispatch('items.list', { datasetId, limit: 100000 });
  assert.equal(bad.ok, false);
  const missing = await core.dispatch('items.list', { datasetId: 999 });
  assert.equal(!missing.ok && missing.error.code, 'NOT_FOUND');
});

async function itemId(search: string): Promise<number> {
  const page = await call<ItemPage>('items.list', { datasetId, search });
  const row = page.rows[0];
  assert.ok(row, search);
  return row.id;
}

test('pixels.get returns a CT frame as its stored values with rescale and the file windows', async () => {
  const frame = await call<PixelFrame>('pixels.get', { itemId: await itemId('CT_small'), frame: 0 });
  assert.equal(frame.kind, 'grey');
  const g = frame as GreyPixelFrame;
  const parsed = parseDicom(new Uint8Array(readFileSync(CT)));
  const info = readImageInfo(parsed);
  assert.ok(info);
  const ref = await decodeFrame(parsed, 0, { info });
  assert.ok(g.data instanceof Int16Array);
  assert.deepEqual(Array.from(g.data), Array.from(ref.data));
  assert.equal(g.rows, 128);
  assert.equal(g.columns, 128);
  assert.equal(g.slope, info.rescaleSlope);
  assert.equal(g.intercept, info.rescaleIntercept);
  assert.deepEqual(g.pixelSpacing, info.pixelSpacing);
  assert.equal(g.units, 'HU');
  assert.equal(g.monochrome1, false);
  let min = Infinity;
  let max = -Infinity;
  for (const v of ref.data) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  assert.deepEqual([g.min, g.max], [min, max]);
  assert.equal(g.overlay.modality, 'CT');
  const gone = await core.dispatch('pixels.get', { itemId: g.itemId, frame: 3 });
  assert.equal(!gone.ok && gone.error.code, 'NOT_FOUND');
});

test('pixels.get flags MONOCHROME1 and converts palette colour to RGBA through the palette', async () => {
  const cr = (await call<PixelFrame>('pixels.get', { itemId: await itemId('6154') })) as GreyPixelFrame;
  assert.equal(cr.kind, 'grey');
  assert.equal(cr.monochrome1, true);
  const pal = (await call<PixelFrame>('pixels.get', { itemId: await itemId('palette') })) as RgbaPixelFrame;
  assert.equal(pal.kind, 'rgba');
  assert.equal(pal.data.length, pal.rows * pal.columns * 4);
  const parsed = parseDicom(new Uint8Array(readFileSync(PALETTE)));
  const info = readImageInfo(parsed);
  assert.ok(info?.palette);
  const ref = await decodeFrame(parsed, 0, { info });
  const p = Math.floor(pal.rows / 2) * pal.columns + Math.floor(pal.columns / 2);
  const index = (ref.data[p] ?? 0) - info.palette.red.firstMapped;
  const shift = info.palette.red.bits > 8 ? info.palette.red.bits - 8 : 0;
  assert.deepEqual(
    [pal.data[p * 4], pal.data[p * 4 + 1], pal.data[p * 4 + 2], pal.data[p * 4 + 3]],
    [(info.palette.red.data[index] ?? 0) >> shift, (info.palette.green.data[index] ?? 0) >> shift, (info.palette.blue.data[index] ?? 0) >> shift, 255],
  );
});

test('pixels.get serves a plain greyscale image from its stored PNG with an identity window', async () => {
  const g = (await call<PixelFrame>('pixels.get', { itemId: await itemId('grey.png') })) as GreyPixelFrame;
  assert.equal(g.kind, 'grey');
  assert.ok(g.data instanceof Uint8Array);
  assert.deepEqual([g.columns, g.rows], [16, 8]);
  assert.equal(g.data[5], 10);
  assert.deepEqual([g.windowCenter, g.windowWidth], [[128], [256]]);
});

test('series.get lists a series in display order; a missing series is NOT_FOUND', async () => {
  const ct = (await call<ItemPage>('items.list', { datasetId, modality: 'CT' })).rows[0];
  assert.ok(ct?.seriesId);
  const stack = await call<SeriesStack>('series.get', { seriesId: ct.seriesId });
  assert.deepEqual(stack.entries.map((e) => [e.itemId, e.frame]), [[ct.id, 0]]);
  const missing = await core.dispatch('series.get', { seriesId: 12345 });
  assert.equal(!missing.ok && missing.error.code, 'NOT_FOUND');
});

test('the bridge encodes typed arrays as tagged base64 and leaves everything else as JSON', () => {
  const json = encodeBridgeJson({ ok: true, value: { data: new Int16Array([-1024, 3071, 0]), n: 1 } });
  const parsed = JSON.parse(json) as { value: { data: Record<string, string>; n: number } };
  assert.equal(parsed.value.data[TYPED_ARRAY_TAG], 'Int16Array');
  const bytes = Buffer.from(parsed.value.data['base64'] ?? '', 'base64');
  assert.deepEqual(Array.from(new Int16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2)), [-1024, 3071, 0]);
  assert.equal(parsed.value.n, 1);
});
