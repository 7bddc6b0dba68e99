import { badInput, tooLarge } from './dicom-errors';
import type { DicomImageInfo } from './image-info';

export interface PixelLimits {
  /** Decoded bytes of all frames of one file. Default 2 GiB. */
  maxBytesPerFile?: number;
  /** Decoded bytes of one frame. Default 1 GiB. */
  maxBytesPerFrame?: number;
}

export const DEFAULT_PIXEL_LIMITS: Required<PixelLimits> = {
  maxBytesPerFile: 2 * 1024 ** 3,
  maxBytesPerFrame: 1024 ** 3,
};

export interface DeclaredSize {
  /** Bytes of one decoded frame (1-bit pixels decode to one byte each). */
  frameBytes: number;
  totalBytes: number;
  /** Bytes the native encoding needs for all frames (null for encapsulated data). */
  storedBytes: number | null;
}

/** Bytes per decoded sample for a BitsAllocated value. */
export function bytesPerSample(bitsAllocated: number): number {
  return bitsAllocated <= 8 ? 1 : bitsAllocated <= 16 ? 2 : bitsAllocated <= 32 ? 4 : 8;
}

function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/** Native YBR_FULL_422 stores two luma and one pair of chroma samples per two pixels. */
export function isNativeYbr422(info: DicomImageInfo): boolean {
  return !info.encapsulated && info.photometricInterpretation === 'YBR_FULL_422' && info.bitsAllocated === 8;
}

/** Stored bytes of one native frame (bits for 1-bit data are counted in checkDeclaredSize). */
export function nativeFrameBytes(info: DicomImageInfo): number {
  const pixels = info.rows * info.columns;
  if (isNativeYbr422(info)) return pixels * 2;
  return pixels * info.samplesPerPixel * bytesPerSample(info.bitsAllocated);
}

/**
 * Refuses an image whose declared size is beyond the limits, before
 * anything is allocated: a 2 KB file may declare 65535 x 65535 pixels and
 * 2^31-1 frames. For native (uncompressed) pixel data it also checks that
 * the pixel bytes the header implies are actually there.
 * Throws TOO_LARGE or BAD_INPUT; returns the sizes when the image is fine.
 */
export function checkDeclaredSize(info: DicomImageInfo, fileLength: number, limits: PixelLimits = {}): DeclaredSize {
  const maxFile = limits.maxBytesPerFile ?? DEFAULT_PIXEL_LIMITS.maxBytesPerFile;
  const maxFrame = limits.maxBytesPerFrame ?? DEFAULT_PIXEL_LIMITS.maxBytesPerFrame;
  const { rows, columns, samplesPerPixel, numberOfFrames } = info;
  const sampleBytes = bytesPerSample(info.bitsAllocated);
  const frameBytes = rows * columns * samplesPerPixel * sampleBytes;
  const totalBytes = frameBytes * numberOfFrames;
  const shape = `${columns} x ${rows} pixels x ${samplesPerPixel} sample(s) x ${sampleBytes} byte(s)`;
  if (frameBytes > maxFrame) {
    throw tooLarge(
      `The DICOM image declares ${shape} = ${formatBytes(frameBytes)} per frame; Fovea's limit is ${formatBytes(maxFrame)} per frame.`,
      { rows, columns, samplesPerPixel, bitsAllocated: info.bitsAllocated, frameBytes, limit: maxFrame },
    );
  }
  if (totalBytes > maxFile) {
    throw tooLarge(
      `The DICOM image declares ${numberOfFrames.toLocaleString('en-US')} frame(s) of ${shape} = ${formatBytes(totalBytes)} decoded; Fovea's limit is ${formatBytes(maxFile)} per file.`,
      { rows, columns, numberOfFrames, frameBytes, totalBytes, limit: maxFile },
    );
  }
  if (info.encapsulated) {
    // Each compressed frame takes at least one 8-byte fragment header.
    if (numberOfFrames * 8 > fileLength) {
      throw badInput(
        `The DICOM file declares ${numberOfFrames.toLocaleString('en-US')} compressed frames but is only ${formatBytes(fileLength)} long; it is truncated or its NumberOfFrames is wrong.`,
      );
    }
    return { frameBytes, totalBytes, storedBytes: null };
  }
  const storedBytes =
    info.bitsAllocated === 1
      ? Math.ceil((rows * columns * samplesPerPixel * numberOfFrames) / 8)
      : nativeFrameBytes(info) * numberOfFrames;
  // The parser has checked the Pixel Data value against the (inflated) data; the
  // file length is only the fallback when that length is unknown.
  const available = info.pixelDataByteLength ?? fileLength;
  if (storedBytes > available) {
    throw badInput(
      `The DICOM file is truncated: its pixel data holds ${formatBytes(available)}, but ${numberOfFrames.toLocaleString('en-US')} frame(s) of ${columns} x ${rows} x ${samplesPerPixel} sample(s) at ${info.bitsAllocated} bits need ${formatBytes(storedBytes)}.`,
      { available, needed: storedBytes },
    );
  }
  return { frameBytes, totalBytes, storedBytes };
}
