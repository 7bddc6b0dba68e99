/**
 * Decoded pixels against the reference decoders (pydicom + gdcm, with
 * opj_decompress for HTJ2K and dcmdjpeg as the arbiter for 12-bit JPEG):
 * test/reference/dicom_reference.py runs once for all image files.
 *
 * Besides the shared test files, variants the test files lack are generated
 * into a temporary folder with dcmtk's encoders (JPEG-LS uninterleaved and
 * sample-interleaved colour, near-lossless 16-bit, fragmented multi-frame
 * 12-bit JPEG without an offset table, 4:2:2 and 4:1:1 baseline, RGB-coded
 * baseline, lossless JPEG colour / 16-bit / signed, RLE 16-bit / colour /
 * signed, native YBR_FULL with planar configuration 1); a missing encoder
 * skips its variant.
 *
 * Lossless syntaxes and 12-bit JPEG must match exactly. Lossy 8-bit syntaxes
 * may differ by at most LOSSY_MAX_ABS per sample and LOSSY_MAX_MEAN on
 * average: the reference converts YCbCr to RGB in floating point where
 * libjpeg-turbo uses integer tables (measured: 0 on the shared files, 1 on the
 * generated 4:2:2 and 4:1:1 files).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FoveaException } from '../../../../electron/contract/result';
import { classifyDicom } from '../../../../electron/core/dicom/classify-dicom';
import { decodeFrame } from '../../../../electron/core/dicom/decode-frame';
import type { PixelArray } from '../../../../electron/core/dicom/decode-frame';
import { toDisplay } from '../../../../electron/core/dicom/display';
import { readImageInfo } from '../../../../electron/core/dicom/image-info';
import type { DicomImageInfo } from '../../../../electron/core/dicom/image-info';
import { parseDicom } from '../../../../electron/core/dicom/parse-dicom';
import type { ParsedDicom } from '../../../../electron/core/dicom/parse-dicom';
import { transferSyntaxInfo } from '../../../../electron/core/dicom/transfer-syntax';
import { PYTHON, requireTool } from '../../../helpers/reference-tools';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const dicomRoot = join(repoRoot, '..', 'shared', 'testdata', 'dicom');
const SCRIPT = join(repoRoot, 'test', 'reference', 'dicom_reference.py');
const LOSSY_MAX_ABS = 2;
const LOSSY_MAX_MEAN = 0.5;

interface Variant {
  name: string;
  tool: string;
  args: string[];
  /** A test file, or 'generated:NAME' for the output of an earlier variant. */
  source: string;
  /** Expected outcome when our side refuses the file on purpose. */
  unsupported?: boolean;
}

const GENERATED: Variant[] = [
  { name: 'jpeg-ls-uninterleaved-rgb', tool: 'dcmcjpls', args: ['+in'], source: 'pydicom-data/US1_UNCR.dcm' },
  { name: 'jpeg-ls-sample-interleaved-rgb', tool: 'dcmcjpls', args: ['+is'], source: 'pydicom-data/US1_UNCR.dcm' },
  { name: 'jpeg-ls-near-lossless-12-in-16', tool: 'dcmcjpls', args: ['+en'], source: 'pydicom-data/MR2_UNCR.dcm' },
  { name: 'jpeg-12bit-multiframe-fragmented-no-bot', tool: 'dcmcjpeg', args: ['+ee', '+fs', '1', '-ot'], source: 'pydicom-data/emri_small.dcm' },
  { name: 'jpeg-12bit-1024', tool: 'dcmcjpeg', args: ['+ee'], source: 'pydicom-data/MR2_UNCR.dcm' },
  { name: 'jpeg-baseline-ybr-422', tool: 'dcmcjpeg', args: ['+eb'], source: 'pydicom-data/US1_UNCR.dcm' },
  { name: 'jpeg-baseline-ybr-411', tool: 'dcmcjpeg', args: ['+eb', '+n1'], source: 'pydicom-data/US1_UNCR.dcm' },
  { name: 'jpeg-baseline-rgb-coded', tool: 'dcmcjpeg', args: ['+eb', '+cr'], source: 'pydicom-data/US1_UNCR.dcm' },
  { name: 'jpeg-lossless-sv1-rgb', tool: 'dcmcjpeg', args: ['+e1'], source: 'pydicom-data/US1_UNCR.dcm' },
  { name: 'jpeg-lossless-sv6-16bit', tool: 'dcmcjpeg', args: ['+el', '+sv', '6'], source: 'pydicom-data/MR2_UNCR.dcm' },
  { name: 'jpeg-lossless-sv7-signed', tool: 'dcmcjpeg', args: ['+el', '+sv', '7'], source: 'pydicom/CT_small.dcm' },
  { name: 'rle-16bit', tool: 'dcmcrle', args: [], source: 'pydicom-data/MR2_UNCR.dcm' },
  { name: 'rle-rgb-2frame', tool: 'dcmcrle', args: [], source: 'pydicom-data/SC_rgb_2frame.dcm' },
  { name: 'rle-signed', tool: 'dcmcrle', args: [], source: 'pydicom/CT_small.dcm' },
  // Decompressed without colour conversion: native YBR_FULL with planar configuration 1.
  { name: 'native-ybr-full-planar', tool: 'dcmdjpeg', args: ['+cn'], source: 'generated:jpeg-baseline-ybr-422' },
  { name: 'jpeg-progressive', tool: 'dcmcjpeg', args: ['+ep'], source: 'pydicom/CT_small.dcm', unsupported: true },
];

interface ReferenceEntry {
  path: string;
  status: 'ok' | 'nopixels' | 'error';
  error?: string;
  source: string | null;
  rows?: number;
  columns?: number;
  samplesPerPixel?: number;
  frames?: number;
  dtype?: string;
  photometric?: string;
  frameFiles?: string[];
  paletteFiles?: string[];
}

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
}

/** The image files our side decodes: those are the ones to compare. */
function imageFiles(): { path: string; parsed: ParsedDicom; info: DicomImageInfo }[] {
  if (!existsSync(dicomRoot)) return [];
  const out = [];
  for (const path of walk(dicomRoot)) {
    try {
      const parsed = parseDicom(readFileSync(path));
      if (classifyDicom(parsed).kind !== 'image') continue;
      const info = readImageInfo(parsed);
      if (info !== null) out.push({ path, parsed, info });
    } catch {
      // Rejected files are covered by testdata-files.test.ts.
    }
  }
  return out;
}

const ARRAYS = {
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
} as const;

function readRaw(path: string, dtype: string): PixelArray {
  const bytes = readFileSync(path);
  const Ctor = ARRAYS[dtype as keyof typeof ARRAYS];
  assert.ok(Ctor !== undefined, `unknown reference dtype ${dtype}`);
  const copy = new Uint8Array(bytes); // aligned
  return new Ctor(copy.buffer, 0, copy.length / Ctor.BYTES_PER_ELEMENT);
}

function diff(a: ArrayLike<number>, b: ArrayLike<number>): { maxAbs: number; mean: number } {
  assert.equal(a.length, b.length, 'sample count');
  let maxAbs = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] ?? 0) - (b[i] ?? 0));
    if (d > maxAbs) maxAbs = d;
    sum += d;
  }
  return { maxAbs, mean: a.length > 0 ? sum / a.length : 0 };
}

describe('decoded pixels equal pydicom + gdcm (and opj_decompress / dcmdjpeg)', () => {
  const files = imageFiles();
  let outDir = '';
  const reference = new Map<string, ReferenceEntry>();

  const generated = new Map<string, string>();
  const generationErrors = new Map<string, string>();

  before(() => {
    requireTool('pydicom', 'gdcm', 'dcmtk', 'openjpeg');
    outDir = mkdtempSync(join(tmpdir(), 'fovea-dicom-ref-'));
    for (const variant of GENERATED) {
      const target = join(outDir, `generated-${variant.name}.dcm`);
      try {
        const source = variant.source.startsWith('generated:') ? generated.get(variant.source.slice('generated:'.length)) : join(dicomRoot, variant.source);
        if (source === undefined) continue;
        execFileSync(variant.tool, [...variant.args, source, target], { stdio: 'ignore', timeout: 60_000 });
        generated.set(variant.name, target);
      } catch (e) {
        generationErrors.set(variant.name, (e as Error).message);
      }
    }
    const inputs = [...files.map((f) => f.path), ...generated.values()];
    execFileSync(PYTHON, [SCRIPT, ...inputs, '--out', outDir], { stdio: ['ignore', 'ignore', 'ignore'], timeout: 120_000 });
    const manifest = JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8')) as { files: ReferenceEntry[] };
    for (const entry of manifest.files) reference.set(entry.path, entry);
  });

  after(() => {
    if (outDir !== '') rmSync(outDir, { recursive: true, force: true });
  });

  it('has image files to compare', () => {
    assert.ok(files.length >= 40, `found ${files.length}`);
  });

  for (const { path, parsed, info } of files) {
    const rel = relative(dicomRoot, path).split('\\').join('/');
    it(rel, async (t) => compare(t, rel, path, parsed, info));
  }

  for (const variant of GENERATED) {
    it(`generated: ${variant.name} (${variant.tool} ${variant.args.join(' ')} ${variant.source})`, async (t) => {
      const path = generated.get(variant.name);
      assert.ok(path !== undefined, `${variant.tool} could not write the file: ${generationErrors.get(variant.name) ?? 'its source was not generated'}`);
      const parsed = parseDicom(readFileSync(path));
      const info = readImageInfo(parsed);
      assert.ok(info !== null);
      if (variant.unsupported === true) {
        await assert.rejects(decodeFrame(parsed, 0), (e: unknown) => e instanceof FoveaException && e.code === 'UNSUPPORTED');
        return;
      }
      await compare(t, variant.name, path, parsed, info);
    });
  }

  async function compare(t: TestContext, rel: string, path: string, parsed: ParsedDicom, info: DicomImageInfo): Promise<void> {
    const ref = reference.get(path);
    assert.ok(ref !== undefined, 'reference entry');
    if (ref.status === 'nopixels') {
      // pydicom does not see pixel data in a few malformed files we can still read; testdata-files covers them.
      t.skip('the reference tools find no pixel data in this file');
      return;
    }
    assert.equal(ref.status, 'ok', `reference failed: ${ref.error ?? ''}`);
    assert.equal(ref.frames, info.numberOfFrames);
    const ts = transferSyntaxInfo(info.transferSyntaxUid);
    const exact = ts === undefined || !ts.lossy || (ts.codec === 'jpeg-baseline' && info.bitsAllocated > 8);
    let worst = { maxAbs: 0, mean: 0 };
    for (let f = 0; f < info.numberOfFrames; f++) {
      const frame = await decodeFrame(parsed, f, { info });
      assert.equal(frame.rows, ref.rows);
      assert.equal(frame.columns, ref.columns);
      assert.equal(frame.samplesPerPixel, ref.samplesPerPixel);
      assert.equal(frame.dtype, ref.dtype);
      assert.equal(frame.photometric, ref.photometric);
      const expected = readRaw(join(outDir, ref.frameFiles?.[f] ?? ''), ref.dtype ?? '');
      const d = diff(frame.data, expected);
      if (d.maxAbs > worst.maxAbs) worst = { ...worst, maxAbs: d.maxAbs };
      if (d.mean > worst.mean) worst = { ...worst, mean: d.mean };
      if (exact) {
        assert.equal(d.maxAbs, 0, `frame ${f}: ${rel} must match exactly (${ref.source ?? ''}); max diff ${d.maxAbs}`);
      } else {
        assert.ok(d.maxAbs <= LOSSY_MAX_ABS && d.mean <= LOSSY_MAX_MEAN, `frame ${f}: max ${d.maxAbs}, mean ${d.mean.toFixed(4)}`);
      }
      const palette: string | undefined = ref.paletteFiles?.[f];
      if (palette !== undefined) {
        const display = toDisplay(frame, info);
        assert.equal(display.channels, 3);
        assert.deepEqual(display.data, new Uint8Array(readFileSync(join(outDir, palette))), 'palette matches pydicom apply_color_lut');
      }
    }
    t.diagnostic(`${ts?.name ?? info.transferSyntaxUid}: ${exact ? 'exact' : 'lossy'}; max |diff| ${worst.maxAbs}, worst frame mean ${worst.mean.toFixed(4)}; reference ${ref.source ?? ''}`);
  }
});
