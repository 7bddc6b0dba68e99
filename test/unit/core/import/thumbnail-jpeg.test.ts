/**
 * The thumbnail JPEG encoder (thumbnail-jpeg.ts) against the sharp (libjpeg)
 * encoding the import used before, on the display images of real DICOM
 * files (grey, RGB, every transfer syntax of the benchmark set) and on
 * awkward synthetic sizes: sharp decodes every output, at the right size,
 * and the pixels match sharp's own thumbnail within a JPEG rounding step.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { decodeFrame } from '../../../../electron/core/dicom/decode-frame';
import { toDisplay, type DisplayImage } from '../../../../electron/core/dicom/display';
import { readImageInfo } from '../../../../electron/core/dicom/image-info';
import { parseDicom } from '../../../../electron/core/dicom/parse-dicom';
import { createDicomSupport, thumbnailJpeg, thumbnailSource } from '../../../../electron/core/import/dicom-support';
import { THUMB_SIZE } from '../../../../electron/core/import/plain-image';
import { encodeJpeg } from '../../../../electron/core/import/thumbnail-jpeg';
import { SET_SOURCES } from '../../../helpers/dicom-set';
import { SHARED_TESTDATA } from '../../../helpers/paths';

/** Decoded to raw RGB by sharp (libjpeg), whichever encoder made it. */
async function pixels(jpeg: Buffer): Promise<{ width: number; height: number; data: Buffer }> {
  const { data, info } = await sharp(jpeg).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3);
  return { width: info.width, height: info.height, data };
}

/** The thumbnail as the import made it before: sharp's resize (a no-op within THUMB_SIZE) and JPEG quality 85. */
function sharpThumbnail(d: DisplayImage): Promise<Buffer> {
  return sharp(d.data, { raw: { width: d.width, height: d.height, channels: d.channels } })
    .resize(THUMB_SIZE, THUMB_SIZE, { fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality: 85 })
    .toBuffer();
}

function difference(a: Buffer, b: Buffer): { max: number; mean: number } {
  assert.equal(a.length, b.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] ?? 0) - (b[i] ?? 0));
    if (d > max) max = d;
    sum += d;
  }
  return { max, mean: sum / a.length };
}

async function displayOf(rel: string): Promise<DisplayImage> {
  const parsed = parseDicom(readFileSync(join(SHARED_TESTDATA, rel)));
  const info = readImageInfo(parsed);
  assert.ok(info);
  return toDisplay(thumbnailSource(await decodeFrame(parsed, 0, { info })), info);
}

test('DICOM thumbnails look as sharp made them: same size, within 8 levels anywhere, under 0.4 on average', async () => {
  for (const rel of SET_SOURCES) {
    const display = await displayOf(rel);
    const ours = await pixels(await thumbnailJpeg(display));
    const before = await pixels(await sharpThumbnail(display));
    assert.deepEqual([ours.width, ours.height], [before.width, before.height], rel);
    const d = difference(ours.data, before.data);
    // A float against libjpeg's integer DCT: a coefficient may round to the next quantisation step
    // (measured: max 4-7 levels, mean 0.11-0.33).
    assert.ok(d.max <= 8, `${rel}: max difference ${d.max}`);
    assert.ok(d.mean < 0.4, `${rel}: mean difference ${d.mean}`);
  }
});

test('the import thumbnail of a file is the encoder output of its display image', async () => {
  const rel = 'dicom/pydicom/CT_small.dcm';
  const prepared = await createDicomSupport().prepare(readFileSync(join(SHARED_TESTDATA, rel)));
  assert.equal(prepared.kind, 'image');
  if (prepared.kind !== 'image') return;
  assert.deepEqual(prepared.thumbnail, encodeJpeg(await displayOf(rel), 85));
});

test('an image larger than the thumbnail still shrinks to fit THUMB_SIZE (sharp resamples it)', async () => {
  const display = await displayOf('dicom/pydicom-data/US1_UNCR.dcm');
  assert.ok(display.width > THUMB_SIZE);
  const ours = await pixels(await thumbnailJpeg(display));
  assert.equal(Math.max(ours.width, ours.height), THUMB_SIZE);
});

test('odd sizes and both sample layouts decode to the source within JPEG error', async () => {
  for (const [width, height, channels] of [
    [1, 1, 1],
    [7, 9, 1],
    [17, 33, 3],
    [1, 40, 3],
    [256, 3, 1],
  ] as const) {
    const data = new Uint8Array(width * height * channels);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = (x * 37 + y * 11 + c * 80) & 0xff;
      }
    }
    const jpeg = encodeJpeg({ width, height, channels, data }, 85);
    assert.deepEqual([jpeg[0], jpeg[1], jpeg.at(-2), jpeg.at(-1)], [0xff, 0xd8, 0xff, 0xd9]);
    const ours = await pixels(jpeg);
    assert.deepEqual([ours.width, ours.height], [width, height]);
    const source = Buffer.alloc(width * height * 3);
    for (let p = 0; p < width * height; p++) for (let c = 0; c < 3; c++) source[p * 3 + c] = data[p * channels + (channels === 3 ? c : 0)] ?? 0;
    const reference = await pixels(await sharp(data, { raw: { width, height, channels } }).jpeg({ quality: 85 }).toBuffer());
    // No worse than libjpeg at the same quality on the same pixels (a ramp with a wrap is hard for both).
    assert.ok(difference(ours.data, source).mean <= difference(reference.data, source).mean * 1.25 + 0.5, `${width}x${height}x${channels}`);
  }
});

test('a size JPEG cannot hold or too few samples are refused', () => {
  assert.throws(() => encodeJpeg({ width: 0, height: 4, channels: 1, data: new Uint8Array(0) }));
  assert.throws(() => encodeJpeg({ width: 4, height: 4, channels: 3, data: new Uint8Array(16) }));
});
