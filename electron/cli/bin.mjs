#!/usr/bin/env node
// The installed `fovea` command. Runs the bundled CLI (dist/cli/fovea.mjs, made by
// `npm run build`); from a source checkout without a build, runs the TypeScript
// through tsx.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bundled = join(root, 'dist', 'cli', 'fovea.mjs');
if (existsSync(bundled)) {
  process.argv[1] = bundled;
  await import(pathToFileURL(bundled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const entry = join(root, 'electron', 'cli', 'main.ts');
  process.argv[1] = entry;
  await import(pathToFileURL(entry).href);
}
