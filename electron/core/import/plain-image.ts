/**
 * Plain images (PNG, JPEG, TIFF, BMP, GIF) through sharp (libvips), and
 * bmp-ts for BMP, which the prebuilt libvips does not read.
 *
 * What is stored is a lossless PNG of the decoded pixels with the EXIF
 * orientation applied and NO metadata: EXIF, XMP, GPS, ICC comments and
 * camera serial numbers never enter the library, so no export can leak them.
 * Sizes are checked from the header before anything is decoded.
 */
import { decode as decodeBmp } from 'bmp-ts';
import sharp, { type Metadata, type Sharp } from 'sharp';
import { FoveaException } from '../../contract/result';

/** Largest side and pixel count Fovea decodes (a 17000x17000 PNG is refused). */
export const MAX_IMAGE_SIDE = 16384;
export const MAX_IMAGE_PIXELS = 16384 * 16384;
export const THUMB_SIZE = 256;

export type PlainImageFormat = 'png' | 'jpeg' | 'tiff' | 'bmp' | 'gif' | 'webp';

export function sniffPlainImage(head: Uint8Array): PlainImageFormat | null {
  const b = (i: number) => head[i] ?? -1;
  if (b(0) === 0x89 && b(1) === 0x50 && b(2) === 0x4e && b(3) === 0x47) return 'png';
  if (b(0) === 0xff && b(1) === 0xd8 && b(2) === 0xff) return 'jpeg';
  if ((b(0) === 0x49 && b(1) === 0x49 && b(2) === 0x2a && b(3) === 0) || (b(0) === 0x4d && b(1) === 0x4d && b(2) === 0 && b(3) === 0x2a)) return 'tiff';
  if (b(0) === 0x42 && b(1) === 0x4d && head.length >= 26) return 'bmp';
  if (b(0) === 0x47 && b(1) === 0x49 && b(2) === 0x46 && b(3) === 0x38) return 'gif';
  if (b(0) === 0x52 && b(1) === 0x49 && b(2) === 0x46 && b(3) === 0x46 && b(8) === 0x57 && b(9) === 0x45 && b(10) === 0x42 && b(11) === 0x50) return 'webp';
  return null;
}

export interface DecodedPlainImage {
  format: PlainImageFormat;
  /** After EXIF orientation. */
  width: number;
  height: number;
  channels: number;
  /** Lossless PNG, oriented, without any metadata. */
  png: Buffer;
  /** JPEG thumbnail, at most THUMB_SIZE on its longer side. */
  thumbnail: Buffer;
}

function checkSize(width: number, height: number, format: string): void {
  if (!Number.isFinite(width) || !Number.isFinite(height) || width <= 0 || height <= 0) {
    throw new FoveaException('BAD_INPUT', `The ${format.toUpperCase()} header declares an invalid size (${width}x${height}).`);
  }
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE || width * height > MAX_IMAGE_PIXELS) {
    throw new FoveaException(
      'TOO_LARGE',
      `The image declares ${width}x${height} pixels; Fovea accepts at most ${MAX_IMAGE_SIDE}x${MAX_IMAGE_SIDE}. Tile or downscale it first.`,
      { width, height },
    );
  }
}

function bmpToSharp(bytes: Uint8Array): Sharp {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getInt32(18, true);
  const height = Math.abs(view.getInt32(22, true));
  checkSize(width, height, 'bmp');
  let decoded: ReturnType<typeof decodeBmp>;
  try {
    decoded = decodeBmp(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { toRGBA: true });
  } catch (e) {
    throw new FoveaException('BAD_INPUT', `The BMP file is malformed: ${(e as Error).message}`);
  }
  if (decoded.data.length < width * height * 4) throw new FoveaException('BAD_INPUT', 'The BMP file is truncated.');
  // bmp-ts always fills alpha; BMPs without an alpha channel come out opaque.
  return sharp(decoded.data, { raw: { width, height, channels: 4 } }).removeAlpha();
}

/** Decode, orient, strip and thumbnail a plain image. Throws FoveaException on bad or oversized input. */
export async function readPlainImage(bytes: Uint8Array): Promise<DecodedPlainImage> {
  const format = sniffPlainImage(bytes.subarray(0, 32));
  if (!format) throw new FoveaException('UNSUPPORTED', 'Not a PNG, JPEG, TIFF, BMP, GIF or WebP image.');
  let source: Sharp;
  if (format === 'bmp') {
    source = bmpToSharp(bytes);
  } else {
    let meta: Metadata;
    try {
      meta = await sharp(bytes, { limitInputPixels: false }).metadata();
    } catch (e) {
      throw new FoveaException('BAD_INPUT', `The ${format.toUpperCase()} file cannot be read: ${(e as Error).message}`);
    }
    checkSize(meta.width ?? 0, meta.height ?? 0, format);
    // First page/frame only for multi-page TIFF and animated GIF.
    source = sharp(bytes, { limitInputPixels: MAX_IMAGE_PIXELS, failOn: 'error', page: 0, pages: 1 }).rotate();
  }
  try {
    const png = await source.clone().png({ compressionLevel: 6 }).toBuffer({ resolveWithObject: true });
    const thumbnail = await sharp(png.data)
      .resize(THUMB_SIZE, THUMB_SIZE, { fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#000000' })
      .jpeg({ quality: 80 })
      .toBuffer();
    return { format, width: png.info.width, height: png.info.height, channels: png.info.channels, png: png.data, thumbnail };
  } catch (e) {
    if (e instanceof FoveaException) throw e;
    throw new FoveaException('BAD_INPUT', `The ${format.toUpperCase()} file is corrupt: ${(e as Error).message}`);
  }
}
