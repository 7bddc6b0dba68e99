/**
 * The Electron shell's security settings, as pure values and functions.
 *
 * Fovea's product is privacy: no byte leaves the machine. Everything here
 * follows the Electron security checklist
 * (https://www.electronjs.org/docs/latest/tutorial/security) and
 * docs/guides/reliability.md "Electron shell". The numbers in comments
 * ("checklist #4") refer to that checklist.
 *
 * Why only `import type` from 'electron': the tests run in plain Node,
 * where requiring 'electron' yields a path string, not the API. Functions
 * that act on Electron objects take them as parameters, typed structurally,
 * so tests pass small recording fakes; compile-time checks at the bottom
 * of this file prove the real Electron objects fit those types.
 */
import type {
  App,
  BrowserWindowConstructorOptions,
  CrashReporterStartOptions,
  Session,
  WebContents,
} from 'electron';
import { isAbsolute } from 'node:path';

// ---------------------------------------------------------------------------
// The app's own scheme
// ---------------------------------------------------------------------------

/**
 * The app's own scheme. The UI is served from fovea://app/ and library
 * pixel data and thumbnails from fovea://data/, never from file:// (checklist
 * #18: a custom protocol instead of file://, so a page cannot read the
 * disk by URL).
 */
export const APP_SCHEME = 'fovea';
/** The host that serves the UI: fovea://app/index.html. */
export const APP_HOST = 'app';
/** The host that serves library data (pixel data, thumbnails): fovea://data/... */
export const DATA_HOST = 'data';
/** The origin of the UI; IPC is accepted only from its top-level frame. */
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
/** The origin that serves library data. */
export const DATA_ORIGIN = `${APP_SCHEME}://${DATA_HOST}`;
/** The page main loads into the window. */
export const APP_ENTRY_URL = `${APP_ORIGIN}/index.html`;

/**
 * The tuple origin (`scheme://host`, lower case) of a URL, or null when it
 * has none we would trust: unparseable, no host, a port, or credentials.
 *
 * Node's URL gives `origin === 'null'` for schemes it does not know (such
 * as fovea:), while Chromium, where fovea: is registered as a standard
 * scheme, gives `fovea://app`; so the origin is built by hand here.
 */
export function originOf(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.hostname === '' || parsed.port !== '' || parsed.username !== '' || parsed.password !== '') return null;
  return `${parsed.protocol}//${parsed.hostname}`.toLowerCase();
}

// ---------------------------------------------------------------------------
// Content Security Policy (checklist #7)
// ---------------------------------------------------------------------------

/**
 * The CSP directives of every page and every response of the app scheme.
 *
 * Nothing remote anywhere: no http:, https:, ws:, wss: or `*`; a page that
 * got injected markup still could not send a byte out.
 * - script-src 'wasm-unsafe-eval': the renderer compiles WebAssembly
 *   (image codecs, the tfjs wasm backend); it allows WebAssembly
 *   compilation only, not eval() of strings.
 * - style-src 'unsafe-inline': Svelte sets style attributes and injects
 *   component styles; styles cannot send data out while img-src,
 *   font-src and connect-src stay local.
 * - img-src / connect-src fovea:: the UI (fovea://app) loads images and
 *   pixel data from fovea://data, a different origin of the same scheme.
 * - worker-src blob:: decoder and training workers may be started from
 *   blob: URLs built by the bundler.
 * - frame-ancestors, frame-src, object-src, base-uri, form-action 'none':
 *   no embedding in either direction, no plugins, no <base> hijack, no form
 *   posts.
 */
export const CSP_DIRECTIVES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  'default-src': Object.freeze(["'none'"]),
  'script-src': Object.freeze(["'self'", "'wasm-unsafe-eval'"]),
  'style-src': Object.freeze(["'self'", "'unsafe-inline'"]),
  'img-src': Object.freeze(["'self'", 'blob:', 'data:', `${APP_SCHEME}:`]),
  'connect-src': Object.freeze(["'self'", `${APP_SCHEME}:`]),
  'font-src': Object.freeze(["'self'"]),
  'worker-src': Object.freeze(["'self'", 'blob:']),
  'object-src': Object.freeze(["'none'"]),
  'base-uri': Object.freeze(["'none'"]),
  'form-action': Object.freeze(["'none'"]),
  'frame-ancestors': Object.freeze(["'none'"]),
  'frame-src': Object.freeze(["'none'"]),
});

/** The CSP as a header value: `default-src 'none'; script-src 'self' ...`. */
export const CONTENT_SECURITY_POLICY: string = Object.entries(CSP_DIRECTIVES)
  .map(([directive, sources]) => `${directive} ${sources.join(' ')}`)
  .join('; ');

/**
 * Headers that carry the CSP, in the shape of Electron's
 * `onHeadersReceived` `responseHeaders`. The protocol handler sets the same
 * header on every response it serves (frame-ancestors only works in a
 * header, not in a meta tag).
 */
export function cspHeaders(): Record<string, string[]> {
  return { 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] };
}

// ---------------------------------------------------------------------------
// The window factory (checklist #2, #3, #4, #6, #9, #12)
// ---------------------------------------------------------------------------

/** The app is dark by default; painting this before the first frame avoids a white flash. */
export const WINDOW_BACKGROUND_COLOR = '#0f1115';

export interface WindowFlags {
  /** Development build: DevTools allowed. Never set in a release. */
  dev?: boolean;
}

/**
 * The options of the app's one window factory: every BrowserWindow is built
 * from these, so no window can be created with weaker settings.
 *
 * @param preloadPath absolute path of the bundled preload script (Electron
 *   refuses relative preload paths; failing here says why).
 */
export function createWindowOptions(preloadPath: string, flags: WindowFlags = {}): BrowserWindowConstructorOptions {
  if (typeof preloadPath !== 'string' || !isAbsolute(preloadPath)) {
    throw new TypeError('createWindowOptions: the preload path must be absolute.');
  }
  const dev = flags.dev === true;
  return {
    title: 'Fovea',
    width: 1440,
    height: 900,
    minWidth: 960,
    minHeight: 600,
    // Shown on 'ready-to-show', so the user never sees an unstyled page.
    show: false,
    backgroundColor: WINDOW_BACKGROUND_COLOR,
    webPreferences: {
      preload: preloadPath,
      // Checklist #3: the preload's world is separate from the page's; the
      // page only sees what contextBridge exposes (the contract).
      contextIsolation: true,
      // Checklist #4: the renderer runs in Chromium's OS sandbox.
      sandbox: true,
      // Checklist #2: no Node.js in the page, its workers or any subframe.
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      // Checklist #12: no <webview> (also refused in will-attach-webview).
      webviewTag: false,
      // Checklist #6: keep the same-origin policy.
      webSecurity: true,
      // Checklist #8: no http content in a secure page.
      allowRunningInsecureContent: false,
      // Checklist #9 and #10: no experimental features, and no Blink features
      // switched on (enableBlinkFeatures is deliberately left unset).
      experimentalFeatures: false,
      // Middle-click (auxclick) cannot open or follow links: the app has no links to open, and
      // Electron's checklist (and electronegativity's AUXCLICK_JS_CHECK) ask for it off.
      disableBlinkFeatures: 'Auxclick',
      // The spellchecker downloads dictionaries from Google's CDN.
      spellcheck: false,
      // Dropping a file or link on the window must not navigate away from the app.
      navigateOnDragDrop: false,
      // A page cannot lock the user in a loop of alert() dialogs.
      safeDialogs: true,
      // No Flash-era plugins, no WebSQL.
      plugins: false,
      enableWebSQL: false,
      // DevTools can read everything in the page (PHI included): dev builds only.
      devTools: dev,
    },
  };
}

// ---------------------------------------------------------------------------
// The request filter (offline guarantee)
// ---------------------------------------------------------------------------

/**
 * Whether a request may leave the renderer: only the app's own scheme
 * (fovea://app and fovea://data), blob: and data: (both in-memory). Everything
 * else is cancelled: http(s), ws(s), ftp:, file: (the protocol handler is
 * the only way to read the disk), chrome-extension:, devtools:,
 * javascript:, malformed URLs, and fovea: URLs with another host, a port or
 * credentials.
 */
export function isAllowedRequestUrl(url: string): boolean {
  if (typeof url !== 'string') return false;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  switch (parsed.protocol) {
    case 'blob:':
    case 'data:':
      return true;
    case `${APP_SCHEME}:`: {
      const origin = originOf(url);
      return origin === APP_ORIGIN || origin === DATA_ORIGIN;
    }
    default:
      return false;
  }
}

/**
 * Where the spellchecker would download dictionaries from. Electron fetches
 * hunspell dictionaries from Google's CDN even with spellcheck off
 * (electron #22995); pointing the URL at an app-scheme host that the request
 * filter cancels and the protocol handler does not serve (`.invalid` is a
 * reserved TLD) means nothing is fetched. It must be a valid URL: Electron
 * throws on an invalid one.
 */
export const SPELLCHECK_DICTIONARY_URL = `${APP_SCHEME}://spellcheck.invalid/`;

/** Event objects Electron passes to listeners that may cancel an action. */
export interface PreventableEvent {
  preventDefault(): void;
}

/** The part of an Electron Session that hardenSession touches. */
export interface HardenableSession {
  webRequest: {
    onBeforeRequest(
      listener: (details: { url: string }, callback: (response: { cancel?: boolean }) => void) => void,
    ): void;
  };
  setPermissionRequestHandler(
    handler: (webContents: unknown, permission: string, callback: (granted: boolean) => void) => void,
  ): void;
  setPermissionCheckHandler(handler: (webContents: unknown, permission: string) => boolean): void;
  setDevicePermissionHandler(handler: (details: unknown) => boolean): void;
  setSpellCheckerEnabled(enable: boolean): void;
  setSpellCheckerDictionaryDownloadURL(url: string): void;
  setProxy(config: { mode: 'direct' }): Promise<void>;
  on(
    event: 'select-hid-device',
    listener: (event: PreventableEvent, details: unknown, callback: (deviceId?: string | null) => void) => void,
  ): unknown;
  on(
    event: 'select-serial-port',
    listener: (event: PreventableEvent, portList: unknown, webContents: unknown, callback: (portId: string) => void) => void,
  ): unknown;
  on(
    event: 'select-usb-device',
    listener: (event: PreventableEvent, details: unknown, callback: (deviceId?: string) => void) => void,
  ): unknown;
}

export interface HardenSessionOptions {
  /** Told about every cancelled request (for a diagnostic log); must not throw. */
  onBlockedRequest?: (url: string) => void;
}

/**
 * Lock down one session. Idempotent: every setter replaces the previous
 * handler; the device-chooser listeners are added once per session.
 *
 * - webRequest.onBeforeRequest cancels every URL isAllowedRequestUrl refuses
 *   (the offline guarantee for everything Chromium loads; Node's own
 *   http/https/net/tls/dns are never imported by shipped code because this
 *   filter does not see them).
 * - Checklist #5: every permission request is refused and every permission
 *   check answers false (camera, microphone, geolocation, notifications,
 *   MIDI, HID, USB, serial, clipboard-read, openExternal, ...); device
 *   permission checks answer false and device choosers are cancelled.
 * - The spellchecker is off and its dictionary URL unreachable (#22995).
 * - Proxy mode 'direct': with the default 'system' mode Chromium may look
 *   for a proxy auto-config script (WPAD: DNS lookups and a fetch of
 *   wpad.dat on the local network) before any request of ours is filtered.
 */
export function hardenSession(session: HardenableSession, options: HardenSessionOptions = {}): void {
  const onBlocked = options.onBlockedRequest;
  session.webRequest.onBeforeRequest((details, callback) => {
    const allowed = isAllowedRequestUrl(details.url);
    if (!allowed && onBlocked) {
      try {
        onBlocked(details.url);
      } catch {
        // A diagnostic hook must never keep a request alive.
      }
    }
    callback({ cancel: !allowed });
  });

  session.setPermissionRequestHandler(denyPermissionRequest);
  session.setPermissionCheckHandler(denyPermissionCheck);
  session.setDevicePermissionHandler(denyDevicePermission);

  session.setSpellCheckerEnabled(false);
  session.setSpellCheckerDictionaryDownloadURL(SPELLCHECK_DICTIONARY_URL);

  // The --no-proxy-server switch (APP_COMMAND_LINE_SWITCHES) covers the same
  // ground for the whole app; a failure here leaves that in place.
  session.setProxy({ mode: 'direct' }).catch(() => undefined);

  if (!deviceChoosersHooked.has(session)) {
    deviceChoosersHooked.add(session);
    // Without a listener Electron may pick a device itself; cancel instead.
    session.on('select-hid-device', (event, _details, callback) => {
      event.preventDefault();
      callback();
    });
    session.on('select-serial-port', (event, _ports, _webContents, callback) => {
      event.preventDefault();
      callback('');
    });
    session.on('select-usb-device', (event, _details, callback) => {
      event.preventDefault();
      callback();
    });
  }
}

const deviceChoosersHooked = new WeakSet<object>();

/** Every permission request is refused: Fovea needs none (checklist #5). */
export function denyPermissionRequest(_webContents: unknown, _permission: string, callback: (granted: boolean) => void): void {
  callback(false);
}

/** Every permission check answers false (checklist #5). */
export function denyPermissionCheck(_webContents: unknown, _permission: string): boolean {
  return false;
}

/** No device (HID, USB, serial) is ever pre-granted. */
export function denyDevicePermission(_details: unknown): boolean {
  return false;
}

/** The part of Electron's App that hardenAllSessions touches. */
export interface SessionCreatedSource {
  on(event: 'session-created', listener: (session: HardenableSession) => void): unknown;
}

/**
 * Harden the default session and every session created later. Call it
 * before `app` is ready: Electron emits 'session-created' for the default
 * session too, when it is first created. Sessions that already exist can be
 * passed in `existing` (e.g. `session.getAllSessions()` after ready);
 * none is hardened twice.
 */
export function hardenAllSessions(
  app: SessionCreatedSource,
  existing: Iterable<HardenableSession> = [],
  options: HardenSessionOptions = {},
): void {
  const hardened = new WeakSet<object>();
  const harden = (session: HardenableSession): void => {
    if (hardened.has(session)) return;
    hardened.add(session);
    hardenSession(session, options);
  };
  app.on('session-created', harden);
  for (const session of existing) harden(session);
}

// ---------------------------------------------------------------------------
// Navigation, new windows, webviews (checklist #13, #14, #12)
// ---------------------------------------------------------------------------

/**
 * Whether a frame may navigate to `url`: only within the app's own origin
 * (a reload of the app or a move between its own pages). No other origin,
 * not even fovea://data, whose files are data, not documents.
 */
export function isAllowedNavigation(url: string, allowedOrigin: string = APP_ORIGIN): boolean {
  const origin = originOf(url);
  return origin !== null && origin === allowedOrigin.toLowerCase();
}

/** Electron's navigation events, as far as hardenWebContents reads them. */
export interface NavigationEvent extends PreventableEvent {
  url: string;
  isMainFrame: boolean;
}

/** The part of an Electron WebContents that hardenWebContents touches. */
export interface HardenableWebContents {
  on(event: 'will-navigate', listener: (event: NavigationEvent) => void): unknown;
  on(event: 'will-redirect', listener: (event: NavigationEvent) => void): unknown;
  on(event: 'will-frame-navigate', listener: (event: NavigationEvent) => void): unknown;
  on(event: 'will-attach-webview', listener: (event: PreventableEvent) => void): unknown;
  on(
    event: 'select-bluetooth-device',
    listener: (event: PreventableEvent, devices: unknown, callback: (deviceId: string) => void) => void,
  ): unknown;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void;
}

/**
 * Lock down one webContents:
 * - Checklist #13: will-navigate / will-redirect / will-frame-navigate are
 *   prevented unless the target is the app's own origin; subframes may
 *   never navigate (the app has none: frame-src 'none').
 * - Checklist #14: window.open and target=_blank are denied. Links are not
 *   handed to the OS browser either: opening a URL is a network request.
 * - Checklist #12: attaching a <webview> is prevented (webviewTag is also off).
 * - Web Bluetooth's device chooser is cancelled (Electron would otherwise
 *   pick the first device found).
 */
export function hardenWebContents(contents: HardenableWebContents, allowedOrigin: string = APP_ORIGIN): void {
  const guardNavigation = (event: NavigationEvent): void => {
    if (!event.isMainFrame || !isAllowedNavigation(event.url, allowedOrigin)) event.preventDefault();
  };
  contents.on('will-navigate', guardNavigation);
  contents.on('will-redirect', guardNavigation);
  contents.on('will-frame-navigate', guardNavigation);
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.on('select-bluetooth-device', (event, _devices, callback) => {
    event.preventDefault();
    callback('');
  });
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

/** The part of Electron's App that hardenAllWebContents touches. */
export interface WebContentsCreatedSource {
  on(event: 'web-contents-created', listener: (event: unknown, contents: HardenableWebContents) => void): unknown;
}

/**
 * Harden every webContents the app creates (windows, and anything a bug
 * might create), before it loads anything.
 */
export function hardenAllWebContents(app: WebContentsCreatedSource, allowedOrigin: string = APP_ORIGIN): void {
  app.on('web-contents-created', (_event, contents) => hardenWebContents(contents, allowedOrigin));
}

// ---------------------------------------------------------------------------
// Chromium switches (offline guarantee)
// ---------------------------------------------------------------------------

export interface AppSwitch {
  readonly name: string;
  readonly value?: string;
  /** Why Fovea sets it. */
  readonly why: string;
}

/**
 * Chromium features that talk to servers on their own. Most are Chrome-only
 * and inert in Electron; switching them off costs nothing and keeps a
 * future Chromium from turning one on. Unknown names are ignored by Chromium.
 */
export const DISABLED_CHROMIUM_FEATURES: readonly string[] = Object.freeze([
  // Autofill asks Google's servers for form field types.
  'AutofillServerCommunication',
  // Optimization Guide downloads hints and models from Google.
  'OptimizationHints',
  // Media Router (Cast) discovers devices on the local network (mDNS, DIAL, SSDP).
  'MediaRouter',
  'DialMediaRouteProvider',
  // Certificate Transparency log lists are fetched by the component updater.
  'CertificateTransparencyComponentUpdater',
  // The network time tracker queries a Google time server.
  'NetworkTimeServiceQuerying',
  // Page translation contacts Google Translate.
  'Translate',
]);

/**
 * The switches main applies, before the app is ready, to stop Chromium's
 * background network activity. The session request filter cannot see
 * these: they come from the browser process, not from a page.
 */
export const APP_COMMAND_LINE_SWITCHES: readonly AppSwitch[] = Object.freeze([
  {
    name: 'disable-background-networking',
    why: 'Stops the browser-process services that fetch on their own, without a page asking.',
  },
  { name: 'disable-component-update', why: 'No component updater downloads (Widevine, CRL sets, ...).' },
  { name: 'disable-domain-reliability', why: 'No Domain Reliability monitoring uploads to Google.' },
  { name: 'no-pings', why: 'No hyperlink-auditing <a ping> requests.' },
  {
    name: 'no-proxy-server',
    why: 'Direct connections only: no proxy auto-detection (WPAD DNS lookups, PAC fetches) on the local network.',
  },
  { name: 'disable-client-side-phishing-detection', why: 'No phishing-model downloads.' },
  { name: 'disable-sync', why: 'No browser sync service.' },
  {
    name: 'disable-features',
    value: DISABLED_CHROMIUM_FEATURES.join(','),
    why: 'Features that talk to servers: see DISABLED_CHROMIUM_FEATURES.',
  },
].map((s) => Object.freeze(s)));

/** The part of Electron's CommandLine that applyAppSwitches touches. */
export interface CommandLineLike {
  appendSwitch(name: string, value?: string): void;
  hasSwitch(name: string): boolean;
  getSwitchValue(name: string): string;
  removeSwitch(name: string): void;
}

/**
 * Append APP_COMMAND_LINE_SWITCHES to the app's command line. Must run
 * before the 'ready' event (Chromium reads switches at startup). A
 * disable-features list already present (say, from a test build) is merged
 * rather than replaced.
 */
export function applyAppSwitches(app: { commandLine: CommandLineLike }): void {
  const commandLine = app.commandLine;
  for (const s of APP_COMMAND_LINE_SWITCHES) {
    if (s.value === undefined) {
      commandLine.appendSwitch(s.name);
      continue;
    }
    let value = s.value;
    if (s.name === 'disable-features' && commandLine.hasSwitch(s.name)) {
      const merged = new Set(
        [...commandLine.getSwitchValue(s.name).split(','), ...s.value.split(',')].map((f) => f.trim()).filter(Boolean),
      );
      value = [...merged].join(',');
      commandLine.removeSwitch(s.name);
    }
    commandLine.appendSwitch(s.name, value);
  }
}

// ---------------------------------------------------------------------------
// Crash reports and updates
// ---------------------------------------------------------------------------

/**
 * The options for `crashReporter.start`, if main starts it at all. Fovea
 * never uploads: dumps stay in the local crash-dumps folder
 * (app.getPath('crashDumps')), which a user may choose to send by hand.
 * Dumps hold process memory and so may hold patient data; that is why no
 * submitURL exists and no `extra` fields are attached.
 * ignoreSystemCrashHandler keeps main-process crashes from being forwarded
 * to the OS crash reporter, which may upload them to the OS vendor.
 *
 * There is no auto-updater in Fovea: updates are installed by the user from a
 * package, because checking for one would be a network request.
 */
export const CRASH_REPORTER_OPTIONS: Readonly<CrashReporterStartOptions> = Object.freeze({
  productName: 'Fovea',
  uploadToServer: false,
  ignoreSystemCrashHandler: true,
});

// ---------------------------------------------------------------------------
// Compile-time proof that the real Electron objects fit the structural types
// above, so main can pass them straight in. (Exported only so that an
// unused-type lint rule does not flag it.)
// ---------------------------------------------------------------------------
type Fits<Actual extends Expected, Expected> = Actual;
export type ElectronObjectsFit = [
  Fits<Session, HardenableSession>,
  Fits<WebContents, HardenableWebContents>,
  Fits<App, SessionCreatedSource>,
  Fits<App, WebContentsCreatedSource>,
  Fits<App, { commandLine: CommandLineLike }>,
];
