/** Versions of Fovea and what it runs on. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AppVersions } from '../../contract/domain';

const require = createRequire(import.meta.url);

export function installedPackageVersion(name: string): string | null {
  try {
    return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

/**
 * The app's root folder: the nearest folder above this module whose package.json is named
 * "fovea" (the repository root from source, the app root when bundled or packaged), with that
 * package.json; null when there is none.
 */
export function foveaPackageRoot(): { dir: string; version: string | null } | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'fovea') return { dir, version: pkg.version ?? null };
    } catch {
      /* no package.json here */
    }
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** Fovea's own version (from foveaPackageRoot's package.json). */
export function foveaVersion(): string {
  return foveaPackageRoot()?.version ?? 'unknown';
}

export function collectVersions(sqlite: string): AppVersions {
  return {
    fovea: foveaVersion(),
    node: process.versions.node,
    electron: process.versions['electron'] ?? null,
    chromium: process.versions['chrome'] ?? null,
    sqlite,
    tfjs: installedPackageVersion('@tensorflow/tfjs-core'),
  };
}
