/**
 * Issue 17: the four classes of file decode the same at import, in `fovea
 * pixels`, in the viewer (pixels.get) and in training, because all four go
 * through the one decoder (electron/core/dicom decodeFrame); the values are
 * the reference's, not merely each other's.
 *
 * One file per class (more where the class has a distinct path), generated
 * here: progressive 12-bit multi-frame and 8-bit greyscale JPEG, sequential
 * 12-bit JPEG with zeroed scan headers; JPEG 2000 with delimiter look-alikes
 * across fragments (signed, and multi-frame); a segmented palette; big
 * endian 8-bit OW with an odd byte count (RGB and grey). The reference
 * values come from test/reference/dicom_reference.py (dcmdjpeg for JPEG,
 * pydicom + gdcm for JPEG 2000, pydicom's apply_color_lut for the palette,
 * dcmconv +te then pydicom for big endian). The damaged-SIZ JPEG 2000 file
 * is refused at import with its reason.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import type { GreyPixelFrame, ImportReport, PixelFrame, RgbaPixelFrame } from '../../electron/contract/domain';
import type { Core } from '../../electron/core/composition-root';
import { decodeImage } from '../../electron/core/training/sample-loader';
import {
  keepScans,
  TESTDATA_DICOM,
  writeBigEndianFiles,
  writeDamagedSizFile,
  writeJ2kClassFiles,
  writeSegmentedPaletteFiles,
  zeroScanHeaders,
} from '../helpers/decoding-classes';
import { REPO_ROOT } from '../helpers/paths';
import { REFERENCE_PYTHON, requireTools, runTool } from '../helpers/reference-tools';
import { tempCore } from '../helpers/temp-library';

interface Case {
  path: string;
  /** Run through the `fovea pixels` command (one file per class: each spawn costs seconds). */
  cli: boolean;
  /** The file the reference reads (big endian: dcmtk's little-endian conversion). */
  referencePath: string;
}

interface ReferenceEntry {
  path: string;
  status: string;
  error?: string;
  dtype?: string;
  samplesPerPixel?: number;
  frameFiles?: string[];
  paletteFiles?: string[];
}

let dir = '';
let t: ReturnType<typeof tempCore>;
let core: Core;
let report: ImportReport;
let damaged = '';
const cases: Case[] = [];
const reference = new Map<string, ReferenceEntry>();

before(async () => {
  requireTools(REFERENCE_PYTHON, 'dcmcjpeg', 'dcmdjpeg', 'dcmconv', 'opj_compress');
  dir = mkdtempSync(join(tmpdir(), 'fovea-decoding-classes-'));
  const jpeg = (name: string, args: string[], source: string, patch?: (b: Uint8Array) => Uint8Array): void => {
    const path = join(dir, `${name}.dcm`);
    runTool('dcmcjpeg', [...args, join(TESTDATA_DICOM, source), path]);
    if (patch) writeFileSync(path, patch(new Uint8Array(readFileSync(path))));
    cases.push({ path, referencePath: path, cli: name.startsWith('jpeg-progressive-12bit') });
  };
  jpeg('jpeg-progressive-12bit-multiframe', ['+ep'], 'pydicom-data/emri_small.dcm');
  jpeg('jpeg-progressive-8bit-grey-first-3-scans', ['+ep', '+Wm', '+be'], 'pydicom/CT_small.dcm', (b) => keepScans(b, 3));
  jpeg('jpeg-extended-12bit-scan-header-zeroed', ['+ee'], 'pydicom/CT_small.dcm', zeroScanHeaders);
  const j2k = await writeJ2kClassFiles(dir);
  for (const name of ['j2k-signed-lossy-lookalikes-no-bot', 'j2k-multiframe-lossless-lookalikes-whole-frames']) {
    const f = j2k.find((x) => x.name === name);
    assert.ok(f, name);
    cases.push({ path: f.path, referencePath: f.path, cli: name.includes('signed') });
  }
  const palette = writeSegmentedPaletteFiles(dir)[0];
  assert.ok(palette);
  cases.push({ path: palette.path, referencePath: palette.path, cli: true });
  for (const be of writeBigEndianFiles(dir).filter((f) => f.name === 'be-rgb-3x3-odd' || f.name === 'be-grey-5x5-odd')) {
    const back = join(dir, `${be.name}-dcmconv-te.dcm`);
    runTool('dcmconv', ['+te', be.path, back]);
    cases.push({ path: be.path, referencePath: back, cli: be.name === 'be-rgb-3x3-odd' });
  }
  damaged = writeDamagedSizFile(dir);

  const out = join(dir, 'reference');
  runTool(REFERENCE_PYTHON, [join(REPO_ROOT, 'test/reference/dicom_reference.py'), ...cases.map((c) => c.referencePath), '--out', out], { timeout: 300_000 });
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { files: ReferenceEntry[] };
  for (const e of manifest.files) {
    assert.equal(e.status, 'ok', `reference failed on ${e.path}: ${e.error ?? ''}`);
    reference.set(e.path, { ...e, frameFiles: e.frameFiles?.map((f) => join(out, f)), paletteFiles: e.paletteFiles?.map((f) => join(out, f)) });
  }

  t = tempCore();
  core = t.core;
  const ds = core.datasets.create('issue 17', '');
  report = await core.importFiles({ datasetId: ds.id, paths: [...cases.map((c) => c.path), damaged] });
});

after(() => {
  t?.cleanup();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

/** The reference's values of one frame: stored samples, or (palette) RGB. */
function referenceOf(c: Case, frame: number): { entry: ReferenceEntry; stored: Buffer; rgb: Buffer | null } {
  const entry = reference.get(c.referencePath);
  assert.ok(entry?.frameFiles?.[frame], `${basename(c.path)}: reference frame ${frame}`);
  const palette = entry.paletteFiles?.[frame];
  return { entry, stored: readFileSync(entry.frameFiles[frame] ?? ''), rgb: palette !== undefined ? readFileSync(palette) : null };
}

function itemOf(c: Case): { id: number; frames: number; blobSha256: string } {
  const row = core.db.prepare('SELECT id, frames, blob_sha256 AS blobSha256 FROM items WHERE source_name = ?').get(basename(c.path)) as
    | { id: number; frames: number; blobSha256: string }
    | undefined;
  assert.ok(row, `${basename(c.path)} was imported`);
  return row;
}

function typed(bytes: Buffer, dtype: string): ArrayLike<number> {
  const copy = new Uint8Array(bytes);
  if (dtype === 'int16') return new Int16Array(copy.buffer);
  if (dtype === 'uint16') return new Uint16Array(copy.buffer);
  return copy;
}

test('import: every class file is imported (each frame decoded on the way); the damaged JPEG 2000 is refused with its reason', () => {
  assert.equal(report.counts.imported, cases.length, JSON.stringify(report.notImported));
  const refused = report.notImported.find((f) => f.path.endsWith('j2k-damaged-siz.dcm'));
  assert.equal(refused?.outcome, 'failed');
  assert.match(refused?.reason ?? '', /bytes 6-9 are FE FF DD E0, a DICOM Sequence Delimitation tag written over its size \(SIZ\) marker/);
});

test('fovea pixels writes the reference values of every class', () => {
  assert.equal(cases.filter((c) => c.cli).length, 4, 'one file of each class');
  for (const c of cases.filter((x) => x.cli)) {
    const last = itemOf(c).frames - 1;
    const out = join(dir, `${basename(c.path)}.bin`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'electron/cli/main.ts'), 'pixels', c.path, '--frame', String(last), '--out', out, '--json'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `${basename(c.path)}: ${r.stderr}`);
    const description = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { dtype: string; frame: number };
    const { entry, stored } = referenceOf(c, last);
    assert.equal(description.dtype, entry.dtype, basename(c.path));
    assert.deepEqual(readFileSync(out), stored, `${basename(c.path)} frame ${last}`);
  }
});

test('pixels.get (the viewer) serves the reference values: stored values for grey, the palette or RGB for colour', async () => {
  for (const c of cases) {
    const item = itemOf(c);
    for (let f = 0; f < item.frames; f++) {
      const res = await core.dispatch('pixels.get', { itemId: item.id, frame: f });
      assert.ok(res.ok, `${basename(c.path)}: ${res.ok ? '' : res.error.message}`);
      const frame = res.value as PixelFrame;
      const { entry, stored, rgb } = referenceOf(c, f);
      if (frame.kind === 'grey') {
        assert.deepEqual(Array.from((frame as GreyPixelFrame).data), Array.from(typed(stored, entry.dtype ?? '')), `${basename(c.path)} frame ${f}`);
      } else {
        const colour = rgb ?? stored; // palette: pydicom's apply_color_lut; RGB: the samples
        const rgba = (frame as RgbaPixelFrame).data;
        const asRgb = new Uint8Array(rgba.length / 4 * 3);
        for (let p = 0; p < rgba.length / 4; p++) asRgb.set(rgba.subarray(p * 4, p * 4 + 3), p * 3);
        assert.deepEqual(asRgb, new Uint8Array(colour), `${basename(c.path)} frame ${f}`);
      }
    }
  }
});

test('training reads the same values (per-image normalisation of the reference values, or the palette / RGB over 255)', async () => {
  for (const c of cases) {
    const item = itemOf(c);
    const f = item.frames - 1;
    const { entry, stored, rgb } = referenceOf(c, f);
    const colour = rgb !== null || (entry.samplesPerPixel ?? 1) === 3;
    const image = await decodeImage(core.blobs, { itemId: item.id, frameIndex: f, kind: 'dicom', blobSha256: item.blobSha256, width: 0, height: 0, colour, patientKey: null }, { kind: 'per-image' }, colour ? 3 : 1);
    let expected: Float32Array;
    if (colour) {
      const bytes = rgb ?? stored;
      let min = Infinity;
      let max = -Infinity;
      for (const v of bytes) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      expected = Float32Array.from(bytes, (v) => (max > min ? (v - min) / (max - min) : 0));
    } else {
      const values = Array.from(typed(stored, entry.dtype ?? ''));
      const min = Math.min(...values);
      const max = Math.max(...values);
      expected = Float32Array.from(values, (v) => (max > min ? (v - min) / (max - min) : 0));
    }
    assert.equal(image.data.length, expected.length, basename(c.path));
    for (let i = 0; i < expected.length; i++) {
      assert.ok(Math.abs((image.data[i] ?? 0) - (expected[i] ?? 0)) < 1e-6, `${basename(c.path)} sample ${i}: ${image.data[i]} vs ${expected[i]}`);
    }
  }
});
