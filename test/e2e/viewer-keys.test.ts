/**
 * Issue 19 items 5, 6 and 7 and the viewer pieces radiologists look for, in headless Chromium
 * against the REAL core:
 *  - Settings' key fields take every key (Alt+9 does not switch screens) and refuse a key the
 *    viewer or a screen already uses, saying why (one registry: lib/hotkey-registry.ts);
 *  - Escape with a drawing tool leaves the tool, not the viewer; closing and reopening an item
 *    comes back to the same slice and window;
 *  - the HU probe follows the slice when the wheel scrolls (never the previous slice's value);
 *  - a scale bar from the pixel spacing, smooth display with a toggle, a brush-size circle,
 *    mask opacity, hide-all, and overlay text on a dark plate;
 *  - closing the viewer releases the undo histories (issue 16 item 8).
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { Core } from '../../electron/core/composition-root';
import { writeSyntheticCtStudies } from '../../electron/core/samples/synthetic-ct';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { tempCore, tempDir } from '../helpers/temp-library';
import { andRender, launchBrowser, openApp, screenshot } from './browser';

const CT_SIZE = 64;
const ANNOTATOR = 'Dr Keys';

let browser: Browser;
let bridge: Bridge;
let core: Core;
let cleanup: () => void;
let data: { dir: string; cleanup(): void };
let slices: number[];

before(async () => {
  const t = tempCore();
  core = t.core;
  cleanup = t.cleanup;
  data = tempDir('fovea-viewer-keys-e2e-');
  await writeSyntheticCtStudies(join(data.dir, 'ct'), { patients: 1, slicesPerSeries: 5, size: CT_SIZE, seed: 5 });
  const c = core.datasets.create('CT keys', '');
  const seriesDir = join(data.dir, 'ct', 'SYNTH-001', 'CT_AXIAL');
  await core.importFiles({ datasetId: c.id, paths: readdirSync(seriesDir).filter((f) => f.endsWith('.dcm')).map((f) => join(seriesDir, f)) });
  const stack = core.pixels.series(seriesOf(c.id));
  slices = stack.entries.map((e) => e.itemId);
  core.annotations.ensureClass(c.id, 'lesion');
  const set = await core.dispatch('settings.set', { annotatorName: ANNOTATOR });
  assert.equal(set.ok, true);
  assert.equal(slices.length, 5);
  bridge = await startBridge(core);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await bridge?.close();
  cleanup?.();
  data?.cleanup();
});

function seriesOf(datasetId: number): number {
  const r = core.db.prepare('SELECT id FROM series WHERE dataset_id = ?').get(datasetId) as { id: number } | undefined;
  assert.ok(r, 'the CT series');
  return r.id;
}

async function openFirst(page: Page): Promise<void> {
  await page.keyboard.press('Alt+4');
  await page.getByTestId('browse-grid').waitFor();
  await page.getByTestId('browse-dataset').selectOption({ label: 'CT keys (5)' });
  await page.getByTestId('sort').selectOption('instance');
  await page.locator(`.cell[data-index="0"][data-item-id="${slices[0]}"]`).waitFor();
  await page.locator('.cell[data-index="0"]').dblclick();
  await page.getByTestId('annotation-panel').waitFor();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="viewport"]')?.getAttribute('data-render-count')) > 0);
}

async function position(page: Page): Promise<string> {
  return ((await page.getByTestId('overlay-index').textContent()) ?? '').trim();
}

test('Settings key fields take Alt+9 and R as keys, refuse both with a reason, and save a free key', async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1400, height: 900 } });
  await page.keyboard.press('Alt+6');
  await page.getByTestId('settings-screen').waitFor();
  const field = page.getByTestId('hotkey-tool.box');
  await field.focus();
  await page.keyboard.press('Alt+9');
  // Still on Settings: the key went to the field, not to the screen switch.
  await page.getByTestId('hotkey-refused').waitFor();
  assert.equal(await page.getByTestId('settings-screen').isVisible(), true);
  assert.match((await page.getByTestId('hotkey-refused').textContent()) ?? '', /Alt\+9 opens the System screen/);
  await page.keyboard.press('r');
  await page.getByTestId('hotkey-refused').filter({ hasText: 'File window' }).waitFor();
  await screenshot(page, 'viewer-keys-settings-refused');
  assert.equal(core.annotatorSettings.current().hotkeys['tool.box'], 'b');
  await page.keyboard.press('Shift+Y');
  await page.getByRole('status').filter({ hasText: 'Shift+y' }).waitFor();
  assert.equal(core.annotatorSettings.current().hotkeys['tool.box'], 'Shift+y');
  await page.keyboard.press('Backspace');
  await page.getByRole('status').filter({ hasText: 'Box tool: b' }).waitFor();
  assert.equal(core.annotatorSettings.current().hotkeys['tool.box'], 'b');
  await close();
});

test('the probe reads the slice the wheel scrolled to; Escape leaves a drawing tool first; reopening keeps slice and window', async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1400, height: 900 } });
  // Alt+4 lands with the grid focused: the arrows move the selection at once (issue 19 item 10).
  await page.keyboard.press('Alt+4');
  await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'browse-grid');
  await openFirst(page);
  assert.equal(await position(page), 'Im 1/5');

  // Probe the centre of the image on slice 1.
  await page.keyboard.press('v');
  const box = await page.getByTestId('viewport').boundingBox();
  assert.ok(box);
  await page.mouse.move(box.x + box.width / 2 + 0.5, box.y + box.height / 2 + 0.5);
  const probe = page.getByTestId('probe');
  await probe.waitFor();
  const x = Number(await probe.getAttribute('data-x'));
  const y = Number(await probe.getAttribute('data-y'));
  const at = async (slice: number): Promise<number> => {
    const f = await core.pixels.frame(slices[slice] as number);
    return Number(f.data[y * f.columns + x]);
  };
  assert.equal(Number(await probe.getAttribute('data-stored')), await at(0));
  // Scroll two slices with the wheel, the pointer still: the value is slice 3's.
  for (let i = 0; i < 2; i++) await andRender(page, () => page.mouse.wheel(0, 120));
  await page.waitForFunction(() => document.querySelector('[data-testid="overlay-index"]')?.textContent?.trim() === 'Im 3/5');
  const want = await at(2);
  assert.notEqual(want, await at(0), 'the synthetic slices differ at the probed pixel');
  await page.waitForFunction((v) => Number(document.querySelector('[data-testid="probe"]')?.getAttribute('data-stored')) === v, want);
  await screenshot(page, 'viewer-keys-probe-after-wheel');

  // A drawing tool: Escape leaves the tool, a second Escape leaves the viewer.
  await page.getByTestId('preset-lung').click();
  await page.keyboard.press('b');
  await page.locator('[data-testid="atool-box"].active').waitFor();
  await page.keyboard.press('Escape');
  await page.locator('[data-testid="atool-box"]:not(.active)').waitFor();
  assert.equal(await page.getByTestId('viewer').isVisible(), true);
  await page.keyboard.press('Escape');
  await page.getByTestId('browse-grid').waitFor();
  // Back in: the same slice, and the lung window the user chose.
  await page.keyboard.press('Enter');
  await page.getByTestId('viewer').waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid="overlay-index"]')?.textContent?.trim() === 'Im 3/5');
  const w = page.getByTestId('overlay-window');
  assert.equal(Number(await w.getAttribute('data-center')), -600);
  assert.equal(Number(await w.getAttribute('data-width')), 1500);
  await screenshot(page, 'viewer-keys-reopened');
  await close();
});

test('scale bar, smooth display with a toggle, brush circle, mask opacity, hide-all and readable overlays', async () => {
  const { page, close } = await openApp(browser, bridge.url, { viewport: { width: 1400, height: 900 } });
  await openFirst(page);
  const frame = await core.pixels.frame(slices[0] as number);
  assert.ok(frame.pixelSpacing);
  const bar = page.getByTestId('scale-bar');
  await bar.waitFor();
  const scale = Number(await page.getByTestId('viewport').getAttribute('data-scale'));
  const mm = Number(await bar.getAttribute('data-mm'));
  const px = Number(await bar.getAttribute('data-px'));
  assert.ok(Math.abs(px - (mm * scale) / frame.pixelSpacing[1]) < 1e-6, `bar ${px}px for ${mm} mm at scale ${scale}`);
  assert.ok(px >= 60 && px <= 150, `bar length ${px}px`);
  const barWidth = (await bar.locator('.bar').boundingBox())?.width ?? 0;
  assert.ok(Math.abs(barWidth - px) < 1.5, `drawn ${barWidth}px, want ${px}px`);

  // Smooth by default; K shows square pixels, and the choice is drawn (not only a label).
  assert.match((await page.getByTestId('smooth').textContent()) ?? '', /Smooth/);
  await andRender(page, () => page.keyboard.press('k'));
  assert.match((await page.getByTestId('smooth').textContent()) ?? '', /Pixels/);
  await andRender(page, () => page.keyboard.press('k'));
  assert.match((await page.getByTestId('smooth').textContent()) ?? '', /Smooth/);

  // The overlay text sits on a dark plate (alpha >= 0.5), readable on bright images.
  const bg = await page.getByTestId('overlay-patient').evaluate((el) => getComputedStyle(el).backgroundColor);
  const m = bg.match(/rgba?\((\d+), (\d+), (\d+)(?:, ([\d.]+))?\)/);
  assert.ok(m, bg);
  assert.ok(Number(m[1]) < 40 && Number(m[4] ?? 1) >= 0.5, `overlay background ${bg}`);

  // The brush shows its size under the pointer: diameter = brush size x zoom.
  await page.keyboard.press('d');
  const box = await page.getByTestId('viewport').boundingBox();
  assert.ok(box);
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  const circle = page.getByTestId('brush-circle');
  await circle.waitFor();
  const size = Number(await page.getByTestId('brush-size').inputValue());
  assert.ok(Math.abs(Number(await circle.getAttribute('r')) - (size / 2) * scale) < 1e-6);
  // Paint a mask, then fade it and hide every label.
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 + 30, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction(() => document.querySelector('[data-testid="save-state"]')?.getAttribute('data-pending') === '0');
  await page.getByTestId('mask-layer').waitFor();
  await screenshot(page, 'viewer-keys-brush-circle');
  await page.getByTestId('mask-opacity').fill('0.3');
  assert.equal(await page.getByTestId('mask-layer').evaluate((el) => getComputedStyle(el).opacity), '0.3');
  await page.keyboard.press('Escape');
  await page.keyboard.press('j');
  await page.getByTestId('mask-layer').waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('annotation-layer').getAttribute('data-hidden'), 'true');
  assert.equal(await page.getByTestId('hide-labels').isChecked(), true);
  await screenshot(page, 'viewer-keys-hidden');
  await page.keyboard.press('j');
  await page.getByTestId('mask-layer').waitFor();
  assert.equal(await page.getByTestId('undo').isEnabled(), true);
  // Closing the viewer releases the undo histories: back in, the saved mask is there, nothing to undo.
  await page.keyboard.press('Escape');
  await page.getByTestId('browse-grid').waitFor();
  await page.keyboard.press('Enter');
  await page.getByTestId('annotation-panel').waitFor();
  await page.locator('[data-testid="annotation-layer"] g[data-kind="mask"]').waitFor();
  assert.equal(await page.getByTestId('undo').isEnabled(), false);
  await close();
});
