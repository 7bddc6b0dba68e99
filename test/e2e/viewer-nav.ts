/**
 * Getting to an image in the viewer the way a user does, for the viewer's browser tests: Browse (Alt+4), pick the
 * dataset, search for the file, Enter on the one cell; and back to the grid with Escape.
 */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { Core } from '../../electron/core/composition-root';

/** Opens the one item of `dataset` (its label in the picker, e.g. "Scans (2)") whose file name contains `search`. */
export async function openFromBrowse(page: Page, core: Core, dataset: string, search: string): Promise<void> {
  await page.keyboard.press('Alt+4');
  await page.getByTestId('browse-grid').waitFor();
  await page.getByTestId('browse-dataset').selectOption({ label: dataset });
  await page.getByTestId('filter-search').fill(search);
  // The grid may still show the previous search's one item: wait for this one.
  const name = dataset.replace(/ \(\d+\)$/, '');
  const id = core.db
    .prepare('SELECT i.id FROM items i JOIN datasets d ON d.id = i.dataset_id WHERE d.name = ? AND i.source_name LIKE ?')
    .pluck()
    .get(name, `%${search}%`) as number | undefined;
  assert.ok(id, `${dataset}: ${search}`);
  await page.getByTestId('browse-total').filter({ hasText: /^1 items$/ }).waitFor();
  await page.locator(`.cell[data-index="0"][data-item-id="${id}"]`).waitFor();
  await page.getByTestId('browse-grid').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('viewer').waitFor();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="viewport"]')?.getAttribute('data-render-count')) > 0);
}

/** Keys go to the viewer, not to a field that has focus. */
export async function blur(page: Page): Promise<void> {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
}

/** Back to the grid. */
export async function leaveViewer(page: Page): Promise<void> {
  await blur(page);
  await page.keyboard.press('Escape');
  await page.getByTestId('browse-grid').waitFor();
}
