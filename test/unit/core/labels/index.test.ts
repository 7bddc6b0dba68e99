/** parseLabelFile dispatch, detectLabelFormat, cancellation and progress. */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FoveaException } from '../../../../electron/contract/result';
import { detectLabelFormat, parseLabelFile, type LabelFormat } from '../../../../electron/core/labels/index';
import { encodePng, tempDir, TESTDATA, write } from './label-fixtures';

const isCode = (code: string, re: RegExp = /./) => (e: unknown) => e instanceof FoveaException && e.code === code && re.test(e.message);

describe('label files entry point', () => {
  it('detects the format of the real datasets it can read, and of KITTI as none', async () => {
    const cases: [string, LabelFormat | null][] = [
      ['train/pennfudan_ped/Annotation', 'voc'],
      ['train/pennfudan_ped/Annotation/FudanPed00001.txt', 'voc'],
      ['train/pennfudan_ped/PedMasks', 'masks'],
      ['train/camvid/trainannot', 'masks'],
      ['train/drive_retina/training/1st_manual', 'masks'],
      ['train/camvid/train', null], // photos
      ['road/kitti/label_2', null], // KITTI is not an import format
    ];
    for (const [rel, want] of cases) assert.equal(await detectLabelFormat(join(TESTDATA, rel)), want, rel);
  });

  it('detects generated files and folders of each format', async (t) => {
    const dir = tempDir(t);
    const sub = (name: string): string => {
      mkdirSync(join(dir, name));
      return join(dir, name);
    };
    write(sub('coco'), 'instances_val.json', '{"info": {}, "images": [], "annotations": []}');
    write(sub('yolo'), 'a.txt', '0 0.5 0.5 0.1 0.1\n1 0.2 0.2 0.1 0.1 \n');
    mkdirSync(join(dir, 'ultra', 'labels'), { recursive: true });
    write(join(dir, 'ultra'), 'data.yaml', 'names: [a]\n');
    write(sub('voc'), 'x.xml', '<annotation><filename>x.jpg</filename></annotation>');
    write(sub('csv'), 'labels.csv', 'filename,label\n');
    write(sub('masks'), 'm.png', encodePng({ width: 2, height: 1, colorType: 0, depth: 8, samples: [0, 1] }));
    write(sub('photo'), 'p.png', encodePng({ width: 2, height: 1, colorType: 2, depth: 8, samples: [1, 2, 3, 4, 5, 6] }));
    write(sub('empty'), 'readme.md', '# nothing');
    const want: Record<string, LabelFormat | null> = { coco: 'coco', yolo: 'yolo', ultra: 'yolo', voc: 'voc', csv: 'csv', masks: 'masks', photo: null, empty: null };
    for (const [name, fmt] of Object.entries(want)) assert.equal(await detectLabelFormat(join(dir, name)), fmt, name);
    assert.equal(await detectLabelFormat(join(dir, 'coco', 'instances_val.json')), 'coco');
    assert.equal(await detectLabelFormat(write(dir, 'classes.json', '["a"]')), null);
    await assert.rejects(detectLabelFormat(join(dir, 'nope')), isCode('NOT_FOUND'));
  });

  it('dispatches to each parser, taking the single COCO/CSV file of a folder', async (t) => {
    const dir = tempDir(t);
    write(dir, 'only.json', JSON.stringify({ images: [{ id: 1, file_name: 'a.png', width: 4, height: 4 }], categories: [{ id: 1, name: 'x' }], annotations: [{ image_id: 1, category_id: 1 }] }));
    write(dir, 'classes.json', '["x"]');
    const f = await parseLabelFile(dir, 'coco');
    assert.deepEqual(f.images[0]?.labels, [{ className: 'x', geometry: { kind: 'class' } }]);
    write(dir, 'second.json', '{}');
    await assert.rejects(parseLabelFile(dir, 'coco'), isCode('BAD_INPUT', /holds 2 COCO JSON files .*choose one/));
    await assert.rejects(parseLabelFile(dir, 'csv'), isCode('BAD_INPUT', /No CSV file/));
    await assert.rejects(parseLabelFile(dir, 'kitti' as LabelFormat), isCode('UNSUPPORTED', /not a label format/));
    await assert.rejects(parseLabelFile(join(dir, 'missing'), 'voc'), isCode('NOT_FOUND'));
  });

  it('reports progress and stops between files when cancelled', async (t) => {
    const dir = tempDir(t);
    for (let i = 0; i < 20; i++) write(dir, `f${i}.txt`, '0 0.5 0.5 0.1 0.1\n');
    const seen: number[] = [];
    const f = await parseLabelFile(dir, 'yolo', { onProgress: (done, total) => seen.push(done / total) });
    assert.equal(f.images.length, 20);
    assert.equal(seen.length, 20);
    assert.equal(seen[19], 1);
    const ac = new AbortController();
    const p = parseLabelFile(dir, 'yolo', {
      signal: ac.signal,
      onProgress: (done) => {
        if (done === 3) ac.abort();
      },
    });
    await assert.rejects(p, isCode('CANCELLED'));
  });
});
