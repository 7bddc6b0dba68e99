/**
 * The reference tools DICOM tests compare Fovea with (Debian packages), run
 * so that a missing one FAILS the test with the command that installs it:
 * a comparison that is not made must never pass.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import type { ExecFileSyncOptions } from 'node:child_process';

/** Debian's Python, where python3-pydicom and python3-gdcm live (not the python3 on PATH). */
export const REFERENCE_PYTHON = '/usr/bin/python3';

const PACKAGE: Readonly<Record<string, string>> = {
  dcmcjpeg: 'dcmtk',
  dcmdjpeg: 'dcmtk',
  dcmconv: 'dcmtk',
  dcm2pnm: 'dcmtk',
  dcmdump: 'dcmtk',
  dcmcrle: 'dcmtk',
  dcmcjpls: 'dcmtk',
  opj_compress: 'libopenjp2-tools',
  opj_decompress: 'libopenjp2-tools',
  [REFERENCE_PYTHON]: 'python3-pydicom python3-gdcm python3-numpy',
};

export function installHint(tool: string): string {
  return `apt-get install ${PACKAGE[tool] ?? tool}`;
}

/** The reason a tool cannot run here (with its install command), or null. */
export function toolMissing(tool: string, probe: readonly string[] = ['--version']): string | null {
  const r = spawnSync(tool, [...probe], { stdio: 'ignore', timeout: 30_000 });
  if (r.error !== undefined) return `${tool} is not installed (${installHint(tool)})`;
  return null;
}

/** Missing pieces of the Python reference (pydicom, gdcm, numpy), or null. */
export function pythonReferenceMissing(): string | null {
  const r = spawnSync(REFERENCE_PYTHON, ['-c', 'import pydicom, gdcm, numpy'], { stdio: 'ignore', timeout: 60_000 });
  if (r.error !== undefined || r.status !== 0) return `${REFERENCE_PYTHON} lacks pydicom, gdcm or numpy (${installHint(REFERENCE_PYTHON)})`;
  return null;
}

/** Throws with the install command when any of the tools is missing. */
export function requireTools(...tools: string[]): void {
  const missing = tools.map((t) => (t === REFERENCE_PYTHON ? pythonReferenceMissing() : toolMissing(t))).filter((m): m is string => m !== null);
  if (missing.length > 0) throw new Error(`Reference tools missing: ${missing.join('; ')}`);
}

/** Runs a reference tool; its absence fails with the install command, its failure with its stderr. */
export function runTool(tool: string, args: readonly string[], options: ExecFileSyncOptions = {}): Buffer {
  try {
    return execFileSync(tool, [...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, maxBuffer: 256 * 1024 * 1024, ...options }) as Buffer;
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') throw new Error(`${tool} is not installed (${installHint(tool)})`, { cause: e });
    throw new Error(`${tool} ${args.join(' ')} failed: ${err.stderr?.toString().trim() ?? err.message}`, { cause: e });
  }
}
