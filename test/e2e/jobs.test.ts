// test-run: serial
/**
 * Jobs you can trust (issue 19 items 1 and 2), in headless Chromium against the real core and the
 * real ML engine:
 * - an import of a path that does not exist finishes on screen (its finished event arrives before
 *   the start request answers), says why, leaves no Cancel and no empty dataset behind;
 * - a training run keeps its screen across navigation (form, Cancel, live progress), and the shell
 *   tells the user when it ends, on whatever screen they are.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { tempCore } from '../helpers/temp-library';
import { screenshot } from './browser';
import { openTraining } from './training-screen';
import { useBrowser, withApp } from './sample-app';

const browser = useBrowser();

test('an import of a path that does not exist finishes, shows why, and leaves no empty dataset', { timeout: 60_000 }, async () => {
  const t = tempCore();
  await withApp(browser(), t, async ({ open }) => {
    const { page, close } = await open({ viewport: { width: 1280, height: 800 } });
    await page.keyboard.press('Alt+2');
    const missing = join(t.dir, 'no-such-folder');
    await page.getByTestId('import-dataset').fill('Typo import');
    await page.getByTestId('import-paths-input').fill(missing);
    await page.getByRole('button', { name: 'Add' }).click();
    await page.getByTestId('import-start').click();
    const report = page.getByTestId('import-report');
    await report.waitFor({ timeout: 15_000 });
    assert.match((await report.textContent()) ?? '', /no-such-folder/);
    assert.match((await report.textContent()) ?? '', /not found|does not exist|no such/i);
    assert.match((await page.getByTestId('import-nothing').textContent()) ?? '', /Nothing was imported/);
    // Finished: no endless Cancel, Import can be pressed again.
    assert.equal(await page.getByTestId('import-cancel').count(), 0);
    assert.equal(await page.getByTestId('import-start').isDisabled(), false);
    await screenshot(page, 'import-missing-path');
    // No empty dataset was left behind, in the library or on screen.
    assert.equal(t.core.datasets.findByName('Typo import'), null);
    await page.keyboard.press('Alt+1');
    await page.getByTestId('empty-library').waitFor();
    await close();
  });
});

async function shadesDataset(core: ReturnType<typeof tempCore>['core'], dir: string): Promise<number> {
  const imgs = join(dir, 'imgs');
  mkdirSync(imgs, { recursive: true });
  const rows = ['filename,label'];
  for (let i = 0; i < 48; i++) {
    const k = i % 2;
    const px = Buffer.alloc(16 * 16, k === 0 ? 50 + (i % 7) * 3 : 200 - (i % 5) * 3);
    const name = `img_${String(i).padStart(3, '0')}.png`;
    writeFileSync(join(imgs, name), await sharp(px, { raw: { width: 16, height: 16, channels: 1 } }).png().toBuffer());
    rows.push(`${name},${k === 0 ? 'dark' : 'bright'}`);
  }
  const csv = join(dir, 'labels.csv');
  writeFileSync(csv, `${rows.join('\n')}\n`);
  const ds = core.datasets.create('Shades', '');
  await core.importFiles({ datasetId: ds.id, paths: [imgs] });
  await core.importLabels(ds.id, csv, 'csv', 'test');
  return ds.id;
}

test('the training screen keeps a running run across navigation, and the shell says when it ends', { timeout: 240_000 }, async () => {
  const t = tempCore();
  const datasetId = await shadesDataset(t.core, t.dir);
  const other = t.core.datasets.create('Another dataset', '');
  await withApp(browser(), t, async ({ open }) => {
    const { page, close } = await open({ viewport: { width: 1400, height: 1000 } });
    await openTraining(page, datasetId, 'classification');
    // Many epochs at a small size: the run is still going while we look away.
    await page.getByTestId('train-epochs').fill('200');
    await page.getByTestId('train-size').fill('16');
    // These two shades are learnt in a few epochs: without early stopping off, the run could end before the cancel.
    await page.getByTestId('train-patience').fill('0');
    await page.getByTestId('train-backend').selectOption('wasm');
    await page.getByTestId('train-start').click();
    await page.getByTestId('train-live').waitFor({ timeout: 120_000 });

    // Away and back: the screen is rebuilt from the running job.
    await page.keyboard.press('Alt+1');
    await page.getByTestId('dataset-list').waitFor();
    await page.getByTestId('job-running').filter({ hasText: 'Training running' }).waitFor();
    await page.keyboard.press('Alt+3');
    await page.getByTestId('train-cancel').waitFor({ timeout: 10_000 });
    assert.equal(await page.getByTestId('train-start').isDisabled(), true);
    assert.equal(await page.getByTestId('train-dataset').inputValue(), String(datasetId));
    assert.notEqual(await page.getByTestId('train-dataset').inputValue(), String(other.id));
    assert.equal(await page.getByTestId('train-epochs').inputValue(), '200');
    await page.getByTestId('train-live').waitFor({ timeout: 30_000 });
    assert.match((await page.getByTestId('train-live').textContent()) ?? '', /epoch \d+\/200/);
    await screenshot(page, 'training-after-navigation');

    // Cancel, and look elsewhere: the shell says the run ended.
    await page.getByTestId('train-cancel').click();
    await page.keyboard.press('Alt+1');
    const notice = page.getByTestId('job-notice').filter({ hasText: 'Training' });
    await notice.waitFor({ timeout: 60_000 });
    assert.equal(await notice.getAttribute('data-outcome'), 'cancelled');
    assert.equal(await page.getByTestId('job-running').count(), 0);
    await screenshot(page, 'training-ended-notice');
    await page.keyboard.press('Alt+3');
    await page.getByTestId('train-start').waitFor();
    assert.equal(await page.getByTestId('train-cancel').count(), 0);
    const runs = t.core.runs.list(datasetId);
    assert.equal(runs.length, 1);
    assert.equal(runs[0]?.config.earlyStoppingPatience, 0, 'the patience field reached the run');
    await close();
  });
});
