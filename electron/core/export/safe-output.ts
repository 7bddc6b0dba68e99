/**
 * Safe export output: every file an export writes goes through one ExportWriter.
 *
 * - Confined to the folder the user chose: each relative path is split on '/' and '\', each
 *   segment sanitised (no '..', no absolute or UNC or drive paths, no reserved Windows names, no
 *   control or bidi characters, at most 200 UTF-8 bytes), and the joined path is checked to lie
 *   inside the root. Existing symbolic links inside the root are refused, not followed.
 * - Atomic: bytes go to a hidden temporary file in the same folder, are fsynced, then linked (or,
 *   where the file system has no hard links, renamed) into place; a crash leaves no half-written file
 *   under the final name.
 * - No silent overwrite: a file that already exists is an error (code CONFLICT) unless the writer
 *   was opened with `overwrite: true`; the same path twice within one export is always an error.
 * - A manifest (fovea-manifest.json) lists every file written with its size and SHA-256.
 *
 * Callers record the export in the audit log (see `auditExport`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fsp } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { FoveaException } from '../../contract/result';
import { withoutUnsafeChars } from '../../contract/unsafe-chars';
import type { AuditLog } from '../store/audit-log';

export const MANIFEST_NAME = 'fovea-manifest.json';
const MAX_SEGMENT_BYTES = 200;
const MAX_DEPTH = 16;

export interface WrittenFile {
  /** Relative to the export root, '/'-separated. */
  path: string;
  bytes: number;
  sha256: string;
}

export interface ExportSummary {
  root: string;
  manifest: string;
  files: WrittenFile[];
  bytes: number;
}

export interface ExportWriterOptions {
  /** Replace files that already exist (the user confirmed it). Default false: existing files are a CONFLICT. */
  overwrite?: boolean;
}

const FORBIDDEN = /[<>:"/\\|?*]/gu;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$/iu;

/** The longest prefix of `s` (whole code points) that fits in `maxBytes` of UTF-8. Linear in the length. */
function utf8Prefix(s: string, maxBytes: number): string {
  let bytes = 0;
  let out = '';
  for (const ch of s) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > maxBytes) break;
    bytes += n;
    out += ch;
  }
  return out;
}

function truncateUtf8(name: string, maxBytes: number): string {
  if (Buffer.byteLength(name) <= maxBytes) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  const stem = name.slice(0, name.length - ext.length);
  // A cut can leave a trailing space or dot, which Windows drops: trim it (keep at least '_').
  return (utf8Prefix(stem, maxBytes - Buffer.byteLength(ext)).replace(/[\s.]+$/u, '') || '_') + ext;
}

/**
 * One file or folder name made safe on every platform. Never returns '', '.' or '..'.
 * Deterministic, so the same input always gives the same name.
 */
export function sanitizeSegment(name: string): string {
  let s = withoutUnsafeChars(name.normalize('NFC')).replace(FORBIDDEN, '_');
  s = s.replace(/^[\s.]+|[\s.]+$/gu, '');
  if (s === '') s = '_';
  if (WINDOWS_RESERVED.test(s)) s = `_${s}`;
  return truncateUtf8(s, MAX_SEGMENT_BYTES);
}

/**
 * A relative path made safe: split on '/' and '\', empty and '.' segments dropped, '..' segments
 * neutralised (they become '_'), every segment sanitised. Throws BAD_INPUT for an empty or too deep path.
 */
export function sanitizeRelativePath(path: string): string {
  const segments = path
    .split(/[/\\]+/u)
    .filter((s) => s !== '' && s !== '.')
    .map((s) => (s === '..' ? '_' : sanitizeSegment(s)));
  if (segments.length === 0) throw new FoveaException('BAD_INPUT', `"${path}" is not a file name.`);
  if (segments.length > MAX_DEPTH) throw new FoveaException('BAD_INPUT', `"${path}" is nested more than ${MAX_DEPTH} folders deep.`);
  return segments.join('/');
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

export class ExportWriter {
  readonly root: string;
  readonly #overwrite: boolean;
  readonly #files = new Map<string, WrittenFile>();
  /** Lower-cased paths written: Windows and macOS file systems ignore case, so 'A.png' and 'a.png' are one file there. */
  readonly #folded = new Set<string>();
  readonly #createdDirs = new Set<string>();
  #finished = false;

  private constructor(root: string, overwrite: boolean) {
    this.root = root;
    this.#overwrite = overwrite;
  }

  /**
   * Open (and create) the export folder the user chose. It must be an absolute path; an existing
   * file (not a folder) there is an error.
   */
  static async open(outDir: string, options: ExportWriterOptions = {}): Promise<ExportWriter> {
    if (!outDir || !isAbsolute(outDir)) throw new FoveaException('BAD_INPUT', `The export folder must be an absolute path (got "${outDir}").`);
    try {
      await fsp.mkdir(outDir, { recursive: true });
      const st = await fsp.stat(outDir);
      if (!st.isDirectory()) throw new FoveaException('BAD_INPUT', `${outDir} exists and is not a folder.`);
      await fsp.access(outDir, fsConstants.W_OK);
      const root = await fsp.realpath(outDir);
      // A previous export's manifest would only clash at the very end, after every file was
      // written: refuse at once instead.
      if (!options.overwrite && (await exists(join(root, MANIFEST_NAME)))) {
        throw new FoveaException('CONFLICT', `${outDir} already holds a Fovea export (${MANIFEST_NAME}). Choose an empty folder or confirm overwriting.`);
      }
      return new ExportWriter(root, options.overwrite ?? false);
    } catch (e) {
      if (e instanceof FoveaException) throw e;
      throw new FoveaException('IO', `Cannot write to the export folder ${outDir}: ${(e as Error).message}`);
    }
  }

  /** Files written so far, in order. */
  get files(): WrittenFile[] {
    return [...this.#files.values()];
  }

  /** Whether a (sanitised) relative path was already written in this export. */
  has(relPath: string): boolean {
    return this.#folded.has(sanitizeRelativePath(relPath).toLowerCase());
  }

  /**
   * A sanitised relative path not yet used in this export: 'a/b.png', else 'a/b-2.png', 'a/b-3.png'...
   * (for names that collide after sanitising, such as two images called 'x.png' in different folders).
   */
  uniquePath(relPath: string): string {
    const clean = sanitizeRelativePath(relPath);
    if (!this.#folded.has(clean.toLowerCase())) return clean;
    const slash = clean.lastIndexOf('/');
    const dir = clean.slice(0, slash + 1);
    const name = clean.slice(slash + 1);
    const dot = name.lastIndexOf('.');
    const stem = dot > 0 ? name.slice(0, dot) : name;
    const ext = dot > 0 ? name.slice(dot) : '';
    for (let i = 2; ; i++) {
      // Shorten the stem, never the counter: cutting the counter off would give the same name forever.
      const suffix = `-${i}`;
      const candidate = `${dir}${utf8Prefix(stem, MAX_SEGMENT_BYTES - Buffer.byteLength(ext) - suffix.length)}${suffix}${ext}`;
      if (!this.#folded.has(candidate.toLowerCase())) return candidate;
    }
  }

  /** The absolute path for a relative one, after sanitising and the confinement check. */
  resolvePath(relPath: string): { rel: string; abs: string } {
    const rel = sanitizeRelativePath(relPath);
    const abs = resolve(this.root, ...rel.split('/'));
    const back = relative(this.root, abs);
    if (back === '' || back.startsWith('..') || isAbsolute(back) || back.split(sep).includes('..')) {
      throw new FoveaException('BAD_INPUT', `"${relPath}" would be written outside the export folder.`);
    }
    return { rel, abs };
  }

  async #ensureDir(dir: string): Promise<void> {
    if (dir === this.root || this.#createdDirs.has(dir)) return;
    await this.#ensureDir(dirname(dir));
    try {
      const st = await fsp.lstat(dir);
      if (st.isSymbolicLink()) throw new FoveaException('BAD_INPUT', `${dir} is a symbolic link; Fovea does not export through links.`);
      if (!st.isDirectory()) throw new FoveaException('CONFLICT', `${dir} exists and is not a folder.`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      await fsp.mkdir(dir);
    }
    this.#createdDirs.add(dir);
  }

  /**
   * Write one file atomically. `relPath` is sanitised (see sanitizeRelativePath); the path actually
   * used is returned. Throws CONFLICT if it exists (unless overwrite) or was already written.
   */
  async write(relPath: string, data: Uint8Array | string): Promise<WrittenFile> {
    if (this.#finished) throw new FoveaException('INTERNAL', 'This export is already finished.');
    const { rel, abs } = this.resolvePath(relPath);
    if (rel.toLowerCase() === MANIFEST_NAME) throw new FoveaException('BAD_INPUT', `${MANIFEST_NAME} is reserved for the export manifest.`);
    if (this.#folded.has(rel.toLowerCase())) throw new FoveaException('CONFLICT', `${rel} was already written in this export (names differing only in case are one file on Windows and macOS).`);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const entry: WrittenFile = { path: rel, bytes: bytes.byteLength, sha256: sha256(bytes) };
    await this.#atomicWrite(abs, bytes);
    this.#files.set(rel, entry);
    this.#folded.add(rel.toLowerCase());
    return entry;
  }

  async #atomicWrite(abs: string, bytes: Uint8Array): Promise<void> {
    const dir = dirname(abs);
    try {
      await this.#ensureDir(dir);
      const existing = await exists(abs);
      if (existing) {
        const st = await fsp.lstat(abs);
        if (st.isSymbolicLink() || !st.isFile()) throw new FoveaException('CONFLICT', `${abs} exists and is not a plain file; it was left alone.`);
        if (!this.#overwrite) throw new FoveaException('CONFLICT', `${abs} already exists. Choose an empty folder or confirm overwriting.`);
      }
      const tmp = join(dir, `.fovea-tmp-${randomBytes(6).toString('hex')}`);
      const handle = await fsp.open(tmp, 'wx', 0o644);
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      try {
        if (existing) {
          await fsp.rename(tmp, abs);
        } else {
          try {
            await fsp.link(tmp, abs); // fails with EEXIST if something appeared meanwhile: never clobbers
            await fsp.unlink(tmp);
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code;
            if (code === 'EEXIST') throw new FoveaException('CONFLICT', `${abs} appeared while exporting; it was left alone.`);
            if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw e;
            if (await exists(abs)) throw new FoveaException('CONFLICT', `${abs} appeared while exporting; it was left alone.`);
            await fsp.rename(tmp, abs); // file systems without hard links (FAT, some shares)
          }
        }
      } finally {
        await fsp.rm(tmp, { force: true });
      }
    } catch (e) {
      if (e instanceof FoveaException) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC') throw new FoveaException('IO', `The disk is full while writing ${abs}. Free some space and export again.`);
      throw new FoveaException('IO', `Cannot write ${abs}: ${(e as Error).message}`);
    }
  }

  /**
   * A failed or cancelled export removes what it wrote (files, then the folders it made that are
   * now empty; never anything that was there before) and closes. Best effort: never throws.
   * Returns how many files were removed.
   */
  async discard(): Promise<number> {
    const files = this.files;
    const dirs = new Set<string>();
    for (const f of files) {
      const abs = join(this.root, ...f.path.split('/'));
      await fsp.rm(abs, { force: true }).catch(() => undefined);
      for (let d = dirname(abs); d.length > this.root.length && d.startsWith(this.root); d = dirname(d)) dirs.add(d);
    }
    // Deepest first; rmdir refuses folders that still hold something (the user's files).
    for (const d of [...dirs].sort((a, b) => b.length - a.length)) await fsp.rmdir(d).catch(() => undefined);
    this.#files.clear();
    this.#finished = true;
    return files.length;
  }

  /**
   * Write the manifest (every file with its size and SHA-256, plus `meta`, which must hold no
   * patient data) and close the export.
   */
  async finish(meta: Record<string, unknown>): Promise<ExportSummary> {
    if (this.#finished) throw new FoveaException('INTERNAL', 'This export is already finished.');
    const files = this.files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const manifest = {
      fovea: 'export-manifest',
      version: 1,
      createdAt: new Date().toISOString(),
      ...meta,
      files,
    };
    const abs = join(this.root, MANIFEST_NAME);
    await this.#atomicWrite(abs, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8'));
    this.#finished = true;
    return { root: this.root, manifest: abs, files, bytes: files.reduce((n, f) => n + f.bytes, 0) };
  }
}

/** Record an export (or a refused/failed one) in the audit log: what, where, how many files, the manifest's hash. */
export function auditExport(
  audit: AuditLog,
  entry: { action: string; objectType: string; objectId: number | string; outcome?: 'ok' | 'failed' | 'refused' | 'cancelled'; actor?: string | null; details: Record<string, unknown> },
): void {
  audit.append({ action: entry.action, objectType: entry.objectType, objectId: entry.objectId, outcome: entry.outcome ?? 'ok', actor: entry.actor ?? null, details: entry.details });
}
