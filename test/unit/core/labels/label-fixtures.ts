/**
 * Helpers for the label-parser tests: temp folders, the real test data's
 * location (read in place, never copied), and a tiny PNG writer for masks
 * that sharp cannot write (palette with chosen indices, 16-bit grey, every
 * row filter).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';

/** The shared real data (see /work/shared/testdata/*MANIFEST.md). */
export const TESTDATA = process.env['FOVEA_TESTDATA'] ?? join(import.meta.dirname, '../../../../../shared/testdata');

export function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'fovea-labels-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function write(dir: string, rel: string, content: string | Uint8Array): string {
  const p = join(dir, rel);
  writeFileSync(p, content);
  return p;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

function paeth(a: number, b: number, c: number): number {
  const pa = Math.abs(b - c);
  const pb = Math.abs(a - c);
  const pc = Math.abs(a + b - 2 * c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * A non-interlaced PNG. `samples` are row-major, `channels` per pixel
 * (colour type 0: 1, 2: 3, 3: 1, 4: 2, 6: 4); rows use filters 0..4 in turn
 * so the decoder's unfiltering is exercised.
 */
export function encodePng(opts: {
  width: number;
  height: number;
  colorType: 0 | 2 | 3 | 4 | 6;
  depth: 1 | 2 | 4 | 8 | 16;
  samples: ArrayLike<number>;
  palette?: [number, number, number][];
  /** Compressed image data to store instead of the encoded samples (hostile files). */
  idat?: Uint8Array;
}): Buffer {
  const { width, height, colorType, depth, samples } = opts;
  const ch = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colorType];
  const bitsPP = ch * depth;
  const stride = Math.ceil((width * bitsPP) / 8);
  const bpp = Math.max(1, bitsPP >> 3);
  const raw = Buffer.alloc(height * (stride + 1));
  let prev = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const line = new Uint8Array(stride);
    for (let x = 0; x < width * ch; x++) {
      const v = samples[y * width * ch + x] as number;
      if (depth === 16) {
        line[x * 2] = v >> 8;
        line[x * 2 + 1] = v & 0xff;
      } else if (depth === 8) line[x] = v;
      else {
        const bit = x * depth;
        line[bit >> 3] = (line[bit >> 3] as number) | (v << (8 - depth - (bit & 7)));
      }
    }
    const filter = y % 5;
    const out = raw.subarray(y * (stride + 1));
    out[0] = filter;
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? (line[i - bpp] as number) : 0;
      const b = prev[i] as number;
      const c = i >= bpp ? (prev[i - bpp] as number) : 0;
      const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][filter] as number;
      out[1 + i] = ((line[i] as number) - pred) & 0xff;
    }
    prev = line;
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = depth;
  ihdr[9] = colorType;
  const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr)];
  if (opts.palette) parts.push(chunk('PLTE', Buffer.from(opts.palette.flat())));
  parts.push(chunk('IDAT', opts.idat ?? deflateSync(raw)), chunk('IEND', new Uint8Array(0)));
  return Buffer.concat(parts);
}

/** A deterministic pseudo-random generator (tests must not flake). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
