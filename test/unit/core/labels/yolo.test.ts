/** YOLO detect and segment labels, generated in temp folders. */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { scaleNormalizedLabels } from '../../../../electron/core/labels/label-types';
import { parseYolo, yamlNames } from '../../../../electron/core/labels/parse-yolo';
import { tempDir, write } from './label-fixtures';

function ultralytics(dir: string, yaml: string): void {
  for (const d of ['images/train', 'images/val', 'labels/train', 'labels/val']) mkdirSync(join(dir, d), { recursive: true });
  write(dir, 'data.yaml', yaml);
  write(dir, 'labels/train/img1.txt', '0 0.5 0.5 0.2 0.4\n2 0.25 0.75 0.1 0.1 0.9\n');
  write(dir, 'labels/train/img2.txt', '1 0.1 0.1 0.5 0.1 0.5 0.6\r\n');
  write(dir, 'labels/val/empty.txt', '');
  write(dir, 'labels/train/classes.txt', 'should not be read as labels');
}

describe('YOLO parser', () => {
  it('reads an Ultralytics layout with data.yaml names as a list: boxes, polygons, scores, empty files, splits', async (t) => {
    const dir = tempDir(t);
    ultralytics(dir, 'path: ../datasets/x  # root\ntrain: images/train\nval: images/val\nnc: 3\nnames: ["person", \'traffic light\', car]\n');
    const f = await parseYolo(dir);
    assert.equal(f.format, 'yolo');
    assert.deepEqual(f.classes, ['person', 'traffic light', 'car']);
    assert.deepEqual(f.warnings, []);
    assert.deepEqual(
      f.images.map((i) => [i.fileName, i.match, i.split, i.normalized, i.source]),
      [
        ['img1', 'stem', 'train', true, 'labels/train/img1.txt'],
        ['img2', 'stem', 'train', true, 'labels/train/img2.txt'],
        ['empty', 'stem', 'val', true, 'labels/val/empty.txt'],
      ],
    );
    const [a, b] = f.images[0]?.labels ?? [];
    assert.equal(a?.className, 'person');
    assert.deepEqual(a?.geometry, { kind: 'box', x: 0.4, y: 0.3, width: 0.2, height: 0.4 });
    assert.equal(b?.className, 'car');
    assert.equal(b?.score, 0.9);
    assert.deepEqual(f.images[1]?.labels[0], { className: 'traffic light', geometry: { kind: 'polygon', points: [[0.1, 0.1], [0.5, 0.1], [0.5, 0.6]] } });
    assert.deepEqual(f.images[2]?.labels, []);
    // The importer scales once it knows the image size.
    const px = scaleNormalizedLabels(f.images[0]?.labels ?? [], 200, 100);
    assert.deepEqual(px[0]?.geometry, { kind: 'box', x: 80, y: 30, width: 40, height: 40 });
  });

  it('data.yaml through the yaml package: anchors read, alias bombs, odd values and non-YAML refused quickly', () => {
    assert.deepEqual(yamlNames('base: &n [a, b]\nnames: *n\n'), ['a', 'b']);
    assert.deepEqual(yamlNames('names:\n  0: 1\n  1: null\n'), ['1', '']);
    // "Billion laughs": nine levels of nine aliases would be 9^9 strings.
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      levels.push(`${cur}: &${cur} [${Array.from({ length: 9 }, () => `*${prev}`).join(',')}]`);
    }
    const t0 = performance.now();
    assert.equal(yamlNames(`${levels.join('\n')}\nnames: *i\n`), null);
    assert.ok(performance.now() - t0 < 2000, 'refused without expanding');
    assert.equal(yamlNames('names: [a, b\n'), null, 'an unclosed flow list');
    assert.equal(yamlNames('\u0000\u0001 binary'), null);
    assert.equal(yamlNames('- just\n- a list\n'), null, 'no top-level names');
  });

  it('reads data.yaml names as a block map, a flow map and a block list', async (t) => {
    assert.deepEqual(yamlNames('names:\n  0: person\n  1: "bi cycle"  # comment\n  2: \'it\'\'s\'\nnc: 3\n'), ['person', 'bi cycle', "it's"]);
    assert.deepEqual(yamlNames('names: {0: a, 2: "c, d"}\n'), ['a', '1', 'c, d']);
    assert.deepEqual(yamlNames('nc: 2\nnames:\n- a\n- b\n'), ['a', 'b']);
    assert.deepEqual(yamlNames('names: [a,\n  b]\n'), ['a', 'b']);
    assert.equal(yamlNames('nc: 2\n'), null);
    const dir = tempDir(t);
    ultralytics(dir, 'names:\n  0: person\n  1: bike\n  2: car\n');
    const f = await parseYolo(dir);
    assert.deepEqual(f.classes, ['person', 'bike', 'car']);
    // A labels/ folder given directly finds data.yaml above it.
    const g = await parseYolo(join(dir, 'labels'));
    assert.deepEqual(g.classes, ['person', 'bike', 'car']);
    assert.equal(g.images.length, 3, 'train/ and val/ .txt under the labels folder given');
    assert.equal(g.images[2]?.split, 'val');
  });

  it('reads a flat Darknet folder with obj.names, and names classes by index when there is no list', async (t) => {
    const dir = tempDir(t);
    write(dir, 'obj.names', 'cat\ndog\n');
    write(dir, 'a.txt', '1 0.5 0.5 1 1\n');
    const f = await parseYolo(dir);
    assert.deepEqual(f.classes, ['cat', 'dog']);
    assert.equal(f.images[0]?.labels[0]?.className, 'dog');
    const bare = tempDir(t);
    write(bare, 'x.txt', '3 0.5 0.5 0.5 0.5\n');
    const g = await parseYolo(join(bare, 'x.txt'));
    assert.deepEqual(g.classes, ['3']);
    assert.equal(g.images[0]?.labels[0]?.className, '3');
    assert.match(g.warnings.join('\n'), /No class names found/);
    const h = await parseYolo(join(bare, 'x.txt'), { classes: { 3: 'tumour' } });
    assert.equal(h.images[0]?.labels[0]?.className, 'tumour');
    // A hostile index does not allocate a class per number below it.
    write(bare, 'x.txt', '999999999 0.5 0.5 0.5 0.5\n');
    assert.deepEqual((await parseYolo(join(bare, 'x.txt'))).classes, ['999999999']);
  });

  it('warns for each broken line and clips boxes that reach past the border', async (t) => {
    const dir = tempDir(t);
    write(dir, 'classes.txt', 'a\nb\n');
    write(
      dir,
      'bad.txt',
      [
        '0 0.5 0.5 0.2', // too few
        '7 0.5 0.5 0.2 0.2', // unknown class
        '-1 0.5 0.5 0.2 0.2',
        '0.5 0.5 0.5 0.2 0.2',
        '0 NaN 0.5 0.2 0.2',
        '0 0.5 0.5 0 0.2', // zero width
        '0 0.95 0.5 0.2 0.2', // clipped
        '0 5 5 0.1 0.1', // outside
        '1 0.1 0.1 0.5 -0.00001 0.5 0.5', // tiny noise: clamped quietly
        '1 0.1 0.1 1.5 0.1 0.5 0.5', // outside: moved onto the border
        '1 10 10 20 20 30 30', // not normalized
        '0 1e400 0.5 0.1 0.1',
        '',
        '# a comment',
        '1 0.5 0.5 0.2 0.2',
      ].join('\n'),
    );
    const f = await parseYolo(dir);
    const labels = f.images[0]?.labels ?? [];
    assert.deepEqual(labels.map((l) => l.geometry.kind), ['box', 'polygon', 'polygon', 'box']);
    const clipped = labels[0]?.geometry;
    assert.ok(clipped?.kind === 'box');
    if (clipped?.kind === 'box') {
      assert.ok(Math.abs(clipped.x - 0.85) < 1e-12 && Math.abs(clipped.width - 0.15) < 1e-12);
    }
    assert.deepEqual(labels[2]?.geometry, { kind: 'polygon', points: [[0.1, 0.1], [1, 0.1], [0.5, 0.5]] });
    const w = f.warnings.join('\n');
    for (const re of [
      /bad.txt line 1: 3 numbers after the class/,
      /line 2: class 7 is not in the class list/,
      /line 3: class -1 is not a whole number/,
      /line 4: class 0.5 is not a whole number/,
      /line 5: .* not a number/,
      /line 6: box width and height must be > 0/,
      /line 7: box reaches outside the image .*clipped/,
      /line 8: box lies outside the image/,
      /line 10: polygon reaches outside the image/,
      /line 11: polygon coordinates are not fractions/,
      /line 12: .* not a number/,
    ]) {
      assert.match(w, re);
    }
    assert.doesNotMatch(w, /line 9:/);
  });
});
