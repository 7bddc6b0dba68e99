/** Versions of Fovea and what it runs on. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AppVersions } from '../../contract/domain';

const require = createRequire(import.meta.url);

export function installedPackageVersion(name: string): string | null {
  try {
    return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

/** Fovea's own version, from the package.json next to the code (repo root or app.asar root). */
export function foveaVersion(): string {
  return installedPackageVersion('fovea') ?? process.env['npm_package_version'] ?? '0.0.0';
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
