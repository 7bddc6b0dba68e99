/**
 * The shipped bundles, built fresh into a temporary folder by the project's
 * own build scripts, so a test checks what `npm run build` makes from the
 * sources as they are now (a stale dist/ could hide a change) and never
 * races another test that reads the repository's dist/.
 *
 * - main, preload, CLI, training and import workers: build/scripts/bundle-electron.mjs,
 *   run unchanged from a copy in a mirror of the repository (symbolic links
 *   to electron/, native-models/, node_modules/, package.json, tsconfigs), so
 *   its relative outputs land in the mirror's dist/;
 * - the renderer: `vite build` with renderer/vite.config.ts and --outDir.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './paths';

export interface BuiltBundle {
  root: string;
  /** dist/electron (main.mjs, preload.cjs, fovea-train-worker.mjs, fovea-import-worker.mjs) */
  electron: string;
  /** dist/cli (fovea.mjs, fovea-train-worker.mjs, fovea-import-worker.mjs) */
  cli: string;
  /** dist/renderer (index.html, assets/), when built */
  renderer: string | null;
  seconds: { electron: number; renderer: number };
  cleanup(): void;
}

const MIRRORED = ['electron', 'native-models', 'node_modules', 'package.json', 'tsconfig.json', 'tsconfig.base.json'];

export function buildBundle(options: { renderer: boolean }): BuiltBundle {
  const root = mkdtempSync(join(tmpdir(), 'fovea-bundle-'));
  try {
    mkdirSync(join(root, 'build', 'scripts'), { recursive: true });
    copyFileSync(join(REPO_ROOT, 'build', 'scripts', 'bundle-electron.mjs'), join(root, 'build', 'scripts', 'bundle-electron.mjs'));
    for (const name of MIRRORED) if (existsSync(join(REPO_ROOT, name))) symlinkSync(join(REPO_ROOT, name), join(root, name));
    let t = performance.now();
    const esb = spawnSync(process.execPath, [join(root, 'build', 'scripts', 'bundle-electron.mjs')], { cwd: root, encoding: 'utf8' });
    if (esb.status !== 0) throw new Error(`bundle-electron.mjs failed:\n${esb.stdout}\n${esb.stderr}`);
    const electronSeconds = (performance.now() - t) / 1000;
    let renderer: string | null = null;
    let rendererSeconds = 0;
    if (options.renderer) {
      t = performance.now();
      renderer = join(root, 'dist', 'renderer');
      const vite = spawnSync(
        process.execPath,
        [join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join(REPO_ROOT, 'renderer', 'vite.config.ts'), '--outDir', renderer, '--emptyOutDir', '--logLevel', 'error'],
        { cwd: REPO_ROOT, encoding: 'utf8' },
      );
      if (vite.status !== 0) throw new Error(`vite build failed:\n${vite.stdout}\n${vite.stderr}`);
      rendererSeconds = (performance.now() - t) / 1000;
    }
    return {
      root,
      electron: join(root, 'dist', 'electron'),
      cli: join(root, 'dist', 'cli'),
      renderer,
      seconds: { electron: electronSeconds, renderer: rendererSeconds },
      cleanup: () => rmSync(root, { recursive: true, force: true }),
    };
  } catch (e) {
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
}
