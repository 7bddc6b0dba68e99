/**
 * Hostile and odd input, generated here (never stored): resource bombs,
 * deep nesting, and a seeded fuzz loop over real files. The promise under
 * test: only FoveaException comes out, quickly, and nothing large is
 * allocated for a file that merely declares a large image.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import dicomParser from 'dicom-parser';
import { deflateSync } from 'fflate';
import { FoveaException } from '../../../../electron/contract/result';
import { decodeFrame, decodeFrameSync } from '../../../../electron/core/dicom/decode-frame';
import { readImageInfo } from '../../../../electron/core/dicom/image-info';
import { inspectDicom } from '../../../../electron/core/dicom/inspect-dicom';
import { parseDicom } from '../../../../electron/core/dicom/parse-dicom';
import { exercise, generatedFuzzFiles, mutate, random, sharedFuzzFiles } from '../../../helpers/dicom-fuzz';
import { checkDeclaredSize } from '../../../../electron/core/dicom/size-limits';
import { cat, el, implicitEl, part10, tagBytes, text, u16, u32, UNDEFINED_LENGTH } from '../../../helpers/dicom-writer';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const dicomRoot = join(repoRoot, '..', 'shared', 'testdata', 'dicom');

// ------------------------------------------------------------ files made here (test/helpers/dicom-writer.ts)

const UNDEFINED = UNDEFINED_LENGTH;

function imageHeader(rows: number, columns: number, frames: string, bits = 16): Uint8Array {
  return cat(
    el(0x00080016, 'UI', text('1.2.840.10008.5.1.4.1.1.2', '\0')),
    el(0x00080060, 'CS', text('CT')),
    el(0x00280002, 'US', u16(1)),
    el(0x00280004, 'CS', text('MONOCHROME2')),
    el(0x00280008, 'IS', text(frames)),
    el(0x00280010, 'US', u16(rows)),
    el(0x00280011, 'US', u16(columns)),
    el(0x00280100, 'US', u16(bits)),
    el(0x00280101, 'US', u16(bits)),
    el(0x00280102, 'US', u16(bits - 1)),
    el(0x00280103, 'US', u16(0)),
  );
}

async function rejects(work: () => unknown, code: string, pattern?: RegExp): Promise<FoveaException> {
  try {
    await work();
  } catch (e) {
    assert.ok(e instanceof FoveaException, `expected FoveaException ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (pattern !== undefined) assert.match(e.message, pattern);
    return e;
  }
  assert.fail(`expected ${code}`);
}

// ------------------------------------------------------------ generated edge cases

describe('generated edge cases', () => {
  it('stored values: bits above BitsStored dropped, signed data sign-extended (pydicom 2.3 keeps the raw words)', () => {
    const header = (signed: number): Uint8Array =>
      cat(
        el(0x00280002, 'US', u16(1)),
        el(0x00280004, 'CS', text('MONOCHROME2')),
        el(0x00280010, 'US', u16(1)),
        el(0x00280011, 'US', u16(4)),
        el(0x00280100, 'US', u16(16)),
        el(0x00280101, 'US', u16(12)),
        el(0x00280102, 'US', u16(11)),
        el(0x00280103, 'US', u16(signed)),
      );
    const pixels = cat(u16(0x0fff), u16(0x0800), u16(0x07ff), u16(0xf001));
    const signed = decodeFrameSync(parseDicom(part10(cat(header(1), el(0x7fe00010, 'OW', pixels)))), 0);
    assert.equal(signed.dtype, 'int16');
    assert.deepEqual([...signed.data], [-1, -2048, 2047, 1]);
    const unsigned = decodeFrameSync(parseDicom(part10(cat(header(0), el(0x7fe00010, 'OW', pixels)))), 0);
    assert.deepEqual([...unsigned.data], [4095, 2048, 2047, 1]);
  });

  it('native YBR_FULL_422 is expanded to YBR_FULL as pydicom does', () => {
    const bytes = part10(
      cat(
        el(0x00280002, 'US', u16(3)),
        el(0x00280004, 'CS', text('YBR_FULL_422')),
        el(0x00280006, 'US', u16(0)),
        el(0x00280010, 'US', u16(1)),
        el(0x00280011, 'US', u16(4)),
        el(0x00280100, 'US', u16(8)),
        el(0x00280101, 'US', u16(8)),
        el(0x00280102, 'US', u16(7)),
        el(0x00280103, 'US', u16(0)),
        el(0x7fe00010, 'OB', Uint8Array.of(10, 20, 100, 200, 30, 40, 110, 210)),
      ),
    );
    const frame = decodeFrameSync(parseDicom(bytes), 0);
    assert.equal(frame.photometric, 'YBR_FULL');
    // pydicom 2.3.1 pixel_array of the same bytes.
    assert.deepEqual([...frame.data], [10, 100, 200, 20, 100, 200, 30, 110, 210, 40, 110, 210]);
  });

  it('reads the 64-bit VRs (SV, UV, OV)', () => {
    const sv = new Uint8Array(8);
    new DataView(sv.buffer).setBigInt64(0, -5n, true);
    const uv = new Uint8Array(8);
    new DataView(uv.buffer).setBigUint64(0, 7n, true);
    const parsed = parseDicom(part10(cat(el(0x00080060, 'CS', text('OT')), el(0x00091001, 'SV', sv), el(0x00091002, 'UV', uv), el(0x00091003, 'OV', uv))));
    assert.equal(parsed.num('00091001'), -5);
    assert.equal(parsed.num('00091002'), 7);
    const dump = inspectDicom(parsed);
    assert.equal(dump['00091001']?.value, -5);
    assert.deepEqual(dump['00091003']?.value, { length: 8 });
  });

  it('the DataSet works with dicom-parser helpers', () => {
    const big = parseDicom(readFileSync(join(dicomRoot, 'pydicom/MR_small_bigendian.dcm')));
    assert.equal(big.dataSet.uint16('x00280010'), 64);
    assert.equal(big.dataSet.string('x00080060'), 'MR');
    const jpeg = parseDicom(readFileSync(join(dicomRoot, 'pydicom/SC_rgb_jpeg_dcmtk.dcm')));
    const pixel = jpeg.dataSet.elements['x7fe00010'];
    assert.ok(pixel !== undefined);
    const frame = dicomParser.readEncapsulatedPixelDataFromFragments(jpeg.dataSet, pixel, 0, pixel.fragments?.length);
    assert.equal(frame[0], 0xff);
    assert.equal(frame[1], 0xd8);
  });
});

// ------------------------------------------------------------ resource bombs

describe('declared sizes are refused before allocating', () => {
  it('a ~2 KB file declaring 65535 x 65535 and 2^31-1 frames is TOO_LARGE', async () => {
    const bytes = part10(cat(imageHeader(65535, 65535, '2147483647'), el(0x7fe00010, 'OW', new Uint8Array(1024))));
    assert.ok(bytes.length < 2048 + 512, `file is ${bytes.length} bytes`);
    const before = process.memoryUsage().arrayBuffers;
    const parsed = parseDicom(bytes);
    const info = readImageInfo(parsed);
    assert.ok(info !== null);
    assert.equal(info.numberOfFrames, 2147483647);
    const e = await rejects(() => checkDeclaredSize(info, bytes.length), 'TOO_LARGE', /65535 x 65535/);
    assert.ok(/8\.0 GiB per frame/.test(e.message), e.message);
    await rejects(() => decodeFrame(parsed, 0), 'TOO_LARGE');
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 ** 2, 'nothing large was allocated');
  });

  it('many small frames add up: 2^31-1 frames of 1 x 1 is TOO_LARGE per file', async () => {
    const bytes = part10(cat(imageHeader(1, 1, '2147483647'), el(0x7fe00010, 'OW', new Uint8Array(16))));
    const info = readImageInfo(parseDicom(bytes));
    assert.ok(info !== null);
    await rejects(() => checkDeclaredSize(info, bytes.length), 'TOO_LARGE', /2,147,483,647 frame\(s\).*per file/);
  });

  it('the same bomb with compressed (encapsulated) pixel data is TOO_LARGE', async () => {
    const pixel = cat(tagBytes(0x7fe00010), text('OB'), u16(0), u32(UNDEFINED), tagBytes(0xfffee000), u32(0), tagBytes(0xfffee000), u32(4), Uint8Array.of(0xff, 0xd8, 0xff, 0xd9), tagBytes(0xfffee0dd), u32(0));
    const bytes = part10(cat(imageHeader(65535, 65535, '2147483647'), pixel), '1.2.840.10008.1.2.4.50');
    const parsed = parseDicom(bytes);
    await rejects(() => decodeFrame(parsed, 0), 'TOO_LARGE');
  });

  it('a plausible size whose pixels are not in the file is BAD_INPUT "truncated"', async () => {
    const bytes = part10(cat(imageHeader(4096, 4096, '1'), el(0x7fe00010, 'OW', new Uint8Array(1024))));
    const info = readImageInfo(parseDicom(bytes));
    assert.ok(info !== null);
    await rejects(() => checkDeclaredSize(info, bytes.length), 'BAD_INPUT', /truncated.*32\.0 MiB/);
  });

  it('limits are configurable', async () => {
    const bytes = part10(cat(imageHeader(64, 64, '1'), el(0x7fe00010, 'OW', new Uint8Array(64 * 64 * 2))));
    const info = readImageInfo(parseDicom(bytes));
    assert.ok(info !== null);
    assert.equal(checkDeclaredSize(info, bytes.length).frameBytes, 8192);
    await rejects(() => checkDeclaredSize(info, bytes.length, { maxBytesPerFrame: 4096 }), 'TOO_LARGE', /limit is 4\.0 KiB per frame/);
  });

  it('a deflate bomb stops at the inflation limit', async () => {
    const dataSet = cat(el(0x00080060, 'CS', text('OT')), el(0x00091010, 'OB', new Uint8Array(8 * 1024 ** 2)));
    const bytes = part10(deflateSync(dataSet), '1.2.840.10008.1.2.1.99');
    assert.ok(bytes.length < 64 * 1024);
    await rejects(() => parseDicom(bytes, { maxPixelBytes: 1024 ** 2 }), 'TOO_LARGE', /expands beyond/);
    assert.equal(parseDicom(bytes).str('00080060'), 'OT');
  });

  it('an attribute length past the end of the file is BAD_INPUT', async () => {
    const bytes = part10(cat(el(0x00080060, 'CS', text('CT')), el(0x00091010, 'OB', new Uint8Array(8), 0xfffffff0)));
    await rejects(() => parseDicom(bytes), 'BAD_INPUT', /declares 4294967280 bytes.*only 8 remain/);
  });
});

// ------------------------------------------------------------ deep nesting

function nestedUndefined(depth: number, implicit: boolean): Uint8Array {
  const parts: Uint8Array[] = [];
  const open = implicit
    ? cat(tagBytes(0x0040a730), u32(UNDEFINED), tagBytes(0xfffee000), u32(UNDEFINED))
    : cat(tagBytes(0x0040a730), text('SQ'), u16(0), u32(UNDEFINED), tagBytes(0xfffee000), u32(UNDEFINED));
  const close = cat(tagBytes(0xfffee00d), u32(0), tagBytes(0xfffee0dd), u32(0));
  for (let i = 0; i < depth; i++) parts.push(open);
  parts.push(implicit ? implicitEl(0x0040a160, text('deep')) : el(0x0040a160, 'UT', text('deep')));
  for (let i = 0; i < depth; i++) parts.push(close);
  return cat(implicit ? implicitEl(0x00080060, text('SR')) : el(0x00080060, 'CS', text('SR')), ...parts);
}

function nestedDefined(depth: number): Uint8Array {
  let inner = el(0x0040a160, 'UT', text('deep'));
  for (let i = 0; i < depth; i++) {
    const item = cat(tagBytes(0xfffee000), u32(inner.length), inner);
    inner = el(0x0040a730, 'SQ', item);
  }
  return cat(el(0x00080060, 'CS', text('SR')), inner);
}

describe('deeply nested sequences', () => {
  for (const [name, make] of [
    ['undefined lengths, explicit VR, depth 1000', () => part10(nestedUndefined(1000, false))],
    ['undefined lengths, implicit VR, depth 1000', () => part10(nestedUndefined(1000, true), '1.2.840.10008.1.2')],
    ['defined lengths, depth 2000', () => part10(nestedDefined(2000))],
    ['undefined lengths, depth 300', () => part10(nestedUndefined(300, false))],
  ] as const) {
    it(`${name}: BAD_INPUT within a second`, async () => {
      const bytes = make();
      const start = performance.now();
      await rejects(() => parseDicom(bytes), 'BAD_INPUT', /nests sequences more than \d+ levels deep/);
      assert.ok(performance.now() - start < 1000);
    });
  }

  it('ordinary nesting (depth 30) parses and inspects', () => {
    const parsed = parseDicom(part10(nestedUndefined(30, false)));
    let level = inspectDicom(parsed);
    for (let i = 0; i < 30; i++) {
      const items = level['0040A730']?.value;
      assert.ok(Array.isArray(items) && items.length === 1, `level ${i}`);
      level = items[0] as typeof level;
    }
    assert.equal(level['0040A160']?.value, 'deep');
  });
});

// ------------------------------------------------------------ fuzzing (shared with test/bench/fuzz.bench.ts)

describe('mutated real files', () => {
  it('300 seeded truncations and byte flips of the shared and the issue-17 files raise only FoveaException, each within 2 s', async (t) => {
    const rnd = random(20261123);
    const dir = mkdtempSync(join(tmpdir(), 'fovea-fuzz-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const originals = [...sharedFuzzFiles(), ...(await generatedFuzzFiles(dir))];
    // Each original once, untimed: loading a codec and compiling its hot loops is a one-off per
    // process (the pure-JS lossless JPEG decoder took 1.9 s cold on a loaded machine, 0.15 s warm);
    // the budget below is for what a mutated file costs.
    for (const o of originals) await exercise(o.bytes).catch(() => undefined);
    const outcomes = { ok: 0, rejected: 0 };
    for (let i = 0; i < 300; i++) {
      const source = originals[i % originals.length];
      assert.ok(source !== undefined);
      const bytes = mutate(source.bytes, rnd);
      const start = performance.now();
      try {
        await exercise(bytes);
        outcomes.ok++;
      } catch (e) {
        if (!(e instanceof FoveaException)) {
          assert.fail(`iteration ${i} (${source.name}, ${bytes.length} bytes): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        }
        assert.ok(['BAD_INPUT', 'TOO_LARGE', 'UNSUPPORTED'].includes(e.code), `${e.code}: ${e.message}`);
        outcomes.rejected++;
      }
      const took = performance.now() - start;
      assert.ok(took < 2000, `iteration ${i} (${source.name}) took ${took.toFixed(0)} ms`);
    }
    assert.ok(outcomes.ok > 0 && outcomes.rejected > 0, JSON.stringify(outcomes));
  });

  it('a corrupt codestream in each codec is BAD_INPUT (or decodes), never a crash', async () => {
    for (const name of ['pydicom/SC_rgb_jpeg_dcmtk.dcm', 'pydicom/JPGExtended.dcm', 'pydicom/MR_small_jpeg_ls_lossless.dcm', 'pydicom/MR_small_jp2klossless.dcm', 'pydicom-data/JPEG-LL.dcm', 'pydicom-data/HTJ2K_08_RGB.dcm', 'pydicom/MR_small_RLE.dcm']) {
      const original = new Uint8Array(readFileSync(join(dicomRoot, name)));
      const parsed = parseDicom(original);
      const fragment = parsed.element('7FE00010')?.fragments?.[0];
      assert.ok(fragment !== undefined, name);
      for (const damage of ['zero-tail', 'garbage-middle']) {
        const bytes = original.slice();
        const mid = fragment.position + Math.floor(fragment.length / 3);
        if (damage === 'zero-tail') bytes.fill(0, mid, fragment.position + fragment.length);
        else for (let i = mid; i < Math.min(mid + 64, fragment.position + fragment.length); i++) bytes[i] = (i * 37) & 0xff;
        try {
          await exercise(bytes);
        } catch (e) {
          assert.ok(e instanceof FoveaException, `${name} ${damage}: ${String(e)}`);
        }
      }
    }
  });
});
