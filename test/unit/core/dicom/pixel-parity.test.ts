/**
 * Decoded pixels against the reference decoders (pydicom + gdcm, with
 * opj_decompress for HTJ2K and dcmtk's dcmdjpeg for every DCT JPEG, gdcm
 * compared with it): test/reference/dicom_reference.py runs once for all
 * image files.
 *
 * Besides the shared test files, variants the test files lack are generated
 * into a temporary folder with dcmtk's encoders (JPEG-LS uninterleaved and
 * sample-interleaved colour, near-lossless 16-bit, fragmented multi-frame
 * 12-bit JPEG without an offset table, 4:2:2 and 4:1:1 baseline, RGB-coded
 * baseline, lossless JPEG colour / 16-bit / signed, RLE 16-bit / colour /
 * signed, native YBR_FULL with planar configuration 1) and the DCT JPEG
 * classes of issue 17 (spectral selection and full progression at 8 and 12
 * bit, a sequential stream whose scan headers say Ss=Se=0, progressive
 * streams that end after their first scans, a progressive stream labelled
 * .51; test/helpers/decoding-classes.ts). A missing tool fails the test with
 * its install command.
 *
 * Lossless syntaxes and every DCT JPEG (dcmdjpeg is IJG libjpeg 6b, which
 * our decoder and libjpeg-turbo follow bit for bit) must match exactly; for
 * those, gdcm must agree with dcmdjpeg too (colour: within the rounding of
 * pydicom's YCbCr conversion). Other lossy syntaxes may differ by at most
 * LOSSY_MAX_ABS per sample and LOSSY_MAX_MEAN on average.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { classifyDicom } from '../../../../electron/core/dicom/classify-dicom';
import { decodeFrame } from '../../../../electron/core/dicom/decode-frame';
import type { PixelArray } from '../../../../electron/core/dicom/decode-frame';
import { toDisplay } from '../../../../electron/core/dicom/display';
import { readImageInfo } from '../../../../electron/core/dicom/image-info';
import type { DicomImageInfo } from '../../../../electron/core/dicom/image-info';
import { parseDicom } from '../../../../electron/core/dicom/parse-dicom';
import type { ParsedDicom } from '../../../../electron/core/dicom/parse-dicom';
import { transferSyntaxInfo } from '../../../../electron/core/dicom/transfer-syntax';
import { keepScans, relabel, zeroScanHeaders } from '../../../helpers/decoding-classes';
import { walkFiles } from '../../../helpers/paths';
import { installHint, pythonReferenceMissing, REFERENCE_PYTHON, requireTools, runTool } from '../../../helpers/reference-tools';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const dicomRoot = join(repoRoot, '..', 'shared', 'testdata', 'dicom');
const PYTHON = REFERENCE_PYTHON;
const SCRIPT = join(repoRoot, 'test', 'reference', 'dicom_reference.py');
const LOSSY_MAX_ABS = 2;
const LOSSY_MAX_MEAN = 0.5;

interface Variant {
  name: string;
  tool: string;
  args: string[];
  /** A test file, or 'generated:NAME' for the output of an earlier variant. */
  source: string;
  /** An edit of the tool's output (the stream classes no encoder writes on request). */
  patch?: (bytes: Uint8Array) => Uint8Array;
}

const EXTENDED = '1.2.840.10008.1.2.4.51';
const FULL_PROGRESSION = '1.2.840.10008.1.2.4.55';

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
  // Issue 17, class 1: DCT JPEG beyond baseline and extended sequential.
  { name: 'jpeg-progressive', tool: 'dcmcjpeg', args: ['+ep'], source: 'pydicom/CT_small.dcm' },
  { name: 'jpeg-extended-12bit-scan-header-zeroed', tool: 'dcmcjpeg', args: ['+ee'], source: 'pydicom-data/emri_small.dcm', patch: zeroScanHeaders },
  { name: 'jpeg-spectral-12bit-multiframe', tool: 'dcmcjpeg', args: ['+es'], source: 'pydicom-data/emri_small.dcm' },
  { name: 'jpeg-progressive-12bit-multiframe', tool: 'dcmcjpeg', args: ['+ep'], source: 'pydicom-data/emri_small.dcm' },
  { name: 'jpeg-progressive-12bit-1024', tool: 'dcmcjpeg', args: ['+ep'], source: 'pydicom-data/MR2_UNCR.dcm' },
  { name: 'jpeg-progressive-12bit-first-4-scans', tool: 'dcmcjpeg', args: ['+ep'], source: 'pydicom-data/MR2_UNCR.dcm', patch: (b) => keepScans(b, 4) },
  { name: 'jpeg-progressive-12bit-labelled-extended', tool: 'dcmcjpeg', args: ['+ep'], source: 'pydicom-data/emri_small.dcm', patch: (b) => relabel(b, FULL_PROGRESSION, EXTENDED) },
  { name: 'jpeg-spectral-8bit-grey', tool: 'dcmcjpeg', args: ['+es', '+Wm', '+be'], source: 'pydicom/CT_small.dcm' },
  { name: 'jpeg-progressive-8bit-grey', tool: 'dcmcjpeg', args: ['+ep', '+Wm', '+be'], source: 'dicomParser/CT1_UNC.explicit_little_endian.dcm' },
  { name: 'jpeg-progressive-8bit-grey-first-3-scans', tool: 'dcmcjpeg', args: ['+ep', '+Wm', '+be'], source: 'dicomParser/CT1_UNC.explicit_little_endian.dcm', patch: (b) => keepScans(b, 3) },
  { name: 'jpeg-progressive-8bit-ybr-422', tool: 'dcmcjpeg', args: ['+ep'], source: 'pydicom-data/US1_UNCR.dcm' },
  { name: 'jpeg-progressive-8bit-rgb-coded', tool: 'dcmcjpeg', args: ['+ep', '+cr'], source: 'pydicom-data/US1_UNCR.dcm' },
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
  /** DCT JPEG: how gdcm compared with dcmdjpeg (the reference). */
  agreement?: string;
}


/** The image files our side decodes: those are the ones to compare. */
function imageFiles(): { path: string; parsed: ParsedDicom; info: DicomImageInfo }[] {
  if (!existsSync(dicomRoot)) return [];
  const out = [];
  for (const path of walkFiles(dicomRoot)) {
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

  before(() => {
    // A comparison that cannot be made fails (with the install command), never passes.
    const python = pythonReferenceMissing();
    if (python !== null) throw new Error(python);
    requireTools('dcmcjpeg', 'dcmdjpeg', 'dcmcjpls', 'dcmcrle', 'opj_decompress');
    outDir = mkdtempSync(join(tmpdir(), 'fovea-dicom-ref-'));
    for (const variant of GENERATED) {
      const target = join(outDir, `generated-${variant.name}.dcm`);
      const source = variant.source.startsWith('generated:') ? generated.get(variant.source.slice('generated:'.length)) : join(dicomRoot, variant.source);
      if (source === undefined) throw new Error(`${variant.name}: ${variant.source} was not generated`);
      runTool(variant.tool, [...variant.args, source, target]);
      if (variant.patch !== undefined) writeFileSync(target, variant.patch(new Uint8Array(readFileSync(target))));
      generated.set(variant.name, target);
    }
    const inputs = [...files.map((f) => f.path), ...generated.values()];
    runTool(PYTHON, [SCRIPT, ...inputs, '--out', outDir], { timeout: 300_000 });
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
    it(`generated: ${variant.name} (${variant.tool} ${variant.args.join(' ')} ${variant.source}${variant.patch !== undefined ? ', edited' : ''})`, async (t) => {
      const path = generated.get(variant.name);
      assert.ok(path !== undefined, `${variant.name} was not generated`);
      const parsed = parseDicom(readFileSync(path));
      const info = readImageInfo(parsed);
      assert.ok(info !== null);
      await compare(t, variant.name, path, parsed, info);
      // Both references must read these the same way (colour within pydicom's YCbCr rounding).
      const agreement = reference.get(path)?.agreement;
      if (agreement !== undefined) assert.match(agreement, /^pydicom-gdcm agrees/, `${variant.name}: ${agreement}`);
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
    if (ref.status === 'error' && /FileNotFoundError|No such file/.test(ref.error ?? '')) {
      assert.fail(`a reference tool is missing (${installHint('dcmdjpeg')}; ${installHint('opj_decompress')}): ${ref.error ?? ''}`);
    }
    assert.equal(ref.status, 'ok', `reference failed: ${ref.error ?? ''}`);
    assert.equal(ref.frames, info.numberOfFrames);
    const ts = transferSyntaxInfo(info.transferSyntaxUid);
    // Every DCT JPEG is compared with dcmdjpeg (IJG libjpeg 6b), which both of our DCT decoders match exactly.
    const exact = ts === undefined || !ts.lossy || ts.codec === 'jpeg-baseline';
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
    t.diagnostic(`${ts?.name ?? info.transferSyntaxUid}: ${exact ? 'exact' : 'lossy'}; max |diff| ${worst.maxAbs}, worst frame mean ${worst.mean.toFixed(4)}; reference ${ref.source ?? ''}${ref.agreement !== undefined ? ` (${ref.agreement})` : ''}`);
  }
});
