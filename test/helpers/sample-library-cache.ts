/**
 * The sample library for tests, built once and copied per test.
 *
 * Building the sample library ('tiny' or 'demo') costs tens of seconds; many browser tests
 * only need it as a starting point. The first caller in a test run builds it into a cache
 * folder under os.tmpdir(), keyed by size and a hash of the sources that shape it (the core,
 * the contract, the lock file), with a lock so that two processes never build it at once.
 * The builder closes its core before the folder is published, so the database is checkpointed
 * (no WAL left behind) and every blob is on disk. Each test then gets its OWN copy of that
 * folder: no two tests ever share a library.
 */
import { createHash } from 'node:crypto';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCore, type CoreOptions } from '../../electron/core/composition-root';
import { createSampleLibrary } from '../../electron/core/samples/sample-library';
import type { SampleDataSize } from '../../electron/core/samples';
import { createMlEngine } from '../../native-models/engine';
import { REPO_ROOT, walkFiles } from './paths';
import { type tempCore, tempDir } from './temp-library';

export const SAMPLE_CACHE_ROOT = join(tmpdir(), 'fovea-sample-library-cache');
/** What a cached library's contents depend on: the generator, the importer, the schema, the dependencies. */
const KEY_SOURCES = ['electron/core', 'electron/contract', 'package-lock.json'];
const LOCK_STALE_MS = 15 * 60_000;

let sourceHash: string | undefined;

/** A hash of every source file that can change what the sample library holds. */
export function sampleSourceHash(): string {
  if (sourceHash !== undefined) return sourceHash;
  const h = createHash('sha256');
  for (const source of KEY_SOURCES) {
    const path = join(REPO_ROOT, source);
    for (const file of statSync(path).isDirectory() ? walkFiles(path) : [path]) {
      h.update(relative(REPO_ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
    }
  }
  sourceHash = h.digest('hex').slice(0, 16);
  return sourceHash;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A lock file made with O_EXCL; a lock whose process is gone (or that is very old) is taken over. */
async function withLock<T>(lockFile: string, work: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let stale: boolean;
      try {
        const pid = Number(readFileSync(lockFile, 'utf8'));
        stale = (pid > 0 && !pidAlive(pid)) || Date.now() - statSync(lockFile).mtimeMs > LOCK_STALE_MS;
      } catch {
        continue; // released between the open and the read: try again
      }
      if (stale) rmSync(lockFile, { force: true });
      else await sleep(250);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lockFile, { force: true });
  }
}

/** The folder of the cached, cleanly closed sample library of this size; built on first use. */
export async function cachedSampleLibraryDir(size: SampleDataSize): Promise<string> {
  const dir = join(SAMPLE_CACHE_ROOT, `${size}-${sampleSourceHash()}`);
  if (existsSync(dir)) return dir;
  mkdirSync(SAMPLE_CACHE_ROOT, { recursive: true });
  return withLock(`${dir}.lock`, async () => {
    if (existsSync(dir)) return dir; // another process built it while we waited
    const building = `${dir}.building-${process.pid}`;
    rmSync(building, { recursive: true, force: true });
    const core = createCore({ libraryDir: building, ml: createMlEngine() });
    try {
      await createSampleLibrary(core, { size });
    } catch (e) {
      core.close();
      rmSync(building, { recursive: true, force: true });
      throw e;
    }
    core.close();
    // Published in one step: a reader sees no folder or the whole library.
    renameSync(building, dir);
    return dir;
  });
}

/**
 * Like tempCore(), but the library starts as a private copy of the sample library of this size
 * (the same content as `createSampleLibrary(core, { size })` on an empty library).
 */
export async function tempSampleCore(size: SampleDataSize, options: Partial<CoreOptions> = {}): Promise<ReturnType<typeof tempCore>> {
  const source = await cachedSampleLibraryDir(size);
  const t = tempDir();
  const libraryDir = join(t.dir, 'library');
  cpSync(source, libraryDir, { recursive: true });
  const core = createCore({ libraryDir, ml: createMlEngine(), ...options });
  return {
    core,
    dir: t.dir,
    cleanup() {
      core.close();
      t.cleanup();
    },
  };
}
