/**
 * Round trips through every 2-D label format: export a labelled dataset, then `core.importLabels`
 * the export into a fresh dataset made from the same images (no labels), and compare: same
 * classes, boxes and polygons within 1e-6 pixels, identical mask pixels.
 *
 * Data: Fovea's synthetic sample data (road boxes, CT lesion masks on DICOM slices, generated
 * into a temp folder) and real Penn-Fudan images, boxes and instance masks read in place.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { before, after, test } from 'node:test';
import type { Core } from '../../electron/core/composition-root';
import { exportLabels, type LabelExportRequest } from '../../electron/core/export/label-export';
import type { LabelFormat } from '../../electron/core/labels';
import { decodeRle, mergeRles, polygonToRle } from '../../electron/core/labels/rle';
import { writeSampleData } from '../../electron/core/samples';
import { SHARED_TESTDATA } from '../helpers/paths';
import { tempCore } from '../helpers/temp-library';

const PED = join(SHARED_TESTDATA, 'train/pennfudan_ped');

let t: ReturnType<typeof tempCore>;
let core: Core;
let work: string;
const ds: Record<string, number> = {};

function sources(c: Core) {
  return { db: c.db, blobs: c.blobs, annotations: c.annotations, datasets: c.datasets, audit: c.audit };
}

async function exportTo(datasetId: number, format: LabelExportRequest['format'], name: string, options: Record<string, unknown> = {}) {
  const outDir = join(work, 'out', name);
  return exportLabels(sources(core), { datasetId, format, outDir, options });
}

async function freshCopy(name: string, paths: string[]): Promise<number> {
  const d = core.datasets.create(name, '');
  await core.importFiles({ datasetId: d.id, paths });
  return d.id;
}

interface Canon {
  cls: string;
  kind: string;
  g: unknown;
}

/** Every active annotation of a dataset, by item source name, in a comparable order. */
function canon(datasetId: number): Map<string, Canon[]> {
  const rows = core.db
    .prepare(
      `SELECT i.source_name AS name, c.name AS cls, a.kind, a.geometry FROM annotations a JOIN items i ON i.id = a.item_id
         JOIN label_classes c ON c.id = a.class_id WHERE a.dataset_id = ? AND a.status = 'active'`,
    )
    .all(datasetId) as { name: string; cls: string; kind: string; geometry: string | null }[];
  const out = new Map<string, Canon[]>();
  for (const r of rows) {
    const g = r.geometry ? (JSON.parse(r.geometry) as unknown) : null;
    const l = out.get(r.name) ?? [];
    l.push({ cls: r.cls, kind: r.kind, g });
    out.set(r.name, l);
  }
  for (const l of out.values()) l.sort((a, b) => (JSON.stringify([a.cls, a.kind, a.g]) < JSON.stringify([b.cls, b.kind, b.g]) ? -1 : 1));
  return out;
}

function near(a: number, b: number, what: string): void {
  assert.ok(Math.abs(a - b) <= 1e-6, `${what}: ${a} vs ${b}`);
}

type Box = { x: number; y: number; width: number; height: number };
type Poly = { points: [number, number][] };
type Mask = { rle: { size: [number, number]; counts: number[] } };

function sameBoxes(a: Canon[], b: Canon[], where: string): void {
  const key = (c: Canon) => `${c.cls}|${(c.g as Box).x.toFixed(3)}|${(c.g as Box).y.toFixed(3)}|${(c.g as Box).width.toFixed(3)}|${(c.g as Box).height.toFixed(3)}`;
  const sa = [...a].sort((p, q) => (key(p) < key(q) ? -1 : 1));
  const sb = [...b].sort((p, q) => (key(p) < key(q) ? -1 : 1));
  assert.equal(sb.length, sa.length, `${where}: number of boxes`);
  sa.forEach((p, i) => {
    const q = sb[i] as Canon;
    assert.equal(q.cls, p.cls, where);
    assert.equal(q.kind, 'box', where);
    for (const k of ['x', 'y', 'width', 'height'] as const) near((q.g as Box)[k], (p.g as Box)[k], `${where} ${k}`);
  });
}

before(async () => {
  t = tempCore();
  core = t.core;
  work = join(t.dir, 'work');
  const m = await writeSampleData(work, { size: 'tiny' });
  const road = join(work, m.roadDir, 'images');
  ds['road'] = await freshCopy('road', [road]);
  await core.importLabels(ds['road'], join(work, m.roadDir, 'annotations.coco.json'), 'coco', 'test', { cocoGeometry: 'box' });
  // Polygons and image-level classes (multi-label) on the road scenes, made here: the sample
  // data has boxes only.
  const region = core.annotations.ensureClass(ds['road'], 'drivable area');
  const day = core.annotations.ensureClass(ds['road'], 'daytime');
  const wet = core.annotations.ensureClass(ds['road'], 'wet; slippery');
  const roadItems = core.db.prepare('SELECT id, source_name AS name, columns, rows FROM items WHERE dataset_id = ? ORDER BY source_name').all(ds['road']) as { id: number; name: string; columns: number; rows: number }[];
  roadItems.slice(0, 5).forEach((it, k) => {
    const points: [number, number][] = [[3.25 + k, 100.5], [80.125, 60 + k / 3], [150.75, 110.2], [90.5, 119.9]];
    core.annotations.create({ datasetId: ds['road'] as number, itemId: it.id, classId: region, kind: 'polygon', geometry: { points }, source: 'human', author: 'test' });
    core.annotations.create({ datasetId: ds['road'] as number, itemId: it.id, classId: day, kind: 'class', geometry: null, source: 'human', author: 'test' });
    if (k % 2 === 0) core.annotations.create({ datasetId: ds['road'] as number, itemId: it.id, classId: wet, kind: 'class', geometry: null, source: 'human', author: 'test' });
  });

  ds['ct'] = await freshCopy('ct', [join(work, m.ctDir)]);
  // As the sample library does: masks live beside each series in the generated data.
  await core.importLabels(ds['ct'], join(work, m.ctDir), 'masks', 'test', { classes: ['background', 'lesion'] });

  // Penn-Fudan: 12 real images with their boxes (PASCAL text) and instance masks.
  const ped = join(t.dir, 'ped');
  mkdirSync(ped);
  for (const f of readdirSync(join(PED, 'PNGImages')).filter((n) => n.startsWith('FudanPed')).sort().slice(0, 12)) symlinkSync(join(PED, 'PNGImages', f), join(ped, f));
  ds['ped'] = await freshCopy('ped', [ped]);
  await core.importLabels(ds['ped'], join(PED, 'Annotation'), 'voc', 'test');
  await core.importLabels(ds['ped'], join(PED, 'PedMasks'), 'masks', 'test', { maskMode: 'instance', instanceClass: 'pedestrian' });
  (globalThis as { __pedDir?: string }).__pedDir = ped;
  (globalThis as { __roadDir?: string }).__roadDir = road;
  (globalThis as { __ctDir?: string }).__ctDir = join(work, m.ctDir);
});
after(() => t.cleanup());

const roadDir = (): string => (globalThis as { __roadDir?: string }).__roadDir as string;
const pedDir = (): string => (globalThis as { __pedDir?: string }).__pedDir as string;
const ctDir = (): string => (globalThis as { __ctDir?: string }).__ctDir as string;

async function roundTrip(source: number, format: LabelFormat, name: string, copyFrom: string[], options: Record<string, unknown> = {}, importOptions = {}) {
  const res = await exportTo(source, format, name, options);
  const fresh = await freshCopy(`${name} copy`, copyFrom);
  const file = format === 'coco' ? join(res.root, 'annotations.json') : format === 'csv' ? join(res.root, 'labels.csv') : res.root;
  const report = await core.importLabels(fresh, file, format, 'roundtrip', importOptions);
  return { res, fresh, report };
}

test('COCO: boxes, polygons, image-level classes and DICOM masks come back the same', async () => {
  const { res, fresh, report } = await roundTrip(ds['road'] as number, 'coco', 'coco-road', [roadDir()]);
  assert.deepEqual(report.unmatchedImages, []);
  assert.ok(res.files.some((f) => f.path === 'annotations.json'));
  const a = canon(ds['road'] as number);
  const b = canon(fresh);
  assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
  for (const [name, list] of a) {
    const other = b.get(name) as Canon[];
    sameBoxes(list.filter((c) => c.kind === 'box'), other.filter((c) => c.kind === 'box'), name);
    const pa = list.filter((c) => c.kind === 'polygon');
    const pb = other.filter((c) => c.kind === 'polygon');
    assert.deepEqual(pb.map((c) => (c.g as Poly).points), pa.map((c) => (c.g as Poly).points), `${name}: polygons`);
    assert.deepEqual(other.filter((c) => c.kind === 'class').map((c) => c.cls), list.filter((c) => c.kind === 'class').map((c) => c.cls));
  }
  // Class order survives (categories in the dataset's order).
  const json = JSON.parse(readFileSync(join(res.root, 'annotations.json'), 'utf8')) as { categories: { id: number; name: string }[] };
  assert.deepEqual(json.categories.map((c) => c.name), core.annotations.listClasses(ds['road'] as number).map((c) => c.name));

  const ct = await roundTrip(ds['ct'] as number, 'coco', 'coco-ct', [ctDir()]);
  assert.deepEqual(ct.report.unmatchedImages, []);
  const ca = canon(ds['ct'] as number);
  const cb = canon(ct.fresh);
  assert.ok(ca.size >= 3, 'the CT sample has lesion masks');
  assert.deepEqual([...cb.keys()].sort(), [...ca.keys()].sort());
  for (const [name, list] of ca) {
    const other = cb.get(name) as Canon[];
    assert.equal(other.length, list.length);
    list.forEach((c, i) => assert.deepEqual(decodeRle((other[i]?.g as Mask).rle), decodeRle((c.g as Mask).rle), `${name}: mask pixels`));
  }
});

test('COCO keeps each Penn-Fudan instance mask and box (real images)', async () => {
  const { fresh, report } = await roundTrip(ds['ped'] as number, 'coco', 'coco-ped', [pedDir()]);
  assert.deepEqual(report.unmatchedImages, []);
  const a = canon(ds['ped'] as number);
  const b = canon(fresh);
  assert.equal(a.size, 12);
  for (const [name, list] of a) {
    const other = b.get(name) as Canon[];
    sameBoxes(list.filter((c) => c.kind === 'box'), other.filter((c) => c.kind === 'box'), name);
    const ma = list.filter((c) => c.kind === 'mask').map((c) => Buffer.from(decodeRle((c.g as Mask).rle)).toString('base64')).sort();
    const mb = other.filter((c) => c.kind === 'mask').map((c) => Buffer.from(decodeRle((c.g as Mask).rle)).toString('base64')).sort();
    assert.ok(ma.length >= 1);
    assert.deepEqual(mb, ma, `${name}: instance masks`);
  }
});

test('YOLO detect gives back the boxes within 1e-6 pixels; YOLO segment gives back the polygons', async () => {
  const { res, fresh, report } = await roundTrip(ds['ped'] as number, 'yolo', 'yolo-ped', [pedDir()]);
  assert.deepEqual(report.unmatchedImages, []);
  const yaml = readFileSync(join(res.root, 'data.yaml'), 'utf8');
  assert.match(yaml, /names:\n {2}0: '[^']+'/);
  assert.ok(existsSync(join(res.root, 'images.txt')));
  const a = canon(ds['ped'] as number);
  const b = canon(fresh);
  for (const [name, list] of a) sameBoxes(list.filter((c) => c.kind === 'box'), (b.get(name) ?? []).filter((c) => c.kind === 'box' && list.some((l) => l.cls === c.cls && l.kind === 'box')), name);
  assert.ok(res.warnings.some((w) => /bounding boxes/.test(w)), 'instance masks became boxes, and the export says so');

  const seg = await roundTrip(ds['road'] as number, 'yolo', 'yolo-road-seg', [roadDir()], { task: 'segment' });
  assert.deepEqual(seg.report.unmatchedImages, []);
  const ra = canon(ds['road'] as number);
  const rb = canon(seg.fresh);
  let polys = 0;
  for (const [name, list] of ra) {
    const pa = list.filter((c) => c.kind === 'polygon');
    const pb = (rb.get(name) ?? []).filter((c) => c.kind === 'polygon' && c.cls === 'drivable area');
    assert.equal(pb.length, pa.length, name);
    pa.forEach((p, i) => {
      const qp = (pb[i]?.g as Poly).points;
      (p.g as Poly).points.forEach(([x, y], j) => {
        near(qp[j]?.[0] as number, x, `${name} x${j}`);
        near(qp[j]?.[1] as number, y, `${name} y${j}`);
      });
      polys++;
    });
  }
  assert.equal(polys, 5);
});

test('Pascal VOC gives back whole-pixel boxes exactly (real Penn-Fudan boxes)', async () => {
  const { res, fresh, report } = await roundTrip(ds['ped'] as number, 'voc', 'voc-ped', [pedDir()]);
  assert.deepEqual(report.unmatchedImages, []);
  const xml = readFileSync(join(res.root, 'Annotations', 'FudanPed00001.xml'), 'utf8');
  // PASCAL text said (160, 182) - (302, 431): the same 1-based inclusive numbers come out.
  assert.match(xml, /<xmin>160<\/xmin>\s*<ymin>182<\/ymin>\s*<xmax>302<\/xmax>\s*<ymax>431<\/ymax>/);
  const a = canon(ds['ped'] as number);
  const b = canon(fresh);
  for (const [name, list] of a) {
    const boxes = list.filter((c) => c.kind === 'box');
    const back = (b.get(name) ?? []).filter((c) => c.kind === 'box' && boxes.some((x) => x.cls === c.cls));
    assert.deepEqual(back.map((c) => c.g).sort(), boxes.map((c) => c.g).sort(), name);
  }
});

test('CSV gives back single and multi-label image classes, with one 0/1 column per class', async () => {
  const { res, fresh, report } = await roundTrip(ds['road'] as number, 'csv', 'csv-road', [roadDir()]);
  assert.deepEqual(report.unmatchedImages, []);
  const text = readFileSync(join(res.root, 'labels.csv'), 'utf8');
  const header = text.split('\r\n')[0] ?? '';
  assert.ok(header.startsWith('filename,label,'));
  assert.equal(header, 'filename,label,car,pedestrian,sign,drivable area,daytime,wet; slippery');
  const first = text.split('\r\n')[1] ?? '';
  assert.match(first, /^scene_0001\.png,daytime;wet; slippery,0,0,0,0,1,1$/);
  const a = canon(ds['road'] as number);
  const b = canon(fresh);
  let n = 0;
  for (const [name, list] of a) {
    const want = list.filter((c) => c.kind === 'class').map((c) => c.cls).sort();
    if (want.length === 0) continue;
    const got = (b.get(name) ?? []).map((c) => c.cls).sort();
    // "wet; slippery" contains the separator: the label cell splits it; the warning says so.
    assert.deepEqual(got.filter((c) => c === 'daytime'), want.filter((c) => c === 'daytime'), name);
    n++;
  }
  assert.equal(n, 5);
  assert.ok(res.warnings.some((w) => /contains ";"/.test(w)));
});

test('PNG masks: identical pixels for DICOM lesion masks and for the union of Penn-Fudan instances', async () => {
  const { res, fresh, report } = await roundTrip(ds['ct'] as number, 'masks', 'masks-ct', [ctDir()]);
  assert.deepEqual(report.unmatchedImages, []);
  const classMap = JSON.parse(readFileSync(join(res.root, 'classes.json'), 'utf8')) as Record<string, string>;
  assert.deepEqual(classMap, { '0': 'background', ...Object.fromEntries(core.annotations.listClasses(ds['ct'] as number).map((c, i) => [String(i + 1), c.name])) });
  const a = canon(ds['ct'] as number);
  const b = canon(fresh);
  assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
  for (const [name, list] of a) {
    assert.deepEqual(decodeRle((b.get(name)?.[0]?.g as Mask).rle), decodeRle((list[0]?.g as Mask).rle), name);
  }

  const ped = await roundTrip(ds['ped'] as number, 'masks', 'masks-ped', [pedDir()]);
  assert.deepEqual(ped.report.unmatchedImages, []);
  const pa = canon(ds['ped'] as number);
  const pb = canon(ped.fresh);
  for (const [name, list] of pa) {
    const masks = list.filter((c) => c.kind === 'mask').map((c) => (c.g as Mask).rle);
    const union = mergeRles(masks);
    const back = (pb.get(name) ?? []).filter((c) => c.kind === 'mask');
    assert.equal(back.length, 1, `${name}: one region per class`);
    assert.deepEqual(decodeRle((back[0]?.g as Mask).rle), decodeRle(union), name);
  }

  // Polygons are rasterised as pycocotools does.
  const road = await roundTrip(ds['road'] as number, 'masks', 'masks-road', [roadDir()]);
  const ra = canon(ds['road'] as number);
  const rb = canon(road.fresh);
  for (const [name, list] of ra) {
    const poly = list.find((c) => c.kind === 'polygon');
    if (!poly) continue;
    const item = core.db.prepare('SELECT rows, columns FROM items WHERE dataset_id = ? AND source_name = ?').get(ds['road'], name) as { rows: number; columns: number };
    const want = decodeRle(polygonToRle((poly.g as Poly).points, item.rows, item.columns));
    assert.deepEqual(decodeRle(((rb.get(name) ?? [])[0]?.g as Mask).rle), want, name);
  }
});

test('with images: the export folder alone (images + labels) imports into a new dataset with every label', async () => {
  const res = await exportTo(ds['road'] as number, 'coco', 'coco-with-images', { withImages: true });
  const images = res.files.filter((f) => f.path.startsWith('images/'));
  assert.equal(images.length, 12);
  const fresh = await freshCopy('from export', [join(res.root, 'images')]);
  const report = await core.importLabels(fresh, join(res.root, 'annotations.json'), 'coco', 'roundtrip');
  assert.deepEqual(report.unmatchedImages, []);
  const a = canon(ds['road'] as number);
  const b = canon(fresh);
  assert.equal([...b.values()].flat().length, [...a.values()].flat().length);
});

test('YOLO segment traces masks into polygons: imported back, they rasterise to the masks with IoU ≥ 0.97 (CT lesions, Penn-Fudan instances)', async () => {
  // Penn-Fudan instance masks on their own (the dataset above also holds boxes, which YOLO
  // segment writes as 4-point polygons of the same class).
  const pedMasks = await freshCopy('ped masks', [pedDir()]);
  await core.importLabels(pedMasks, join(PED, 'PedMasks'), 'masks', 'test', { maskMode: 'instance', instanceClass: 'pedestrian' });
  const summary: string[] = [];
  for (const [name, source, dir] of [['yolo-seg-ct', ds['ct'] as number, ctDir()], ['yolo-seg-ped', pedMasks, pedDir()]] as const) {
    const { res, fresh, report } = await roundTrip(source, 'yolo', name, [dir], { task: 'segment' });
    assert.deepEqual(report.unmatchedImages, []);
    assert.ok(!res.warnings.some((w) => /not exported: YOLO segment/.test(w)), 'masks are no longer dropped');
    assert.ok(res.warnings.some((w) => /traced into \d+ polygon line/.test(w)), res.warnings.join('\n'));
    const a = canon(source);
    const b = canon(fresh);
    let worst = 1;
    let n = 0;
    for (const [item, list] of a) {
      const masks = list.filter((c) => c.kind === 'mask');
      if (masks.length === 0) continue;
      const rles = masks.map((c) => (c.g as Mask).rle);
      const [h, w] = (rles[0] as Mask['rle']).size;
      const back = (b.get(item) ?? []).filter((c) => c.kind === 'polygon');
      assert.ok(back.length >= masks.length, `${item}: at least one polygon per mask`);
      assert.ok(back.every((c) => c.cls === masks[0]?.cls));
      // Instance identity is not in a YOLO line's polygon: compare the union per class.
      const want = decodeRle(mergeRles(rles));
      const got = decodeRle(mergeRles(back.map((c) => polygonToRle((c.g as Poly).points, h, w))));
      let inter = 0;
      let union = 0;
      for (let i = 0; i < want.length; i++) {
        inter += (want[i] as number) & (got[i] as number);
        union += (want[i] as number) | (got[i] as number);
      }
      const iou = inter / union;
      worst = Math.min(worst, iou);
      assert.ok(iou >= 0.97, `${name} ${item}: IoU ${iou.toFixed(4)}`);
      n++;
    }
    assert.ok(n >= 3, `${name}: ${n} images with masks`);
    summary.push(`${name}: ${n} images, worst IoU ${worst.toFixed(4)}`);
  }
  console.log(summary.join('; '));
});
