/**
 * The fovea:// protocol: which file a URL names, and the response for it.
 *
 * fovea://app/... serves the built UI, fovea://data/... the library's pixel
 * data and thumbnails. A URL is attacker-controlled input (a page with an
 * injected `<img src>` chooses it), so a path is served only when its real
 * path, symlinks resolved, is a regular file under the root of its host.
 * `../`, `%2e%2e`, `..%5c`, absolute, drive and UNC paths, NUL bytes,
 * double encoding and symlinks that point out are refused (Electron
 * security checklist #18: serve local content through a custom protocol
 * that cannot reach beyond its folder, not through file://).
 *
 * Pure Node: main wraps handleProtocolRequest into `protocol.handle`, tests
 * call it directly.
 */
import type { CustomScheme } from 'electron';
import { readFile as fsReadFile, realpath, stat } from 'node:fs/promises';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';
import { hasUnsafeChar } from '../contract/unsafe-chars';
import { APP_HOST, APP_ORIGIN, APP_SCHEME, CONTENT_SECURITY_POLICY, DATA_HOST } from './security';

/**
 * How fovea: is registered (`protocol.registerSchemesAsPrivileged`, before
 * ready).
 * - standard: URLs parse like http (host, path, origin), so fovea://app is
 *   an origin that CSP 'self' and IPC sender checks can name.
 * - secure: a secure context (crypto.subtle, no mixed-content downgrade).
 * - supportFetchAPI: fetch() of fovea:// URLs (wasm codecs, pixel data).
 * - stream: responses may be streamed (large pixel data).
 * - corsEnabled: the UI (fovea://app) fetches pixel data from fovea://data,
 *   a different origin; without it Electron refuses every cross-origin
 *   fetch to the scheme. The privilege also skips the Access-Control-Allow-
 *   Origin check, so any origin could read fovea://data, but no other
 *   origin can exist in Fovea: navigation, frames, popups and webviews are
 *   refused and the request filter cancels everything remote. The handler
 *   still sends `Access-Control-Allow-Origin: fovea://app` only, and refuses
 *   a request that states another Origin.
 * Not bypassCSP (the CSP must hold for our own pages), not
 * allowServiceWorkers, not codeCache.
 */
export const PRIVILEGED_SCHEME: Readonly<CustomScheme> = Object.freeze({
  scheme: APP_SCHEME,
  privileges: Object.freeze({
    standard: true,
    secure: true,
    supportFetchAPI: true,
    stream: true,
    corsEnabled: true,
    bypassCSP: false,
    allowServiceWorkers: false,
    codeCache: false,
  }),
});

export type ContainedPath = { ok: true; path: string } | { ok: false; reason: string; kind: 'refused' | 'missing' };

const refused = (reason: string): ContainedPath => ({ ok: false, reason, kind: 'refused' });
const missing = (reason: string): ContainedPath => ({ ok: false, reason, kind: 'missing' });

/** Percent-encoded `.`, `/`, `\`, `%` or NUL left over after one decoding: a double-encoding attempt. */
const DOUBLE_ENCODED = /%(?:2e|2f|5c|25|00)/i;
/** Windows device names, which name a device in every folder (`C:\\app\\NUL.txt` is NUL). */
const WINDOWS_DEVICE = /^(?:con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(?:\..*)?$/iu;

/** Whether `child` is `root` or lies under it (both absolute and normalised). */
function isInside(root: string, child: string): boolean {
  const rel = relative(root, child);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * The real path of the file a URL path names under `root`, or why not.
 *
 * `urlPathname` is the path part of the URL as it arrives (still
 * percent-encoded, with its leading `/`). It is decoded exactly once; then
 * refused when any segment is empty or all dots (`.`, `..`, `....`), ends
 * in a dot or space (Windows drops those, so `.. ` is `..`), contains `:`
 * (drive letters, drive-relative paths, NTFS streams), is a Windows device
 * name (`NUL`, `COM1.txt`), contains a control character or NUL, or still contains an encoded dot, slash, backslash or percent.
 * Both `/` and `\` separate segments, whatever the platform, so absolute
 * (`//etc/passwd`), UNC (`\\server\share`, `//server/share`) and Windows
 * paths never form. Finally the candidate's real path must be a regular
 * file under the real path of `root`, so a symlink that points out is
 * refused.
 *
 * `kind` tells the handler whether to answer 403 (refused) or 404 (missing).
 */
export async function resolveContainedPath(root: string, urlPathname: string): Promise<ContainedPath> {
  if (typeof urlPathname !== 'string' || typeof root !== 'string' || root === '') return refused('bad arguments');

  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPathname);
  } catch {
    return refused('malformed percent-encoding');
  }
  if (hasUnsafeChar(decoded)) return refused('control character');
  if (DOUBLE_ENCODED.test(decoded)) return refused('double-encoded');

  // The URL path starts with the one '/' that follows the host; what comes
  // after it is relative to the root. A second leading separator means an
  // absolute or UNC path.
  const rest = decoded.startsWith('/') ? decoded.slice(1) : decoded;
  if (rest === '') return missing('empty path');
  if (rest.startsWith('/') || rest.startsWith('\\')) return refused('absolute path');

  // A trailing separator names a folder, which is never served (after the
  // checks below, so `../` is still refused as traversal).
  const folder = rest.endsWith('/') || rest.endsWith('\\');
  const segments = (folder ? rest.slice(0, -1) : rest).split(/[/\\]/u);
  for (const segment of segments) {
    if (segment === '') return refused('empty segment');
    if (/^\.+$/u.test(segment)) return refused('dot segment');
    if (segment.endsWith('.') || segment.endsWith(' ')) return refused('trailing dot or space');
    if (segment.includes(':')) return refused('drive or stream');
    if (WINDOWS_DEVICE.test(segment)) return refused('device name');
  }
  if (folder) return missing('folder');

  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch {
    return missing('root unavailable');
  }
  const candidate = resolve(realRoot, ...segments);
  if (!isInside(realRoot, candidate) || candidate === realRoot) return refused('outside root');

  let realCandidate: string;
  try {
    realCandidate = await realpath(candidate);
  } catch {
    return missing('not found');
  }
  if (!isInside(realRoot, realCandidate) || realCandidate === realRoot) return refused('outside root');

  try {
    const info = await stat(realCandidate);
    if (!info.isFile()) return missing('not a file');
  } catch {
    return missing('not found');
  }
  return { ok: true, path: realCandidate };
}

/** MIME types by extension; anything else is served as opaque bytes. */
const MIME_TYPES: Readonly<Record<string, string>> = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  // WebAssembly.instantiateStreaming requires exactly this type.
  '.wasm': 'application/wasm',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.dcm': 'application/dicom',
  '.bin': 'application/octet-stream',
});

export const OCTET_STREAM = 'application/octet-stream';

/** The Content-Type for a file path, by extension (case-insensitive). */
export function mimeTypeFor(path: string): string {
  return MIME_TYPES[extname(path).toLowerCase()] ?? OCTET_STREAM;
}

/**
 * Types the data host may label a file with. Library files come from
 * imported, untrusted input; a file there must never be served as a
 * document or script (HTML, SVG, JS) on the fovea://data origin.
 */
const DATA_MIME_TYPES = new Set(['image/png', 'image/jpeg', 'image/webp', 'image/gif', 'application/dicom', OCTET_STREAM]);

/** The Content-Type the given host serves a file with. */
export function mimeTypeForHost(host: string, path: string): string {
  const type = mimeTypeFor(path);
  if (host === DATA_HOST && !DATA_MIME_TYPES.has(type)) return OCTET_STREAM;
  return type;
}

export interface ProtocolRoots {
  /** The built renderer (dist/renderer). */
  app: string;
  /** The folder library data (pixel data, thumbnails) is served from. */
  data: string;
}

export interface ProtocolRequest {
  url: string;
  method: string;
  /** Request headers, when the caller has them (only Origin is read). */
  headers?: { get(name: string): string | null } | undefined;
}

export interface ProtocolResponse {
  status: number;
  headers: Record<string, string>;
  body?: Uint8Array | string;
}

export type ReadFile = (path: string) => Promise<Uint8Array>;

/** Headers on every response, errors included. */
function baseHeaders(): Record<string, string> {
  return {
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    // The browser must not guess a type: a library file labelled as bytes stays bytes.
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  };
}

function errorResponse(status: number, text: string, extra: Record<string, string> = {}): ProtocolResponse {
  // The body never echoes the path: an error page must not reflect input.
  return {
    status,
    headers: { ...baseHeaders(), 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...extra },
    body: text,
  };
}

/**
 * The response for one fovea:// request. Never throws.
 *
 * GET only (405 otherwise); host `app` serves `roots.app` (`/` is
 * index.html), host `data` serves `roots.data`; any other host, a port or
 * credentials, or a missing file is 404; a refused path is 403. Every
 * response carries the CSP and `X-Content-Type-Options: nosniff`; data
 * responses are `Cache-Control: no-store` (patient data stays out of
 * Chromium's disk cache) and readable by the app origin only.
 */
export async function handleProtocolRequest(
  request: ProtocolRequest,
  roots: ProtocolRoots,
  readFile: ReadFile = fsReadFile,
): Promise<ProtocolResponse> {
  try {
    if (request.method !== 'GET') return errorResponse(405, 'Method not allowed', { Allow: 'GET' });

    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return errorResponse(404, 'Not found');
    }
    if (url.protocol !== `${APP_SCHEME}:` || url.port !== '' || url.username !== '' || url.password !== '') {
      return errorResponse(404, 'Not found');
    }
    const host = url.hostname.toLowerCase();
    let root: string;
    if (host === APP_HOST) root = roots.app;
    else if (host === DATA_HOST) root = roots.data;
    else return errorResponse(404, 'Not found');

    if (host === DATA_HOST) {
      // corsEnabled lets any origin read the scheme; state it ourselves.
      const origin = request.headers?.get('origin') ?? null;
      if (origin !== null && origin !== APP_ORIGIN) return errorResponse(403, 'Forbidden');
    }

    const pathname = host === APP_HOST && url.pathname === '/' ? '/index.html' : url.pathname;
    const resolved = await resolveContainedPath(root, pathname);
    if (!resolved.ok) {
      return resolved.kind === 'refused' ? errorResponse(403, 'Forbidden') : errorResponse(404, 'Not found');
    }

    let body: Uint8Array;
    try {
      body = await readFile(resolved.path);
    } catch {
      return errorResponse(404, 'Not found');
    }

    const headers: Record<string, string> = { ...baseHeaders(), 'Content-Type': mimeTypeForHost(host, resolved.path) };
    if (host === DATA_HOST) {
      headers['Cache-Control'] = 'no-store';
      headers['Access-Control-Allow-Origin'] = APP_ORIGIN;
    } else {
      // The UI's files change only with the app; revalidate rather than trust a stale copy.
      headers['Cache-Control'] = 'no-cache';
    }
    return { status: 200, headers, body };
  } catch {
    return errorResponse(500, 'Internal error');
  }
}
