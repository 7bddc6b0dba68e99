/**
 * Debian's Chromium driven by playwright-core (Playwright's own browser
 * downloads cannot run here). Flags keep Chromium from reaching out to the
 * network in the background.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { TEST_RESULTS } from '../helpers/paths';
import { CHROMIUM, requireTool } from '../helpers/reference-tools';

export { CHROMIUM };

export async function launchBrowser(): Promise<Browser> {
  requireTool('chromium');
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-extensions',
      '--disable-sync',
    ],
  });
}

/** Save a screenshot under test-results/screenshots/NAME.png and return its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = join(TEST_RESULTS, 'screenshots');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Fail the test on any page error or console error (CSP violations show up there). */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}

export interface OpenApp {
  page: Page;
  /** Page errors and console errors so far (collectPageErrors). */
  errors: string[];
  /** Asserts that the page logged no error, then closes it. */
  close(): Promise<void>;
}

/** A new page on the app at `url`, collecting its errors; close() asserts there were none. */
export async function openApp(browser: Browser, url: string, options: BrowserContextOptions = {}): Promise<OpenApp> {
  const page = await browser.newPage(options);
  const errors = collectPageErrors(page);
  await page.goto(url);
  return {
    page,
    errors,
    async close() {
      assert.deepEqual(errors, []);
      await page.close();
    },
  };
}

/** How many times the viewer's cornerstone element has rendered (ViewerCanvas counts them). */
export async function renderCount(page: Page): Promise<number> {
  return Number(await page.getByTestId('viewport').getAttribute('data-render-count'));
}

/** Do something, then wait for cornerstone to render the result. */
export async function andRender(page: Page, action: () => Promise<unknown>): Promise<void> {
  const before = await renderCount(page);
  await action();
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid="viewport"]')?.getAttribute('data-render-count')) > n, before);
}
