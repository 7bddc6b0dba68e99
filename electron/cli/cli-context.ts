/** What every CLI command gets: parsed global flags, output helpers, and a lazily opened core. */
import { createMlEngine } from '../../native-models/engine';
import { createAssistEngine } from '../../native-models/assist/assist-engine';
import type { AssistEngine } from '../contract/assist-engine';
import { createCore, type Core } from '../core/composition-root';
import { resolveLibraryDir } from '../core/app/library-location';
import type { PolicyLoadResult } from '../core/policy/policy';

export const EXIT_OK = 0;
/** Completed, with per-item failures. */
export const EXIT_PARTIAL = 1;
/** Bad usage or an unusable library. */
export const EXIT_USAGE = 2;

export class UsageError extends Error {}

export interface CliContext {
  json: boolean;
  libraryDir: string;
  /** Opens the library on first use. */
  core(): Core;
  out(text: string): void;
  /** One JSON value per line on stdout. */
  jsonLine(value: unknown): void;
  err(text: string): void;
  /** True when stderr is a terminal (progress bars only then). */
  isTty: boolean;
  close(): void;
}

export function createCliContext(flags: { json: boolean; library: string | undefined }, policy?: PolicyLoadResult): CliContext {
  let core: Core | null = null;
  let assist: AssistEngine | null = null;
  // IT's policy wins over --library and FOVEA_LIBRARY.
  const libraryDir = policy?.policy.libraryLocation ?? resolveLibraryDir(flags.library);
  return {
    json: flags.json,
    libraryDir,
    core() {
      assist ??= createAssistEngine();
      core ??= createCore({ libraryDir, ml: createMlEngine(), assist, ...(policy ? { policy } : {}) });
      return core;
    },
    out: (text) => process.stdout.write(`${text}\n`),
    jsonLine: (value) => process.stdout.write(`${JSON.stringify(value)}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    isTty: Boolean(process.stderr.isTTY),
    close() {
      core?.close();
      core = null;
      // Resolves when its workers have exited; they stay referenced until then, so the process waits.
      void assist?.dispose();
      assist = null;
    },
  };
}
