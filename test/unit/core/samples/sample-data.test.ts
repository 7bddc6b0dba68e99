import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { writeSampleData, type SampleDataManifest } from '../../../../electron/core/samples/index';
import { tempDir } from '../../../helpers/temp-library';

let tmp: { dir: string; cleanup(): void };
let first: SampleDataManifest;
let firstMs = 0;

before(async () => {
  tmp = tempDir('fovea-samples-');
  const started = performance.now();
  first = await writeSampleData(join(tmp.dir, 'a'), { size: 'tiny', seed: 5 });
  firstMs = performance.now() - started;
});
after(() => tmp.cleanup());

/** Every file under dir, relative, sorted. */
function files(dir: string): string[] {
  const outList: string[] = [];
  const walk = (p: string): void => {
    for (const e of readdirSync(p).sort()) {
      const full = join(p, e);
      if (statSync(full).isDirectory()) walk(full);
      else outList.push(relative(dir, full));
    }
  };
  walk(dir);
  return outList;
}

test('tiny writes both parts quickly, in the documented layout', (t) => {
  t.diagnostic(`tiny sample data written in ${firstMs.toFixed(0)} ms`);
  // The budget is 2 s on one free core; the tests share two busy cores, hence the slack.
  assert.ok(firstMs < 6000, `tiny generation took ${firstMs.toFixed(0)} ms`);
  const list = files(join(tmp.dir, 'a'));
  for (const f of [
    'manifest.json',
    'README.txt',
    'ct/manifest.json',
    'ct/labels.csv',
    'ct/classes.json',
    'ct/SYNTH-001/CT_AXIAL/IM0001.dcm',
    'ct/SYNTH-001/CT_AXIAL/masks/IM0001.png',
    'ct/SYNTH-002/CT_AXIAL/IM0006.dcm',
    'road/manifest.json',
    'road/annotations.coco.json',
    'road/classification.csv',
    'road/classes.json',
    'road/images/scene_0012.png',
    'road/masks/scene_0012.png',
    'road/instances/scene_0012.png',
  ]) {
    assert.ok(list.includes(f), `${f} written`);
  }
  assert.equal(list.filter((f) => f.endsWith('.dcm')).length, 2 * 6);
  assert.equal(list.filter((f) => f.startsWith('road/images/')).length, 12);
  assert.equal(first.ct.patients.length, 2);
  assert.equal(first.road.images.length, 12);
  const top = JSON.parse(readFileSync(join(tmp.dir, 'a', 'manifest.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(top['kind'], 'fovea-sample-data');
  assert.equal(top['size'], 'tiny');
  assert.equal(top['seed'], 5);
});

test('same seed gives identical bytes; another seed gives other data', async () => {
  await writeSampleData(join(tmp.dir, 'b'), { size: 'tiny', seed: 5 });
  const a = files(join(tmp.dir, 'a'));
  assert.deepEqual(files(join(tmp.dir, 'b')), a);
  for (const f of a) {
    assert.ok(readFileSync(join(tmp.dir, 'a', f)).equals(readFileSync(join(tmp.dir, 'b', f))), `${f} identical`);
  }

  const other = await writeSampleData(join(tmp.dir, 'c'), { size: 'tiny', seed: 6 });
  const dicom = 'ct/SYNTH-001/CT_AXIAL/IM0003.dcm';
  const image = 'road/images/scene_0001.png';
  assert.ok(!readFileSync(join(tmp.dir, 'a', dicom)).equals(readFileSync(join(tmp.dir, 'c', dicom))));
  assert.ok(!readFileSync(join(tmp.dir, 'a', image)).equals(readFileSync(join(tmp.dir, 'c', image))));
  assert.notEqual(other.ct.patients[0]?.studyInstanceUid, first.ct.patients[0]?.studyInstanceUid, 'UIDs follow the seed');
  assert.notDeepEqual(
    other.road.images.map((i) => i.objects.map((o) => o.bbox)),
    first.road.images.map((i) => i.objects.map((o) => o.bbox)),
  );
});

test('regenerating replaces an earlier output; a foreign folder is refused', async () => {
  const dir = join(tmp.dir, 'a');
  writeFileSync(join(dir, 'road', 'images', 'stale.png'), 'x');
  await writeSampleData(dir, { size: 'tiny', seed: 5 });
  assert.ok(!files(dir).includes('road/images/stale.png'), 'stale files from an earlier run are gone');

  const foreign = join(tmp.dir, 'foreign');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'notes.txt'), 'mine');
  await assert.rejects(writeSampleData(foreign, { size: 'tiny' }), /refusing/);
  assert.equal(readFileSync(join(foreign, 'notes.txt'), 'utf8'), 'mine');
});
