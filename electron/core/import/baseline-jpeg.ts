/**
 * A baseline JPEG encoder (ITU-T T.81: sequential DCT, 8-bit, Huffman coding
 * with the standard tables of its Annex K) for the thumbnails import makes:
 * 8-bit grey as one component, RGB as YCbCr 4:2:0 in a JFIF file.
 *
 * Why not sharp, which Fovea uses for plain images: a thumbnail through
 * sharp costs about 1 ms of CPU even for a 64x64 image (libvips sets up a
 * pipeline and hands it between threads; raw in, raw out alone measured
 * 0.6 ms), against 2.65 ms for pydicom to read and decode a whole file.
 * jpeg-js builds its tables on every call (65 ms for 64x64) and mozjpeg
 * compiled to wasm (@jsquash/jpeg) took 1.8 ms for 64x64 and 8 ms for
 * 256x256. Measured here, CPU per thumbnail of the import benchmark's files:
 * a 64x64 MR about 0.1 ms (sharp 0.75), a 256x256 CT 1.1 ms (sharp 1.6), in
 * the import worker's own thread.
 *
 * Checked against libjpeg-turbo's decoder (Pillow) and sharp's in
 * test/unit/core/import/baseline-jpeg.test.ts.
 */

export interface RawImage {
  width: number;
  height: number;
  /** 1: grey; 3: RGB, interleaved. */
  channels: 1 | 3;
  data: Uint8Array;
}

/** Annex K.1 tables, in natural (row-major) order. */
const LUMA_QUANT = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35,
  55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA_QUANT = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

/** ZIGZAG[k]: the natural index of the k-th coefficient in zig-zag order. */
const ZIGZAG = Uint8Array.from([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30,
  37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
]);

/** Annex K.3: code counts per length 1..16, then the symbols in code order. */
export interface HuffmanSpec {
  counts: readonly number[];
  symbols: readonly number[];
}

const DC_LUMA: HuffmanSpec = { counts: [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], symbols: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] };
const DC_CHROMA: HuffmanSpec = { counts: [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], symbols: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] };
export const AC_LUMA: HuffmanSpec = {
  counts: [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
  symbols: [
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1,
    0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
    0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75,
    0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
    0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8,
    0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
  ],
};
export const AC_CHROMA: HuffmanSpec = {
  counts: [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
  symbols: [
    0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09,
    0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38,
    0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74,
    0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
    0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6,
    0xd7, 0xd8, 0xd9, 0xda, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
  ],
};

/** Code and length per symbol (Annex C: codes assigned in order of length, then of the symbol list). */
interface HuffmanCodes {
  code: Uint16Array;
  length: Uint8Array;
}

function huffmanCodes(spec: HuffmanSpec): HuffmanCodes {
  const code = new Uint16Array(256);
  const length = new Uint8Array(256);
  let next = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < (spec.counts[len - 1] ?? 0); i++) {
      const symbol = spec.symbols[k++] as number;
      code[symbol] = next++;
      length[symbol] = len;
    }
    next <<= 1;
  }
  return { code, length };
}

/** AAN scale factors of the float DCT (libjpeg's jfdctflt.c). */
const AAN = [1.0, 1.387039845, 1.306562965, 1.175875602, 1.0, 0.785694958, 0.5411961, 0.275899379];

/** IJG quality scaling of a base table (quality 1..100), clamped to 1..255. */
function scaledQuant(base: readonly number[], quality: number): Uint8Array {
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  const scale = q < 50 ? Math.floor(5000 / q) : 200 - q * 2;
  return Uint8Array.from(base, (v) => Math.min(255, Math.max(1, Math.floor((v * scale + 50) / 100))));
}

/** Divisors folded with the AAN scaling: quantized = round(dct * divisor[i]). */
function dctDivisors(quant: Uint8Array): Float64Array {
  const out = new Float64Array(64);
  for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) out[r * 8 + c] = 1 / ((quant[r * 8 + c] as number) * (AAN[r] as number) * (AAN[c] as number) * 8);
  return out;
}

/** One 8-point AAN DCT (libjpeg's jfdctflt.c) over d[o], d[o + s], ..., d[o + 7s], in place. */
function fdct8(d: Float64Array, o: number, s: number): void {
  const d0 = d[o] as number;
  const d1 = d[o + s] as number;
  const d2 = d[o + 2 * s] as number;
  const d3 = d[o + 3 * s] as number;
  const d4 = d[o + 4 * s] as number;
  const d5 = d[o + 5 * s] as number;
  const d6 = d[o + 6 * s] as number;
  const d7 = d[o + 7 * s] as number;
  const tmp0 = d0 + d7;
  const tmp7 = d0 - d7;
  const tmp1 = d1 + d6;
  const tmp6 = d1 - d6;
  const tmp2 = d2 + d5;
  const tmp5 = d2 - d5;
  const tmp3 = d3 + d4;
  const tmp4 = d3 - d4;
  const tmp10 = tmp0 + tmp3;
  const tmp13 = tmp0 - tmp3;
  const tmp11 = tmp1 + tmp2;
  const tmp12 = tmp1 - tmp2;
  d[o] = tmp10 + tmp11;
  d[o + 4 * s] = tmp10 - tmp11;
  const z1 = (tmp12 + tmp13) * 0.707106781;
  d[o + 2 * s] = tmp13 + z1;
  d[o + 6 * s] = tmp13 - z1;
  const odd10 = tmp4 + tmp5;
  const odd11 = tmp5 + tmp6;
  const odd12 = tmp6 + tmp7;
  const z5 = (odd10 - odd12) * 0.382683433;
  const z2 = 0.5411961 * odd10 + z5;
  const z4 = 1.306562965 * odd12 + z5;
  const z3 = odd11 * 0.707106781;
  const z11 = tmp7 + z3;
  const z13 = tmp7 - z3;
  d[o + 5 * s] = z13 + z2;
  d[o + 3 * s] = z13 - z2;
  d[o + s] = z11 + z4;
  d[o + 7 * s] = z11 - z4;
}

/**
 * The output and the entropy coder's bit buffer, as module state: an encode
 * is synchronous, and locals and module slots are several times faster in
 * the per-coefficient loop than fields of an object (measured).
 */
let out = new Uint8Array(0);
let pos = 0;
let bitBuffer = 0;
let bitCount = 0;

/** Makes room for `n` more bytes. */
function reserve(n: number): void {
  if (pos + n <= out.length) return;
  const next = new Uint8Array(Math.max(out.length * 2, pos + n));
  next.set(out.subarray(0, pos));
  out = next;
}

function writeBytes(values: ArrayLike<number>): void {
  reserve(values.length);
  for (let i = 0; i < values.length; i++) out[pos++] = values[i] as number;
}

function writeU16(v: number): void {
  writeBytes([(v >> 8) & 0xff, v & 0xff]);
}

/** A block's codes before they are written: value and length (<= 16 bits) of each. */
const pendingCode = new Int32Array(160);
const pendingLength = new Uint8Array(160);

/** Writes the first `n` pending codes, most significant bit first; a 0xFF byte is followed by a stuffed 0x00. Room is reserved by the caller. */
function writePending(n: number): void {
  const o = out;
  let p = pos;
  let buffer = bitBuffer;
  let count = bitCount;
  for (let i = 0; i < n; i++) {
    const length = pendingLength[i] as number;
    buffer = (buffer << length) | ((pendingCode[i] as number) & ((1 << length) - 1));
    count += length;
    while (count >= 8) {
      count -= 8;
      const byte = (buffer >>> count) & 0xff;
      o[p++] = byte;
      if (byte === 0xff) o[p++] = 0;
    }
    buffer &= (1 << count) - 1;
  }
  pos = p;
  bitBuffer = buffer;
  bitCount = count;
}

interface Component {
  divisors: Float64Array;
  dc: HuffmanCodes;
  ac: HuffmanCodes;
  pred: number;
}

const DC_LUMA_CODES = huffmanCodes(DC_LUMA);
const AC_LUMA_CODES = huffmanCodes(AC_LUMA);
const DC_CHROMA_CODES = huffmanCodes(DC_CHROMA);
const AC_CHROMA_CODES = huffmanCodes(AC_CHROMA);

/** ZIGZAG_POSITION[i]: where natural index i goes in zig-zag order. */
const ZIGZAG_POSITION = new Uint8Array(64);
ZIGZAG.forEach((natural, k) => (ZIGZAG_POSITION[natural] = k));

const quantized = new Int32Array(64);

/** DCT, quantization and Huffman coding of one 8x8 block of level-shifted samples (the block is overwritten). */
function encodeBlock(block: Float64Array, comp: Component): void {
  for (let r = 0; r < 64; r += 8) fdct8(block, r, 1);
  for (let c = 0; c < 8; c++) fdct8(block, c, 8);
  const divisors = comp.divisors;
  for (let i = 0; i < 64; i++) {
    // Rounded half away from zero, as libjpeg does.
    const x = (block[i] as number) * (divisors[i] as number);
    quantized[ZIGZAG_POSITION[i] as number] = x >= 0 ? (x + 0.5) | 0 : -((0.5 - x) | 0);
  }
  // Each code: (run, size)'s Huffman code, then the value's `size` low bits (negative values one's-complemented).
  let n = 0;
  const dc = quantized[0] as number;
  const diff = dc - comp.pred;
  comp.pred = dc;
  const dcSize = diff === 0 ? 0 : 32 - Math.clz32(diff < 0 ? -diff : diff);
  pendingCode[n] = comp.dc.code[dcSize] as number;
  pendingLength[n++] = comp.dc.length[dcSize] as number;
  if (dcSize > 0) {
    pendingCode[n] = diff < 0 ? diff - 1 : diff;
    pendingLength[n++] = dcSize;
  }
  const { code, length } = comp.ac;
  let run = 0;
  for (let k = 1; k < 64; k++) {
    const v = quantized[k] as number;
    if (v === 0) {
      run++;
      continue;
    }
    while (run > 15) {
      pendingCode[n] = code[0xf0] as number;
      pendingLength[n++] = length[0xf0] as number;
      run -= 16;
    }
    const size = 32 - Math.clz32(v < 0 ? -v : v);
    const symbol = (run << 4) | size;
    pendingCode[n] = code[symbol] as number;
    pendingLength[n++] = length[symbol] as number;
    pendingCode[n] = v < 0 ? v - 1 : v;
    pendingLength[n++] = size;
    run = 0;
  }
  if (run > 0) {
    pendingCode[n] = code[0] as number;
    pendingLength[n++] = length[0] as number;
  }
  // At most 130 codes of up to 16 bits, each byte possibly stuffed.
  reserve(n * 4 + 4);
  writePending(n);
}

function writeHuffmanTable(tableClassAndId: number, spec: HuffmanSpec): void {
  writeU16(0xffc4);
  writeU16(2 + 1 + 16 + spec.symbols.length);
  writeBytes([tableClassAndId]);
  writeBytes(spec.counts);
  writeBytes(spec.symbols);
}

function writeQuantTable(id: number, quant: Uint8Array): void {
  writeU16(0xffdb);
  writeU16(2 + 1 + 64);
  writeBytes([id]);
  writeBytes(Array.from(ZIGZAG, (i) => quant[i] as number));
}

/** Encodes 8-bit grey or RGB pixels as a baseline JFIF JPEG (grey: one component; RGB: YCbCr 4:2:0). */
export function encodeJpeg(image: RawImage, quality = 85): Uint8Array {
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 65535 || height > 65535) {
    throw new Error(`a JPEG cannot be ${width}x${height}`);
  }
  if (data.length < width * height * channels) throw new Error(`${data.length} bytes for a ${width}x${height}x${channels} image`);
  const lumaQuant = scaledQuant(LUMA_QUANT, quality);
  const chromaQuant = scaledQuant(CHROMA_QUANT, quality);
  out = new Uint8Array(Math.max(1024, (width * height * channels) / 2));
  pos = 0;
  bitBuffer = 0;
  bitCount = 0;
  writeU16(0xffd8);
  // JFIF APP0: version 1.01, no density units (aspect 1:1), no embedded thumbnail.
  writeU16(0xffe0);
  writeU16(16);
  writeBytes([0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  writeQuantTable(0, lumaQuant);
  if (channels === 3) writeQuantTable(1, chromaQuant);
  // SOF0: baseline, 8-bit precision.
  writeU16(0xffc0);
  writeU16(8 + 3 * channels);
  writeBytes([8, (height >> 8) & 0xff, height & 0xff, (width >> 8) & 0xff, width & 0xff, channels]);
  if (channels === 1) writeBytes([1, 0x11, 0]);
  else writeBytes([1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
  writeHuffmanTable(0x00, DC_LUMA);
  writeHuffmanTable(0x10, AC_LUMA);
  if (channels === 3) {
    writeHuffmanTable(0x01, DC_CHROMA);
    writeHuffmanTable(0x11, AC_CHROMA);
  }
  // SOS: every component in one interleaved scan, spectral selection 0..63.
  writeU16(0xffda);
  writeU16(6 + 2 * channels);
  writeBytes([channels]);
  if (channels === 1) writeBytes([1, 0x00]);
  else writeBytes([1, 0x00, 2, 0x11, 3, 0x11]);
  writeBytes([0, 63, 0]);

  const luma: Component = { divisors: dctDivisors(lumaQuant), dc: DC_LUMA_CODES, ac: AC_LUMA_CODES, pred: 0 };
  const block = new Float64Array(64);
  if (channels === 1) {
    for (let by = 0; by < height; by += 8) {
      for (let bx = 0; bx < width; bx += 8) {
        if (bx + 8 <= width && by + 8 <= height) {
          for (let y = 0, p = by * width + bx; y < 8; y++, p += width) for (let x = 0; x < 8; x++) block[y * 8 + x] = (data[p + x] as number) - 128;
        } else {
          for (let y = 0; y < 8; y++) {
            // Edge blocks repeat the last row and column (no ringing against a black border).
            const row = Math.min(by + y, height - 1) * width;
            for (let x = 0; x < 8; x++) block[y * 8 + x] = (data[row + Math.min(bx + x, width - 1)] as number) - 128;
          }
        }
        encodeBlock(block, luma);
      }
    }
  } else {
    const cb: Component = { divisors: dctDivisors(chromaQuant), dc: DC_CHROMA_CODES, ac: AC_CHROMA_CODES, pred: 0 };
    const cr: Component = { divisors: dctDivisors(chromaQuant), dc: DC_CHROMA_CODES, ac: AC_CHROMA_CODES, pred: 0 };
    // One 16x16 MCU at a time: Y, Cb and Cr (JFIF's conversion), chroma averaged over 2x2.
    const y16 = new Float64Array(256);
    const cb16 = new Float64Array(256);
    const cr16 = new Float64Array(256);
    for (let my = 0; my < height; my += 16) {
      for (let mx = 0; mx < width; mx += 16) {
        for (let y = 0; y < 16; y++) {
          const row = Math.min(my + y, height - 1) * width;
          for (let x = 0; x < 16; x++) {
            const p = (row + Math.min(mx + x, width - 1)) * 3;
            const r = data[p] as number;
            const g = data[p + 1] as number;
            const b = data[p + 2] as number;
            y16[y * 16 + x] = 0.299 * r + 0.587 * g + 0.114 * b - 128;
            cb16[y * 16 + x] = -0.168735892 * r - 0.331264108 * g + 0.5 * b;
            cr16[y * 16 + x] = 0.5 * r - 0.418687589 * g - 0.081312411 * b;
          }
        }
        for (let q = 0; q < 4; q++) {
          const ox = (q & 1) * 8;
          const oy = (q >> 1) * 8;
          for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) block[y * 8 + x] = y16[(oy + y) * 16 + ox + x] as number;
          encodeBlock(block, luma);
        }
        for (const [plane, comp] of [
          [cb16, cb],
          [cr16, cr],
        ] as const) {
          for (let y = 0; y < 8; y++) {
            for (let x = 0; x < 8; x++) {
              const i = y * 32 + x * 2;
              block[y * 8 + x] = ((plane[i] as number) + (plane[i + 1] as number) + (plane[i + 16] as number) + (plane[i + 17] as number)) / 4;
            }
          }
          encodeBlock(block, comp);
        }
      }
    }
  }
  // Pad the last byte with 1 bits (T.81 F.1.2.3).
  if (bitCount > 0) {
    pendingCode[0] = 0x7f;
    pendingLength[0] = 8 - bitCount;
    reserve(4);
    writePending(1);
  }
  writeU16(0xffd9);
  const jpeg = out.subarray(0, pos);
  out = new Uint8Array(0);
  return jpeg;
}
