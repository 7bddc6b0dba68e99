/**
 * Issue 17, class 3: Segmented Palette Color Lookup Table Data (0028,1221-
 * 1223), PS3.3 C.7.9.2, expanded to the full table and displayed like any
 * palette.
 *
 * Files made here with dcmjs (test/helpers/decoding-classes.ts): 16-bit
 * entries over 16-bit indices (65536 entries), 16-bit entries with a first
 * mapped value of 100 (indices below and above the table), 8-bit entries;
 * each channel uses discrete, linear and indirect segments. The reference
 * is pydicom 2.3's apply_color_lut (test/reference/dicom_reference.py).
 * dcmtk 3.6.7 does not read segmented palettes ("segmented palettes not yet
 * supported"; checked below, so a dcmtk that learns them is compared too),
 * and gdcm 3.0.21 aborts on these files (an assertion in
 * LookupTable::SetLUT), so pydicom is the one reference that reads them.
 *
 * Where the standard and pydicom part: an indirect segment's offset is in
 * bytes (C.7.9.2.3: "The byte offset is relative to the beginning of the
 * lookup table"); pydicom 2.3 uses it as an index into the 16-bit words.
 * The generated files point their indirect segments at offset 0, where both
 * agree; the standard's reading of other offsets is checked against tables
 * expanded by hand from the standard's text below.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FoveaException } from '../../../../electron/contract/result';
import { decodeFrame, parseDicom, readImageInfo, toDisplay } from '../../../../electron/core/dicom';
import { expandSegmentedLut } from '../../../../electron/core/dicom/segmented-palette';
import { encodeSegments, writeSegmentedPaletteFiles, type Segment, type SegmentedPaletteFile } from '../../../helpers/decoding-classes';
import { REFERENCE_PYTHON, requireTools, runTool } from '../../../helpers/reference-tools';
import { REPO_ROOT } from '../../../helpers/paths';

let dir = '';
let files: SegmentedPaletteFile[] = [];
const palettes = new Map<string, string | undefined>();

before(() => {
  requireTools(REFERENCE_PYTHON, 'dcm2pnm');
  dir = mkdtempSync(join(tmpdir(), 'fovea-segmented-palette-'));
  files = writeSegmentedPaletteFiles(dir);
  const out = join(dir, 'reference');
  runTool(REFERENCE_PYTHON, [join(REPO_ROOT, 'test/reference/dicom_reference.py'), ...files.map((f) => f.path), '--out', out]);
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { files: { path: string; status: string; error?: string; paletteFiles?: string[] }[] };
  for (const e of manifest.files) {
    assert.equal(e.status, 'ok', `pydicom could not read ${e.path}: ${e.error ?? ''}`);
    palettes.set(e.path, e.paletteFiles?.[0] !== undefined ? join(out, e.paletteFiles[0]) : undefined);
  }
});

after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('segmented palette colour tables', () => {
  it('expand to the full table and display as pydicom apply_color_lut does', async (t) => {
    assert.equal(files.length, 3);
    for (const file of files) {
      const parsed = parseDicom(new Uint8Array(readFileSync(file.path)));
      const info = readImageInfo(parsed);
      assert.ok(info?.palette, file.name);
      for (const lut of [info.palette.red, info.palette.green, info.palette.blue]) assert.equal(lut.data.length, lut.entries, `${file.name}: full table`);
      const display = toDisplay(await decodeFrame(parsed, 0, { info }), info);
      assert.equal(display.channels, 3);
      const expected = palettes.get(file.path);
      assert.ok(expected !== undefined, `${file.name}: pydicom wrote no palette result`);
      assert.deepEqual(display.data, new Uint8Array(readFileSync(expected)), `${file.name} against pydicom apply_color_lut`);
      t.diagnostic(`${file.name}: ${info.palette.red.entries} entries of ${info.palette.red.bits} bits, first mapped ${info.palette.red.firstMapped}: equal to pydicom`);
    }
  });

  it('are compared with dcmtk too when dcmtk reads them (3.6.7 does not)', async (t) => {
    for (const file of files) {
      const out = join(dir, `${file.name}.ppm`);
      const r = spawnSync('dcm2pnm', ['+op', file.path, out], { encoding: 'utf8' });
      if (r.status !== 0) {
        assert.match(`${r.stderr}${r.stdout}`, /segmented palettes not yet supported/, `dcm2pnm failed otherwise: ${r.stderr}`);
        t.diagnostic(`${file.name}: dcmtk refuses it ("segmented palettes not yet supported"); pydicom is the reference`);
        continue;
      }
      // dcmtk reads it: its 8-bit RGB (binary PPM) must equal our display.
      const ppm = new Uint8Array(readFileSync(out));
      const parsed = parseDicom(new Uint8Array(readFileSync(file.path)));
      const info = readImageInfo(parsed);
      assert.ok(info !== null);
      const display = toDisplay(await decodeFrame(parsed, 0, { info }), info);
      assert.deepEqual(ppm.subarray(ppm.length - display.data.length), display.data, `${file.name} against dcm2pnm`);
    }
  });
});

describe('segment expansion (PS3.3 C.7.9.2)', () => {
  const expand = (segments: Segment[], entries: number, bits: 8 | 16): number[] => [...expandSegmentedLut(encodeSegments(segments, bits), entries, bits, 'test')];

  it('an indirect segment copies from a BYTE offset (16-bit units), as the standard says', () => {
    // Units: discrete at 0-4, linear at 5-7 (byte 10), discrete at 8-10, indirect at 11.
    const segments: Segment[] = [
      { kind: 'discrete', values: [10, 20, 30] },
      { kind: 'linear', length: 4, y1: 50 },
      { kind: 'discrete', values: [7] },
      { kind: 'indirect', count: 2, byteOffset: 10 },
    ];
    // By hand: 10 20 30; the line from (2, 30) to (6, 50): 35 40 45 50; 7; then the linear and discrete
    // segments again: the line from 7 to 50 over 4 entries is 17.75 28.5 39.25 50, rounded half to even
    // (as pydicom rounds linear segments): 18 28 39 50; 7.
    assert.deepEqual(expand(segments, 13, 16), [10, 20, 30, 35, 40, 45, 50, 7, 18, 28, 39, 50, 7]);
  });

  it('in 8-bit tables every unit is a byte and the offset is four bytes, least significant first', () => {
    const segments: Segment[] = [
      { kind: 'discrete', values: [1, 2] },
      { kind: 'linear', length: 3, y1: 200 },
      { kind: 'indirect', count: 1, byteOffset: 0 },
      { kind: 'discrete', values: [255] },
    ];
    // 1 2; the line from 2 to 200 over 3: 68 134 200; 1 2 again; 255.
    assert.deepEqual(expand(segments, 8, 8), [1, 2, 68, 134, 200, 1, 2, 255]);
  });

  it('a linear segment ends exactly on its end value and starts after the previous one', () => {
    assert.deepEqual(expand([{ kind: 'discrete', values: [0] }, { kind: 'linear', length: 5, y1: 65535 }], 6, 16), [0, 13107, 26214, 39321, 52428, 65535]);
    assert.deepEqual(expand([{ kind: 'discrete', values: [9] }, { kind: 'linear', length: 3, y1: 9 }], 4, 16), [9, 9, 9, 9]);
  });

  it('malformed tables are refused with the reason', () => {
    const refused = (segments: Segment[] | number[], entries: number, pattern: RegExp): void => {
      const units = typeof segments[0] === 'number' ? (segments as number[]) : encodeSegments(segments as Segment[], 16);
      assert.throws(() => expandSegmentedLut(units, entries, 16, 'red'), (e: unknown) => e instanceof FoveaException && e.code === 'BAD_INPUT' && pattern.test(e.message));
    };
    refused([{ kind: 'linear', length: 3, y1: 5 }], 3, /first segment is a linear segment/);
    refused([{ kind: 'indirect', count: 1, byteOffset: 0 }], 3, /first segment is an indirect segment/);
    refused([{ kind: 'discrete', values: [1] }, { kind: 'indirect', count: 1, byteOffset: 6 }, { kind: 'indirect', count: 1, byteOffset: 6 }], 4, /points at another indirect segment/);
    refused([{ kind: 'discrete', values: [1] }, { kind: 'indirect', count: 1, byteOffset: 4000 }], 4, /outside the data/);
    refused([{ kind: 'discrete', values: [1, 2] }], 5, /expands to 2 entries, but its descriptor says 5/);
    refused([7, 1, 1], 1, /segment type 7 is not defined/);
    refused([0, 9, 1, 2], 9, /runs past the end/);
  });
});
