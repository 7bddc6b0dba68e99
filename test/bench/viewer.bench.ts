/**
 * Viewer and browser in headless Chromium against the real core (through the
 * loopback bridge): time from opening a 512x512 CT slice to its first
 * rendered frame (cold, then once loaded), sustained stack-scroll rate
 * through a series, and grid scrolling over 100,000 items built with direct
 * SQL inserts (as store.bench.ts does).
 */
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startBridge } from '../harness/bridge-server';
import { launchBrowser } from '../e2e/browser';
import { SHARED_TESTDATA } from '../helpers/paths';
import { tempCore } from '../helpers/temp-library';
import { report, summarize } from './bench-util';

const CT = join(SHARED_TESTDATA, 'dicom', 'dicomParser', 'CT1_UNC.explicit_little_endian.dcm');

/** Press Enter in the grid; resolve with ms until the viewport reports its first render. */
function openAndTime(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        const grid = document.querySelector('[data-testid="browse-grid"]') as HTMLElement;
        const t0 = performance.now();
        const obs = new MutationObserver(() => {
          const v = document.querySelector('[data-testid="viewport"]');
          if (v && Number(v.getAttribute('data-render-count')) > 0) {
            obs.disconnect();
            resolve(performance.now() - t0);
          }
        });
        obs.observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-render-count'] });
        grid.focus();
        grid.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
      }),
  );
}

export async function runViewerBench(items = 100_000, slices = 60): Promise<void> {
  const t = tempCore();
  const core = t.core;
  const browser = await launchBrowser();
  try {
    const series = core.datasets.create('Series', '');
    await core.importFiles({ datasetId: series.id, paths: [CT] });
    const ct = core.db.prepare('SELECT blob_sha256 AS blob, thumb_sha256 AS thumb, series_id AS seriesId FROM items WHERE dataset_id = ?').get(series.id) as { blob: string; thumb: string; seriesId: number };
    const big = core.datasets.create('Big', '');
    const insert = core.db.prepare(
      `INSERT INTO items (dataset_id, kind, blob_sha256, source_sha256, thumb_sha256, series_id, source_name, modality, rows, columns, instance_number, status, imported_at)
       VALUES (?, 'dicom', ?, ?, ?, ?, ?, 'CT', 512, 512, ?, 'unlabeled', 'x')`,
    );
    core.db.transaction(() => {
      // More slices in the CT's series (same pixels, distinct instances), and the big dataset.
      for (let i = 1; i < slices; i++) insert.run(series.id, ct.blob, `s${i}`.padStart(64, '0'), ct.thumb, ct.seriesId, `slice_${i}.dcm`, i + 1000);
      for (let i = 0; i < items; i++) insert.run(big.id, ct.blob, i.toString(16).padStart(64, '0'), ct.thumb, null, `scan_${String(i).padStart(6, '0')}.dcm`, null);
    })();
    const bridge = await startBridge(core);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(bridge.url);
    await page.keyboard.press('Alt+4');
    await page.getByTestId('browse-dataset').selectOption({ label: `Series (${slices})` });
    await page.getByTestId('browse-total').filter({ hasText: `${slices} items` }).waitFor();
    await page.locator('.cell[data-index="0"][data-item-id]:not([data-item-id=""])').waitFor();

    // Selecting an image to its first rendered frame.
    const cold = await openAndTime(page);
    report({ bench: 'viewer', metric: 'open 512x512 CT slice to first frame (cold: decode + transfer)', value: cold, unit: 'ms' });
    const warm: number[] = [];
    for (let i = 0; i < 10; i++) {
      await page.keyboard.press('Escape');
      await page.getByTestId('browse-grid').waitFor();
      warm.push(await openAndTime(page));
    }
    report({ bench: 'viewer', metric: 'open 512x512 CT slice to first frame, once loaded (p50)', value: summarize(warm).p50, unit: 'ms', goal: '< 50 ms' });

    // Stack scrolling: load the series, then step through it as fast as frames render.
    await page.keyboard.press('End');
    for (let i = 0; i < slices; i++) await page.keyboard.press('ArrowUp');
    await page.waitForTimeout(500);
    const fps = await page.evaluate(async ([steps, span]) => {
      const v = document.querySelector('[data-testid="viewport"]') as HTMLElement;
      // No named inner functions: the bundler would wrap them in a helper the page lacks.
      const t0 = performance.now();
      for (let s = 0; s < steps; s++) {
        const before = v.getAttribute('data-render-count');
        // Down to the last slice and back up: every step changes the slice.
        window.dispatchEvent(new KeyboardEvent('keydown', { key: s % (2 * span) < span ? 'ArrowDown' : 'ArrowUp' }));
        while (v.getAttribute('data-render-count') === before) await new Promise((r) => requestAnimationFrame(r));
      }
      return (steps / (performance.now() - t0)) * 1000;
    }, [240, slices - 1] as const);
    report({ bench: 'viewer', metric: `stack scroll through ${slices} cached 512x512 slices`, value: fps, unit: 'fps', goal: '60 fps' });

    // Grid scrolling over 100,000 items.
    await page.keyboard.press('Escape');
    await page.getByTestId('browse-dataset').selectOption({ label: `Big (${items})` });
    await page.getByTestId('browse-total').filter({ hasText: `${items.toLocaleString('en-US')} items` }).waitFor();
    const grid = await page.evaluate(async () => {
      const el = document.querySelector('[data-testid="browse-grid"]') as HTMLElement;
      const frames: number[] = [];
      let last = performance.now();
      for (let f = 0; f < 300; f++) {
        el.scrollTop += 400;
        await new Promise((r) => requestAnimationFrame(r));
        const now = performance.now();
        frames.push(now - last);
        last = now;
      }
      frames.sort((a, b) => a - b);
      return { p50: frames[150] ?? 0, p99: frames[297] ?? 0, cells: document.querySelectorAll('.cell').length };
    });
    report({ bench: 'viewer', metric: `grid scroll over ${items} items, frame time p50`, value: grid.p50, unit: 'ms', goal: '< 16.7 ms' });
    report({ bench: 'viewer', metric: `grid scroll over ${items} items, frame time p99`, value: grid.p99, unit: 'ms' });
    report({ bench: 'viewer', metric: 'grid cells in the DOM while scrolling', value: grid.cells, unit: 'cells' });
    await page.close();
    await bridge.close();
  } finally {
    await browser.close();
    t.cleanup();
  }
}
