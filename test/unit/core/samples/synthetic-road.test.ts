import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import {
  MIN_VISIBLE_PIXELS,
  ROAD_CATEGORY_CLASS,
  ROAD_CLASSES,
  writeSyntheticRoadScenes,
  type CocoDataset,
  type SyntheticRoadManifest,
} from '../../../../electron/core/samples/synthetic-road';
import { tempDir } from '../../../helpers/temp-library';

const OPTIONS = { count: 16, width: 160, height: 120, seed: 3 };

let tmp: { dir: string; cleanup(): void };
let out: string;
let manifest: SyntheticRoadManifest;
let coco: CocoDataset;

before(async () => {
  tmp = tempDir('fovea-road-');
  out = join(tmp.dir, 'road');
  manifest = await writeSyntheticRoadScenes(out, OPTIONS);
  coco = JSON.parse(readFileSync(join(out, manifest.annotationsFile), 'utf8')) as CocoDataset;
});
after(() => tmp.cleanup());

async function grey(path: string): Promise<Uint8Array> {
  const meta = await sharp(path).metadata();
  assert.equal(meta.channels, 1, `${path} is single-channel`);
  const { data, info } = await sharp(path).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels], [OPTIONS.width, OPTIONS.height, 1]);
  return data;
}

test('COCO file is structurally valid and matches the manifest', () => {
  assert.deepEqual(
    coco.categories.map((c) => [c.id, c.name]),
    [
      [1, 'car'],
      [2, 'pedestrian'],
      [3, 'sign'],
    ],
  );
  assert.equal(coco.images.length, OPTIONS.count);
  const imageIds = new Set(coco.images.map((i) => i.id));
  assert.equal(imageIds.size, coco.images.length, 'unique image ids');
  const annIds = new Set(coco.annotations.map((a) => a.id));
  assert.equal(annIds.size, coco.annotations.length, 'unique annotation ids');
  for (const img of coco.images) {
    assert.equal(img.width, OPTIONS.width);
    assert.equal(img.height, OPTIONS.height);
    assert.match(img.file_name, /^images\/scene_\d{4}\.png$/);
  }
  for (const a of coco.annotations) {
    assert.ok(imageIds.has(a.image_id));
    assert.ok([1, 2, 3].includes(a.category_id));
    assert.equal(a.iscrowd, 0);
    const [x, y, w, h] = a.bbox;
    assert.ok(a.bbox.every(Number.isInteger), 'integer pixel boxes');
    assert.ok(x >= 0 && y >= 0 && w >= 1 && h >= 1 && x + w <= OPTIONS.width && y + h <= OPTIONS.height, `box inside image: ${a.bbox}`);
    assert.ok(a.area >= MIN_VISIBLE_PIXELS && a.area <= w * h);
    assert.deepEqual(a.segmentation.size, [OPTIONS.height, OPTIONS.width]);
    assert.equal(
      a.segmentation.counts.reduce((s, c) => s + c, 0),
      OPTIONS.width * OPTIONS.height,
    );
  }
  assert.deepEqual(
    manifest.images.flatMap((i) => i.objects.map((o) => o.annotationId)),
    coco.annotations.map((a) => a.id),
  );
  const categories = new Set(coco.annotations.map((a) => a.category_id));
  assert.deepEqual([...categories].sort(), [1, 2, 3], 'every category occurs (fixed seed)');
});

test('every box is tight around its object’s visible pixels, which carry its class', async () => {
  const classes = JSON.parse(readFileSync(join(out, 'classes.json'), 'utf8')) as Record<string, string>;
  assert.deepEqual(Object.values(classes), [...ROAD_CLASSES]);
  const byId = new Map(coco.annotations.map((a) => [a.id, a]));
  let checked = 0;
  for (const img of manifest.images) {
    const inst = await grey(join(out, img.instances));
    const sem = await grey(join(out, img.mask));
    const rgb = await sharp(join(out, img.file)).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([rgb.info.width, rgb.info.height, rgb.info.channels], [OPTIONS.width, OPTIONS.height, 3]);
    assert.ok(sem.every((v) => v < ROAD_CLASSES.length), 'semantic values are known classes');
    assert.ok(sem.includes(1), 'some road is visible');
    const values = new Set(inst);
    values.delete(0);
    assert.deepEqual([...values].sort((a, b) => a - b), img.objects.map((o) => o.instanceValue), 'one instance value per object, no strays');
    for (const o of img.objects) {
      let x0 = Infinity;
      let y0 = Infinity;
      let x1 = -1;
      let y1 = -1;
      let area = 0;
      for (let y = 0; y < OPTIONS.height; y++) {
        for (let x = 0; x < OPTIONS.width; x++) {
          const i = y * OPTIONS.width + x;
          if (inst[i] !== o.instanceValue) continue;
          assert.equal(sem[i], ROAD_CATEGORY_CLASS[o.category], `instance pixel of a ${o.category} has its class`);
          area++;
          x0 = Math.min(x0, x);
          y0 = Math.min(y0, y);
          x1 = Math.max(x1, x);
          y1 = Math.max(y1, y);
        }
      }
      const a = byId.get(o.annotationId);
      assert.ok(a);
      assert.deepEqual(a.bbox, [x0, y0, x1 - x0 + 1, y1 - y0 + 1], `tight box for annotation ${a.id}`);
      assert.deepEqual(o.bbox, a.bbox);
      assert.equal(a.area, area);
      // The RLE (column-major, starting with background) decodes to the same pixels.
      let pos = 0;
      let rleArea = 0;
      for (const [k, run] of a.segmentation.counts.entries()) {
        if (k % 2 === 1) {
          for (let j = pos; j < pos + run; j++) {
            const x = Math.floor(j / OPTIONS.height);
            const y = j % OPTIONS.height;
            assert.equal(inst[y * OPTIONS.width + x], o.instanceValue);
          }
          rleArea += run;
        }
        pos += run;
      }
      assert.equal(rleArea, area);
      checked++;
    }
  }
  assert.ok(checked > 0);
});

test('classification CSV agrees with the boxes and has both classes', () => {
  const lines = readFileSync(join(out, manifest.classificationFile), 'utf8').trim().split('\n');
  assert.equal(lines[0], 'file,label,has_car,has_pedestrian,has_sign');
  assert.equal(lines.length, OPTIONS.count + 1);
  const labels = new Set<string>();
  for (const [i, img] of manifest.images.entries()) {
    const has = (c: string): number => (img.objects.some((o) => o.category === c) ? 1 : 0);
    const expected = has('pedestrian') ? 'pedestrian' : 'no_pedestrian';
    assert.equal(img.label, expected);
    assert.equal(lines[i + 1], `${img.file},${expected},${has('car')},${has('pedestrian')},${has('sign')}`);
    labels.add(expected);
  }
  assert.deepEqual([...labels].sort(), ['no_pedestrian', 'pedestrian']);
});

test('scene i depends only on (seed, i); jpeg output works', async () => {
  const fewer = await writeSyntheticRoadScenes(join(tmp.dir, 'fewer'), { ...OPTIONS, count: 3 });
  for (const img of fewer.images) {
    for (const f of [img.file, img.mask, img.instances]) {
      assert.ok(readFileSync(join(tmp.dir, 'fewer', f)).equals(readFileSync(join(out, f))), `${f} unchanged by count`);
    }
  }
  const jpeg = await writeSyntheticRoadScenes(join(tmp.dir, 'jpeg'), { ...OPTIONS, count: 1, format: 'jpeg' });
  const meta = await sharp(join(tmp.dir, 'jpeg', jpeg.images[0]?.file ?? '')).metadata();
  assert.equal(meta.format, 'jpeg');
  await assert.rejects(writeSyntheticRoadScenes(join(tmp.dir, 'bad'), { ...OPTIONS, width: 8 }), RangeError);
});
