import { readdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/**
 * Real test data written by others, read in place (never copied into the repo).
 * Real path: the importer reports real paths, and ../shared may be a symlink.
 */
export const SHARED_TESTDATA = realpathSync(join(REPO_ROOT, '..', 'shared', 'testdata'));
/** Screenshots and other artifacts of test runs (git-ignored). */
export const TEST_RESULTS = join(REPO_ROOT, 'test-results');

/** Every file under `dir`, recursively, in a stable (sorted) order. */
export function walkFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? walkFiles(p) : [p];
    });
}
