// Bundles the Node side with esbuild:
//   dist/electron/main.mjs     Electron main process (ESM; Electron >= 28)
//   dist/electron/preload.cjs  sandboxed preload (one CommonJS file: a sandboxed
//                              preload can only require 'electron')
//   dist/cli/fovea.mjs         the `fovea` command
//   fovea-train-worker.mjs     the training worker, beside each bundle that starts it
//                              (native-models/engine.ts resolves it next to itself)
//   fovea-import-worker.mjs    the import worker, beside each bundle that starts it
//                              (electron/core/import/file-preparer.ts resolves it likewise)
// Dependencies stay in node_modules (native modules and wasm codecs must load
// from their own folders); only our code is bundled.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: false, logLevel: 'warning', absWorkingDir: root };

await Promise.all([
  build({
    ...common,
    entryPoints: ['electron/main/main.ts'],
    outfile: 'dist/electron/main.mjs',
    format: 'esm',
    packages: 'external',
  }),
  build({
    ...common,
    entryPoints: ['electron/preload/preload.ts'],
    outfile: 'dist/electron/preload.cjs',
    format: 'cjs',
    external: ['electron'],
  }),
  build({
    ...common,
    entryPoints: ['electron/cli/main.ts'],
    outfile: 'dist/cli/fovea.mjs',
    format: 'esm',
    packages: 'external',
    banner: { js: '#!/usr/bin/env node' },
  }),
  ...['dist/electron', 'dist/cli'].flatMap((dir) => [
    build({
      ...common,
      entryPoints: ['native-models/train/worker.ts'],
      outfile: `${dir}/fovea-train-worker.mjs`,
      format: 'esm',
      packages: 'external',
    }),
    build({
      ...common,
      entryPoints: ['electron/core/import/import-worker.ts'],
      outfile: `${dir}/fovea-import-worker.mjs`,
      format: 'esm',
      packages: 'external',
    }),
  ]),
]);
console.log('bundled dist/electron/main.mjs, dist/electron/preload.cjs, dist/cli/fovea.mjs and the training and import workers');
