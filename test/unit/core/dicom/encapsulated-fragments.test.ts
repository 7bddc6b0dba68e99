/**
 * Issue 17, class 2: JPEG 2000 whose encapsulated fragments hold bytes that
 * look like a DICOM Item (FE FF 00 E0), Item Delimitation or Sequence
 * Delimitation (FE FF DD E0) tag.
 *
 * The files are made here (test/helpers/decoding-classes.ts): OpenJPEG
 * codestreams (signed 16-bit lossy .91; three 12-bit lossless .90 frames)
 * with the look-alike bytes in a COM marker segment, encapsulated with a
 * fragment boundary right before them (a fragment starts FE FF DD E0) and
 * others inside the tile data, with and without a Basic Offset Table, and
 * the same frames one fragment each.
 *
 * What is shown: the fragment walker follows item lengths (never scans for
 * tag bytes) and each frame is assembled from exactly its fragments, byte
 * for byte as pydicom's generate_pixel_data_frame assembles it; every frame
 * decodes exactly as opj_decompress reads its codestream, and as pydicom +
 * gdcm read the file where gdcm can: gdcm 3.0.21 cannot decode a multi-frame
 * JPEG 2000 file whose frames span several fragments ("Not handled" in
 * JPEG2000Codec::Decode, with or without an offset table; pydicom 2.3 then
 * returns uninitialised memory), so there OpenJPEG is the reference.
 *
 * And the file of the issue: its codestream itself is damaged (the tag's
 * bytes were written over the SIZ marker), so it is refused with that
 * reason; OpenJPEG refuses it too.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FoveaException } from '../../../../electron/contract/result';
import { decodeFrame, parseDicom, readImageInfo } from '../../../../electron/core/dicom';
import { encapsulatedFrame } from '../../../../electron/core/dicom/decode-frame';
import { DELIMITER_LOOKALIKES, writeDamagedSizFile, writeJ2kClassFiles, type J2kClassFile } from '../../../helpers/decoding-classes';
import { REFERENCE_PYTHON, requireTools, runTool } from '../../../helpers/reference-tools';
import { REPO_ROOT } from '../../../helpers/paths';

interface ReferenceEntry {
  path: string;
  status: string;
  error?: string;
  dtype?: string;
  frameFiles?: string[];
}

let dir = '';
let files: J2kClassFile[] = [];
let damaged = '';
const gdcm = new Map<string, ReferenceEntry>();
/** Each file's frames as pydicom 2.3 assembles them from the fragments. */
const pydicomFrames = new Map<string, Uint8Array[]>();

const PYDICOM_FRAMES = `
import json, sys, pydicom
from pydicom.encaps import generate_pixel_data_frame
out = {}
for path in sys.argv[1:]:
    ds = pydicom.dcmread(path)
    out[path] = [f.hex() for f in generate_pixel_data_frame(ds.PixelData, int(ds.NumberOfFrames))]
print(json.dumps(out))
`;

function samples(bytes: Uint8Array, dtype: string): Int16Array | Uint16Array {
  const copy = new Uint8Array(bytes);
  return dtype === 'int16' ? new Int16Array(copy.buffer) : new Uint16Array(copy.buffer);
}

before(async () => {
  requireTools(REFERENCE_PYTHON, 'opj_compress', 'opj_decompress');
  dir = mkdtempSync(join(tmpdir(), 'fovea-j2k-fragments-'));
  files = await writeJ2kClassFiles(dir);
  damaged = writeDamagedSizFile(dir);
  const out = join(dir, 'reference');
  runTool(REFERENCE_PYTHON, [join(REPO_ROOT, 'test/reference/dicom_reference.py'), ...files.map((f) => f.path), '--out', out]);
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { files: ReferenceEntry[] };
  for (const entry of manifest.files) gdcm.set(entry.path, { ...entry, frameFiles: entry.frameFiles?.map((f) => join(out, f)) });
  const frames = JSON.parse(runTool(REFERENCE_PYTHON, ['-c', PYDICOM_FRAMES, ...files.map((f) => f.path)]).toString()) as Record<string, string[]>;
  for (const [path, hex] of Object.entries(frames)) pydicomFrames.set(path, hex.map((h) => new Uint8Array(Buffer.from(h, 'hex'))));
});

after(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('JPEG 2000 fragments holding Item and Sequence Delimitation look-alikes', () => {
  it('are walked by their item lengths, and each frame is exactly its fragments (as pydicom assembles it)', () => {
    assert.equal(files.length, 5);
    for (const file of files) {
      const bytes = new Uint8Array(readFileSync(file.path));
      const parsed = parseDicom(bytes);
      const info = readImageInfo(parsed);
      assert.ok(info !== null);
      const fragments = parsed.element('7FE00010')?.fragments ?? [];
      assert.equal(fragments.length, file.fragmentsPerFrame * file.codestreams.length, `${file.name}: fragment count`);
      // A fragment starts with the bytes of a Sequence Delimitation tag: a tag scanner would stop there.
      if (file.fragmentsPerFrame > 1) assert.ok(
        fragments.some((f) => bytes.subarray(f.position, f.position + 8).every((b, i) => b === DELIMITER_LOOKALIKES[i])),
        `${file.name}: a fragment starts with FE FF DD E0 00 00 00 00`,
      );
      for (const [frame, codestream] of file.codestreams.entries()) {
        const assembled = encapsulatedFrame(parsed, info, frame, 'jpeg2000');
        // Odd codestreams end with the one pad byte PS3.5 A.4 adds to the last fragment.
        assert.deepEqual(assembled.subarray(0, codestream.length), codestream, `${file.name} frame ${frame}`);
        assert.ok(assembled.length - codestream.length <= 1, `${file.name} frame ${frame}: only the pad byte is added`);
        assert.deepEqual(assembled, pydicomFrames.get(file.path)?.[frame], `${file.name} frame ${frame}: the bytes pydicom assembles`);
      }
    }
  });

  it('decode exactly as opj_decompress reads each codestream, and as pydicom + gdcm read the file where gdcm can', async (t) => {
    for (const file of files) {
      const parsed = parseDicom(new Uint8Array(readFileSync(file.path)));
      const info = readImageInfo(parsed);
      assert.ok(info !== null);
      const ref = gdcm.get(file.path);
      assert.equal(ref?.status, 'ok', `${file.name}: pydicom + gdcm failed: ${ref?.error ?? ''}`);
      // gdcm decodes a multi-frame J2K file only when each frame is one fragment.
      const gdcmCan = file.codestreams.length === 1 || file.fragmentsPerFrame === 1;
      for (const [frame, codestream] of file.codestreams.entries()) {
        const ours = await decodeFrame(parsed, frame, { info });
        const j2k = join(dir, `${file.name}-${frame}.j2k`);
        const raw = join(dir, `${file.name}-${frame}.rawl`);
        writeFileSync(j2k, codestream);
        runTool('opj_decompress', ['-i', j2k, '-o', raw]);
        const opj = samples(new Uint8Array(readFileSync(raw)), ours.dtype);
        assert.deepEqual(ours.data, opj, `${file.name} frame ${frame} against opj_decompress`);
        if (gdcmCan) {
          const fromGdcm = samples(new Uint8Array(readFileSync(ref?.frameFiles?.[frame] ?? '')), ref?.dtype ?? '');
          assert.deepEqual(ours.data, fromGdcm, `${file.name} frame ${frame} against pydicom + gdcm`);
        }
      }
      t.diagnostic(`${file.name}: ${file.codestreams.length} frame(s) equal opj_decompress${gdcmCan ? ' and pydicom + gdcm' : ' (gdcm 3.0.21 cannot decode frames of several fragments)'} exactly`);
    }
  });
});

describe('the file of the issue (pydicom-data JPEG2000-embedded-sequence-delimiter.dcm, rebuilt)', () => {
  it('is refused with the reason: the Sequence Delimitation bytes overwrote its SIZ marker', async () => {
    const parsed = parseDicom(new Uint8Array(readFileSync(damaged)));
    // The walker itself reads the file: one empty offset table, one 250-byte fragment.
    assert.deepEqual(parsed.element('7FE00010')?.fragments?.map((f) => f.length), [250]);
    await assert.rejects(decodeFrame(parsed, 0), (e: unknown) => {
      assert.ok(e instanceof FoveaException);
      assert.equal(e.code, 'BAD_INPUT');
      assert.match(e.message, /3722445056 x 1024 .* 256 x 1024, because codestream bytes 6-9 are FE FF DD E0, a DICOM Sequence Delimitation tag written over its size \(SIZ\) marker/);
      return true;
    });
  });

  it('is refused by OpenJPEG too (gdcm fails on it; pydicom 2.3 then returns uninitialised memory)', () => {
    const parsed = parseDicom(new Uint8Array(readFileSync(damaged)));
    const f = parsed.element('7FE00010')?.fragments?.[0];
    assert.ok(f !== undefined);
    const j2k = join(dir, 'damaged.j2k');
    writeFileSync(j2k, parsed.bytes.subarray(f.position, f.position + f.length));
    assert.throws(() => runTool('opj_decompress', ['-i', j2k, '-o', join(dir, 'damaged.rawl')]), /failed to read the header|Invalid number of tiles/);
  });
});
