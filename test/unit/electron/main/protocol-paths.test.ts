/**
 * The fovea:// protocol over a real temporary folder: containment (every
 * traversal form, absolute/drive/UNC paths, NUL, double encoding, symlinks
 * out), MIME types and headers of what is served, status codes.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  handleProtocolRequest,
  mimeTypeFor,
  mimeTypeForHost,
  PRIVILEGED_SCHEME,
  resolveContainedPath,
  type ProtocolResponse,
  type ProtocolRoots,
} from '../../../../electron/main/protocol-paths';
import { APP_ORIGIN, CONTENT_SECURITY_POLICY } from '../../../../electron/main/security';

const SECRET = 'TOP-SECRET-PATIENT-DATA';

let base = '';
let roots: ProtocolRoots;
/** Symlinks could be created (not always so on Windows without privileges). */
let symlinks = true;

before(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'fovea-protocol-')));
  const app = join(base, 'app');
  const data = join(base, 'data');
  mkdirSync(join(app, 'assets'), { recursive: true });
  mkdirSync(join(app, 'nested', 'deep'), { recursive: true });
  mkdirSync(join(data, 'thumbs'), { recursive: true });
  mkdirSync(join(base, 'outside'), { recursive: true });
  mkdirSync(join(base, 'app-evil'), { recursive: true });
  writeFileSync(join(app, 'index.html'), '<!doctype html><title>Fovea</title>');
  writeFileSync(join(app, 'assets', 'main.js'), 'export {};');
  writeFileSync(join(app, 'assets', 'codec.wasm'), new Uint8Array([0, 0x61, 0x73, 0x6d]));
  writeFileSync(join(app, 'nested', 'deep', 'style.css'), 'body{}');
  writeFileSync(join(app, 'my file.json'), '{}');
  writeFileSync(join(data, 'thumbs', '1.png'), new Uint8Array([0x89, 0x50, 0x4e, 0x47]));
  writeFileSync(join(data, 'thumbs', 'evil.html'), '<script>alert(1)</script>');
  writeFileSync(join(data, 'thumbs', 'evil.svg'), '<svg onload="alert(1)"/>');
  writeFileSync(join(base, 'outside', 'secret.txt'), SECRET);
  writeFileSync(join(base, 'app-evil', 'secret.txt'), SECRET);
  try {
    symlinkSync(join(base, 'outside', 'secret.txt'), join(app, 'link-out.txt'), 'file');
    symlinkSync(join(base, 'outside'), join(app, 'dir-out'), 'dir');
    symlinkSync(join(base, 'app-evil'), join(app, 'sibling'), 'dir');
    symlinkSync(join(app, 'index.html'), join(app, 'link-in.html'), 'file');
    symlinkSync(join(base, 'outside', 'secret.txt'), join(data, 'thumbs', 'leak.png'), 'file');
  } catch {
    symlinks = false;
  }
  roots = { app, data };
});

after(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

const get = (url: string, headers?: Record<string, string>): Promise<ProtocolResponse> =>
  handleProtocolRequest(
    { url, method: 'GET', ...(headers ? { headers: { get: (n: string) => headers[n.toLowerCase()] ?? null } } : {}) },
    roots,
  );

function bodyText(res: ProtocolResponse): string {
  if (res.body === undefined) return '';
  return typeof res.body === 'string' ? res.body : Buffer.from(res.body).toString('utf8');
}

function assertCommonHeaders(res: ProtocolResponse): void {
  assert.equal(res.headers['Content-Security-Policy'], CONTENT_SECURITY_POLICY);
  assert.equal(res.headers['X-Content-Type-Options'], 'nosniff');
}

describe('resolveContainedPath refuses every way out of the root', () => {
  const attacks = [
    '/../outside/secret.txt',
    '/../../../../../../etc/passwd',
    '/%2e%2e/outside/secret.txt',
    '/%2E%2E/outside/secret.txt',
    '/.%2e/outside/secret.txt',
    '/%2e%2e%2foutside%2fsecret.txt',
    '/..%2foutside%2fsecret.txt',
    '/..%5coutside%5csecret.txt',
    '/%2e%2e%5coutside%5csecret.txt',
    '/..\\outside\\secret.txt',
    '/assets/..\\..\\outside\\secret.txt',
    '/....//outside/secret.txt',
    '/..../outside/secret.txt',
    '/assets/../../outside/secret.txt',
    '/./index.html',
    '/.. /outside/secret.txt',
    '/..%20/outside/secret.txt',
    '/..%00/outside/secret.txt',
    '/index.html%00.png',
    '/%00',
    '/index.html\u0000',
    '//etc/passwd',
    '/%2fetc%2fpasswd',
    '/\\etc\\passwd',
    '/C:\\Windows\\win.ini',
    '/C:/Windows/win.ini',
    '/c:%5cwindows%5cwin.ini',
    '/C:win.ini',
    '/\\\\server\\share\\x',
    '/%5c%5cserver%5cshare%5cx',
    '//server/share',
    '///server/share',
    '/%252e%252e/outside/secret.txt',
    '/%252e%252e%252foutside%252fsecret.txt',
    '/%25252e%25252e/outside/secret.txt',
    '/..%252f..%252foutside',
    '/index.html:$DATA',
    '/NUL',
    '/assets/con.txt',
    '/%zz',
    '/%e0%a4%a',
    '/assets//main.js',
  ];
  for (const attack of attacks) {
    test(JSON.stringify(attack), async () => {
      const r = await resolveContainedPath(roots.app, attack);
      assert.equal(r.ok, false, `${attack} resolved to ${r.ok ? r.path : ''}`);
    });
  }

  test('traversal forms are refused (403), not merely missing', async () => {
    for (const attack of ['/../outside/secret.txt', '/../', '/assets/../', '/%2e%2e/x', '/..%5cx', '//etc/passwd', '/C:\\x', '/\\\\server\\share', '/%00', '/%252e%252e/x']) {
      const r = await resolveContainedPath(roots.app, attack);
      assert.ok(!r.ok && r.kind === 'refused', attack);
    }
  });

  test('a symlink inside the root that points outside is refused', async (t) => {
    if (!symlinks) return t.skip('symlinks unavailable');
    for (const p of ['/link-out.txt', '/dir-out/secret.txt', '/sibling/secret.txt']) {
      const r = await resolveContainedPath(roots.app, p);
      assert.ok(!r.ok && r.kind === 'refused', p);
    }
    const leak = await resolveContainedPath(roots.data, '/thumbs/leak.png');
    assert.ok(!leak.ok && leak.kind === 'refused');
  });

  test('a symlink that stays inside is followed', async (t) => {
    if (!symlinks) return t.skip('symlinks unavailable');
    const r = await resolveContainedPath(roots.app, '/link-in.html');
    assert.deepEqual(r, { ok: true, path: join(roots.app, 'index.html') });
  });

  test('a root whose name is a prefix of a sibling does not reach the sibling', async () => {
    // base/app vs base/app-evil: a naive startsWith check would accept this.
    const r = await resolveContainedPath(join(base, 'app'), '/../app-evil/secret.txt');
    assert.equal(r.ok, false);
  });
});

describe('resolveContainedPath serves files under the root', () => {
  test('a file, a nested file, an encoded name', async () => {
    assert.deepEqual(await resolveContainedPath(roots.app, '/index.html'), { ok: true, path: join(roots.app, 'index.html') });
    assert.deepEqual(await resolveContainedPath(roots.app, '/nested/deep/style.css'), {
      ok: true,
      path: join(roots.app, 'nested', 'deep', 'style.css'),
    });
    assert.deepEqual(await resolveContainedPath(roots.app, '/my%20file.json'), { ok: true, path: join(roots.app, 'my file.json') });
  });

  test('missing files, directories and a missing root are "missing"', async () => {
    for (const [root, p] of [
      [roots.app, '/nope.js'],
      [roots.app, '/assets'],
      [roots.app, '/'],
      [join(base, 'no-such-root'), '/index.html'],
    ] as const) {
      const r = await resolveContainedPath(root, p);
      assert.ok(!r.ok && r.kind === 'missing', `${root} ${p}`);
    }
  });
});

describe('handleProtocolRequest', () => {
  test('serves the app: / is index.html, with the CSP and nosniff', async () => {
    const res = await get('fovea://app/');
    assert.equal(res.status, 200);
    assert.equal(res.headers['Content-Type'], 'text/html; charset=utf-8');
    assertCommonHeaders(res);
    assert.match(bodyText(res), /<title>Fovea<\/title>/);
    assert.equal((await get('fovea://app/index.html')).status, 200);
  });

  test('serves nested files with the right MIME type', async () => {
    const cases: [string, string][] = [
      ['fovea://app/assets/main.js', 'text/javascript; charset=utf-8'],
      ['fovea://app/assets/codec.wasm', 'application/wasm'],
      ['fovea://app/nested/deep/style.css', 'text/css; charset=utf-8'],
      ['fovea://app/my%20file.json?x=1#frag', 'application/json; charset=utf-8'],
    ];
    for (const [url, type] of cases) {
      const res = await get(url);
      assert.equal(res.status, 200, url);
      assert.equal(res.headers['Content-Type'], type, url);
      assertCommonHeaders(res);
    }
  });

  test('serves data uncached, readable by the app origin only', async () => {
    const res = await get('fovea://data/thumbs/1.png');
    assert.equal(res.status, 200);
    assert.equal(res.headers['Content-Type'], 'image/png');
    assert.equal(res.headers['Cache-Control'], 'no-store');
    assert.equal(res.headers['Access-Control-Allow-Origin'], APP_ORIGIN);
    assertCommonHeaders(res);
    assert.deepEqual([...(res.body as Uint8Array)], [0x89, 0x50, 0x4e, 0x47]);

    assert.equal((await get('fovea://data/thumbs/1.png', { origin: APP_ORIGIN })).status, 200);
    assert.equal((await get('fovea://data/thumbs/1.png', { origin: 'https://evil.example' })).status, 403);
    assert.equal((await get('fovea://data/thumbs/1.png', { origin: 'null' })).status, 403);
  });

  test('never labels a library file as a document or script', async () => {
    for (const url of ['fovea://data/thumbs/evil.html', 'fovea://data/thumbs/evil.svg']) {
      const res = await get(url);
      assert.equal(res.status, 200);
      assert.equal(res.headers['Content-Type'], 'application/octet-stream', url);
      assertCommonHeaders(res);
    }
  });

  test('GET only', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'get']) {
      const res = await handleProtocolRequest({ url: 'fovea://app/index.html', method }, roots);
      assert.equal(res.status, 405, method);
      assert.equal(res.headers['Allow'], 'GET');
      assertCommonHeaders(res);
    }
  });

  test('other hosts, ports, credentials and schemes are 404', async () => {
    for (const url of ['fovea://evil/index.html', 'fovea://app:8080/index.html', 'fovea://u:p@app/index.html', 'fovea:///index.html', 'https://app/index.html', 'nonsense']) {
      const res = await get(url);
      assert.equal(res.status, 404, url);
      assertCommonHeaders(res);
    }
  });

  test('missing files and directories are 404', async () => {
    for (const url of ['fovea://app/nope.js', 'fovea://app/assets', 'fovea://app/assets/', 'fovea://data/', 'fovea://data/thumbs/2.png']) {
      assert.equal((await get(url)).status, 404, url);
    }
  });

  test('refused paths are 403 and never echo the path or leak the file', async () => {
    const urls = [
      'fovea://app/..%2f..%2foutside%2fsecret.txt',
      'fovea://app/..%5coutside%5csecret.txt',
      'fovea://app/%2e%2e%5coutside%5csecret.txt',
      'fovea://app/..\\outside\\secret.txt',
      'fovea://app//etc/passwd',
      'fovea://app/C:%5cWindows%5cwin.ini',
      'fovea://app/C:/Windows/win.ini',
      'fovea://data//server/share',
      'fovea://app/%5c%5cserver%5cshare%5cx',
      'fovea://app/index.html%00.png',
      'fovea://app/%252e%252e/outside/secret.txt',
      ...(symlinks ? ['fovea://app/link-out.txt', 'fovea://app/dir-out/secret.txt', 'fovea://data/thumbs/leak.png'] : []),
    ];
    for (const url of urls) {
      const res = await get(url);
      assert.equal(res.status, 403, url);
      assertCommonHeaders(res);
      const text = bodyText(res);
      assert.doesNotMatch(text, /secret|outside|passwd|win\.ini|server|%|\.\./i, `${url}: ${text}`);
      assert.ok(!text.includes(SECRET));
    }
  });

  test('URL-normalised traversal (dot segments resolved by the URL parser) stays inside the root', async () => {
    for (const url of ['fovea://app/../outside/secret.txt', 'fovea://app/%2e%2e/outside/secret.txt', 'fovea://app/a/../../../outside/secret.txt']) {
      const res = await get(url);
      assert.notEqual(res.status, 200, url);
      assert.ok(!bodyText(res).includes(SECRET), url);
    }
  });

  test('uses the injected reader; a read failure is 404, never a throw', async () => {
    const read: string[] = [];
    const res = await handleProtocolRequest({ url: 'fovea://app/index.html', method: 'GET' }, roots, async (p) => {
      read.push(p);
      return new TextEncoder().encode('injected');
    });
    assert.equal(res.status, 200);
    assert.equal(bodyText(res), 'injected');
    assert.deepEqual(read, [join(roots.app, 'index.html')]);

    const failed = await handleProtocolRequest({ url: 'fovea://app/index.html', method: 'GET' }, roots, async () => {
      throw Object.assign(new Error('gone'), { code: 'ENOENT' });
    });
    assert.equal(failed.status, 404);
  });

  test('never throws on hostile input', async () => {
    const hostile = [
      { url: undefined as unknown as string, method: 'GET' },
      { url: 'fovea://app/index.html', method: undefined as unknown as string },
      {
        url: 'fovea://data/thumbs/1.png',
        method: 'GET',
        headers: {
          get() {
            throw new Error('boom');
          },
        },
      },
    ];
    for (const req of hostile) {
      const res = await handleProtocolRequest(req, roots);
      assert.ok(res.status >= 400, String(res.status));
      assertCommonHeaders(res);
    }
  });
});

test('mimeTypeFor: a small table, bytes by default', () => {
  const table: [string, string][] = [
    ['index.html', 'text/html; charset=utf-8'],
    ['a.js', 'text/javascript; charset=utf-8'],
    ['a.mjs', 'text/javascript; charset=utf-8'],
    ['a.css', 'text/css; charset=utf-8'],
    ['a.wasm', 'application/wasm'],
    ['a.json', 'application/json; charset=utf-8'],
    ['a.js.map', 'application/json; charset=utf-8'],
    ['a.png', 'image/png'],
    ['a.jpg', 'image/jpeg'],
    ['A.JPEG', 'image/jpeg'],
    ['a.svg', 'image/svg+xml'],
    ['a.woff2', 'font/woff2'],
    ['a.bin', 'application/octet-stream'],
    ['a.exe', 'application/octet-stream'],
    ['noext', 'application/octet-stream'],
    ['.html.evil', 'application/octet-stream'],
  ];
  for (const [p, type] of table) assert.equal(mimeTypeFor(p), type, p);
  assert.equal(mimeTypeForHost('data', 'x.js'), 'application/octet-stream');
  assert.equal(mimeTypeForHost('data', 'x.jpg'), 'image/jpeg');
  assert.equal(mimeTypeForHost('app', 'x.js'), 'text/javascript; charset=utf-8');
});

test('PRIVILEGED_SCHEME: standard, secure, fetch and stream; never bypassCSP', () => {
  assert.equal(PRIVILEGED_SCHEME.scheme, 'fovea');
  const p = PRIVILEGED_SCHEME.privileges;
  assert.ok(p);
  assert.equal(p.standard, true);
  assert.equal(p.secure, true);
  assert.equal(p.supportFetchAPI, true);
  assert.equal(p.stream, true);
  assert.notEqual(p.bypassCSP, true);
  assert.notEqual(p.allowServiceWorkers, true);
  assert.ok(Object.isFrozen(PRIVILEGED_SCHEME) && Object.isFrozen(p));
});
