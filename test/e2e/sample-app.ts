/**
 * The set-up most browser tests share, written once: a browser per test file, and the real core
 * over a library (a copy of the cached sample library, or one a test builds) served by the test
 * bridge. Two shapes:
 * - `withSampleApp(size)`: one sample library, bridge and browser for every test of a file, made in
 *   before() and closed in after();
 * - `useBrowser()` and `withApp(browser, library, fn)`: a library of a test's own, served for the length of
 *   `fn`, then the bridge closes and the library goes, whatever `fn` did.
 */
import { after, before } from 'node:test';
import type { Browser, BrowserContextOptions } from 'playwright-core';
import type { Core } from '../../electron/core/composition-root';
import type { SampleDataSize } from '../../electron/core/samples';
import { startBridge, type Bridge } from '../harness/bridge-server';
import { tempSampleCore } from '../helpers/sample-library-cache';
import type { tempCore } from '../helpers/temp-library';
import { launchBrowser, openApp, type OpenApp } from './browser';

export type TempLibrary = ReturnType<typeof tempCore>;

/** The browser of a test file: launched before its first test, closed after its last. Call it inside a test. */
export function useBrowser(): () => Browser {
  let browser: Browser | undefined;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });
  return () => {
    if (!browser) throw new Error('the browser is launched in before(): use it inside a test');
    return browser;
  };
}

export interface SampleApp {
  readonly browser: Browser;
  readonly bridge: Bridge;
  /** The library's core and its temporary folder. */
  readonly core: Core;
  readonly dir: string;
  /** A new page on the app (openApp: close() asserts the page logged no error). */
  open(options?: BrowserContextOptions): Promise<OpenApp>;
}

/** A copy of the cached sample library of `size`, a bridge and a browser shared by the tests of this file (valid inside tests). */
export function withSampleApp(size: SampleDataSize): SampleApp {
  let library: TempLibrary | undefined;
  let bridge: Bridge | undefined;
  let browser: Browser | undefined;
  before(async () => {
    library = await tempSampleCore(size);
    bridge = await startBridge(library.core);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await bridge?.close();
    library?.cleanup();
  });
  const ready = <T>(x: T | undefined): T => {
    if (x === undefined) throw new Error('the sample app is made in before(): use it inside a test');
    return x;
  };
  return {
    get browser() {
      return ready(browser);
    },
    get bridge() {
      return ready(bridge);
    },
    get core() {
      return ready(library).core;
    },
    get dir() {
      return ready(library).dir;
    },
    open: (options = {}) => openApp(ready(browser), ready(bridge).url, options),
  };
}

/** What `withApp` hands a test: the bridge serving its library, and pages on it. */
export interface LibraryApp {
  readonly bridge: Bridge;
  /** A new page on the app (openApp: close() asserts the page logged no error). */
  open(options?: BrowserContextOptions): Promise<OpenApp>;
}

/** Serve `library` (its core) through a bridge, opened in `browser`, while `fn` runs; then close the bridge and remove the library. */
export async function withApp<T>(browser: Browser, library: TempLibrary, fn: (app: LibraryApp) => Promise<T>): Promise<T> {
  try {
    const bridge = await startBridge(library.core);
    try {
      return await fn({ bridge, open: (options = {}) => openApp(browser, bridge.url, options) });
    } finally {
      await bridge.close();
    }
  } finally {
    library.cleanup();
  }
}
