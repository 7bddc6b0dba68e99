/**
 * Expands what the user picked (files, folders, DICOMDIRs) into the list of
 * files to import, in a stable order. Folders are walked recursively without
 * following symlinks out of them twice (cycles); a DICOMDIR contributes the
 * files it references, and its folder is not walked again.
 */
import { lstatSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

export interface CollectedFile {
  path: string;
  size: number;
  /** Path relative to what the user picked (for matching label files); forward slashes. */
  relativeName: string;
}

export interface CollectResult {
  files: CollectedFile[];
  /** Paths that could not be read, with why. */
  problems: { path: string; reason: string }[];
}

export type DicomDirReader = (bytes: Uint8Array, dirPath: string) => string[];

function isDicomDirName(p: string): boolean {
  return basename(p).toUpperCase() === 'DICOMDIR';
}

export function collectFiles(inputs: readonly string[], readDicomDir: DicomDirReader | null): CollectResult {
  const files: CollectedFile[] = [];
  const problems: CollectResult['problems'] = [];
  const seen = new Set<string>();
  const visitedDirs = new Set<string>();

  const addFile = (path: string, relativeName: string): void => {
    let real: string;
    try {
      real = realpathSync(path);
    } catch (e) {
      problems.push({ path, reason: `cannot read: ${(e as Error).message}` });
      return;
    }
    if (seen.has(real)) return;
    seen.add(real);
    try {
      const st = statSync(real);
      if (!st.isFile()) return;
      files.push({ path: real, size: st.size, relativeName: relativeName.replace(/\\/g, '/') });
    } catch (e) {
      problems.push({ path, reason: `cannot read: ${(e as Error).message}` });
    }
  };

  const addDicomDir = (path: string, base: string): boolean => {
    if (!readDicomDir) return false;
    try {
      const referenced = readDicomDir(readFileSync(path), dirname(path));
      for (const f of referenced) addFile(f, relativeTo(base, f));
      seen.add(realpathSync(path));
      return true;
    } catch (e) {
      problems.push({ path, reason: `DICOMDIR could not be read (${(e as Error).message}); its folder is imported file by file instead` });
      return false;
    }
  };

  const walk = (dir: string, base: string): void => {
    let real: string;
    try {
      real = realpathSync(dir);
    } catch (e) {
      problems.push({ path: dir, reason: `cannot read folder: ${(e as Error).message}` });
      return;
    }
    if (visitedDirs.has(real)) return;
    visitedDirs.add(real);
    let entries: string[];
    try {
      entries = readdirSync(dir).sort();
    } catch (e) {
      problems.push({ path: dir, reason: `cannot list folder: ${(e as Error).message}` });
      return;
    }
    // A DICOMDIR describes the folder: import what it references, then the rest of the folder
    // (files it lists are not imported twice).
    const dicomdir = entries.find((e) => isDicomDirName(e));
    if (dicomdir) addDicomDir(join(dir, dicomdir), base);
    for (const e of entries) {
      if (e.startsWith('.')) continue;
      const p = join(dir, e);
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (st.isSymbolicLink()) {
        try {
          st = statSync(p);
        } catch {
          continue;
        }
      }
      if (st.isDirectory()) walk(p, base);
      else if (st.isFile() && !isDicomDirName(e)) addFile(p, relativeTo(base, p));
    }
  };

  for (const input of inputs) {
    const abs = resolve(input);
    let st;
    try {
      st = statSync(abs);
    } catch (e) {
      problems.push({ path: input, reason: `not found: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      continue;
    }
    if (st.isDirectory()) walk(abs, abs);
    else if (isDicomDirName(abs)) {
      if (!addDicomDir(abs, dirname(abs))) walk(dirname(abs), dirname(abs));
    } else addFile(abs, basename(abs));
  }
  return { files, problems };
}

function relativeTo(base: string, p: string): string {
  const rb = resolve(base);
  const rp = resolve(p);
  return rp.startsWith(`${rb}/`) || rp.startsWith(`${rb}\\`) ? rp.slice(rb.length + 1) : basename(rp);
}
