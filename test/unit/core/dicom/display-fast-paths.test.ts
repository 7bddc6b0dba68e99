/**
 * toDisplay's hoisted loops (one array type after a native conversion, the
 * LINEAR window and the min/max stretch inlined) give exactly the bytes of
 * the per-value definitions: the modality transform, linearVoi, and the
 * stretch of finite values, for every stored-value array type.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DecodedFrame, PixelArray, PixelDtype } from '../../../../electron/core/dicom/decode-frame';
import { linearVoi, modalityValues, toDisplay } from '../../../../electron/core/dicom/display';
import { readImageInfo, type DicomImageInfo } from '../../../../electron/core/dicom/image-info';
import { parseDicom } from '../../../../electron/core/dicom/parse-dicom';
import { SHARED_TESTDATA } from '../../../helpers/paths';

const base = readImageInfo(parseDicom(readFileSync(join(SHARED_TESTDATA, 'dicom/pydicom/CT_small.dcm'))));

function info(overrides: Partial<DicomImageInfo>): DicomImageInfo {
  assert.ok(base);
  return { ...base, modalityLut: null, voiLuts: [], windowCenter: [], windowWidth: [], voiLutFunction: 'LINEAR', ...overrides };
}

/** Values spread over the type's range, with its extremes and (for floats) NaN and infinities. */
function arrays(): [PixelDtype, PixelArray][] {
  const n = 4099;
  const fill = <T extends PixelArray>(a: T, lo: number, hi: number): T => {
    for (let i = 0; i < a.length; i++) a[i] = lo + (((i * 7919) % n) / (n - 1)) * (hi - lo);
    a[0] = lo;
    a[1] = hi;
    return a;
  };
  const f32 = fill(new Float32Array(n), -3000.25, 3000.75);
  f32[2] = NaN;
  f32[3] = Infinity;
  f32[4] = -Infinity;
  const f64 = fill(new Float64Array(n), -1e6, 1e6);
  f64[2] = NaN;
  return [
    ['uint8', fill(new Uint8Array(n), 0, 255)],
    ['int8', fill(new Int8Array(n), -128, 127)],
    ['uint16', fill(new Uint16Array(n), 0, 65535)],
    ['int16', fill(new Int16Array(n), -32768, 32767)],
    ['uint32', fill(new Uint32Array(n), 0, 2 ** 32 - 1)],
    ['int32', fill(new Int32Array(n), -(2 ** 31), 2 ** 31 - 1)],
    ['float32', f32],
    ['float64', f64],
  ];
}

function frame(dtype: PixelDtype, data: PixelArray): DecodedFrame {
  return { rows: 1, columns: data.length, samplesPerPixel: 1, photometric: 'MONOCHROME2', dtype, data, bitsStored: 16, pixelRepresentation: 1 };
}

/** The stretch of finite modality values to 0..255, per value. */
function stretch(values: number[]): number[] {
  const finite = values.filter((v) => Number.isFinite(v));
  const min = finite.length ? Math.min(...finite) : 0;
  const max = finite.length ? Math.max(...finite) : 0;
  const range = max - min;
  return values.map((v) => (range > 0 ? Math.min(255, Math.max(0, Math.round(((v - min) / range) * 255))) || 0 : 0));
}

test('modality values, file windows and the min/max stretch equal their per-value definitions for every array type', () => {
  for (const [dtype, data] of arrays()) {
    for (const [slope, intercept] of [
      [1, 0],
      [1, -1024],
      [0.37, 12.5],
    ] as const) {
      const inf = info({ rescaleSlope: slope, rescaleIntercept: intercept });
      const expected = Array.from(data, (v) => Math.fround(v * slope + intercept));
      assert.deepEqual(Array.from(modalityValues(frame(dtype, data), inf)), expected, `${dtype} ${slope} ${intercept}: modality`);
      assert.deepEqual(Array.from(toDisplay(frame(dtype, data), inf).data), stretch(expected), `${dtype} ${slope} ${intercept}: stretch`);
      for (const [center, width] of [
        [40, 400],
        [0.5, 2],
        [100, 1],
        [-600, 1500],
      ] as const) {
        const windowed = info({ rescaleSlope: slope, rescaleIntercept: intercept, windowCenter: [center], windowWidth: [width] });
        // Through a Uint8Array, as toDisplay stores them (NaN becomes 0).
        const want = Array.from(Uint8Array.from(expected.map((x) => linearVoi(x, center, width))));
        assert.deepEqual(Array.from(toDisplay(frame(dtype, data), windowed).data), want, `${dtype} ${slope} ${intercept}: window ${center}/${width}`);
      }
    }
  }
});
