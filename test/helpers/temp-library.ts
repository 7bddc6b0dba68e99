/** A fresh library in a temporary folder, removed after the test. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCore, type Core, type CoreOptions } from '../../electron/core/composition-root';
import { createMlEngine } from '../../native-models/engine';

export function tempDir(prefix = 'fovea-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function tempCore(options: Partial<CoreOptions> = {}): { core: Core; dir: string; cleanup(): void } {
  const t = tempDir();
  // The real engine: its preflight runs only when a test asks for app info or trains.
  const core = createCore({ libraryDir: join(t.dir, 'library'), ml: createMlEngine(), ...options });
  return {
    core,
    dir: t.dir,
    cleanup() {
      core.close();
      t.cleanup();
    },
  };
}
