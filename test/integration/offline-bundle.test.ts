/**
 * The offline guarantee, statically: everything Fovea ships of its own code
 * (the Electron main bundle, the preload, the CLI, the training workers, the
 * renderer's HTML, JS, CSS and SVG, resources/), built fresh by the project's
 * build scripts (test/helpers/build-bundle.ts), holds
 * - no remote URL, except the inert strings listed in ALLOWED_URLS, each with
 *   why it cannot cause a request;
 * - no import or require of a network module (http, https, net, tls, dns,
 *   http2, dgram, and client libraries such as node-fetch, axios, ws,
 *   undici), and no bare import of a package that is not a declared
 *   production dependency;
 * - no request API in main, preload, CLI or worker code (fetch, XMLHttpRequest,
 *   WebSocket, EventSource, sendBeacon, Electron's net), nor in the renderer
 *   beyond the one dead-code exception in ALLOWED_RENDERER_REQUESTS;
 * - no telemetry, crash upload or update code (autoUpdater, electron-updater,
 *   update-electron-app, submitURL, uploadToServer: true, Sentry,
 *   analytics SDKs);
 * and TF.js's wasm backend is pointed at local files (setWasmPaths), not at
 * its CDN default. The electron-builder configuration publishes nothing.
 * A finding fails the test with the file and the offset.
 *
 * The packaged app.asar is not unpacked here: building it runs
 * electron-builder (packaging.test.ts does, and asserts that its only files
 * of ours are dist/electron, dist/renderer and resources/, the very files
 * this test scans). Third-party packages are checked by what our bundles
 * import from them, not file by file (their sources hold many inert URLs,
 * and tfjs-node-gpu's installer downloads libtensorflow at `npm install`
 * time, before Fovea ever runs).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildBundle, type BuiltBundle } from '../helpers/build-bundle';
import { REPO_ROOT } from '../helpers/paths';

/** URL strings that may appear in shipped files, and why each is inert. */
const ALLOWED_URLS: { url: RegExp; files: RegExp; why: string }[] = [
  {
    url: /^http:\/\/www\.w3\.org\/2000\/svg$/u,
    files: /^(renderer\/|resources\/icons\/[^/]+\.svg$)/u,
    why: 'the SVG namespace: an identifier passed to createElementNS and the xmlns of favicon.svg and the app icon, never fetched',
  },
  {
    url: /^http:\/\/www\.w3\.org\/1999\/xhtml$/u,
    files: /^renderer\//u,
    why: 'the XHTML namespace: an identifier Svelte compares element namespaces with, never fetched',
  },
  {
    url: /^https:\/\/svelte\.dev\/e\/[a-z_]+$/u,
    files: /^renderer\/assets\/[^/]+\.js$/u,
    why: "Svelte's runtime error messages name their documentation page in the message text; nothing opens or fetches it (and the window may not navigate)",
  },
];

/** The one request API in the renderer bundle, and why it is dead code. */
const ALLOWED_RENDERER_REQUESTS: { near: RegExp; why: string }[] = [
  {
    near: /\.hot-update\.json/u,
    why: "webpack's hot-module-replacement runtime inside cornerstone-core's UMD build: it runs only when module.hot.check() is called, which nothing does, and would ask its own origin (CSP connect-src) for a .hot-update.json",
  },
];

const NETWORK_BUILTINS = ['http', 'https', 'net', 'tls', 'dns', 'dns/promises', 'http2', 'dgram', '_http_client', '_http_agent', '_tls_wrap', 'inspector'];
const NETWORK_PACKAGES = /^(node-fetch|axios|ws|undici|got|request|superagent|cross-fetch|isomorphic-fetch|socket\.io-client|needle|phin|ky|electron-updater|update-electron-app|electron-simple-updater|@sentry\/.*|sentry.*|@bugsnag\/.*|bugsnag.*|posthog.*|mixpanel.*|@segment\/.*|analytics-node|@amplitude\/.*|amplitude.*|applicationinsights|universal-analytics|@datadog\/.*|newrelic|@opentelemetry\/.*|electron-log)$/u;

/** Request APIs: never in main, preload, CLI or worker code. */
const REQUEST_APIS: { re: RegExp; what: string }[] = [
  { re: /\bfetch\s*\(/gu, what: 'fetch() call' },
  { re: /\bXMLHttpRequest\b/gu, what: 'XMLHttpRequest' },
  { re: /\bWebSocket\b/gu, what: 'WebSocket' },
  { re: /\bEventSource\b/gu, what: 'EventSource' },
  { re: /\bsendBeacon\b/gu, what: 'navigator.sendBeacon' },
  { re: /\bnet\s*\.\s*(request|fetch|connect|createConnection|Socket)\b/gu, what: "a network module's request call" },
  { re: /\b(process\.binding|internalBinding)\s*\(\s*["'`](tcp_wrap|udp_wrap|cares_wrap|tls_wrap|stream_wrap)/gu, what: 'a socket binding' },
  { re: /\bresolve(4|6|Any|Mx|Txt|Srv)?\s*\(\s*["'`][a-z0-9-]+\.[a-z]{2,}/giu, what: 'a DNS lookup' },
];

/** Telemetry, crash upload and update code: never anywhere. */
const PHONE_HOME: { re: RegExp; what: string }[] = [
  { re: /\bautoUpdater\b/gu, what: 'autoUpdater' },
  { re: /electron-updater|update-electron-app|checkForUpdates/gu, what: 'update code' },
  { re: /\bsubmitURL\b/gu, what: 'crash report upload URL' },
  { re: /\buploadToServer\s*:\s*(true|!0|1)\b/gu, what: 'crash report upload' },
  { re: /\bsentry\b|@sentry\//giu, what: 'Sentry' },
  { re: /google-analytics|googletagmanager|\bgtag\s*\(|\bmixpanel\b|\bposthog\b|\bamplitude\b|\bbugsnag\b|\bdatadog\b|\bnewrelic\b|applicationinsights|segment\.io/giu, what: 'analytics SDK' },
  { re: /\bsetFeedURL\b|\bsquirrel\b.*update/giu, what: 'update feed' },
];

const TEXT_EXT = /\.(m?js|cjs|html?|css|svg|json|txt|xml|map)$/iu;

interface ShippedFile {
  /** 'electron/main.mjs', 'renderer/assets/x.js', 'resources/...' */
  name: string;
  path: string;
  text: string;
}

function walk(dir: string, prefix: string, out: ShippedFile[], binaries: string[]): void {
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    const name = `${prefix}/${e}`;
    if (statSync(p).isDirectory()) walk(p, name, out, binaries);
    else if (TEXT_EXT.test(e)) out.push({ name, path: p, text: readFileSync(p, 'utf8') });
    else binaries.push(name);
  }
}

function where(f: ShippedFile, offset: number): string {
  const line = f.text.slice(0, offset).split('\n').length;
  return `${f.name} at offset ${offset} (line ${line}): ${JSON.stringify(f.text.slice(Math.max(0, offset - 40), offset + 80))}`;
}

/** Module specifiers a bundle imports or requires (static, dynamic, require, side-effect import). */
function importedSpecifiers(text: string): { spec: string; offset: number }[] {
  const out: { spec: string; offset: number }[] = [];
  const patterns = [
    /(?:^|[;}])\s*import\s*(?:[\w*{}\s,$]+?\s*from\s*)?["']([^"']+)["']/gmu,
    /(?:^|[;}])\s*export\s*(?:\*|\{[^}]*\})\s*from\s*["']([^"']+)["']/gmu,
    /\bimport\s*\(\s*["'`]([^"'`]+)["'`]\s*\)/gu,
    /\brequire\s*\(\s*["'`]([^"'`]+)["'`]\s*\)/gu,
    /\b(?:createRequire\([^)]*\)|require\.resolve)\s*\(\s*["'`]([^"'`]+)["'`]\s*\)/gu,
  ];
  for (const re of patterns) {
    for (const m of text.matchAll(re)) {
      // A module name, not a piece of text that happens to follow the word (`"...to import"`, `require(`+n+`)`).
      if (/^[@\w./:-]+$/u.test(m[1] as string)) out.push({ spec: m[1] as string, offset: m.index ?? 0 });
    }
  }
  return out;
}

function packageName(spec: string): string {
  return spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string);
}

describe('the shipped bundle holds no network, telemetry or update code', { timeout: 120_000 }, () => {
  let bundle: BuiltBundle;
  const files: ShippedFile[] = [];
  const binaries: string[] = [];
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };

  before(() => {
    bundle = buildBundle({ renderer: true });
    console.log(`built the bundles in ${bundle.seconds.electron.toFixed(1)} s and the renderer in ${bundle.seconds.renderer.toFixed(1)} s`);
    walk(bundle.electron, 'electron', files, binaries);
    walk(bundle.cli, 'cli', files, binaries);
    walk(bundle.renderer as string, 'renderer', files, binaries);
    if (existsSync(join(REPO_ROOT, 'resources'))) walk(join(REPO_ROOT, 'resources'), 'resources', files, binaries);
  });
  after(() => bundle?.cleanup());

  test('the build made every shipped bundle', () => {
    const names = files.map((f) => f.name);
    for (const f of ['electron/main.mjs', 'electron/preload.cjs', 'electron/fovea-train-worker.mjs', 'electron/fovea-import-worker.mjs', 'cli/fovea.mjs', 'cli/fovea-train-worker.mjs', 'cli/fovea-import-worker.mjs', 'renderer/index.html']) {
      assert.ok(names.includes(f), `${f} was not built`);
    }
    assert.ok(names.some((n) => /^renderer\/assets\/.+\.js$/u.test(n)), 'no renderer script');
    assert.ok(names.some((n) => /^renderer\/assets\/.+\.css$/u.test(n)), 'no renderer style sheet');
    // Fonts, images and wasm would be fetched by the page: whatever else ships must be looked at here first.
    assert.deepEqual(binaries.filter((b) => !/^resources\//u.test(b)), [], 'binary files in the bundles');
    assert.ok(files.reduce((n, f) => n + f.text.length, 0) > 1_000_000, 'the bundles are suspiciously small');
  });

  test('no remote URL but the documented inert strings', () => {
    const findings: string[] = [];
    const used = new Set<number>();
    for (const f of files) {
      for (const m of f.text.matchAll(/\b(?:https?|wss?|ftps?):\/\/[^\s"'`<>)\\]*/giu)) {
        const url = m[0].replace(/[.,;:]+$/u, '');
        const allowed = ALLOWED_URLS.findIndex((a) => a.url.test(url) && a.files.test(f.name));
        if (allowed >= 0) used.add(allowed);
        else findings.push(`${url} in ${where(f, m.index ?? 0)}`);
      }
      // Protocol-relative URLs in strings ("//cdn.example.com/x.js").
      for (const m of f.text.matchAll(/["'`]\/\/[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}[/"'`]/giu)) findings.push(`protocol-relative URL in ${where(f, m.index ?? 0)}`);
    }
    assert.deepEqual(findings, [], `remote URLs in shipped files:\n${findings.join('\n')}`);
    ALLOWED_URLS.forEach((a, i) => {
      if (!used.has(i)) console.log(`allowed URL no longer present (the allow-list entry can go): ${a.url}`);
    });
  });

  test('no network module is imported, and every package imported is a declared production dependency', () => {
    const findings: string[] = [];
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    const deps = new Set(Object.keys(pkg.dependencies));
    const imported = new Set<string>();
    for (const f of files.filter((x) => /\.(m?js|cjs)$/u.test(x.name))) {
      for (const { spec, offset } of importedSpecifiers(f.text)) {
        const bare = spec.replace(/^node:/u, '');
        if (NETWORK_BUILTINS.includes(bare) || NETWORK_PACKAGES.test(packageName(spec))) {
          findings.push(`imports "${spec}" in ${where(f, offset)}`);
          continue;
        }
        if (spec.startsWith('.') || spec.startsWith('/') || builtins.has(spec) || /^(data|blob):/u.test(spec)) continue;
        if (spec === 'electron') {
          if (!/^electron\/(main\.mjs|preload\.cjs)$/u.test(f.name)) findings.push(`imports electron outside main and preload: ${where(f, offset)}`);
          continue;
        }
        const name = packageName(spec);
        imported.add(name);
        if (!deps.has(name)) findings.push(`imports "${spec}", which is not a production dependency, in ${where(f, offset)}`);
      }
    }
    assert.deepEqual(findings, [], findings.join('\n'));
    // The scan sees the imports at all (the external packages of the main bundle).
    for (const name of ['better-sqlite3', 'sharp', 'dicom-parser']) assert.ok(imported.has(name), `${name} not seen among the imports`);
    for (const name of deps) assert.ok(!NETWORK_PACKAGES.test(name), `production dependency ${name} is a network or telemetry package`);
  });

  test('no request API in main, preload, CLI or worker code; in the renderer only the documented dead code', () => {
    const findings: string[] = [];
    for (const f of files.filter((x) => /\.(m?js|cjs)$/u.test(x.name))) {
      for (const api of REQUEST_APIS) {
        for (const m of f.text.matchAll(api.re)) {
          const offset = m.index ?? 0;
          if (f.name.startsWith('renderer/')) {
            const around = f.text.slice(Math.max(0, offset - 600), offset + 600);
            if (ALLOWED_RENDERER_REQUESTS.some((a) => a.near.test(around))) continue;
          }
          findings.push(`${api.what} in ${where(f, offset)}`);
        }
      }
    }
    assert.deepEqual(findings, [], findings.join('\n'));
  });

  test('no telemetry, crash upload or update code anywhere', () => {
    const findings: string[] = [];
    for (const f of files) for (const p of PHONE_HOME) for (const m of f.text.matchAll(p.re)) findings.push(`${p.what} in ${where(f, m.index ?? 0)}`);
    assert.deepEqual(findings, [], findings.join('\n'));
    // electron-builder publishes nothing and writes no update metadata.
    const require = createRequire(join(REPO_ROOT, 'package.json'));
    const config = require(join(REPO_ROOT, 'build', 'electron-builder.config.cjs')) as Record<string, unknown>;
    assert.equal(config['publish'], null);
    assert.equal(config['detectUpdateChannel'], false);
    assert.equal(config['generateUpdatesFilesForAllChannels'], false);
  });

  test("TF.js's wasm backend loads its binaries from local files, not from a CDN", () => {
    for (const name of ['electron/fovea-train-worker.mjs', 'cli/fovea-train-worker.mjs']) {
      const f = files.find((x) => x.name === name);
      assert.ok(f, name);
      const at = f.text.indexOf('setWasmPaths(');
      assert.ok(at >= 0, `${name} does not call setWasmPaths: TF.js would use its default (CDN) location for the .wasm files`);
    }
  });

  test('the scanner finds what it looks for (it is not blind)', () => {
    const probe: ShippedFile = {
      name: 'electron/probe.mjs',
      path: '',
      text: 'import http from "node:http";\nconst a = require("axios");\nawait fetch("https://example.com/x");\nimport("ws");\nautoUpdater.checkForUpdates();\n',
    };
    const specs = importedSpecifiers(probe.text).map((s) => s.spec).sort();
    assert.deepEqual(specs, ['axios', 'node:http', 'ws']);
    assert.ok(REQUEST_APIS.some((a) => new RegExp(a.re.source, a.re.flags).test(probe.text)));
    assert.ok(PHONE_HOME.some((a) => new RegExp(a.re.source, a.re.flags).test(probe.text)));
  });
});
