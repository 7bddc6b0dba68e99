/**
 * A baseline JPEG encoder for import thumbnails (8-bit grey, or RGB as
 * YCbCr 4:2:0), in plain TypeScript.
 *
 * Why not sharp, as before: libvips costs about 1 ms of CPU per call
 * whatever the image's size (it reads a few hundred option properties and
 * starts a pipeline on its threads), which was the largest single share of
 * importing a small DICOM file. Encoding a thumbnail that needs no resizing
 * here costs 0.05-1 ms. The output follows libjpeg's choices, so the
 * thumbnails look as sharp's did (thumbnail-jpeg.test.ts compares them): the
 * quantisation tables of ITU-T T.81 Annex K scaled by the IJG quality
 * formula, the Annex K Huffman tables, JFIF, edges replicated to fill the
 * last blocks, chroma averaged over 2x2 pixels.
 */

/** Natural (row-major) index of a coefficient -> its position in zigzag order. */
const ZIGZAG = new Uint8Array([
  0, 1, 5, 6, 14, 15, 27, 28, 2, 4, 7, 13, 16, 26, 29, 42, 3, 8, 12, 17, 25, 30, 41, 43, 9, 11, 18, 24, 31, 40, 44, 53, 10, 19, 23, 32, 39, 45, 52, 54, 20, 22, 33, 38,
  46, 51, 55, 60, 21, 34, 37, 47, 50, 56, 59, 61, 35, 36, 48, 49, 57, 58, 62, 63,
]);

/** T.81 Annex K.1 quantisation tables, natural order. */
const LUMA_QUANT = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24,
  35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA_QUANT = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99, ...new Array<number>(32).fill(99),
];

/** T.81 Annex K.3 Huffman tables: code counts per length 1..16, then the symbols. */
const DC_LUMA_COUNTS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_CHROMA_COUNTS = [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
const DC_SYMBOLS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const AC_LUMA_COUNTS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
const AC_LUMA_SYMBOLS = [
  0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1,
  0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37,
  0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a,
  0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3,
  0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3,
  0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
];
const AC_CHROMA_COUNTS = [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
const AC_CHROMA_SYMBOLS = [
  0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1,
  0x09, 0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36,
  0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
  0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a,
  0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca,
  0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
];

interface HuffmanTable {
  code: Uint16Array;
  size: Uint8Array;
}

/** Canonical codes (T.81 Annex C) from counts per length and symbols. */
function huffmanTable(counts: readonly number[], symbols: readonly number[]): HuffmanTable {
  const code = new Uint16Array(256);
  const size = new Uint8Array(256);
  let next = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let j = 0; j < (counts[len - 1] ?? 0); j++) {
      const s = symbols[k++] ?? 0;
      code[s] = next++;
      size[s] = len;
    }
    next <<= 1;
  }
  return { code, size };
}

const DC_LUMA = huffmanTable(DC_LUMA_COUNTS, DC_SYMBOLS);
const AC_LUMA = huffmanTable(AC_LUMA_COUNTS, AC_LUMA_SYMBOLS);
const DC_CHROMA = huffmanTable(DC_CHROMA_COUNTS, DC_SYMBOLS);
const AC_CHROMA = huffmanTable(AC_CHROMA_COUNTS, AC_CHROMA_SYMBOLS);

/** The IJG quality scaling (libjpeg's jpeg_quality_scaling), baseline-clamped to 1..255; zigzag order. */
function scaledQuant(base: readonly number[], quality: number): Uint8Array {
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  const scale = q < 50 ? Math.floor(5000 / q) : 200 - q * 2;
  const out = new Uint8Array(64);
  for (let i = 0; i < 64; i++) out[ZIGZAG[i] as number] = Math.min(255, Math.max(1, Math.floor(((base[i] ?? 1) * scale + 50) / 100)));
  return out;
}

/** AAN scale factors of the float DCT (libjpeg jfdctflt.c): 1 for k=0, sqrt(2)*cos(k*pi/16) otherwise. */
const AAN = [1, 1.387039845, 1.306562965, 1.175875602, 1, 0.785694958, 0.5411961, 0.275899379];

/** Multipliers that quantise an AAN DCT output (natural order). */
function divisors(quantZigzag: Uint8Array): Float32Array {
  const d = new Float32Array(64);
  for (let r = 0; r < 8; r++) {
    for (let c = 0; c < 8; c++) {
      const i = r * 8 + c;
      d[i] = 1 / ((quantZigzag[ZIGZAG[i] as number] ?? 1) * (AAN[r] as number) * (AAN[c] as number) * 8);
    }
  }
  return d;
}

/** Grows as needed; writes bits MSB first with 0xFF byte stuffing. */
class JpegWriter {
  bytes: Uint8Array;
  length = 0;
  #bits = 0;
  #count = 0;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(Math.max(1024, capacity));
  }

  #ensure(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  byte(b: number): void {
    this.#ensure(1);
    this.bytes[this.length++] = b;
  }

  word(w: number): void {
    this.byte((w >> 8) & 0xff);
    this.byte(w & 0xff);
  }

  array(a: ArrayLike<number>): void {
    for (let i = 0; i < a.length; i++) this.byte(a[i] as number);
  }

  /** Appends the low `n` (<= 16) bits of `value`. */
  bits(value: number, n: number): void {
    this.#bits = (this.#bits << n) | (value & ((1 << n) - 1));
    this.#count += n;
    while (this.#count >= 8) {
      this.#count -= 8;
      const b = (this.#bits >> this.#count) & 0xff;
      this.#ensure(2);
      this.bytes[this.length++] = b;
      if (b === 0xff) this.bytes[this.length++] = 0;
    }
    this.#bits &= (1 << this.#count) - 1;
  }

  /** Pads the last byte with 1 bits (T.81 F.1.2.3). */
  flushBits(): void {
    if (this.#count > 0) this.bits(0x7f, 8 - this.#count);
  }
}

const block = new Float32Array(64);
const quantised = new Int32Array(64);

/** Forward DCT of `block` in place (AAN, as libjpeg's jfdctflt.c), then quantisation into `quantised` (zigzag). */
function fdctQuantise(div: Float32Array): void {
  const d = block;
  for (let i = 0; i < 64; i += 8) {
    const t0 = (d[i] as number) + (d[i + 7] as number);
    const t7 = (d[i] as number) - (d[i + 7] as number);
    const t1 = (d[i + 1] as number) + (d[i + 6] as number);
    const t6 = (d[i + 1] as number) - (d[i + 6] as number);
    const t2 = (d[i + 2] as number) + (d[i + 5] as number);
    const t5 = (d[i + 2] as number) - (d[i + 5] as number);
    const t3 = (d[i + 3] as number) + (d[i + 4] as number);
    const t4 = (d[i + 3] as number) - (d[i + 4] as number);
    rowOrColumn(d, i, 1, t0, t1, t2, t3, t4, t5, t6, t7);
  }
  for (let i = 0; i < 8; i++) {
    const t0 = (d[i] as number) + (d[i + 56] as number);
    const t7 = (d[i] as number) - (d[i + 56] as number);
    const t1 = (d[i + 8] as number) + (d[i + 48] as number);
    const t6 = (d[i + 8] as number) - (d[i + 48] as number);
    const t2 = (d[i + 16] as number) + (d[i + 40] as number);
    const t5 = (d[i + 16] as number) - (d[i + 40] as number);
    const t3 = (d[i + 24] as number) + (d[i + 32] as number);
    const t4 = (d[i + 24] as number) - (d[i + 32] as number);
    rowOrColumn(d, i, 8, t0, t1, t2, t3, t4, t5, t6, t7);
  }
  for (let i = 0; i < 64; i++) {
    const v = (d[i] as number) * (div[i] as number);
    quantised[ZIGZAG[i] as number] = v > 0 ? Math.floor(v + 0.5) : -Math.floor(-v + 0.5);
  }
}

function rowOrColumn(d: Float32Array, o: number, s: number, t0: number, t1: number, t2: number, t3: number, t4: number, t5: number, t6: number, t7: number): void {
  // Even part.
  const t10 = t0 + t3;
  const t13 = t0 - t3;
  const t11 = t1 + t2;
  const t12 = t1 - t2;
  d[o] = t10 + t11;
  d[o + 4 * s] = t10 - t11;
  const z1 = (t12 + t13) * 0.707106781;
  d[o + 2 * s] = t13 + z1;
  d[o + 6 * s] = t13 - z1;
  // Odd part.
  const u10 = t4 + t5;
  const u11 = t5 + t6;
  const u12 = t6 + t7;
  const z5 = (u10 - u12) * 0.382683433;
  const z2 = 0.5411961 * u10 + z5;
  const z4 = 1.306562965 * u12 + z5;
  const z3 = u11 * 0.707106781;
  const z11 = t7 + z3;
  const z13 = t7 - z3;
  d[o + 5 * s] = z13 + z2;
  d[o + 3 * s] = z13 - z2;
  d[o + s] = z11 + z4;
  d[o + 7 * s] = z11 - z4;
}

/** Number of bits of |v| (the JPEG magnitude category). */
function category(v: number): number {
  return v === 0 ? 0 : 32 - Math.clz32(v < 0 ? -v : v);
}

/** Huffman-codes `quantised` as one block; returns its DC value (the next block's predictor). */
function encodeBlock(w: JpegWriter, previousDc: number, dc: HuffmanTable, ac: HuffmanTable): number {
  const q = quantised;
  const dcValue = q[0] as number;
  const diff = dcValue - previousDc;
  const dcCat = category(diff);
  w.bits(dc.code[dcCat] as number, dc.size[dcCat] as number);
  if (dcCat > 0) w.bits(diff < 0 ? diff - 1 : diff, dcCat);
  let last = 63;
  while (last > 0 && q[last] === 0) last--;
  let run = 0;
  for (let i = 1; i <= last; i++) {
    const v = q[i] as number;
    if (v === 0) {
      run++;
      continue;
    }
    while (run > 15) {
      w.bits(ac.code[0xf0] as number, ac.size[0xf0] as number);
      run -= 16;
    }
    const cat = category(v);
    const sym = (run << 4) | cat;
    w.bits(ac.code[sym] as number, ac.size[sym] as number);
    w.bits(v < 0 ? v - 1 : v, cat);
    run = 0;
  }
  if (last < 63) w.bits(ac.code[0] as number, ac.size[0] as number);
  return dcValue;
}

function writeHuffman(w: JpegWriter, tableClassId: number, counts: readonly number[], symbols: readonly number[]): void {
  w.byte(tableClassId);
  w.array(counts);
  w.array(symbols);
}

function writeHeaders(w: JpegWriter, width: number, height: number, colour: boolean, luma: Uint8Array, chroma: Uint8Array): void {
  w.word(0xffd8);
  // APP0 JFIF 1.01, no density unit, 1:1 pixels.
  w.word(0xffe0);
  w.word(16);
  w.array([0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  w.word(0xffdb);
  w.word(2 + (colour ? 2 : 1) * 65);
  w.byte(0);
  w.array(luma);
  if (colour) {
    w.byte(1);
    w.array(chroma);
  }
  w.word(0xffc0);
  w.word(8 + (colour ? 9 : 3));
  w.byte(8);
  w.word(height);
  w.word(width);
  if (colour) w.array([3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
  else w.array([1, 1, 0x11, 0]);
  w.word(0xffc4);
  const tables = colour
    ? [
        [0x00, DC_LUMA_COUNTS, DC_SYMBOLS],
        [0x10, AC_LUMA_COUNTS, AC_LUMA_SYMBOLS],
        [0x01, DC_CHROMA_COUNTS, DC_SYMBOLS],
        [0x11, AC_CHROMA_COUNTS, AC_CHROMA_SYMBOLS],
      ]
    : [
        [0x00, DC_LUMA_COUNTS, DC_SYMBOLS],
        [0x10, AC_LUMA_COUNTS, AC_LUMA_SYMBOLS],
      ];
  w.word(2 + tables.reduce((n, t) => n + 17 + (t[2] as number[]).length, 0));
  for (const [id, counts, symbols] of tables) writeHuffman(w, id as number, counts as number[], symbols as number[]);
  w.word(0xffda);
  if (colour) {
    w.word(12);
    w.array([3, 1, 0x00, 2, 0x11, 3, 0x11]);
  } else {
    w.word(8);
    w.array([1, 1, 0x00]);
  }
  w.array([0, 63, 0]);
}

export interface JpegSource {
  width: number;
  height: number;
  /** 1: grey; 3: RGB, interleaved. */
  channels: 1 | 3;
  data: Uint8Array;
}

const cache = new Map<number, { luma: Uint8Array; chroma: Uint8Array; lumaDiv: Float32Array; chromaDiv: Float32Array }>();

function tablesFor(quality: number): { luma: Uint8Array; chroma: Uint8Array; lumaDiv: Float32Array; chromaDiv: Float32Array } {
  let t = cache.get(quality);
  if (t === undefined) {
    const luma = scaledQuant(LUMA_QUANT, quality);
    const chroma = scaledQuant(CHROMA_QUANT, quality);
    t = { luma, chroma, lumaDiv: divisors(luma), chromaDiv: divisors(chroma) };
    cache.set(quality, t);
  }
  return t;
}

/** Baseline JPEG of an 8-bit grey or RGB image (quality as libjpeg's, 1-100). */
export function encodeJpeg(image: JpegSource, quality = 85): Buffer {
  const { width, height, channels, data } = image;
  if (width < 1 || height < 1 || width > 65535 || height > 65535) throw new Error(`cannot encode a ${width} x ${height} JPEG`);
  if (data.length < width * height * channels) throw new Error('the image has fewer samples than its size says');
  const colour = channels === 3;
  const t = tablesFor(quality);
  const w = new JpegWriter(Math.ceil((width * height * channels) / 4) + 1024);
  writeHeaders(w, width, height, colour, t.luma, t.chroma);
  if (colour) encodeColour(w, image, t.lumaDiv, t.chromaDiv);
  else encodeGrey(w, image, t.lumaDiv);
  w.flushBits();
  w.word(0xffd9);
  return Buffer.from(w.bytes.buffer, w.bytes.byteOffset, w.length);
}

function encodeGrey(w: JpegWriter, image: JpegSource, div: Float32Array): void {
  const { width, height, data } = image;
  let dc = 0;
  for (let by = 0; by < height; by += 8) {
    for (let bx = 0; bx < width; bx += 8) {
      for (let y = 0; y < 8; y++) {
        const row = Math.min(by + y, height - 1) * width;
        for (let x = 0; x < 8; x++) block[y * 8 + x] = (data[row + Math.min(bx + x, width - 1)] as number) - 128;
      }
      fdctQuantise(div);
      dc = encodeBlock(w, dc, DC_LUMA, AC_LUMA);
    }
  }
}

/** YCbCr planes (libjpeg's jccolor.c coefficients), rounded to 8 bits; the MCU grid is filled by replicating edges. */
function encodeColour(w: JpegWriter, image: JpegSource, lumaDiv: Float32Array, chromaDiv: Float32Array): void {
  const { width, height, data } = image;
  const pw = Math.ceil(width / 16) * 16;
  const ph = Math.ceil(height / 16) * 16;
  // Clamped: pure blue's Cb (and pure red's Cr) is 255.5 before rounding.
  const yp = new Uint8ClampedArray(pw * ph);
  const cbp = new Uint8ClampedArray(pw * ph);
  const crp = new Uint8ClampedArray(pw * ph);
  for (let y = 0; y < ph; y++) {
    const sy = Math.min(y, height - 1);
    for (let x = 0; x < pw; x++) {
      const s = (sy * width + Math.min(x, width - 1)) * 3;
      const r = data[s] as number;
      const g = data[s + 1] as number;
      const b = data[s + 2] as number;
      const o = y * pw + x;
      yp[o] = 0.299 * r + 0.587 * g + 0.114 * b;
      cbp[o] = -0.168735892 * r - 0.331264108 * g + 0.5 * b + 128;
      crp[o] = 0.5 * r - 0.418687589 * g - 0.081312411 * b + 128;
    }
  }
  let dcY = 0;
  let dcCb = 0;
  let dcCr = 0;
  for (let my = 0; my < ph; my += 16) {
    for (let mx = 0; mx < pw; mx += 16) {
      for (let k = 0; k < 4; k++) {
        const oy = my + (k >> 1) * 8;
        const ox = mx + (k & 1) * 8;
        for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) block[y * 8 + x] = (yp[(oy + y) * pw + ox + x] as number) - 128;
        fdctQuantise(lumaDiv);
        dcY = encodeBlock(w, dcY, DC_LUMA, AC_LUMA);
      }
      for (const [plane, which] of [
        [cbp, 0],
        [crp, 1],
      ] as const) {
        for (let y = 0; y < 8; y++) {
          for (let x = 0; x < 8; x++) {
            const o = (my + y * 2) * pw + mx + x * 2;
            // libjpeg's h2v2 downsampling: the 2x2 mean, rounding bias alternating 1, 2.
            const sum = (plane[o] as number) + (plane[o + 1] as number) + (plane[o + pw] as number) + (plane[o + pw + 1] as number);
            block[y * 8 + x] = ((sum + 1 + (x & 1)) >> 2) - 128;
          }
        }
        fdctQuantise(chromaDiv);
        if (which === 0) dcCb = encodeBlock(w, dcCb, DC_CHROMA, AC_CHROMA);
        else dcCr = encodeBlock(w, dcCr, DC_CHROMA, AC_CHROMA);
      }
    }
  }
}
