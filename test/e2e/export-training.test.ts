/**
 * The Export screen's PyTorch training export (issue 18) in headless Chromium against the real
 * core: the sample road scenes are exported for detection into a typed folder; the screen shows the
 * result, and the folder holds what train.py needs (train.py, README, plan.json, dataset.json,
 * classes.txt, one COCO file per split, the images), every file hashed in the manifest, the split
 * the one the library holds. A dataset without labels is refused with a clear message and nothing
 * is written. With a finished run chosen, the export takes that run's settings and exact split.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SAMPLE_CT_DATASET, SAMPLE_ROAD_DATASET } from '../../electron/core/samples/sample-library';
import { tempSampleCore } from '../helpers/sample-library-cache';
import { screenshot } from './browser';
import { useBrowser, withApp } from './sample-app';

const browser = useBrowser();

test('export the sample road scenes for PyTorch detection from the export screen: train.py, plan, splits and COCO boxes on disk', { timeout: 60_000 }, async () => {
  const t = await tempSampleCore('tiny');
  const empty = t.core.datasets.create('Nothing labelled', '');
  await withApp(browser(), t, async ({ open }) => {
    const road = t.core.datasets.findByName(SAMPLE_ROAD_DATASET);
    assert.ok(road);
    const { page, close } = await open({ viewport: { width: 1280, height: 900 } });
    await page.keyboard.press('Alt+7');
    await page.getByTestId('export-dataset').selectOption({ label: `${SAMPLE_ROAD_DATASET} (${road.counts.items} items)` });
    await page.getByTestId('export-format').selectOption('pytorch');
    const task = page.getByTestId('export-training-task');
    await task.waitFor();
    assert.deepEqual(await task.locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value)), ['classify', 'detect', 'segment']);
    // Keyboard: from "classify" to "detect" with the arrow key.
    await task.focus();
    await page.keyboard.press('ArrowDown');
    assert.equal(await task.inputValue(), 'detect');
    assert.equal(await page.getByTestId('export-split').isDisabled(), true, 'the training export takes the whole split');
    const outDir = join(t.dir, 'road pytorch');
    await page.getByTestId('export-folder').fill(outDir);
    await screenshot(page, 'export-training-options');
    await page.getByTestId('export-start').click();
    const result = page.getByTestId('export-result');
    await result.waitFor({ timeout: 45_000 });
    assert.match((await result.locator('h2').textContent()) ?? '', /Exported \d+ annotations on 12 images as pytorch/);
    await result.locator('summary').click();
    await screenshot(page, 'export-training-result');

    const manifestPath = (await page.getByTestId('export-manifest').textContent()) ?? '';
    assert.equal(manifestPath, join(outDir, 'fovea-manifest.json'));
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { kind: string; task: string; files: { path: string; sha256: string }[]; whatLeft: { images: number; splits: Record<string, number> } };
    assert.equal(manifest.kind, 'training');
    assert.equal(manifest.task, 'detection');
    const paths = manifest.files.map((f) => f.path);
    for (const f of ['train.py', 'README.md', 'plan.json', 'dataset.json', 'classes.txt', 'annotations/train.json', 'annotations/val.json', 'annotations/test.json']) assert.ok(paths.includes(f), f);
    for (const f of manifest.files) assert.equal(createHash('sha256').update(readFileSync(join(outDir, f.path))).digest('hex'), f.sha256, f.path);
    assert.equal(paths.filter((p) => p.startsWith('images/')).length, 12);
    assert.equal(manifest.whatLeft.images, 12);

    const plan = JSON.parse(readFileSync(join(outDir, 'plan.json'), 'utf8')) as { task: string; model: { factory: string } };
    assert.equal(plan.task, 'detection');
    assert.match(plan.model.factory, /detector\.ts/);
    assert.deepEqual(readFileSync(join(outDir, 'classes.txt'), 'utf8').trim().split('\n'), ['car', 'pedestrian', 'sign']);
    // The split on disk is the library's, item by item; every box of an image is in its split's COCO file.
    const dataset = JSON.parse(readFileSync(join(outDir, 'dataset.json'), 'utf8')) as { samples: { id: number; item: number; split: 'train' | 'val' | 'test' }[] };
    const splitOf = t.core.splits.splitMap(road.id);
    let boxes = 0;
    for (const split of ['train', 'val', 'test'] as const) {
      const coco = JSON.parse(readFileSync(join(outDir, 'annotations', `${split}.json`), 'utf8')) as { images: { id: number }[]; annotations: { image_id: number }[] };
      const mine = dataset.samples.filter((s) => s.split === split);
      assert.deepEqual(coco.images.map((i) => i.id).sort(), mine.map((s) => s.id).sort(), split);
      for (const s of mine) assert.equal(splitOf.get(s.item), split, `item ${s.item}`);
      boxes += coco.annotations.length;
    }
    assert.equal(manifest.whatLeft.splits['test'] !== undefined && manifest.whatLeft.splits['test'] > 0, true, 'the split has test images');
    assert.equal(boxes, 29, 'the sample road scenes hold 29 boxes');

    // A dataset with no labels: a clear refusal on the screen, no folder made.
    await page.getByTestId('export-dataset').selectOption({ label: `${empty.name} (0 items)` });
    const refusedDir = join(t.dir, 'nothing');
    await page.getByTestId('export-folder').fill(refusedDir);
    await page.getByTestId('export-start').click();
    const error = page.getByTestId('export-error');
    await error.waitFor({ timeout: 10_000 });
    assert.match((await error.textContent()) ?? '', /has no detection labels/);
    assert.equal(existsSync(refusedDir), false);
    await screenshot(page, 'export-training-refused');
    await close();
  });
});

test("a training export takes a finished run's settings and exact split when the screen says so", { timeout: 120_000 }, async () => {
  const t = await tempSampleCore('demo');
  const ct = t.core.datasets.findByName(SAMPLE_CT_DATASET);
  assert.ok(ct);
  // A person's split for the last patient, as the other training tests make.
  const last = (t.core.db.prepare('SELECT id FROM items WHERE dataset_id = ? ORDER BY series_id, id').all(ct.id) as { id: number }[]).at(-1);
  assert.ok(last);
  t.core.splits.setSplit(ct.id, [last.id], 'test');
  // The run, trained through the core (the same door the Training screen's request uses).
  const run = await t.core.training.train(ct.id, 'classification', { epochs: 1, inputSize: 16, batchSize: 8, backend: 'wasm', name: 'ct small' });
  assert.equal(run.outcome.status, 'done', JSON.stringify(run.outcome));
  // The library's split moves on after the run: the export must follow the run's split, not this one.
  const snapshot = t.core.runs.snapshot(run.runId) as { itemSplits: [number, 'train' | 'val' | 'test'][] };
  const runSplit = new Map(snapshot.itemSplits);
  const moved = snapshot.itemSplits.find(([, s]) => s === 'train')?.[0];
  assert.ok(moved !== undefined);
  t.core.splits.setSplit(ct.id, [moved], 'val');
  await withApp(browser(), t, async ({ open }) => {
    const { page, close } = await open({ viewport: { width: 1280, height: 900 } });
    await page.keyboard.press('Alt+7');
    await page.getByTestId('export-dataset').selectOption({ label: `${SAMPLE_CT_DATASET} (${ct.counts.items} items)` });
    await page.getByTestId('export-format').selectOption('pytorch');
    const choice = page.getByTestId('export-training-run');
    // Classification is the default task: the classification run is offered; detection has none.
    await choice.locator(`option[value="${run.runId}"]`).filter({ hasText: `ct small #${run.runId}` }).waitFor({ state: 'attached' });
    await page.getByTestId('export-training-task').selectOption('detect');
    await choice.locator(`option[value="${run.runId}"]`).waitFor({ state: 'detached' });
    await page.getByTestId('export-training-task').selectOption('classify');
    await choice.selectOption(String(run.runId));
    const outDir = join(t.dir, 'ct from run');
    await page.getByTestId('export-folder').fill(outDir);
    await screenshot(page, 'export-training-from-run');
    await page.getByTestId('export-start').click();
    await page.getByTestId('export-result').or(page.getByTestId('export-error')).waitFor({ timeout: 45_000 });
    if ((await page.getByTestId('export-error').count()) > 0) assert.fail((await page.getByTestId('export-error').textContent()) ?? 'export error');
    const manifest = JSON.parse(readFileSync(join(outDir, 'fovea-manifest.json'), 'utf8')) as { splitFrom: unknown };
    assert.deepEqual(manifest.splitFrom, { run: run.runId });
    const plan = JSON.parse(readFileSync(join(outDir, 'plan.json'), 'utf8')) as { source: string; inputSize?: number; input?: { size?: number } };
    assert.match(plan.source, new RegExp(`run ${run.runId} \\(its settings and its split\\)`));
    const dataset = JSON.parse(readFileSync(join(outDir, 'dataset.json'), 'utf8')) as { samples: { item: number; split: string }[] };
    assert.ok(dataset.samples.length > 0);
    for (const s of dataset.samples) assert.equal(s.split, runSplit.get(s.item), `item ${s.item}`);
    assert.equal(dataset.samples.find((s) => s.item === moved)?.split, 'train', "the run's split, not the library's new one");
    await close();
  });
});
