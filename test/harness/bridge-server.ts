/**
 * Browser-test harness: serves the real renderer build and a loopback-only
 * bridge to the REAL core, implementing the same contract as the Electron
 * preload (POST /__bridge/invoke -> core.dispatch, GET /__bridge/events ->
 * server-sent events). Test tooling: bound to 127.0.0.1, never part of the
 * packaged app (the layering lint forbids http in shipped code).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Core } from '../../electron/core/composition-root';
import { CONTENT_SECURITY_POLICY } from '../../electron/main/security';
import { mimeTypeFor, resolveContainedPath } from '../../electron/main/protocol-paths';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(here, '..', '..');
export const RENDERER_BUILD = join(REPO_ROOT, 'dist', 'renderer');
const BRIDGE_SCRIPT = '<script src="/__bridge/bridge.js"></script>';
const MAX_BODY = 16 * 1024 * 1024;
/** GET /__bridge/blob/<sha256>: thumbnails and stored images only, never DICOM files or the database. */
const BLOB_PATH = /^\/__bridge\/blob\/([0-9a-f]{64})$/;
const SERVABLE_BLOB_TYPES = new Set(['image/jpeg', 'image/png']);

/** The tag bridge-client.js looks for to turn base64 back into a typed array. */
export const TYPED_ARRAY_TAG = '__foveaTypedArray';
const TYPED_ARRAY_NAMES = new Set(['Uint8Array', 'Int8Array', 'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array', 'Uint8ClampedArray']);

/**
 * JSON with typed arrays: IPC's structured clone carries them natively, JSON
 * does not, so each becomes {__foveaTypedArray: 'Int16Array', base64}. The page
 * sees the same typed array either way (bridge-client.js decodes it).
 */
export function encodeBridgeJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (ArrayBuffer.isView(v) && !(v instanceof DataView) && TYPED_ARRAY_NAMES.has(v.constructor.name)) {
      return { [TYPED_ARRAY_TAG]: v.constructor.name, base64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
    }
    return v;
  });
}

export interface Bridge {
  url: string;
  server: Server;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string | Uint8Array, type: string): void {
  res.writeHead(status, {
    'content-type': type,
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
  });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startBridge(core: Core, options: { port?: number; staticDir?: string } = {}): Promise<Bridge> {
  const staticDir = options.staticDir ?? RENDERER_BUILD;
  // Without a build the page would wait for elements that never come: say what to run instead.
  if (!existsSync(join(staticDir, 'index.html'))) throw new Error(`No renderer build in ${staticDir}: run \`npm run build:renderer\` first.`);
  const clients = new Set<ServerResponse>();
  const unsubscribe = core.events.onAny((name, payload) => {
    const line = `data: ${JSON.stringify({ name, payload })}\n\n`;
    for (const c of clients) c.write(line);
  });
  let origin = '';

  const server = createServer((req, res) => {
    void (async () => {
      // DNS-rebinding guard: only our own loopback origin.
      if (req.headers.host !== origin.replace('http://', '')) return send(res, 421, 'misdirected', 'text/plain');
      const url = new URL(req.url ?? '/', origin);
      if (url.pathname === '/__bridge/invoke' && req.method === 'POST') {
        if (req.headers.origin && req.headers.origin !== origin) return send(res, 403, 'forbidden', 'text/plain');
        let msg: { name?: unknown; input?: unknown };
        try {
          msg = JSON.parse(await readBody(req)) as typeof msg;
        } catch {
          return send(res, 200, JSON.stringify({ ok: false, error: { code: 'VALIDATION', message: 'Malformed JSON.' } }), 'application/json');
        }
        const result = await core.dispatch(msg?.name, msg?.input);
        return send(res, 200, encodeBridgeJson(result), 'application/json');
      }
      if (url.pathname === '/__bridge/events' && req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
        res.write(': connected\n\n');
        clients.add(res);
        req.on('close', () => clients.delete(res));
        return;
      }
      if (url.pathname === '/__bridge/bridge.js') {
        return send(res, 200, await readFile(join(here, 'bridge-client.js')), 'text/javascript');
      }
      if (req.method !== 'GET') return send(res, 405, 'method not allowed', 'text/plain');
      if (url.pathname.startsWith('/__bridge/blob/')) {
        const m = BLOB_PATH.exec(url.pathname);
        if (!m?.[1]) return send(res, 400, 'not a blob hash', 'text/plain');
        const row = core.db.prepare('SELECT media_type AS type FROM blobs WHERE sha256 = ?').get(m[1]) as { type: string } | undefined;
        if (!row || !SERVABLE_BLOB_TYPES.has(row.type) || !core.blobs.has(m[1])) return send(res, 404, 'not found', 'text/plain');
        return send(res, 200, core.blobs.read(m[1]), row.type);
      }
      const path = url.pathname === '/' ? '/index.html' : url.pathname;
      const resolved = await resolveContainedPath(staticDir, path);
      if (!resolved.ok) return send(res, 404, 'not found', 'text/plain');
      let body: Buffer | string = await readFile(resolved.path);
      if (path === '/index.html') body = body.toString('utf8').replace('<head>', `<head>\n    ${BRIDGE_SCRIPT}`);
      return send(res, 200, body, mimeTypeFor(resolved.path));
    })().catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, `harness error: ${(e as Error).message}`, 'text/plain');
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/`,
    server,
    async close() {
      unsubscribe();
      for (const c of clients) c.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
