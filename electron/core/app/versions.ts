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
 * Fovea's own version: the nearest package.json named "fovea" above this
 * module (the repository root from source, the app root when bundled or packaged).
 */
export function foveaVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'fovea' && pkg.version) return pkg.version;
    } catch {
      /* no package.json here */
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
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
