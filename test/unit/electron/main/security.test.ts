/**
 * The Electron shell's security settings, checked as values and functions in
 * plain Node (Electron cannot be launched here): window options, CSP, the
 * request filter, permission handlers, session and webContents hardening
 * with recording fakes, command-line switches, crash reporter options.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  APP_COMMAND_LINE_SWITCHES,
  APP_HOST,
  APP_ORIGIN,
  APP_SCHEME,
  applyAppSwitches,
  CONTENT_SECURITY_POLICY,
  CRASH_REPORTER_OPTIONS,
  CSP_DIRECTIVES,
  cspHeaders,
  createWindowOptions,
  DATA_HOST,
  DISABLED_CHROMIUM_FEATURES,
  hardenAllSessions,
  hardenAllWebContents,
  hardenSession,
  hardenWebContents,
  isAllowedNavigation,
  isAllowedRequestUrl,
  SPELLCHECK_DICTIONARY_URL,
  type CommandLineLike,
  type HardenableSession,
  type HardenableWebContents,
  type NavigationEvent,
  type PreventableEvent,
} from '../../../../electron/main/security';
import { REPO_ROOT } from '../../../helpers/paths';

// --- fakes -----------------------------------------------------------------

class FakeEvent implements PreventableEvent {
  prevented = false;
  preventDefault(): void {
    this.prevented = true;
  }
}

class FakeNavigationEvent extends FakeEvent implements NavigationEvent {
  constructor(
    readonly url: string,
    readonly isMainFrame = true,
  ) {
    super();
  }
}

type Listener = (...args: never[]) => void;

/** Records every handler and listener hardenSession installs. */
class FakeSession implements HardenableSession {
  beforeRequest: ((details: { url: string }, callback: (response: { cancel?: boolean }) => void) => void) | null = null;
  permissionRequest: ((wc: unknown, permission: string, callback: (granted: boolean) => void) => void) | null = null;
  permissionCheck: ((wc: unknown, permission: string) => boolean) | null = null;
  devicePermission: ((details: unknown) => boolean) | null = null;
  spellcheckEnabled: boolean | null = null;
  dictionaryUrl: string | null = null;
  proxy: { mode: string } | null = null;
  listeners = new Map<string, Listener[]>();

  webRequest = {
    onBeforeRequest: (listener: (details: { url: string }, callback: (response: { cancel?: boolean }) => void) => void): void => {
      this.beforeRequest = listener;
    },
  };
  setPermissionRequestHandler(handler: (wc: unknown, permission: string, callback: (granted: boolean) => void) => void): void {
    this.permissionRequest = handler;
  }
  setPermissionCheckHandler(handler: (wc: unknown, permission: string) => boolean): void {
    this.permissionCheck = handler;
  }
  setDevicePermissionHandler(handler: (details: unknown) => boolean): void {
    this.devicePermission = handler;
  }
  setSpellCheckerEnabled(enable: boolean): void {
    this.spellcheckEnabled = enable;
  }
  setSpellCheckerDictionaryDownloadURL(url: string): void {
    // Electron throws on an invalid URL; so does the fake.
    new URL(url);
    this.dictionaryUrl = url;
  }
  setProxy(config: { mode: 'direct' }): Promise<void> {
    this.proxy = config;
    return Promise.resolve();
  }
  on(event: string, listener: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }
  /** Whether a URL's request would be cancelled. */
  cancels(url: string): boolean {
    assert.ok(this.beforeRequest, 'onBeforeRequest installed');
    let response: { cancel?: boolean } | undefined;
    this.beforeRequest({ url }, (r) => {
      response = r;
    });
    assert.ok(response, 'callback called synchronously');
    return response.cancel === true;
  }
}

class FakeWebContents implements HardenableWebContents {
  listeners = new Map<string, Listener[]>();
  windowOpenHandler: ((details: { url: string }) => { action: 'deny' }) | null = null;
  on(event: string, listener: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void {
    this.windowOpenHandler = handler;
  }
  /** Emit a navigation-style event; returns whether it was prevented. */
  navigate(event: 'will-navigate' | 'will-redirect' | 'will-frame-navigate', url: string, isMainFrame = true): boolean {
    const listeners = this.listeners.get(event) ?? [];
    assert.ok(listeners.length > 0, `${event} has a listener`);
    const e = new FakeNavigationEvent(url, isMainFrame);
    for (const l of listeners) (l as unknown as (e: NavigationEvent) => void)(e);
    return e.prevented;
  }
}

/** Every permission Electron 45's typings name, read from electron.d.ts (so a new one is tested too). */
function electronPermissions(): string[] {
  const dts = readFileSync(join(REPO_ROOT, 'node_modules', 'electron', 'electron.d.ts'), 'utf8');
  const line = dts.split('\n').find((l) => l.includes('setPermissionRequestHandler(handler:'));
  assert.ok(line, 'setPermissionRequestHandler is declared');
  const union = /permission: ((?:'[^']+'(?: \| )?)+)/.exec(line)?.[1];
  assert.ok(union, 'its permission union parses');
  const names = [...union.matchAll(/'([^']+)'/g)].map((m) => m[1] as string);
  assert.ok(names.length > 20);
  return names;
}

// --- constants --------------------------------------------------------------

test('the app scheme, hosts and origin', () => {
  assert.equal(APP_SCHEME, 'fovea');
  assert.equal(APP_HOST, 'app');
  assert.equal(DATA_HOST, 'data');
  assert.equal(APP_ORIGIN, 'fovea://app');
});

// --- window options ---------------------------------------------------------

describe('createWindowOptions', () => {
  const preload = join(REPO_ROOT, 'dist', 'electron', 'preload.cjs');

  test('sets every security flag of the checklist', () => {
    const options = createWindowOptions(preload);
    const wp = options.webPreferences;
    assert.ok(wp);
    assert.equal(wp.preload, preload);
    assert.equal(wp.contextIsolation, true);
    assert.equal(wp.sandbox, true);
    assert.equal(wp.nodeIntegration, false);
    assert.equal(wp.nodeIntegrationInWorker, false);
    assert.equal(wp.nodeIntegrationInSubFrames, false);
    assert.equal(wp.webviewTag, false);
    assert.equal(wp.webSecurity, true);
    assert.equal(wp.allowRunningInsecureContent, false);
    assert.equal(wp.experimentalFeatures, false);
    assert.equal('enableBlinkFeatures' in wp, false, 'enableBlinkFeatures unset');
    assert.equal(wp.spellcheck, false);
    assert.equal(wp.disableBlinkFeatures, 'Auxclick');
    assert.equal(wp.navigateOnDragDrop, false);
    assert.equal(wp.safeDialogs, true);
    assert.equal(wp.devTools, false, 'no DevTools unless dev');
    assert.equal(wp.plugins, false);
  });

  test('window shell: hidden until ready, dark background, a minimum size', () => {
    const options = createWindowOptions(preload);
    assert.equal(options.show, false);
    assert.match(String(options.backgroundColor), /^#[0-9a-f]{6}$/i);
    const hex = String(options.backgroundColor).slice(1);
    const luminance = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)).reduce((a, b) => a + b, 0) / 3;
    assert.ok(luminance < 40, 'dark background');
    assert.ok((options.minWidth ?? 0) >= 800 && (options.minHeight ?? 0) >= 500);
    assert.ok((options.width ?? 0) >= (options.minWidth ?? 0) && (options.height ?? 0) >= (options.minHeight ?? 0));
  });

  test('DevTools only with the dev flag; nothing else changes', () => {
    const release = createWindowOptions(preload);
    const dev = createWindowOptions(preload, { dev: true });
    assert.equal(dev.webPreferences?.devTools, true);
    assert.deepEqual({ ...dev.webPreferences, devTools: false }, release.webPreferences);
    assert.equal(createWindowOptions(preload, { dev: false }).webPreferences?.devTools, false);
  });

  test('each call returns a fresh object; a relative preload path is refused', () => {
    const a = createWindowOptions(preload);
    a.webPreferences!.sandbox = false;
    assert.equal(createWindowOptions(preload).webPreferences?.sandbox, true);
    assert.throws(() => createWindowOptions('preload.cjs'), /absolute/);
    assert.throws(() => createWindowOptions(''), /absolute/);
  });
});

// --- CSP --------------------------------------------------------------------

/** Parse a CSP header value into directive -> sources, failing on anything malformed. */
function parseCsp(policy: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of policy.split(';')) {
    const tokens = part.trim().split(/\s+/);
    const name = tokens[0];
    assert.ok(name && /^[a-z-]+$/.test(name), `directive name: ${JSON.stringify(part)}`);
    assert.equal(out.has(name), false, `duplicate directive ${name}`);
    const sources = tokens.slice(1);
    assert.ok(sources.length > 0, `${name} has sources`);
    for (const s of sources) assert.match(s, /^('[a-z-]+'|[a-z][a-z0-9+.-]*:)$/, `${name} source ${s}`);
    out.set(name, sources);
  }
  return out;
}

describe('Content Security Policy', () => {
  test('starts with default-src none and script-src self', () => {
    assert.ok(CONTENT_SECURITY_POLICY.startsWith("default-src 'none'; script-src 'self'"), CONTENT_SECURITY_POLICY);
  });

  test('parses into exactly the required directives', () => {
    const csp = parseCsp(CONTENT_SECURITY_POLICY);
    const expected: Record<string, string[]> = {
      'default-src': ["'none'"],
      'script-src': ["'self'", "'wasm-unsafe-eval'"],
      'style-src': ["'self'", "'unsafe-inline'"],
      'img-src': ["'self'", 'blob:', 'data:', 'fovea:'],
      'connect-src': ["'self'", 'fovea:'],
      'font-src': ["'self'"],
      'worker-src': ["'self'", 'blob:'],
      'object-src': ["'none'"],
      'base-uri': ["'none'"],
      'form-action': ["'none'"],
      'frame-ancestors': ["'none'"],
      'frame-src': ["'none'"],
    };
    assert.deepEqual(Object.fromEntries(csp), expected);
    assert.deepEqual(
      Object.fromEntries(Object.entries(CSP_DIRECTIVES).map(([k, v]) => [k, [...v]])),
      expected,
      'CSP_DIRECTIVES matches the string',
    );
  });

  test('nothing remote, no eval, no wildcard', () => {
    const tokens = [...parseCsp(CONTENT_SECURITY_POLICY).values()].flat();
    for (const forbidden of ['http:', 'https:', 'ws:', 'wss:', 'ftp:', 'file:', '*', "'unsafe-eval'", "'unsafe-hashes'", "'strict-dynamic'"]) {
      assert.equal(tokens.includes(forbidden), false, `${forbidden} in the CSP`);
    }
    assert.doesNotMatch(CONTENT_SECURITY_POLICY, /\*|https?:|wss?:|\/\//);
    assert.equal(tokens.includes("'unsafe-inline'"), true);
    const csp = parseCsp(CONTENT_SECURITY_POLICY);
    assert.equal(csp.get('script-src')?.includes("'unsafe-inline'"), false, 'no inline scripts');
  });

  test('cspHeaders carries the policy as a response header', () => {
    assert.deepEqual(cspHeaders(), { 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] });
    const h = cspHeaders();
    h['Content-Security-Policy']!.push('x');
    assert.deepEqual(cspHeaders()['Content-Security-Policy'], [CONTENT_SECURITY_POLICY], 'a fresh object each call');
  });
});

// --- request filter -----------------------------------------------------------

describe('isAllowedRequestUrl', () => {
  const allowed = [
    'fovea://app/index.html',
    'fovea://app/',
    'fovea://app/assets/index-abc123.js',
    'fovea://data/thumbs/12.png',
    'FOVEA://APP/index.html',
    'blob:fovea://app/6a1c3e6b-3b1f-4b77-9d55-bd8e2c7a5b11',
    'data:image/png;base64,iVBORw0KGgo=',
    'data:application/wasm;base64,AGFzbQ==',
  ];
  const denied = [
    'http://example.com/',
    'https://example.com/',
    'https://evil.example/collect?phi=1',
    'http://localhost:5173/',
    'http://127.0.0.1/',
    'https://redirector.gvt1.com/edgedl/chrome/dict/en-us-10-1.bdic',
    'ws://example.com/socket',
    'wss://example.com/socket',
    'ftp://example.com/file',
    'file:///etc/passwd',
    'file://C:/Windows/win.ini',
    'chrome-extension://abcdefghijklmnop/x.js',
    'chrome://settings',
    'devtools://devtools/bundled/inspector.html',
    'javascript:alert(1)',
    'about:blank',
    'mailto:someone@example.com',
    'fovea://evil.example/x',
    'fovea://app:8080/index.html',
    'fovea://user:pass@app/index.html',
    'fovea:///index.html',
    SPELLCHECK_DICTIONARY_URL,
    '',
    'not a url',
    '//example.com/x',
    '/index.html',
  ];
  for (const url of allowed) test(`allows ${url}`, () => assert.equal(isAllowedRequestUrl(url), true));
  for (const url of denied) test(`denies ${JSON.stringify(url)}`, () => assert.equal(isAllowedRequestUrl(url), false));
  test('denies non-strings', () => {
    assert.equal(isAllowedRequestUrl(undefined as unknown as string), false);
    assert.equal(isAllowedRequestUrl(42 as unknown as string), false);
  });
});

// --- session hardening ----------------------------------------------------------

describe('hardenSession', () => {
  test('installs every handler', () => {
    const session = new FakeSession();
    hardenSession(session);
    assert.ok(session.beforeRequest);
    assert.ok(session.permissionRequest);
    assert.ok(session.permissionCheck);
    assert.ok(session.devicePermission);
    assert.equal(session.spellcheckEnabled, false);
    assert.deepEqual(session.proxy, { mode: 'direct' });
    for (const e of ['select-hid-device', 'select-serial-port', 'select-usb-device']) {
      assert.equal(session.listeners.get(e)?.length, 1, e);
    }
  });

  test('the request filter cancels everything but the app scheme, blob: and data:', () => {
    const session = new FakeSession();
    hardenSession(session);
    assert.equal(session.cancels('fovea://app/index.html'), false);
    assert.equal(session.cancels('fovea://data/x.png'), false);
    assert.equal(session.cancels('blob:fovea://app/1234'), false);
    assert.equal(session.cancels('data:text/plain,hi'), false);
    for (const url of ['https://evil.example/', 'http://10.0.0.1/', 'wss://x.example/', 'file:///etc/passwd', 'garbage']) {
      assert.equal(session.cancels(url), true, url);
    }
  });

  test('every permission Electron knows is denied, both as a request and as a check', () => {
    const session = new FakeSession();
    hardenSession(session);
    const permissions = electronPermissions();
    for (const p of ['media', 'geolocation', 'notifications', 'midi', 'midiSysex', 'hid', 'usb', 'serial', 'clipboard-read', 'openExternal', 'display-capture', 'fileSystem']) {
      assert.ok(permissions.includes(p), `typings list ${p}`);
    }
    for (const permission of [...permissions, 'camera', 'microphone', 'bluetooth', 'made-up']) {
      const calls: boolean[] = [];
      session.permissionRequest!({}, permission, (granted) => calls.push(granted));
      assert.deepEqual(calls, [false], `request ${permission}`);
      assert.equal(session.permissionCheck!(null, permission), false, `check ${permission}`);
    }
    for (const deviceType of ['hid', 'serial', 'usb']) {
      assert.equal(session.devicePermission!({ deviceType, origin: APP_ORIGIN, device: {} }), false);
    }
  });

  test('spellcheck is off and its dictionary URL cannot be fetched', () => {
    const session = new FakeSession();
    hardenSession(session);
    assert.equal(session.spellcheckEnabled, false);
    const url = session.dictionaryUrl;
    assert.ok(url);
    assert.equal(url, SPELLCHECK_DICTIONARY_URL);
    const parsed = new URL(url);
    assert.equal(parsed.protocol, 'fovea:', 'the app scheme, not http(s)');
    assert.ok(url.endsWith('/'), 'Electron appends file names to it');
    assert.equal(isAllowedRequestUrl(url + 'en-US-10-1.bdic'), false, 'the request filter cancels it');
  });

  test('device choosers are cancelled rather than left to a default choice', () => {
    const session = new FakeSession();
    hardenSession(session);
    const hid = new FakeEvent();
    const hidCalls: unknown[][] = [];
    (session.listeners.get('select-hid-device')![0] as unknown as (e: PreventableEvent, d: unknown, cb: (...a: unknown[]) => void) => void)(
      hid,
      { deviceList: [{ deviceId: '1' }] },
      (...a) => hidCalls.push(a),
    );
    assert.equal(hid.prevented, true);
    assert.deepEqual(hidCalls, [[]]);

    const serial = new FakeEvent();
    const serialCalls: unknown[][] = [];
    (session.listeners.get('select-serial-port')![0] as unknown as (e: PreventableEvent, p: unknown, wc: unknown, cb: (...a: unknown[]) => void) => void)(
      serial,
      [{ portId: 'COM1' }],
      {},
      (...a) => serialCalls.push(a),
    );
    assert.equal(serial.prevented, true);
    assert.deepEqual(serialCalls, [['']]);

    const usb = new FakeEvent();
    const usbCalls: unknown[][] = [];
    (session.listeners.get('select-usb-device')![0] as unknown as (e: PreventableEvent, d: unknown, cb: (...a: unknown[]) => void) => void)(
      usb,
      { deviceList: [{ deviceId: '1' }] },
      (...a) => usbCalls.push(a),
    );
    assert.equal(usb.prevented, true);
    assert.deepEqual(usbCalls, [[]]);
  });

  test('is idempotent: hardening twice adds no second device listener', () => {
    const session = new FakeSession();
    hardenSession(session);
    hardenSession(session);
    assert.equal(session.listeners.get('select-hid-device')?.length, 1);
  });

  test('reports blocked requests to the hook; a throwing hook still cancels', () => {
    const blocked: string[] = [];
    const session = new FakeSession();
    hardenSession(session, { onBlockedRequest: (url) => blocked.push(url) });
    session.cancels('fovea://app/index.html');
    assert.equal(session.cancels('https://evil.example/'), true);
    assert.deepEqual(blocked, ['https://evil.example/']);

    const s2 = new FakeSession();
    hardenSession(s2, {
      onBlockedRequest: () => {
        throw new Error('hook failed');
      },
    });
    assert.equal(s2.cancels('https://evil.example/'), true);
  });

  test('a failing setProxy does not surface as an unhandled rejection', async () => {
    const session = new FakeSession();
    session.setProxy = () => Promise.reject(new Error('no proxy service'));
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => {
      unhandled.push(e);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      hardenSession(session);
      await new Promise((r) => setTimeout(r, 10));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    assert.deepEqual(unhandled, []);
  });
});

describe('hardenAllSessions', () => {
  test('hardens every session the app creates later, and those passed in, once each', () => {
    let onCreated: ((s: HardenableSession) => void) | null = null;
    const app = {
      on(event: 'session-created', listener: (s: HardenableSession) => void) {
        assert.equal(event, 'session-created');
        onCreated = listener;
        return this;
      },
    };
    const existing = new FakeSession();
    hardenAllSessions(app, [existing]);
    assert.ok(existing.beforeRequest, 'existing session hardened');
    assert.ok(onCreated, 'session-created hooked');

    const later = new FakeSession();
    (onCreated as (s: HardenableSession) => void)(later);
    assert.ok(later.beforeRequest);
    assert.equal(later.cancels('https://evil.example/'), true);
    assert.equal(later.spellcheckEnabled, false);

    // The default session, emitted again after being passed in, is not re-hardened.
    const before = existing.beforeRequest;
    (onCreated as (s: HardenableSession) => void)(existing);
    assert.equal(existing.beforeRequest, before);
  });
});

// --- webContents hardening ------------------------------------------------------

describe('hardenWebContents', () => {
  test('navigation away from the app origin is prevented on every navigation event', () => {
    const wc = new FakeWebContents();
    hardenWebContents(wc, APP_ORIGIN);
    for (const event of ['will-navigate', 'will-redirect', 'will-frame-navigate'] as const) {
      for (const url of [
        'https://evil.example/',
        'http://localhost:5173/',
        'file:///etc/passwd',
        'fovea://data/thumbs/1.png',
        'fovea://evil/index.html',
        'fovea://app:1/index.html',
        'data:text/html,<script>alert(1)</script>',
        'javascript:alert(1)',
        'about:blank',
        'not a url',
      ]) {
        assert.equal(wc.navigate(event, url), true, `${event} ${url}`);
      }
      assert.equal(wc.navigate(event, 'fovea://app/index.html'), false, `${event}: reloading the app is allowed`);
      assert.equal(wc.navigate(event, 'fovea://app/index.html#/datasets'), false);
    }
  });

  test('subframes never navigate, not even to the app origin', () => {
    const wc = new FakeWebContents();
    hardenWebContents(wc);
    assert.equal(wc.navigate('will-frame-navigate', 'fovea://app/index.html', false), true);
    assert.equal(wc.navigate('will-frame-navigate', 'https://evil.example/', false), true);
  });

  test('window.open is denied, webviews are prevented, bluetooth choosers cancelled', () => {
    const wc = new FakeWebContents();
    hardenWebContents(wc);
    assert.ok(wc.windowOpenHandler);
    assert.deepEqual(wc.windowOpenHandler({ url: 'https://evil.example/' }), { action: 'deny' });
    assert.deepEqual(wc.windowOpenHandler({ url: 'fovea://app/index.html' }), { action: 'deny' });

    const attach = new FakeEvent();
    for (const l of wc.listeners.get('will-attach-webview') ?? []) (l as unknown as (e: PreventableEvent, wp: unknown, p: unknown) => void)(attach, {}, { src: 'https://evil.example/' });
    assert.equal(attach.prevented, true);

    const bt = new FakeEvent();
    const picked: string[] = [];
    for (const l of wc.listeners.get('select-bluetooth-device') ?? []) {
      (l as unknown as (e: PreventableEvent, d: unknown, cb: (id: string) => void) => void)(bt, [{ deviceId: 'x' }], (id) => picked.push(id));
    }
    assert.equal(bt.prevented, true);
    assert.deepEqual(picked, ['']);
  });

  test('hardenAllWebContents hooks web-contents-created', () => {
    let onCreated: ((e: unknown, wc: HardenableWebContents) => void) | null = null;
    hardenAllWebContents({
      on(event: 'web-contents-created', listener: (e: unknown, wc: HardenableWebContents) => void) {
        assert.equal(event, 'web-contents-created');
        onCreated = listener;
        return this;
      },
    });
    assert.ok(onCreated);
    const wc = new FakeWebContents();
    (onCreated as (e: unknown, wc: HardenableWebContents) => void)({}, wc);
    assert.equal(wc.navigate('will-navigate', 'https://evil.example/'), true);
    assert.deepEqual(wc.windowOpenHandler?.({ url: 'https://evil.example/' }), { action: 'deny' });
  });

  test('isAllowedNavigation compares origins exactly', () => {
    assert.equal(isAllowedNavigation('fovea://app/index.html'), true);
    assert.equal(isAllowedNavigation('fovea://app.evil/index.html'), false);
    assert.equal(isAllowedNavigation('fovea://appx/index.html'), false);
    assert.equal(isAllowedNavigation('https://app/index.html'), false);
  });
});

// --- switches, crash reporter -------------------------------------------------

describe('command-line switches', () => {
  test('stop background networking, each with a reason', () => {
    const names = APP_COMMAND_LINE_SWITCHES.map((s) => s.name);
    for (const required of ['disable-background-networking', 'disable-component-update', 'disable-domain-reliability', 'no-pings', 'disable-features']) {
      assert.ok(names.includes(required), required);
    }
    assert.equal(new Set(names).size, names.length, 'no duplicates');
    for (const s of APP_COMMAND_LINE_SWITCHES) {
      assert.ok(s.why.length > 10, `${s.name} says why`);
      assert.doesNotMatch(s.name, /^-/, 'names without dashes (appendSwitch adds them)');
    }
    const features = APP_COMMAND_LINE_SWITCHES.find((s) => s.name === 'disable-features')?.value?.split(',') ?? [];
    for (const f of ['AutofillServerCommunication', 'OptimizationHints', 'MediaRouter']) assert.ok(features.includes(f), f);
    assert.deepEqual(features, [...DISABLED_CHROMIUM_FEATURES]);
    assert.ok(Object.isFrozen(APP_COMMAND_LINE_SWITCHES));
  });

  class FakeCommandLine implements CommandLineLike {
    switches = new Map<string, string>();
    appended: [string, string | undefined][] = [];
    appendSwitch(name: string, value?: string): void {
      this.appended.push([name, value]);
      this.switches.set(name, value ?? '');
    }
    hasSwitch(name: string): boolean {
      return this.switches.has(name);
    }
    getSwitchValue(name: string): string {
      return this.switches.get(name) ?? '';
    }
    removeSwitch(name: string): void {
      this.switches.delete(name);
    }
  }

  test('applyAppSwitches appends each switch', () => {
    const commandLine = new FakeCommandLine();
    applyAppSwitches({ commandLine });
    assert.deepEqual(
      commandLine.appended,
      APP_COMMAND_LINE_SWITCHES.map((s) => [s.name, s.value]),
    );
  });

  test('applyAppSwitches merges a disable-features list already present', () => {
    const commandLine = new FakeCommandLine();
    commandLine.switches.set('disable-features', 'SomethingElse,MediaRouter');
    applyAppSwitches({ commandLine });
    const merged = commandLine.getSwitchValue('disable-features').split(',');
    assert.ok(merged.includes('SomethingElse'));
    for (const f of DISABLED_CHROMIUM_FEATURES) assert.ok(merged.includes(f), f);
    assert.equal(merged.filter((f) => f === 'MediaRouter').length, 1);
  });
});

test('the crash reporter, if started, never uploads', () => {
  assert.equal(CRASH_REPORTER_OPTIONS.uploadToServer, false);
  assert.equal('submitURL' in CRASH_REPORTER_OPTIONS, false);
  assert.equal('extra' in CRASH_REPORTER_OPTIONS, false, 'no extra fields that could carry PHI');
  assert.ok(Object.isFrozen(CRASH_REPORTER_OPTIONS));
});

// --- the files themselves ---------------------------------------------------------

test("the shell's security modules import 'electron' for types only, and no network module", () => {
  for (const file of ['security.ts', 'protocol-paths.ts', 'ipc-guard.ts']) {
    const source = readFileSync(join(REPO_ROOT, 'electron', 'main', file), 'utf8');
    const electronImports = [...source.matchAll(/^\s*import\s+([^;]*?)\s+from\s+['"]electron['"]/gm)].map((m) => m[1] ?? '');
    for (const clause of electronImports) assert.match(clause, /^type\s/, `${file}: import ${clause} from 'electron'`);
    assert.doesNotMatch(source, /require\(\s*['"]electron['"]\s*\)/, file);
    assert.doesNotMatch(source, /from\s+['"](?:node:)?(?:http|https|http2|net|tls|dns|dgram)['"]/, file);
  }
});
