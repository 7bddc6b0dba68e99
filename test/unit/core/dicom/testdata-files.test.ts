/**
 * Every file under ../shared/testdata/dicom is decoded, skipped or rejected
 * as its MANIFEST.md row describes. The files are found by walking the
 * folder, so new files are covered without editing this test; only the odd
 * ones have an entry in ODD below.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FoveaException } from '../../../../electron/contract/result';
import { classifyDicom } from '../../../../electron/core/dicom/classify-dicom';
import { decodeFrame } from '../../../../electron/core/dicom/decode-frame';
import { readImageInfo } from '../../../../electron/core/dicom/image-info';
import { inspectDicom } from '../../../../electron/core/dicom/inspect-dicom';
import { parseDicom } from '../../../../electron/core/dicom/parse-dicom';
import { checkDeclaredSize } from '../../../../electron/core/dicom/size-limits';
import { walkFiles } from '../../../helpers/paths';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const testdata = join(repoRoot, '..', 'shared', 'testdata');
const dicomRoot = join(testdata, 'dicom');


type Expectation =
  | { kind: 'image' }
  | { kind: 'skip'; reason: RegExp }
  | { kind: 'error'; code: 'BAD_INPUT' | 'TOO_LARGE' | 'UNSUPPORTED'; message: RegExp };

/** Files whose outcome is not the obvious reading of their MANIFEST row, and why. */
const ODD: Readonly<Record<string, Expectation & { why: string }>> = {
  'pydicom/MR_truncated.dcm': { kind: 'error', code: 'BAD_INPUT', message: /truncated.*PixelData.*8192 bytes.*8130 remain/, why: 'pixel data cut short' },
  'pydicom/rtplan_truncated.dcm': { kind: 'error', code: 'BAD_INPUT', message: /truncated/, why: 'an RT Plan cut short inside a sequence' },
  'pydicom/badVR.dcm': { kind: 'error', code: 'BAD_INPUT', message: /NumberOfFrames \(0028,0008\) holds "1A"/, why: 'the invalid value is IS "1A"' },
  'pydicom/meta_missing_tsyntax.dcm': {
    kind: 'error',
    code: 'BAD_INPUT',
    message: /no Rows/,
    why: 'parses (implicit VR inferred) but its 2-byte Pixel Data has no image attributes',
  },
  'pydicom/no_meta.dcm': {
    kind: 'error',
    code: 'BAD_INPUT',
    message: /not a DICOM file/,
    why: 'a raw data set preceded by one stray byte (0x20): not a data set at offset 0 (parse-dicom.test checks the data set itself)',
  },
  'pydicom/dicomdirtests/README.txt': { kind: 'error', code: 'BAD_INPUT', message: /not a DICOM file/, why: 'a text file' },
  'pydicom-data/emri_small_jpeg_2k_lossless_too_short.dcm': {
    kind: 'image',
    why: 'only the Sequence Delimitation after the last fragment is missing; every codestream is whole and decodes to emri_small.dcm',
  },
  'dcmjs/no-meta-length-test.dcm': { kind: 'skip', reason: /without pixel data/, why: 'an US image header without pixel data' },
};

/** The MANIFEST row's "exercises" text, by path relative to testdata/dicom. */
function manifestRows(): Map<string, string> {
  const rows = new Map<string, string>();
  const path = join(testdata, 'MANIFEST.md');
  if (!existsSync(path)) return rows;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const file = cells[1];
    if (file?.startsWith('dicom/') === true) rows.set(file.slice('dicom/'.length), cells[6] ?? '');
  }
  return rows;
}

function expectationFor(rel: string, row: string | undefined): Expectation {
  const odd = ODD[rel];
  if (odd !== undefined) return odd;
  const text = row ?? '';
  if (/MALFORMED/.test(text)) return { kind: 'error', code: 'BAD_INPUT', message: /./ };
  if (/DICOMDIR (variant|with \d+ records)/.test(text)) return { kind: 'skip', reason: /DICOMDIR/ };
  if (/Structured Report|; SR;/.test(text)) return { kind: 'skip', reason: /structured report/i };
  if (/waveform/i.test(text)) return { kind: 'skip', reason: /waveform/i };
  if (/RTPLAN/.test(text)) return { kind: 'skip', reason: /RT Plan/ };
  return { kind: 'image' };
}

async function outcome(bytes: Uint8Array): Promise<{ kind: 'image'; frames: number } | { kind: 'skip'; reason: string }> {
  const parsed = parseDicom(bytes);
  inspectDicom(parsed); // every attribute must be printable too
  const cls = classifyDicom(parsed);
  if (cls.kind === 'skip') return cls;
  const info = readImageInfo(parsed);
  assert.ok(info !== null, 'an image has image attributes');
  checkDeclaredSize(info, bytes.length);
  for (let f = 0; f < info.numberOfFrames; f++) {
    const frame = await decodeFrame(parsed, f, { info });
    assert.equal(frame.data.length, info.rows * info.columns * info.samplesPerPixel);
    assert.equal(frame.rows, info.rows);
    assert.equal(frame.columns, info.columns);
  }
  return { kind: 'image', frames: info.numberOfFrames };
}

describe('every test DICOM file is decoded, skipped or rejected as described', () => {
  const rows = manifestRows();
  const files = existsSync(dicomRoot) ? walkFiles(dicomRoot) : [];
  it('finds the test data', () => {
    assert.ok(files.length > 50, `found ${files.length} files under ${dicomRoot}: is ../shared/testdata beside the repository?`);
  });
  for (const file of files) {
    const rel = relative(dicomRoot, file).split('\\').join('/');
    const expected = expectationFor(rel, rows.get(rel));
    it(`${rel} -> ${expected.kind}`, async () => {
      const bytes = readFileSync(file);
      let result: Awaited<ReturnType<typeof outcome>> | undefined;
      let error: unknown;
      try {
        result = await outcome(bytes);
      } catch (e) {
        error = e;
      }
      if (expected.kind === 'error') {
        assert.ok(error instanceof FoveaException, `expected ${expected.code}, got ${result?.kind ?? String(error)}`);
        assert.equal(error.code, expected.code, error.message);
        assert.match(error.message, expected.message);
        return;
      }
      if (error !== undefined) throw error;
      assert.ok(result !== undefined);
      assert.equal(result.kind, expected.kind, result.kind === 'skip' ? result.reason : 'decoded');
      if (expected.kind === 'skip' && result.kind === 'skip') assert.match(result.reason, expected.reason);
    });
  }

  it('emri_small_jpeg_2k_lossless_too_short decodes to the same pixels as emri_small', async () => {
    const a = parseDicom(readFileSync(join(dicomRoot, 'pydicom-data', 'emri_small_jpeg_2k_lossless_too_short.dcm')));
    const b = parseDicom(readFileSync(join(dicomRoot, 'pydicom-data', 'emri_small.dcm')));
    assert.ok(a.warnings.some((w) => w.includes('Sequence Delimitation')));
    assert.equal(a.truncated, true);
    assert.equal(b.truncated, false);
    for (let f = 0; f < 10; f++) {
      assert.deepEqual((await decodeFrame(a, f)).data, (await decodeFrame(b, f)).data, `frame ${f}`);
    }
  });
});
