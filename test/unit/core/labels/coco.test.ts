/** COCO instances / results JSON, generated in temp folders. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FoveaException } from '../../../../electron/contract/result';
import type { LabelGeometry, ParsedLabelFile } from '../../../../electron/core/labels/label-types';
import { parseCoco, parseCocoData } from '../../../../electron/core/labels/parse-coco';
import { decodeRle, encodeMask, polygonsToRle, rleArea, rleToString } from '../../../../electron/core/labels/rle';
import { tempDir, write } from './label-fixtures';

const images = [
  { id: 1, file_name: 'train/a.jpg', width: 40, height: 30 },
  { id: 2, file_name: 'b.jpg', width: 20, height: 20 },
];
const categories = [
  { id: 3, name: 'car' },
  { id: 1, name: 'person' },
];

function geom(file: ParsedLabelFile, image: number, label: number): LabelGeometry | undefined {
  return file.images[image]?.labels[label]?.geometry;
}

describe('COCO parser', () => {
  it('reads boxes, one-ring polygons, several-ring objects, both RLE forms, crowd and scores', async (t) => {
    const dir = tempDir(t);
    const m = new Uint8Array(20 * 20);
    for (let y = 5; y < 9; y++) for (let x = 2; x < 12; x++) m[y * 20 + x] = 1;
    const rle = encodeMask(m, 20, 20);
    const coco = {
      images,
      categories,
      annotations: [
        { id: 10, image_id: 1, category_id: 1, bbox: [1.5, 2, 10, 20], area: 200, iscrowd: 0 },
        { id: 11, image_id: 1, category_id: 3, segmentation: [[1, 1, 10, 1, 10, 8]], bbox: [1, 1, 9, 7] },
        { id: 12, image_id: 1, category_id: 3, segmentation: [[0, 0, 0, 9, 9, 9, 9, 0], [20, 20, 20, 25, 25, 25]] },
        { id: 13, image_id: 2, category_id: 1, segmentation: { size: [20, 20], counts: rle.counts }, iscrowd: 1 },
        { id: 14, image_id: 2, category_id: 1, segmentation: { size: [20, 20], counts: rleToString(rle) }, score: 0.75 },
      ],
    };
    const file = await parseCoco(write(dir, 'instances.json', JSON.stringify(coco)));
    assert.equal(file.format, 'coco');
    assert.deepEqual(file.classes, ['person', 'car'], 'ordered by category id');
    assert.deepEqual(file.warnings, []);
    assert.equal(file.images[0]?.fileName, 'train/a.jpg');
    assert.equal(file.images[0]?.match, 'path');
    assert.equal(file.images[0]?.width, 40);
    assert.deepEqual(geom(file, 0, 0), { kind: 'box', x: 1.5, y: 2, width: 10, height: 20 });
    assert.equal(file.images[0]?.labels[0]?.className, 'person');
    assert.deepEqual(geom(file, 0, 1), { kind: 'polygon', points: [[1, 1], [10, 1], [10, 8]] });
    const multi = geom(file, 0, 2);
    assert.equal(multi?.kind, 'mask');
    if (multi?.kind === 'mask') {
      // pycocotools' annToRLE: each ring filled, then the union.
      assert.deepEqual(multi.rle, polygonsToRle([[0, 0, 0, 9, 9, 9, 9, 0], [20, 20, 20, 25, 25, 25]], 30, 40));
      assert.ok(rleArea(multi.rle) > 81);
    }
    const crowd = file.images[1]?.labels[0];
    assert.equal(crowd?.crowd, true);
    assert.deepEqual(crowd?.geometry, { kind: 'mask', rle });
    const scored = file.images[1]?.labels[1];
    assert.equal(scored?.score, 0.75);
    assert.ok(scored?.geometry.kind === 'mask');
    if (scored?.geometry.kind === 'mask') assert.deepEqual(decodeRle(scored.geometry.rle), m);
  });

  it('prefers the bbox when asked, and reads bare annotations as image-level classes', () => {
    const data = {
      images,
      categories,
      annotations: [
        { image_id: 1, category_id: 3, segmentation: [[1, 1, 10, 1, 10, 8]], bbox: [1, 1, 9, 7] },
        { image_id: 2, category_id: 1 },
      ],
    };
    const f = parseCocoData(data, 'x.json', { cocoGeometry: 'box' });
    assert.deepEqual(geom(f, 0, 0), { kind: 'box', x: 1, y: 1, width: 9, height: 7 });
    assert.deepEqual(f.images[1]?.labels[0], { className: 'person', geometry: { kind: 'class' } });
    assert.deepEqual(f.warnings, []);
  });

  it('clips boxes and polygons to the image, and warns for every broken entry without dropping the rest', () => {
    const data = {
      images: [...images, { id: 1, file_name: 'dup.jpg', width: 5, height: 5 }, { id: 9, file_name: 'nosize.jpg' }, { file_name: 'noid.jpg' }],
      categories: [...categories, { id: 3, name: 'again' }, { id: 7, name: '' }],
      annotations: [
        { id: 1, image_id: 1, category_id: 1, bbox: [-5, 25, 20, 20] }, // clipped
        { id: 2, image_id: 1, category_id: 1, bbox: [100, 100, 5, 5] }, // outside
        { id: 3, image_id: 1, category_id: 1, bbox: [1, 1, -4, 5] }, // negative size
        { id: 4, image_id: 1, category_id: 1, bbox: [1, 1, 'x', 5] },
        { id: 5, image_id: 1, category_id: 1, bbox: [1, 1, 2] },
        { id: 6, image_id: 99, category_id: 1, bbox: [1, 1, 2, 2] }, // unknown image
        { id: 7, image_id: 1, category_id: 42, bbox: [1, 1, 2, 2] }, // unknown category
        { id: 8, image_id: 1, category_id: 1, segmentation: [[30, 20, 50, 20, 50, 40, 30, 40]] }, // clipped polygon
        { id: 9, image_id: 1, category_id: 1, segmentation: [[1, 2, 3]] }, // odd
        { id: 10, image_id: 1, category_id: 1, segmentation: { size: [10, 10], counts: [100] } }, // wrong size
        { id: 11, image_id: 2, category_id: 1, segmentation: { size: [20, 20], counts: [399] } }, // sum
        { id: 12, image_id: 2, category_id: 1, segmentation: { size: [20, 20], counts: 'not~rle' } },
        { id: 13, image_id: 2, category_id: 1, segmentation: 'polygon?' },
        { id: 14, image_id: 2, category_id: 1, bbox: [1, 1, 2, 2], score: 'high' },
        { id: 15, image_id: 9, category_id: 1, bbox: [1e300, 0, 1, 1] }, // no size and absurd
        { id: 16, image_id: 9, category_id: 1, bbox: [10, 10, 5, 5] }, // no size: kept unclipped
        'not an object',
      ],
    };
    const f = parseCocoData(data, 'bad.json');
    const a = f.images[0]?.labels ?? [];
    assert.deepEqual(a[0]?.geometry, { kind: 'box', x: 0, y: 25, width: 15, height: 5 });
    const clipped = a[1]?.geometry;
    assert.equal(clipped?.kind, 'polygon');
    // The clipped square, whichever corner it starts from.
    if (clipped?.kind === 'polygon') assert.deepEqual([...clipped.points].sort(), [[30, 20], [30, 30], [40, 20], [40, 30]]);
    assert.equal(a.length, 2);
    assert.equal(f.images[1]?.labels.length, 1, 'the annotation with a bad score is kept without it');
    assert.equal(f.images[1]?.labels[0]?.score, undefined);
    assert.equal(f.images.length, 3, 'duplicate id and missing id skipped');
    assert.deepEqual(f.images[2]?.labels.map((l) => l.geometry), [{ kind: 'box', x: 10, y: 10, width: 5, height: 5 }]);
    const w = f.warnings.join('\n');
    for (const re of [
      /images\[2\]: id 1 is used twice/,
      /images\[3\] \("nosize.jpg"\): width\/height/,
      /images\[4\]: id:/,
      /categories\[2\]: id 3 is used twice/,
      /categories\[3\]: name: name is empty/,
      /annotations\[0\] \(id 1\): bbox .* clipped/,
      /annotations\[1\] \(id 2\): .* lies outside the 40x30 image; skipped/,
      /annotations\[2\] \(id 3\): .* no area/,
      /annotations\[3\] \(id 4\): bbox .* not 4 finite numbers/,
      /annotations\[4\] \(id 5\): bbox/,
      /annotations\[5\] \(id 6\): image_id 99 is not in "images"/,
      /annotations\[6\] \(id 7\): category_id 42 is not in "categories"/,
      /annotations\[7\] \(id 8\): its polygon reaches outside .* clipped/,
      /annotations\[8\] \(id 9\): polygon 0 has 3 coordinates/,
      /annotations\[9\] \(id 10\): its RLE is 10x10 but the image is 40x30/,
      /annotations\[10\] \(id 11\): invalid RLE \(counts add up to 399/,
      /annotations\[11\] \(id 12\): Compressed RLE counts contain/,
      /annotations\[12\] \(id 13\): segmentation is neither/,
      /annotations\[13\] \(id 14\): score "high" is not a number/,
      /annotations\[14\] \(id 15\): bbox .* far outside/,
      /annotations\[16\]: /,
    ]) {
      assert.match(w, re);
    }
  });

  it('refuses what is not COCO with BAD_INPUT, and reads results files against their instances file', async (t) => {
    const dir = tempDir(t);
    const isBad = (e: unknown): boolean => e instanceof FoveaException && e.code === 'BAD_INPUT';
    await assert.rejects(parseCoco(write(dir, 'broken.json', '{"images": [')), (e: unknown) => isBad(e) && /not valid JSON/.test((e as Error).message));
    await assert.rejects(parseCoco(write(dir, 'other.json', '{"foo": 1}')), (e: unknown) => isBad(e) && /no "images" list/.test((e as Error).message));
    await assert.rejects(parseCoco(write(dir, 'null.json', 'null')), isBad);
    const results = [
      { image_id: 2, category_id: 3, bbox: [1, 2, 3, 4], score: 0.9 },
      { image_id: 2, category_id: 5, bbox: [1, 2, 3, 4], score: 0.1 },
    ];
    const rpath = write(dir, 'results.json', JSON.stringify(results));
    await assert.rejects(parseCoco(rpath), (e: unknown) => isBad(e) && /results file/.test((e as Error).message));
    write(dir, 'gt.json', JSON.stringify({ images, categories, annotations: [] }));
    const f = await parseCoco(rpath, { cocoGroundTruth: 'gt.json' });
    assert.deepEqual(f.images[1]?.labels, [{ className: 'car', geometry: { kind: 'box', x: 1, y: 2, width: 3, height: 4 }, score: 0.9 }]);
    assert.match(f.warnings.join('\n'), /category_id 5/);
    await assert.rejects(parseCoco(`${dir}/missing.json`), (e: unknown) => e instanceof FoveaException && e.code === 'NOT_FOUND');
  });

  it('survives hostile input quickly: huge numbers, NaN-like values, a 100k-vertex polygon, many bad entries', () => {
    const big: number[] = [];
    for (let i = 0; i < 100_000; i++) {
      const a = (i / 100_000) * 2 * Math.PI;
      big.push(500 + 400 * Math.cos(a), 500 + 400 * Math.sin(a));
    }
    const zig: number[] = [];
    for (let i = 0; i < 100_000; i++) zig.push(i % 2 ? 0 : 4000, i / 25);
    const annotations: unknown[] = [
      { image_id: 1, category_id: 1, segmentation: [big] },
      { image_id: 1, category_id: 1, segmentation: [big, big.map((v) => v / 2)] },
      { image_id: 1, category_id: 1, segmentation: [zig, [0, 0, 1, 0, 1, 1]] },
      { image_id: 1, category_id: 1, bbox: [1e308, 1e308, 1e308, 1e308] },
      { image_id: 1, category_id: 1, bbox: [null, 0, 1, 1] },
      { image_id: 1, category_id: 1, segmentation: [[0, 0, 1e308, 0, 1e308, 1e308]] },
      { image_id: 1, category_id: 1, segmentation: { size: [1e9, 1e9], counts: 'x' } },
      { image_id: 1, category_id: 1, segmentation: { size: [-1, 5], counts: [] } },
    ];
    for (let i = 0; i < 5000; i++) annotations.push({ image_id: 'nope', category_id: 1 });
    const t0 = Date.now();
    const f = parseCocoData({ images: [{ id: 1, file_name: 'big.png', width: 4000, height: 4000 }], categories: [{ id: 1, name: 'x' }], annotations }, 'hostile.json');
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
    const kinds = f.images[0]?.labels.map((l) => l.geometry.kind);
    assert.deepEqual(kinds, ['polygon', 'mask']);
    const w = f.warnings.join('\n');
    assert.match(w, /annotations\[2\]: its polygons cannot be rasterised \(A polygon is too long/);
    assert.match(w, /annotations\[3\]: bbox .* lies outside/);
    assert.match(w, /annotations\[4\]: bbox/);
    assert.match(w, /annotations\[5\]: polygon 0 has a point far outside/);
    assert.match(w, /annotations\[6\]: its RLE is 1000000000x1000000000 but the image is 4000x4000/);
    assert.match(w, /annotations\[7\]: segmentation is neither .*size/);
    // The warnings are capped, and the cap says how many more there were.
    assert.ok(f.warnings.length <= 2001);
    assert.match(f.warnings[f.warnings.length - 1] ?? '', /more warnings not listed/);
  });
});
