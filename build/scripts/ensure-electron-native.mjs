// `npm start` runs this first. Native modules must match the ABI of the
// runtime that loads them: `npm test` runs in Node, `npm start` in Electron.
// Instead of rebuilding back and forth, keep an Electron-ABI build of
// better-sqlite3 in its own folder (.electron-native/), which the main
// process passes to better-sqlite3 as `nativeBinding`. Built once, with
// @electron/rebuild (it needs Electron's headers from the internet the first
// time, like the Electron binary itself).
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, 'package.json'));
const target = join(root, '.electron-native');
const modules = ['better-sqlite3'];

const electronVersion = JSON.parse(readFileSync(require.resolve('electron/package.json'), 'utf8')).version;
const stamp = join(target, 'electron-version.txt');
const binary = join(target, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
const sqliteVersion = JSON.parse(readFileSync(require.resolve('better-sqlite3/package.json'), 'utf8')).version;
const wanted = `${electronVersion} better-sqlite3@${sqliteVersion}`;

if (existsSync(binary) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === wanted) {
  process.exit(0);
}

console.log(`Building better-sqlite3 for Electron ${electronVersion} into .electron-native/ (once)...`);
rmSync(target, { recursive: true, force: true });
mkdirSync(join(target, 'node_modules'), { recursive: true });
for (const m of modules) {
  const src = dirname(require.resolve(`${m}/package.json`));
  cpSync(src, join(target, 'node_modules', m), { recursive: true, filter: (p) => !p.includes(`${m}/build`) });
}
writeFileSync(join(target, 'package.json'), JSON.stringify({ name: 'fovea-electron-native', private: true, dependencies: Object.fromEntries(modules.map((m) => [m, '*'])) }));

try {
  const { rebuild } = await import('@electron/rebuild');
  await rebuild({ buildPath: target, electronVersion, onlyModules: modules, force: true, mode: 'sequential' });
  writeFileSync(stamp, wanted);
  console.log('Done.');
} catch (e) {
  rmSync(target, { recursive: true, force: true });
  console.error(
    [
      '',
      `Could not build better-sqlite3 for Electron ${electronVersion}: ${e?.message ?? e}`,
      'This step downloads Electron\'s headers once; it needs internet access (as does the Electron binary itself).',
      'Connect to the internet and run `npm start` again. The CLI (`npm run fovea`) and `npm test` do not need it.',
    ].join('\n'),
  );
  process.exit(1);
}
