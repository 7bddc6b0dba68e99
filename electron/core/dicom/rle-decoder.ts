/**
 * DICOM RLE Lossless (PS3.5 Annex G): a 64-byte header with up to 15
 * segment offsets, each segment a PackBits stream of one byte plane. For
 * every sample, the planes come most significant byte first.
 */

export class RleDecodeError extends Error {}

/**
 * Decodes one RLE frame into little-endian samples, pixel-interleaved:
 * `rows * columns * samplesPerPixel * bytesPerSample` bytes.
 */
export function decodeRleFrame(
  frame: Uint8Array,
  rows: number,
  columns: number,
  samplesPerPixel: number,
  bytesPerSample: number,
): Uint8Array {
  if (frame.length < 64) throw new RleDecodeError(`the RLE header needs 64 bytes, the frame has ${frame.length}`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const segmentCount = view.getUint32(0, true);
  const expectedSegments = samplesPerPixel * bytesPerSample;
  if (segmentCount !== expectedSegments) {
    throw new RleDecodeError(
      `the RLE frame has ${segmentCount} segments, but ${samplesPerPixel} sample(s) of ${bytesPerSample} byte(s) need ${expectedSegments}`,
    );
  }
  const offsets: number[] = [];
  for (let i = 0; i < segmentCount; i++) offsets.push(view.getUint32(4 + i * 4, true));
  const pixels = rows * columns;
  const out = new Uint8Array(pixels * expectedSegments);
  const stride = expectedSegments; // bytes per pixel in the output
  for (let s = 0; s < segmentCount; s++) {
    const start = offsets[s] ?? 0;
    const end = s + 1 < segmentCount ? (offsets[s + 1] ?? frame.length) : frame.length;
    if (start < 64 || start > frame.length || end < start || end > frame.length) {
      throw new RleDecodeError(`RLE segment ${s + 1} has an impossible offset ${start}`);
    }
    const sample = Math.floor(s / bytesPerSample);
    // Segment order is most significant byte first; output is little endian.
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample);
    const base = sample * bytesPerSample + byteInSample;
    let o = 0; // pixels written for this segment
    let p = start;
    while (p < end && o < pixels) {
      const n = frame[p++] ?? 0;
      if (n < 128) {
        // Literal run of n+1 bytes.
        const count = Math.min(n + 1, end - p, pixels - o);
        for (let i = 0; i < count; i++) out[(o + i) * stride + base] = frame[p + i] ?? 0;
        o += count;
        p += n + 1;
      } else if (n > 128) {
        // Replicate the next byte 257-n times.
        if (p >= end) break;
        const value = frame[p++] ?? 0;
        const count = Math.min(257 - n, pixels - o);
        for (let i = 0; i < count; i++) out[(o + i) * stride + base] = value;
        o += count;
      }
      // n == 128 is a no-op.
    }
    if (o < pixels) {
      throw new RleDecodeError(`RLE segment ${s + 1} decodes to ${o} bytes, ${pixels} expected (the data is truncated or corrupt)`);
    }
  }
  return out;
}
