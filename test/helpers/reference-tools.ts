/**
 * The reference tools the tests compare Fovea against (dcmtk, pydicom + gdcm, scikit-learn, ...) and
 * the browser the UI tests drive, each with the Debian package that brings it.
 *
 * A test that needs one calls `requireTool(id)`: when the tool is missing the test FAILS with the
 * command that installs it. A comparison that is not made must never look like one that passed.
 * `npm test` first runs test/setup/ensure-test-deps.ts, which installs whatever is missing when it
 * can (root, or passwordless sudo, with apt-get) and otherwise stops with that one command.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import type { ExecFileSyncOptions } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The Python that has Debian's packages (a `python3` earlier on PATH may be another interpreter). */
export const PYTHON = '/usr/bin/python3';
/** The same interpreter, named for what it runs in the DICOM tests: pydicom + gdcm + numpy. */
export const REFERENCE_PYTHON = PYTHON;

export interface ReferenceTool {
  id: string;
  /** What the tests use it for, for the message. */
  purpose: string;
  /** Debian packages that provide it. */
  apt: readonly string[];
  /** Null when present, else why not. */
  check(): string | null;
}

function onPath(command: string, args: readonly string[] = ['--version']): string | null {
  const r = spawnSync(command, args, { stdio: 'ignore', timeout: 30_000 });
  if (r.error) return `${command}: ${r.error.message}`;
  return null;
}

function pythonModules(modules: string): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} is missing`;
  const r = spawnSync(PYTHON, ['-c', `import ${modules}`], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) return `${PYTHON}: ${r.error.message}`;
  if (r.status !== 0) return `${PYTHON} cannot import ${modules}: ${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 200)}`;
  return null;
}

/** Debian's Chromium, or the browser named by FOVEA_CHROMIUM. */
export const CHROMIUM = process.env['FOVEA_CHROMIUM'] ?? '/usr/bin/chromium';

/** SwiftShader's Vulkan ICD from Debian's chromium package. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * The environment that gives Dawn SwiftShader's software Vulkan adapter: for a test's child
 * process only (never the test runner's own environment).
 */
export function swiftShaderEnv(): NodeJS.ProcessEnv {
  return { ...process.env, VK_ICD_FILENAMES: SWIFTSHADER_ICD, LD_LIBRARY_PATH: ['/usr/lib/chromium', process.env['LD_LIBRARY_PATH']].filter(Boolean).join(':') };
}

export const REFERENCE_TOOLS: readonly ReferenceTool[] = [
  { id: 'chromium', purpose: 'the browser tests and the offline report check', apt: ['chromium'], check: () => (existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing`) },
  { id: 'dcmtk', purpose: 'DICOM reference decoding and validation (dcmdump, dcmdjpeg, dcmconv)', apt: ['dcmtk'], check: () => onPath('dcmdump', ['--version']) },
  { id: 'pydicom', purpose: 'DICOM pixel and geometry references', apt: ['python3-pydicom', 'python3-numpy'], check: () => pythonModules('pydicom, numpy') },
  { id: 'gdcm', purpose: 'compressed DICOM pixel references through pydicom', apt: ['python3-gdcm'], check: () => pythonModules('gdcm') },
  { id: 'numpy', purpose: 'direct metric computations', apt: ['python3-numpy'], check: () => pythonModules('numpy') },
  { id: 'pil', purpose: 'reading GIF/PNG masks in the numpy references', apt: ['python3-pil'], check: () => pythonModules('PIL') },
  { id: 'sklearn', purpose: 'classification metric parity', apt: ['python3-sklearn'], check: () => pythonModules('sklearn') },
  { id: 'nibabel', purpose: 'NIfTI export geometry', apt: ['python3-nibabel'], check: () => pythonModules('nibabel') },
  { id: 'torch', purpose: 'running the exported train.py (PyTorch, torchrun with gloo)', apt: ['python3-torch', 'python3-torchvision'], check: () => pythonModules('torch, torchvision, numpy, PIL') },
  { id: 'onnx', purpose: 'ONNX model checks', apt: ['python3-onnx'], check: () => pythonModules('onnx') },
  { id: 'openjpeg', purpose: 'JPEG 2000 / HTJ2K reference decoding (opj_decompress)', apt: ['libopenjp2-tools'], check: () => onPath('opj_decompress', ['-h']) },
  { id: 'poppler', purpose: 'reading the PDF report back (pdftotext)', apt: ['poppler-utils'], check: () => onPath('pdftotext', ['-v']) },
  {
    id: 'swiftshader',
    purpose: 'the WebGPU tests without a GPU (SwiftShader, the software Vulkan driver Chromium ships)',
    apt: ['chromium'],
    check: () => (existsSync(SWIFTSHADER_ICD) ? null : `${SWIFTSHADER_ICD} is missing`),
  },
  { id: 'strace', purpose: 'tracing every socket of the offline workflow', apt: ['strace'], check: () => onPath('strace', ['-V']) },
];

/** Every Debian package the tests need. */
export const TEST_APT_PACKAGES: readonly string[] = [...new Set(REFERENCE_TOOLS.flatMap((t) => t.apt))];

export function installCommand(packages: readonly string[] = TEST_APT_PACKAGES): string {
  return `sudo apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

const checked = new Map<string, string | null>();

/** Null when the tool is there, else the reason (cached per process). */
export function toolProblem(id: string): string | null {
  if (!checked.has(id)) {
    const tool = REFERENCE_TOOLS.find((t) => t.id === id);
    if (!tool) throw new Error(`unknown reference tool ${id}`);
    checked.set(id, tool.check());
  }
  return checked.get(id) ?? null;
}

/**
 * Throws (so the test fails) when the tool is missing, naming the install command.
 * Use in a test body or a `before` hook: never skip a comparison for want of its reference.
 */
export function requireTool(...ids: string[]): void {
  const missing = ids.flatMap((id) => {
    const problem = toolProblem(id);
    return problem === null ? [] : [{ tool: REFERENCE_TOOLS.find((t) => t.id === id) as ReferenceTool, problem }];
  });
  if (missing.length === 0) return;
  const lines = missing.map((m) => `${m.tool.id} (${m.tool.purpose}): ${m.problem}`);
  throw new Error(`Reference tool missing, so this comparison cannot be made:\n  ${lines.join('\n  ')}\nInstall: ${installCommand(missing.flatMap((m) => m.tool.apt))}`);
}

/** The Debian package of each command-line tool the tests run directly. */
const COMMAND_PACKAGE: Readonly<Record<string, string>> = {
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
  return installCommand((COMMAND_PACKAGE[tool] ?? tool).split(' '));
}

/** The reason a command cannot run here (with its install command), or null. */
export function toolMissing(tool: string, probe: readonly string[] = ['--version']): string | null {
  const r = spawnSync(tool, [...probe], { stdio: 'ignore', timeout: 30_000 });
  if (r.error !== undefined) return `${tool} is not installed (${installHint(tool)})`;
  return null;
}

/** Missing pieces of the Python DICOM reference (pydicom, gdcm, numpy), or null. */
export function pythonReferenceMissing(): string | null {
  const problem = toolProblem('pydicom') ?? toolProblem('gdcm');
  return problem === null ? null : `${problem} (${installHint(REFERENCE_PYTHON)})`;
}

/** Throws with the install command when any of these commands (or REFERENCE_PYTHON's modules) is missing. */
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
