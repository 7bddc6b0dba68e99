/**
 * The thumbnail JPEG encoder against libjpeg-turbo's decoder (Pillow, Debian's
 * python3-pil) and sharp's: the files decode, with the size and colour model
 * written, close to the source; the downscale is area averaging, as numpy
 * computes it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { AC_CHROMA, AC_LUMA, encodeJpeg, type RawImage } from '../../../../electron/core/import/baseline-jpeg';
import { fitInside, thumbnailJpeg } from '../../../../electron/core/import/thumbnail';
import { parseDicom } from '../../../../electron/core/dicom/parse-dicom';
import { readImageInfo } from '../../../../electron/core/dicom/image-info';
import { decodeFrame } from '../../../../electron/core/dicom/decode-frame';
import { toDisplay } from '../../../../electron/core/dicom/display';
import { PYTHON, requireTool } from '../../../helpers/reference-tools';
import { SHARED_TESTDATA } from '../../../helpers/paths';
import { tempDir } from '../../../helpers/temp-library';

/** Pillow (libjpeg-turbo) decodes the file: its mode, size and raw pixels. */
function pillowDecode(jpeg: Uint8Array): { mode: string; width: number; height: number; data: Buffer } {
  requireTool('pil');
  const tmp = tempDir('fovea-jpeg-');
  try {
    const path = join(tmp.dir, 'x.jpg');
    writeFileSync(path, jpeg);
    const py = spawnSync(
      PYTHON,
      ['-c', 'import sys; from PIL import Image; im = Image.open(sys.argv[1]); im.load(); sys.stdout.write("%s %d %d\\n" % (im.mode, im.width, im.height)); sys.stdout.flush(); sys.stdout.buffer.write(im.tobytes())', path],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    assert.equal(py.status, 0, py.stderr.toString());
    const nl = py.stdout.indexOf(10);
    const [mode, w, h] = py.stdout.subarray(0, nl).toString('latin1').split(' ');
    return { mode: mode as string, width: Number(w), height: Number(h), data: py.stdout.subarray(nl + 1) };
  } finally {
    tmp.cleanup();
  }
}

function psnr(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let se = 0;
  for (let i = 0; i < a.length; i++) se += ((a[i] as number) - (b[i] as number)) ** 2;
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255) / (se / a.length));
}

function maxAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

async function displayOf(file: string): Promise<RawImage> {
  const parsed = parseDicom(readFileSync(join(SHARED_TESTDATA, file)));
  const info = readImageInfo(parsed);
  assert.ok(info);
  return toDisplay(await decodeFrame(parsed, 0, { info }), info);
}

test('the Huffman tables are complete: each AC table holds every (run, size) symbol once, EOB and ZRL included', () => {
  const expected = [0x00, 0xf0];
  for (let run = 0; run < 16; run++) for (let size = 1; size <= 10; size++) expected.push((run << 4) | size);
  for (const spec of [AC_LUMA, AC_CHROMA]) {
    assert.equal(spec.counts.reduce((a, b) => a + b, 0), spec.symbols.length);
    assert.deepEqual([...spec.symbols].sort((a, b) => a - b), expected.sort((a, b) => a - b));
  }
});

/** PSNR of the same image through libjpeg (sharp: quality 85, standard tables, 4:2:0), decoded by Pillow: the bar to meet. */
async function libjpegPsnr(image: RawImage): Promise<number> {
  const input = sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } });
  const jpeg = await (image.channels === 1 ? input.toColourspace('b-w') : input).jpeg({ quality: 85 }).toBuffer();
  return psnr(pillowDecode(jpeg).data, image.data);
}

test('grey DICOM displays (CT, MR) decode in libjpeg-turbo at their size, as close to the source as libjpeg at the same quality', async () => {
  for (const file of ['dicom/pydicom/CT_small.dcm', 'dicom/pydicom/MR_small.dcm', 'dicom/dicomParser/CT1_UNC.explicit_little_endian.dcm']) {
    const display = await displayOf(file);
    assert.equal(display.channels, 1);
    const jpeg = encodeJpeg(display, 85);
    const decoded = pillowDecode(jpeg);
    assert.deepEqual([decoded.mode, decoded.width, decoded.height], ['L', display.width, display.height], file);
    const q = psnr(decoded.data, display.data);
    const bar = await libjpegPsnr(display);
    assert.ok(q > 35 && q > bar - 0.5, `${file}: PSNR ${q.toFixed(2)} dB, libjpeg ${bar.toFixed(2)} dB`);
    // sharp (libvips' JPEG loader) reads it too, as one grey band, to the same pixels.
    const meta = await sharp(jpeg).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height, meta.channels, meta.space], ['jpeg', display.width, display.height, 1, 'b-w']);
    const viaSharp = await sharp(jpeg).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    assert.ok(maxAbsDiff(viaSharp.data, decoded.data) <= 1, file);
  }
});

test('an RGB ultrasound decodes as RGB (YCbCr 4:2:0), as close to the source as libjpeg at the same quality', async () => {
  const display = await displayOf('dicom/pydicom-data/US1_UNCR.dcm');
  assert.equal(display.channels, 3);
  const jpeg = encodeJpeg(display, 85);
  const decoded = pillowDecode(jpeg);
  assert.deepEqual([decoded.mode, decoded.width, decoded.height], ['RGB', display.width, display.height]);
  const q = psnr(decoded.data, display.data);
  const bar = await libjpegPsnr(display);
  assert.ok(q > 30 && q > bar - 0.5, `PSNR ${q.toFixed(2)} dB, libjpeg ${bar.toFixed(2)} dB`);
});

test('sizes that are not multiples of the block, flat images and hard edges', () => {
  const cases: RawImage[] = [
    { width: 1, height: 1, channels: 1, data: Uint8Array.of(200) },
    { width: 7, height: 13, channels: 1, data: Uint8Array.from({ length: 91 }, (_, i) => (i * 37) % 256) },
    { width: 17, height: 9, channels: 3, data: Uint8Array.from({ length: 17 * 9 * 3 }, (_, i) => (i * 53) % 256) },
    { width: 40, height: 24, channels: 1, data: new Uint8Array(960).fill(0) },
    { width: 40, height: 24, channels: 1, data: new Uint8Array(960).fill(255) },
    { width: 33, height: 31, channels: 3, data: new Uint8Array(33 * 31 * 3).fill(255) },
  ];
  for (const image of cases) {
    const decoded = pillowDecode(encodeJpeg(image, 85));
    assert.deepEqual([decoded.mode, decoded.width, decoded.height], [image.channels === 1 ? 'L' : 'RGB', image.width, image.height]);
    const flat = image.data.every((v) => v === image.data[0]);
    if (flat) assert.ok(maxAbsDiff(decoded.data, image.data) <= 1, `flat ${image.width}x${image.height}x${image.channels}`);
  }
  // A 0/255 checkerboard: the hardest 8x8 content; it decodes, and quality 100 keeps it close.
  const board: RawImage = { width: 16, height: 16, channels: 1, data: Uint8Array.from({ length: 256 }, (_, i) => (((i >> 4) + i) % 2 ? 255 : 0)) };
  const q100 = pillowDecode(encodeJpeg(board, 100));
  assert.ok(psnr(q100.data, board.data) > 35, `checkerboard at quality 100: ${psnr(q100.data, board.data).toFixed(1)} dB`);
  assert.throws(() => encodeJpeg({ width: 0, height: 4, channels: 1, data: new Uint8Array(0) }), /cannot be 0x4/);
  assert.throws(() => encodeJpeg({ width: 4, height: 4, channels: 1, data: new Uint8Array(3) }), /3 bytes/);
});

test('fitInside is area averaging (numpy: each pixel repeated 2x2, then 5x5 blocks averaged) and never enlarges', () => {
  requireTool('numpy');
  const width = 640;
  const height = 480;
  const data = Uint8Array.from({ length: width * height * 3 }, (_, i) => (Math.floor(i / 3) * 7 + (i % 3) * 91 + Math.floor(i / (3 * width)) * 3) % 256);
  const small = fitInside({ width, height, channels: 3, data }, 256);
  assert.deepEqual([small.width, small.height], [256, 192]);
  const tmp = tempDir('fovea-box-');
  try {
    const raw = join(tmp.dir, 'x.raw');
    writeFileSync(raw, data);
    const py = spawnSync(
      PYTHON,
      [
        '-c',
        `import sys, numpy as np; a = np.fromfile(sys.argv[1], np.uint8).reshape(${height}, ${width}, 3).astype(np.float64); a = a.repeat(2, 0).repeat(2, 1); sys.stdout.buffer.write(np.rint(a.reshape(192, 5, 256, 5, 3).mean((1, 3))).astype(np.uint8).tobytes())`,
        raw,
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    assert.equal(py.status, 0, py.stderr.toString());
    assert.ok(maxAbsDiff(small.data, py.stdout) <= 1, `largest difference ${maxAbsDiff(small.data, py.stdout)}`);
  } finally {
    tmp.cleanup();
  }
  const tiny = { width: 64, height: 64, channels: 1 as const, data: new Uint8Array(4096) };
  assert.equal(fitInside(tiny, 256), tiny);
  const thumb = thumbnailJpeg({ width: 300, height: 1200, channels: 1, data: new Uint8Array(360000).fill(90) });
  const decoded = pillowDecode(thumb);
  assert.deepEqual([decoded.width, decoded.height], [64, 256]);
});
