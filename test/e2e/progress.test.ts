// test-run: serial
/**
 * Progress you can watch (issue 19 item 10) and the jobs panel, in headless Chromium against the
 * real core and the real ML engine:
 * - Alt+4 lands on the Browse grid with the keyboard focus, from another screen and from a field
 *   of Browse itself: the arrows move the selection at once;
 * - the sample library's bar moves with the work, phase by phase, only forward, never standing
 *   still for long;
 * - a training run says what it does from the moment Start is pressed (loading the backend,
 *   building the model, decoding the first batch, the first batch) before its first batch;
 * - an evaluation reports per image (not "batch 0" until the end);
 * - the jobs panel lists running and finished jobs (kind, dataset, progress, duration, result or
 *   error, a way to the result), and a notice pops up when a job ends on another screen.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { tempCore } from '../helpers/temp-library';
import { screenshot } from './browser';
import { useBrowser, withApp } from './sample-app';

const browser = useBrowser();

/** A two-class dataset of flat grey images (dark / bright), labelled from a CSV. */
async function shadesDataset(core: ReturnType<typeof tempCore>['core'], dir: string, n: number, size: number): Promise<number> {
  const imgs = join(dir, 'imgs');
  mkdirSync(imgs, { recursive: true });
  const rows = ['filename,label'];
  for (let i = 0; i < n; i++) {
    const k = i % 2;
    // One grey level per image: no two files alike (a duplicate is not imported twice).
    const px = Buffer.alloc(size * size, k === 0 ? 20 + i : 140 + i);
    const name = `img_${String(i).padStart(3, '0')}.png`;
    writeFileSync(join(imgs, name), await sharp(px, { raw: { width: size, height: size, channels: 1 } }).png().toBuffer());
    rows.push(`${name},${k === 0 ? 'dark' : 'bright'}`);
  }
  const csv = join(dir, 'labels.csv');
  writeFileSync(csv, `${rows.join('\n')}\n`);
  const ds = core.datasets.create('Shades', '');
  await core.importFiles({ datasetId: ds.id, paths: [imgs] });
  await core.importLabels(ds.id, csv, 'csv', 'test');
  return ds.id;
}

/**
 * Record every text (and the aria-valuenow of a progress bar inside) that an element shows, with the
 * time. Plain JavaScript: tsx would add helpers to a compiled function that the page does not have.
 */
async function recordTexts(page: Page, testId: string): Promise<void> {
  await page.evaluate(`(() => {
    const id = ${JSON.stringify(testId)};
    window.__seen = window.__seen || {};
    const seen = (window.__seen[id] = []);
    const look = () => {
      const el = document.querySelector('[data-testid="' + id + '"]');
      if (!el) return;
      const bar = el.querySelector('[role="progressbar"]');
      const text = (el.textContent || '').replace(/\\s+/g, ' ').trim();
      const value = bar ? Number(bar.getAttribute('aria-valuenow')) : null;
      const last = seen[seen.length - 1];
      if (!last || last.text !== text || last.value !== value) seen.push({ t: performance.now(), text, value });
    };
    new MutationObserver(look).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['aria-valuenow'] });
    look();
  })()`);
}

async function seenTexts(page: Page, testId: string): Promise<{ t: number; text: string; value: number | null }[]> {
  return page.evaluate((id) => (window as unknown as { __seen: Record<string, { t: number; text: string; value: number | null }[]> }).__seen[id] ?? [], testId);
}

test('Alt+4 gives the Browse grid the keyboard focus, from another screen and from a field of Browse', { timeout: 60_000 }, async () => {
  const t = tempCore();
  await shadesDataset(t.core, t.dir, 12, 16);
  await withApp(browser(), t, async ({ open }) => {
    const { page, close } = await open({ viewport: { width: 1280, height: 800 } });
    await page.getByTestId('dataset-list').waitFor();
    const selected = (): Promise<string | null> => page.locator('[data-testid="browse-grid"] [aria-selected="true"]').getAttribute('data-index');

    await page.keyboard.press('Alt+4');
    await page.locator('[data-testid="browse-grid"] [data-index="0"][aria-selected="true"]').waitFor();
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'browse-grid');
    await page.keyboard.press('ArrowRight');
    assert.equal(await selected(), '1');

    // In a field of Browse (the search box), Alt+4 brings the keys back to the grid.
    await page.getByTestId('filter-search').click();
    await page.keyboard.press('Alt+4');
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'browse-grid', null, { timeout: 5_000 });
    await page.keyboard.press('ArrowRight');
    assert.equal(await selected(), '2');

    // Away by mouse and back by key.
    await page.getByRole('button', { name: /^Training/ }).click();
    await page.keyboard.press('Alt+4');
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'browse-grid');
    await page.keyboard.press('ArrowRight');
    assert.equal(await selected(), '3');
    await screenshot(page, 'progress-browse-focus');
    await close();
  });
});

test('the sample library bar moves with the work, phase by phase, only forward and never still for long', { timeout: 300_000 }, async () => {
  const t = tempCore();
  // What the core sends, with the time it was sent.
  const events: { t: number; phase: string; fraction: number }[] = [];
  const off = t.core.events.on('samples.progress', (e) => events.push({ t: performance.now(), phase: e.phase, fraction: e.fraction }));
  await withApp(browser(), t, async ({ open }) => {
    const { page, close } = await open({ viewport: { width: 1280, height: 800 } });
    await page.getByTestId('open-sample').waitFor();
    await recordTexts(page, 'sample-progress');
    const started = performance.now();
    await page.getByTestId('open-sample').click();
    await page.getByTestId('sample-progress').waitFor();
    await page.getByTestId('sample-progress').filter({ hasText: /Importing the CT series/ }).waitFor({ timeout: 120_000 });
    await screenshot(page, 'progress-sample-library');
    await page.getByTestId('sample-progress').waitFor({ state: 'detached', timeout: 240_000 });
    const ended = performance.now();
    await page.getByTestId('dataset-list').filter({ hasText: 'Sample road scenes' }).waitFor();

    // The core: fractions only go forward, through every phase, with no long silence.
    assert.ok(events.length > 20, `only ${events.length} progress events`);
    for (let i = 1; i < events.length; i++) assert.ok((events[i]?.fraction ?? 0) >= (events[i - 1]?.fraction ?? 0), `fraction went back at event ${i}`);
    const phases = [...new Set(events.map((e) => e.phase))];
    assert.deepEqual(phases, ['Generating synthetic CT studies', 'Generating road scenes', 'Importing the CT series', 'Reading the CT lesion masks', 'Importing the road scenes', 'Reading the road boxes']);
    const times = [started, ...events.map((e) => e.t), ended];
    const gaps = times.slice(1).map((x, i) => x - (times[i] as number));
    const maxGap = Math.max(...gaps);
    console.log(`sample library: ${((ended - started) / 1000).toFixed(1)} s, ${events.length} progress events, longest gap ${(maxGap / 1000).toFixed(2)} s`);
    // Running from source, the import's worker pool compiles its TypeScript first (a few seconds on a busy machine).
    assert.ok(maxGap < 10_000, `the progress stood still for ${(maxGap / 1000).toFixed(1)} s`);

    // The page: the bar's value only goes forward, and it moved all along (not near 0 most of the time).
    const seen = (await seenTexts(page, 'sample-progress')).filter((s) => s.value !== null);
    const values = seen.map((s) => s.value as number);
    for (let i = 1; i < values.length; i++) assert.ok((values[i] as number) >= (values[i - 1] as number), `the bar went back: ${values.join(',')}`);
    assert.ok(new Set(values).size >= 20, `the bar took only ${new Set(values).size} values`);
    const half = seen.find((s) => (s.value as number) >= 50);
    assert.ok(half, 'the bar never reached 50%');
    assert.ok(half.t - (seen[0]?.t ?? 0) < 0.8 * (ended - started), 'the bar stayed low for most of the time');
    assert.ok(seen.some((s) => /Generating road scenes… \d+%/.test(s.text)), 'the phase label is shown');
    await close();
  }).finally(off);
});

test('training speaks from Start; the jobs panel and a notice follow it; evaluation reports per image', { timeout: 420_000 }, async () => {
  const t = tempCore();
  const datasetId = await shadesDataset(t.core, t.dir, 96, 32);
  await withApp(browser(), t, async ({ open }) => {
    const { page, close } = await open({ viewport: { width: 1400, height: 1000 } });
    await page.getByTestId('dataset-list').waitFor();

    // --- An import of a folder that is not there lands in the panel, saying why nothing came in.
    await page.keyboard.press('Alt+2');
    await page.getByTestId('import-dataset').fill('Typo import');
    await page.getByTestId('import-paths-input').fill(join(t.dir, 'no-such-folder'));
    await page.getByRole('button', { name: 'Add' }).click();
    await page.getByTestId('import-start').click();
    await page.getByTestId('import-report').waitFor({ timeout: 15_000 });
    // It ended on its own screen: no notice.
    assert.equal(await page.getByTestId('job-notice').count(), 0);

    // --- Training: the phases show from Start, before the first batch.
    await page.keyboard.press('Alt+3');
    await page.getByTestId('train-dataset').selectOption(String(datasetId));
    await page.getByTestId('train-task').selectOption('classification');
    await page.getByTestId('train-plan').waitFor({ timeout: 30_000 });
    await page.getByTestId('train-epochs').fill('3');
    await page.getByTestId('train-size').fill('32');
    // A named run: the notice and the jobs panel call it by its name, not "run N".
    await page.getByTestId('train-name').fill('Shades baseline');
    await page.getByTestId('train-backend').selectOption('wasm');
    await recordTexts(page, 'train-phase');
    const start = performance.now();
    await page.getByTestId('train-start').click();
    await page.getByTestId('train-phase').waitFor({ timeout: 2_000 });
    const firstWords = performance.now() - start;
    await page.getByTestId('train-phase').filter({ hasText: /Loading the wasm backend/ }).waitFor({ timeout: 5_000 });
    await screenshot(page, 'progress-training-phase');
    await page.getByTestId('train-live').waitFor({ timeout: 120_000 });
    const phases = (await seenTexts(page, 'train-phase')).map((s) => s.text).filter(Boolean);
    console.log(`training: first words ${firstWords.toFixed(0)} ms after Start; phases: ${phases.join(' | ')}`);
    for (const want of [/Loading the wasm backend/, /Building the model/, /Preparing data: decoding \d+\/\d+ images/, /First epoch: training the first batch/]) {
      assert.ok(phases.some((p) => want.test(p)), `no ${want} in: ${phases.join(' | ')}`);
    }

    // --- Away from Training: the panel shows the run going, then a notice says it ended.
    await page.keyboard.press('Alt+1');
    await page.getByTestId('jobs-open').click();
    const panel = page.getByTestId('jobs-panel');
    await panel.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'jobs-panel');
    const failedImport = panel.getByTestId('jobs-panel-finished').filter({ hasText: 'Import' });
    assert.match((await failedImport.getByTestId('jobs-panel-result').textContent()) ?? '', /0 files imported; .*no-such-folder: .*(not found|does not exist|no such)/i);
    const notice = page.getByTestId('job-notice').filter({ hasText: 'Training' });
    const running = panel.getByTestId('jobs-panel-running').filter({ hasText: 'Training' });
    if (await running.count()) {
      assert.match((await running.textContent()) ?? '', /Shades/);
      await screenshot(page, 'progress-jobs-panel-running');
    }
    await notice.waitFor({ timeout: 120_000 });
    assert.equal(await notice.getAttribute('data-outcome'), 'done');
    assert.match((await notice.textContent()) ?? '', /Training of Shades baseline finished/);
    const trained = panel.getByTestId('jobs-panel-finished').filter({ hasText: 'Training' });
    await trained.waitFor();
    const run = t.core.runs.list(datasetId)[0];
    assert.ok(run);
    const row = (await trained.textContent()) ?? '';
    assert.match(row, /Shades/);
    assert.equal(run.name, 'Shades baseline');
    assert.match(row, /Shades baseline: done, 3 epochs/);
    assert.doesNotMatch(row, new RegExp(`run ${run.id}`));
    assert.match(row, /\d+ s/);
    await screenshot(page, 'progress-jobs-panel');
    // Escape closes the panel; the notice leads to the result.
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
    await notice.getByTestId('job-notice-show').click();
    await page.getByTestId('train-start').waitFor();
    assert.equal(await page.getByTestId('job-notice').count(), 0);

    // --- Evaluation reports per image, in phases, from the core to the screen.
    const evalEvents: { done: number; total: number; phase: string }[] = [];
    const off = t.core.events.on('evaluation.progress', (e) => evalEvents.push({ done: e.done, total: e.total, phase: e.phase }));
    await page.keyboard.press('Alt+5');
    await page.getByTestId('eval-run-select').waitFor();
    await page.getByTestId('eval-none').waitFor();
    // Every labelled image (the test split of so small a set may be one batch).
    await page.getByTestId('eval-split').selectOption('all');
    await page.getByTestId('eval-none').filter({ hasText: 'all split' }).waitFor();
    await recordTexts(page, 'eval-progress');
    await page.getByTestId('eval-start').click();
    await page.getByTestId('eval-headline').waitFor({ timeout: 120_000 });
    off();
    // In images (not in batches: 'batch 0 of 1' until the end was the bug).
    const images = evalEvents[0]?.total ?? 0;
    assert.equal(images, 96);
    assert.ok(evalEvents.length >= 3, `only ${evalEvents.length} evaluation progress events`);
    assert.equal(evalEvents[0]?.phase, 'Loading the model');
    assert.ok(evalEvents.every((e) => e.total === images), `totals: ${evalEvents.map((e) => e.total).join(',')}`);
    const predicting = evalEvents.filter((e) => e.phase === 'Predicting');
    assert.ok(predicting.some((e) => e.done > 0 && e.done < images), `no progress between the start and the end: ${evalEvents.map((e) => `${e.phase} ${e.done}`).join(', ')}`);
    for (let i = 1; i < evalEvents.length; i++) assert.ok((evalEvents[i]?.done ?? 0) >= (evalEvents[i - 1]?.done ?? 0));
    const shown = (await seenTexts(page, 'eval-progress')).map((s) => s.text).filter(Boolean);
    assert.ok(shown.some((s) => new RegExp(`(Loading the model|Predicting): image \\d+ of ${images}`).test(s)), `the screen showed: ${shown.join(' | ')}`);
    assert.ok(!shown.some((s) => /batch 0/.test(s)));
    await close();
  });
});
