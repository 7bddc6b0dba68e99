/**
 * The Export screen's PyTorch training export of a multi-label classification dataset (issue 18),
 * in headless Chromium against the real core. The sample road scenes, made multi-label, carry as
 * image classes the object classes their boxes show (a scene with a car and a pedestrian is both):
 * the export, refused before, now writes them with dataset.json's multiLabel, labels.csv's 0/1
 * columns and a plan that trains sigmoid outputs; the screen reports it like any export.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { SAMPLE_ROAD_DATASET } from '../../electron/core/samples/sample-library';
import { collectSamples } from '../../electron/core/training/training-samples';
import { startBridge } from '../harness/bridge-server';
import { tempSampleCore } from '../helpers/sample-library-cache';
import { launchBrowser, openApp, screenshot } from './browser';

let browser: Browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test('export a multi-label dataset for PyTorch classification from the export screen: multi-hot labels, sigmoid plan', { timeout: 60_000 }, async () => {
  const t = await tempSampleCore('tiny');
  const bridge = await startBridge(t.core);
  try {
    const road = t.core.datasets.findByName(SAMPLE_ROAD_DATASET);
    assert.ok(road);
    t.core.labeling.setMultiLabel(road.id, true);
    // Each scene's image classes: the classes of its boxes.
    const boxes = collectSamples(t.core.db, road.id, 'detection');
    const expected = new Map<number, string[]>();
    for (const s of boxes.samples) {
      if (s.target.task !== 'detection' || s.target.boxes.length === 0) continue;
      const names = [...new Set(s.target.boxes.map((b) => boxes.classNames[b.classIndex] as string))].sort();
      expected.set(s.itemId, names);
      for (const name of names) t.core.annotations.create({ datasetId: road.id, itemId: s.itemId, classId: t.core.annotations.ensureClass(road.id, name), kind: 'class', geometry: null, source: 'human', author: 'test' });
    }
    const several = [...expected.values()].filter((n) => n.length > 1).length;
    assert.ok(several > 0, 'some scenes show objects of two or more classes');

    const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1280, height: 900 } });
    await page.keyboard.press('Alt+7');
    await page.getByTestId('export-dataset').selectOption({ label: `${SAMPLE_ROAD_DATASET} (${road.counts.items} items)` });
    await page.getByTestId('export-format').selectOption('pytorch');
    const task = page.getByTestId('export-training-task');
    await task.waitFor();
    assert.equal(await task.inputValue(), 'classify');
    const outDir = join(t.dir, 'road multi-label');
    await page.getByTestId('export-folder').fill(outDir);
    await page.getByTestId('export-start').click();
    const result = page.getByTestId('export-result');
    await result.waitFor({ timeout: 45_000 });
    const labels = [...expected.values()].reduce((n, names) => n + names.length, 0);
    assert.match((await result.locator('h2').textContent()) ?? '', new RegExp(`^Exported ${labels} annotations on ${expected.size} images as pytorch in `));
    await result.locator('summary').click();
    await screenshot(page, 'export-training-multilabel');

    const manifest = JSON.parse(readFileSync(join(outDir, 'fovea-manifest.json'), 'utf8')) as { files: { path: string }[]; whatLeft: { labels: string } };
    assert.ok(manifest.files.some((f) => f.path === 'labels.csv'), 'labels.csv is written and hashed');
    assert.match(manifest.whatLeft.labels, /multi-label/);
    const dataset = JSON.parse(readFileSync(join(outDir, 'dataset.json'), 'utf8')) as { multiLabel: boolean; classes: string[]; samples: { item: number; labels: number[] }[] };
    assert.equal(dataset.multiLabel, true);
    for (const s of dataset.samples) assert.deepEqual(s.labels.map((k) => dataset.classes[k]).sort(), expected.get(s.item), `item ${s.item}`);
    const plan = JSON.parse(readFileSync(join(outDir, 'plan.json'), 'utf8')) as { multiLabel: boolean; model: { family: string } };
    assert.equal(plan.multiLabel, true);
    assert.match(plan.model.family, /sigmoid per class/);
    await close();
  } finally {
    await bridge.close();
    t.cleanup();
  }
});
