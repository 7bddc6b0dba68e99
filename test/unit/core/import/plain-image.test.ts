import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { test } from 'node:test';
import sharp from 'sharp';
import { FoveaException } from '../../../../electron/contract/result';
import { readPlainImage, sniffPlainImage } from '../../../../electron/core/import/plain-image';
import { SHARED_TESTDATA } from '../../../helpers/paths';

/** A PNG whose header declares width x height, with a token IDAT: enough for a header-only check. */
export function pngDeclaring(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => {
    let c = 0xffffffff;
    for (const x of b) c = (crcTable[(c ^ x) & 0xff] ?? 0) ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(64))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('sniffs the formats it reads by magic bytes, not by extension', () => {
  assert.equal(sniffPlainImage(readFileSync(join(SHARED_TESTDATA, 'road/kitti/image_2/000000.png'))), 'png');
  assert.equal(sniffPlainImage(readFileSync(join(SHARED_TESTDATA, 'road/udacity-vehicle/test1.jpg'))), 'jpeg');
  assert.equal(sniffPlainImage(readFileSync(join(SHARED_TESTDATA, 'train/drive_retina/training/images/21_training.tif'))), 'tiff');
  assert.equal(sniffPlainImage(readFileSync(join(SHARED_TESTDATA, 'train/drive_retina/training/1st_manual/21_manual1.gif'))), 'gif');
  assert.equal(sniffPlainImage(Buffer.from('hello world, not an image')), null);
});

test('a 17000x17000 PNG is refused from its header, before any decoding', async () => {
  const png = pngDeclaring(17000, 17000);
  assert.ok(png.length < 200);
  const t0 = performance.now();
  await assert.rejects(readPlainImage(png), (e: unknown) => e instanceof FoveaException && e.code === 'TOO_LARGE' && /17000x17000/.test(e.message));
  assert.ok(performance.now() - t0 < 1000);
});

test('EXIF orientation is applied and EXIF/GPS metadata is not stored', async () => {
  // A 40x20 JPEG tagged orientation 6 (rotate 90 CW) with GPS and a camera serial.
  const src = await sharp({ create: { width: 40, height: 20, channels: 3, background: { r: 200, g: 10, b: 10 } } })
    .jpeg()
    .withExif({ IFD0: { Make: 'SentinelCam', Model: 'SECRET-MODEL' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1' } })
    .withMetadata({ orientation: 6 })
    .toBuffer();
  const meta = await sharp(src).metadata();
  assert.equal(meta.orientation, 6);
  assert.ok(src.includes(Buffer.from('SentinelCam')), 'the source carries the sentinel');
  const img = await readPlainImage(src);
  assert.equal(img.width, 20, 'rotated: width and height swap');
  assert.equal(img.height, 40);
  const stored = await sharp(img.png).metadata();
  assert.equal(stored.exif, undefined);
  assert.equal(stored.xmp, undefined);
  assert.equal(stored.orientation, undefined);
  assert.ok(!img.png.includes(Buffer.from('SentinelCam')) && !img.png.includes(Buffer.from('SECRET-MODEL')));
  assert.ok(!img.thumbnail.includes(Buffer.from('SentinelCam')));
});

test('BMP (via bmp-ts), TIFF and GIF decode to the same pixels sharp sees', async () => {
  const raw = Buffer.alloc(7 * 5 * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 37) % 256;
  // A 24-bit bottom-up BMP written by hand (the format is simple and fixed).
  const rowSize = Math.ceil((7 * 3) / 4) * 4;
  const bmp = Buffer.alloc(54 + rowSize * 5);
  bmp.write('BM', 0, 'latin1');
  bmp.writeUInt32LE(bmp.length, 2);
  bmp.writeUInt32LE(54, 10);
  bmp.writeUInt32LE(40, 14);
  bmp.writeInt32LE(7, 18);
  bmp.writeInt32LE(5, 22);
  bmp.writeUInt16LE(1, 26);
  bmp.writeUInt16LE(24, 28);
  bmp.writeUInt32LE(rowSize * 5, 34);
  for (let y = 0; y < 5; y++) {
    for (let x = 0; x < 7; x++) {
      const s = (y * 7 + x) * 3;
      const d = 54 + (4 - y) * rowSize + x * 3;
      bmp[d] = raw[s + 2] ?? 0;
      bmp[d + 1] = raw[s + 1] ?? 0;
      bmp[d + 2] = raw[s] ?? 0;
    }
  }
  const img = await readPlainImage(bmp);
  assert.equal(img.format, 'bmp');
  const back = await sharp(img.png).raw().toBuffer();
  assert.deepEqual([...back], [...raw]);

  const tif = await readPlainImage(readFileSync(join(SHARED_TESTDATA, 'train/drive_retina/training/images/21_training.tif')));
  assert.deepEqual([tif.width, tif.height, tif.channels], [565, 584, 3]);
  const gif = await readPlainImage(readFileSync(join(SHARED_TESTDATA, 'train/drive_retina/training/1st_manual/21_manual1.gif')));
  assert.deepEqual([gif.width, gif.height], [565, 584]);
});

test('corrupt and truncated images are BAD_INPUT, not crashes', async () => {
  const png = readFileSync(join(SHARED_TESTDATA, 'road/kitti/image_2/000000.png'));
  await assert.rejects(readPlainImage(png.subarray(0, 5000)), (e: unknown) => e instanceof FoveaException && e.code === 'BAD_INPUT');
  const jpg = Buffer.from(readFileSync(join(SHARED_TESTDATA, 'road/udacity-vehicle/test1.jpg')));
  await assert.rejects(readPlainImage(jpg.subarray(0, 300)), (e: unknown) => e instanceof FoveaException);
});
