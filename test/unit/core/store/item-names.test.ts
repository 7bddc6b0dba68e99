/**
 * Display names from the store (store/item-names.ts) and the series cards (store/series-cards.ts)
 * against a real temporary library with pydicom's dicomdirtests: names follow the rule over the
 * whole dataset, a new import that makes a name ambiguous changes it (the per-dataset cache
 * notices), and each card counts the slices its series holds.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import type { ItemPage } from '../../../../electron/contract/domain';
import type { SeriesCard } from '../../../../electron/contract/series-view';
import type { Core } from '../../../../electron/core/composition-root';
import { datasetItemNames, withItemNames } from '../../../../electron/core/store/item-names';
import { SHARED_TESTDATA } from '../../../helpers/paths';
import { tempCore } from '../../../helpers/temp-library';

const DIRTESTS = join(SHARED_TESTDATA, 'dicom', 'pydicom', 'dicomdirtests');

let core: Core;
let cleanup: () => void;
let datasetId: number;
let leftRoot: string;
let rightRoot: string;

before(async () => {
  const t = tempCore();
  core = t.core;
  cleanup = t.cleanup;
  datasetId = core.datasets.create('names', '').id;
  leftRoot = join(t.dir, 'one');
  rightRoot = join(t.dir, 'two');
  await core.importFiles({ datasetId, paths: [join(DIRTESTS, '77654033'), join(DIRTESTS, '98892001')] });
});

after(() => cleanup?.());

function idOf(sourceName: string): number {
  return core.db.prepare('SELECT id FROM items WHERE dataset_id = ? AND source_name = ?').pluck().get(datasetId, sourceName) as number; // relative to the folder imported
}

test('items carry patient, series and instance; items.names answers by id and leaves unknown ids out', async () => {
  const names = datasetItemNames(core.db, datasetId);
  assert.equal(names.get(idOf('CT2/17106')), 'Doe^Archibald · CT 2 Routine Brain · #18');
  assert.equal(names.get(idOf('CT5N/2062')), 'Doe^Peter · CT 5 SmartScore - Gated 0.5 sec · #6');
  assert.equal(new Set(names.values()).size, names.size);
  const id = idOf('CR1/6154');
  const res = await core.dispatch('items.names', { itemIds: [id, 999_999] });
  assert.ok(res.ok);
  assert.deepEqual(res.value, [{ itemId: id, name: 'Doe^Archibald · CR 1 Cervical LAT · #1' }]);
  assert.deepEqual(withItemNames(core.db, [{ itemId: id, reason: 'x' }, { itemId: 999_999, reason: 'y' }]), [
    { itemId: id, reason: 'x', name: 'Doe^Archibald · CR 1 Cervical LAT · #1' },
    { itemId: 999_999, reason: 'y', name: 'item 999999' },
  ]);
  const bad = await core.dispatch('items.names', { itemIds: [0] });
  assert.equal(bad.ok ? 'ok' : bad.error.code, 'VALIDATION');
});

test('a new import that repeats a name changes the names (the cache follows the dataset)', async () => {
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 10, g: 20, b: 30 } } }).png().toBuffer();
  const other = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 200, g: 20, b: 30 } } }).png().toBuffer();
  for (const [dir, bytes] of [['left', png], ['right', other]] as const) {
    mkdirSync(join(dir === 'left' ? leftRoot : rightRoot, dir), { recursive: true });
    writeFileSync(join(dir === 'left' ? leftRoot : rightRoot, dir, 'scene.png'), bytes);
  }
  await core.importFiles({ datasetId, paths: [leftRoot] });
  const left = idOf('left/scene.png');
  assert.equal(datasetItemNames(core.db, datasetId).get(left), 'scene.png');
  await core.importFiles({ datasetId, paths: [rightRoot] });
  const names = datasetItemNames(core.db, datasetId);
  assert.equal(names.get(left), 'left/scene.png');
  assert.equal(names.get(idOf('right/scene.png')), 'right/scene.png');
  const page = await core.dispatch('items.list', { datasetId, search: 'scene' });
  assert.ok(page.ok);
  assert.deepEqual((page.value as ItemPage).rows.map((r) => r.displayName).sort(), ['left/scene.png', 'right/scene.png']);
});

test('series.list: one card per series with its slice count, patients and studies in order', async () => {
  const res = await core.dispatch('series.list', { datasetId });
  assert.ok(res.ok);
  const cards = res.value as SeriesCard[];
  const counts = core.db.prepare('SELECT series_id AS id, count(*) AS n FROM items WHERE dataset_id = ? AND series_id IS NOT NULL GROUP BY series_id').all(datasetId) as { id: number; n: number }[];
  assert.equal(cards.length, counts.length);
  for (const c of counts) assert.equal(cards.find((k) => k.seriesId === c.id)?.slices, c.n);
  const ct5 = cards.find((c) => c.label === 'CT 5 SmartScore - Gated 0.5 sec');
  assert.ok(ct5);
  assert.equal(ct5.slices, 5);
  assert.equal(ct5.patient, 'Doe^Peter');
  assert.equal(ct5.firstItemId, idOf('CT5N/2693'), 'the middle slice (#8 of #6-#10)');
  // Grouped: each patient's cards are together.
  const order = cards.map((c) => c.patientId);
  assert.deepEqual(order, [...order].sort((x, y) => order.indexOf(x) - order.indexOf(y)));
  const missing = await core.dispatch('series.list', { datasetId: 12345 });
  assert.equal(missing.ok ? 'ok' : missing.error.code, 'NOT_FOUND');
});
