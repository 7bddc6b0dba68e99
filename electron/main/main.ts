/**
 * The Electron main process: thin. App lifecycle, the one window factory,
 * security (security.ts), the fovea:// protocol (protocol-paths.ts), and the
 * IPC binding of the contract to the core (ipc-guard.ts). Everything else
 * lives in core/, which runs in plain Node too.
 *
 * No auto-updater and no crash upload, by design: IT pushes new versions,
 * and nothing leaves the machine.
 */
import { app, BrowserWindow, ipcMain, protocol, session } from 'electron';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHANNEL_PREFIX, EVENT_CHANNEL, REQUEST_NAMES } from '../contract/api';
import { resolveLibraryDir } from '../core/app/library-location';
import { createMlEngine } from '../../native-models/engine';
import { createAssistEngine } from '../../native-models/assist/assist-engine';
import type { AssistEngine } from '../contract/assist-engine';
import { createCore, type Core } from '../core/composition-root';
import { loadPolicy } from '../core/policy/policy';
import { BLOB_DIR } from '../core/store/blob-store';
import { createIpcDispatcher } from './ipc-guard';
import { handleProtocolRequest, PRIVILEGED_SCHEME } from './protocol-paths';
import {
  APP_ORIGIN,
  APP_SCHEME,
  applyAppSwitches,
  createWindowOptions,
  hardenAllSessions,
  hardenAllWebContents,
  hardenSession,
} from './security';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/electron -> repository (or app.asar) root. */
const appRoot = join(here, '..', '..');
const rendererRoot = join(appRoot, 'dist', 'renderer');
const preloadPath = join(here, 'preload.cjs');

/**
 * In development, better-sqlite3 for Electron's ABI lives in its own folder
 * (built by build/scripts/ensure-electron-native.mjs) so that `npm test`
 * keeps Node's build. Packaged apps are rebuilt by electron-builder instead.
 */
function electronNativeBinding(): string | undefined {
  if (app.isPackaged) return undefined;
  const p = join(appRoot, '.electron-native', 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
  return existsSync(p) ? p : undefined;
}

function libraryFlag(argv: readonly string[]): string | undefined {
  const i = argv.indexOf('--library');
  return i >= 0 ? argv[i + 1] : undefined;
}

applyAppSwitches(app);
protocol.registerSchemesAsPrivileged([PRIVILEGED_SCHEME]);
// Hook session and web-contents creation before anything can be created.
hardenAllSessions(app);
hardenAllWebContents(app);

let core: Core | null = null;
let assist: AssistEngine | null = null;
let mainWindow: BrowserWindow | null = null;

function createMainWindow(): BrowserWindow {
  const win = new BrowserWindow(createWindowOptions(preloadPath, { dev: !app.isPackaged && process.env['FOVEA_DEVTOOLS'] === '1' }));
  win.once('ready-to-show', () => win.show());
  void win.loadURL(`${APP_ORIGIN}/index.html`);
  return win;
}

async function start(): Promise<void> {
  await app.whenReady();
  // The default session may exist before 'session-created' fires; hardening twice is harmless.
  hardenSession(session.defaultSession);

  // IT's policy (system location, registry, managed preferences) wins over flags and settings;
  // a malformed policy applies the safest settings and the UI shows why (policy.get).
  const policy = await loadPolicy();
  const libraryDir = policy.policy.libraryLocation ?? resolveLibraryDir(libraryFlag(process.argv));
  const nativeBinding = electronNativeBinding();
  assist = createAssistEngine();
  // The packs live in resources/models of the app (unpacked from the asar: build/electron-builder.config.cjs).
  core = createCore({ libraryDir, ml: createMlEngine(), assist, modelPacksDir: join(appRoot, 'resources', 'models'), policy, ...(nativeBinding ? { nativeBinding } : {}) });

  // fovea://data serves only the content-addressed blob store (thumbnails,
  // stored images), never the database files next to it.
  const dataRoot = join(libraryDir, BLOB_DIR);
  protocol.handle(APP_SCHEME, async (request) => {
    const res = await handleProtocolRequest(
      { url: request.url, method: request.method, headers: request.headers },
      { app: rendererRoot, data: dataRoot },
    );
    return new Response(res.body ?? null, { status: res.status, headers: res.headers });
  });

  const dispatcher = createIpcDispatcher((name, payload) => core!.dispatch(name, payload));
  for (const name of REQUEST_NAMES) {
    const channel = `${CHANNEL_PREFIX}${name}`;
    ipcMain.handle(channel, (event, payload: unknown) => dispatcher.handle(channel, event.senderFrame, payload));
  }
  core.events.onAny((name, payload) => {
    mainWindow?.webContents.send(EVENT_CHANNEL, { name, payload });
  });

  mainWindow = createMainWindow();
  mainWindow.on('closed', () => {
    mainWindow = null;
  });
}

app.on('window-all-closed', () => {
  core?.close();
  core = null;
  // The model workers finish a run in progress first: stopping one inside ONNX Runtime aborts the process.
  const closing = assist?.dispose() ?? Promise.resolve();
  assist = null;
  void closing.finally(() => app.quit());
});

start().catch((e: unknown) => {
  console.error('[fovea] failed to start:', e);
  app.exit(2);
});
