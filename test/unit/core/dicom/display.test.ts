/**
 * The display path: modality LUT, the VOI LINEAR function of PS3.3
 * C.11.2.1.2.1 checked against a computation done here from the file's raw
 * bytes, MONOCHROME1 inversion, YBR -> RGB. (PALETTE COLOR is checked
 * against pydicom's apply_color_lut in pixel-parity.test.ts.)
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeFrame } from '../../../../electron/core/dicom/decode-frame';
import type { DecodedFrame } from '../../../../electron/core/dicom/decode-frame';
import { linearVoi, modalityValues, toDisplay } from '../../../../electron/core/dicom/display';
import { readImageInfo } from '../../../../electron/core/dicom/image-info';
import type { DicomImageInfo } from '../../../../electron/core/dicom/image-info';
import { parseDicom } from '../../../../electron/core/dicom/parse-dicom';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const dicomRoot = join(repoRoot, '..', 'shared', 'testdata', 'dicom');

async function open(rel: string): Promise<{ frame: DecodedFrame; info: DicomImageInfo; raw: Int16Array | null }> {
  const bytes = readFileSync(join(dicomRoot, rel));
  const parsed = parseDicom(bytes);
  const info = readImageInfo(parsed);
  assert.ok(info !== null);
  const frame = await decodeFrame(parsed, 0, { info });
  // Raw stored values straight from the file bytes (explicit VR little endian, signed 16-bit), for an independent check.
  const el = parsed.element('7FE00010');
  let raw: Int16Array | null = null;
  if (el !== undefined && !info.encapsulated && info.bitsAllocated === 16 && info.pixelRepresentation === 1) {
    const view = new DataView(bytes.buffer, bytes.byteOffset + el.dataOffset, info.rows * info.columns * 2);
    raw = new Int16Array(info.rows * info.columns);
    for (let i = 0; i < raw.length; i++) raw[i] = view.getInt16(i * 2, true);
  }
  return { frame, info, raw };
}

/** PS3.3 C.11.2.1.2.1, from the standard's pseudo-code, output range 0..255 rounded to nearest. */
function standardLinear(x: number, c: number, w: number): number {
  if (x <= c - 0.5 - (w - 1) / 2) return 0;
  else if (x > c - 0.5 + (w - 1) / 2) return 255;
  else return Math.round(((x - (c - 0.5)) / (w - 1) + 0.5) * (255 - 0) + 0);
}

describe('VOI LINEAR window', () => {
  it('follows the standard at its break points', () => {
    assert.equal(linearVoi(-160, 40, 400), 0); // x <= c - 0.5 - (w-1)/2 = -160
    assert.equal(linearVoi(-159.9, 40, 400), 0);
    assert.equal(linearVoi(39.5, 40, 400), 128); // 127.5 rounds up
    assert.equal(linearVoi(239, 40, 400), 255);
    assert.equal(linearVoi(239.01, 40, 400), 255);
    assert.equal(linearVoi(100, 100, 1), 255); // width 1: a threshold at c - 0.5
    assert.equal(linearVoi(99.5, 100, 1), 0);
  });

  for (const rel of ['pydicom/CT_small.dcm', 'dicomParser/CT1_UNC.explicit_little_endian.dcm']) {
    it(`${rel}: toDisplay equals the standard's LINEAR function on HU computed from the raw bytes`, async () => {
      const { frame, info, raw } = await open(rel);
      assert.ok(raw !== null);
      const hu = modalityValues(frame, info);
      for (let i = 0; i < raw.length; i++) assert.equal(hu[i], (raw[i] ?? 0) * info.rescaleSlope + info.rescaleIntercept);
      for (const window of [
        { center: 40, width: 400 },
        { center: -600, width: 1500 },
        { center: 1000, width: 1 },
        { center: 0.5, width: 2 },
      ]) {
        const display = toDisplay(frame, info, { window });
        assert.equal(display.channels, 1);
        assert.equal(display.width, info.columns);
        let distinct = 0;
        for (let i = 0; i < raw.length; i++) {
          const x: number = (raw[i] ?? 0) * info.rescaleSlope + info.rescaleIntercept;
          const expected: number = standardLinear(x, window.center, window.width);
          if (display.data[i] !== expected) assert.fail(`pixel ${i}: HU ${x}, window ${JSON.stringify(window)}: got ${display.data[i]}, expected ${expected}`);
          if (expected > 0 && expected < 255) distinct++;
        }
        if (window.width > 100) assert.ok(distinct > 100, 'the window covers part of the image');
      }
    });
  }

  it('without a window in the file, stretches min..max', async () => {
    const { frame, info } = await open('pydicom/CT_small.dcm');
    assert.deepEqual(info.windowCenter, []);
    const display = toDisplay(frame, info);
    assert.equal(Math.min(...display.data), 0);
    assert.equal(Math.max(...display.data), 255);
  });
});

describe('MONOCHROME1 and colour', () => {
  for (const rel of ['pydicom/dicomdirtests/77654033/CR1/6154', 'pydicom/dicomdirtests/77654033/CR2/6247', 'pydicom/dicomdirtests/77654033/CR3/6278']) {
    it(`${rel} (MONOCHROME1) is inverted`, async () => {
      const { frame, info } = await open(rel);
      assert.equal(frame.photometric, 'MONOCHROME1');
      const shown = toDisplay(frame, info);
      const asStored = toDisplay(frame, info, { invertMonochrome1: false });
      const values = modalityValues(frame, info);
      for (let i = 0; i < shown.data.length; i++) {
        assert.equal((shown.data[i] ?? 0) + (asStored.data[i] ?? 0), 255);
        // The file's window (first centre/width) drives the mapping.
        assert.equal(asStored.data[i], standardLinear(values[i] ?? 0, info.windowCenter[0] ?? 0, info.windowWidth[0] ?? 1));
      }
      // Inverted: the highest stored value is the darkest pixel.
      let brightest = 0;
      for (let i = 1; i < values.length; i++) if ((values[i] ?? 0) > (values[brightest] ?? 0)) brightest = i;
      assert.equal(shown.data[brightest], Math.min(...shown.data));
    });
  }

  it('YBR_FULL converts to RGB', () => {
    const info = { palette: null } as unknown as DicomImageInfo;
    const frame: DecodedFrame = {
      rows: 1,
      columns: 3,
      samplesPerPixel: 3,
      photometric: 'YBR_FULL',
      dtype: 'uint8',
      // grey, pure red, pure blue in full-range YCbCr
      data: Uint8Array.of(128, 128, 128, 76, 85, 255, 29, 255, 107),
      bitsStored: 8,
      pixelRepresentation: 0,
    };
    const rgb = toDisplay(frame, info).data;
    const close = (a: number | undefined, b: number): boolean => Math.abs((a ?? -99) - b) <= 2;
    assert.ok(close(rgb[0], 128) && close(rgb[1], 128) && close(rgb[2], 128), `grey ${rgb.slice(0, 3).join()}`);
    assert.ok(close(rgb[3], 255) && close(rgb[4], 0) && close(rgb[5], 0), `red ${rgb.slice(3, 6).join()}`);
    assert.ok(close(rgb[6], 0) && close(rgb[7], 0) && close(rgb[8], 255), `blue ${rgb.slice(6, 9).join()}`);
  });

  it('RGB passes through and YBR JPEG arrives as RGB from the codec', async () => {
    const us = await open('pydicom-data/US1_UNCR.dcm');
    assert.deepEqual(toDisplay(us.frame, us.info).data, us.frame.data);
    const ybr = await open('pydicom/examples_ybr_color.dcm');
    assert.equal(ybr.info.photometricInterpretation, 'YBR_FULL_422');
    assert.equal(ybr.frame.photometric, 'RGB');
    assert.equal(toDisplay(ybr.frame, ybr.info).channels, 3);
  });

  it('PALETTE COLOR goes through its 16-bit LUTs', async () => {
    const { frame, info } = await open('pydicom/examples_palette.dcm');
    assert.ok(info.palette !== null);
    const shown = toDisplay(frame, info);
    assert.equal(shown.channels, 3);
    const index = frame.data[1000] ?? 0;
    assert.equal(shown.data[3000], (info.palette.red.data[index] ?? 0) >> 8);
    assert.equal(shown.data[3001], (info.palette.green.data[index] ?? 0) >> 8);
    assert.equal(shown.data[3002], (info.palette.blue.data[index] ?? 0) >> 8);
  });
});
