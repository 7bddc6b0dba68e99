/**
 * Sequential DCT JPEG decoder (ITU T.81 processes 1, 2 and 4: Huffman coded,
 * 8- or 12-bit samples), written to be bit-exact with the IJG libjpeg 6b
 * that gdcm and dcmtk's dcmdjpeg use for DICOM 1.2.840.10008.1.2.4.51.
 *
 * Why our own: no npm decoder handles 12-bit JPEG exactly (libjpeg-turbo's
 * 8-bit wasm build refuses it; the pdf.js-derived decoders use a different
 * IDCT and are off by several grey levels). Exactness comes from copying
 * libjpeg's integer "islow" IDCT (jidctint.c, including PASS1_BITS = 1 for
 * 12-bit and the wrap-around range-limit table of jdmaster.c) and its
 * handling of truncated entropy data (zero bits after a marker or the end).
 *
 * Scope: baseline/extended Huffman, interleaved or not, restart intervals,
 * any number of components, output as component planes without colour
 * conversion. Images whose components are subsampled are refused (8-bit
 * data goes to libjpeg-turbo, which handles those); progressive, arithmetic
 * and lossless frames are refused too.
 */

export class JpegDecodeError extends Error {}

export interface JpegFrameHeader {
  /** SOF marker code, e.g. 0xc0 baseline, 0xc1 extended, 0xc3 lossless. */
  readonly marker: number;
  readonly precision: number;
  readonly width: number;
  readonly height: number;
  readonly components: readonly { id: number; h: number; v: number; tq: number }[];
  /** Colour transform of an Adobe APP14 marker, if any (0 none, 1 YCbCr). */
  readonly adobeTransform: number | undefined;
  readonly jfif: boolean;
}

export interface JpegDecoded {
  readonly width: number;
  readonly height: number;
  readonly precision: number;
  readonly componentCount: number;
  /** Samples interleaved per pixel, in component order. */
  readonly data: Uint16Array;
}

/** Finds the frame header without decoding; throws JpegDecodeError if there is none. */
export function readJpegFrameHeader(bytes: Uint8Array): JpegFrameHeader {
  const state = parseMarkers(bytes, true);
  if (state.frame === undefined) throw new JpegDecodeError('no frame header (SOF) found');
  return state.frame;
}

const ZIGZAG = new Int32Array([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
  35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55,
  62, 63,
  // libjpeg pads its table so corrupt run lengths past 63 land harmlessly on 63.
  63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
]);

interface HuffmanTable {
  /** maxcode[l]: largest code of length l, or -1 (index 17 is a sentinel). */
  maxcode: Int32Array;
  valoffset: Int32Array;
  values: Uint8Array;
}

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  blocksPerLine: number;
  blocksPerColumn: number;
  coefficients: Int16Array;
  dcTable: number;
  acTable: number;
  pred: number;
}

interface MarkerState {
  frame: JpegFrameHeader | undefined;
  quant: (Uint16Array | undefined)[];
  dc: (HuffmanTable | undefined)[];
  ac: (HuffmanTable | undefined)[];
  restartInterval: number;
  adobeTransform: number | undefined;
  jfif: boolean;
}

function u16(bytes: Uint8Array, pos: number): number {
  if (pos + 2 > bytes.length) throw new JpegDecodeError('unexpected end of data in a marker segment');
  return ((bytes[pos] ?? 0) << 8) | (bytes[pos + 1] ?? 0);
}

function buildHuffman(counts: Uint8Array, values: Uint8Array): HuffmanTable {
  // jdhuff.c jpeg_make_d_derived_tbl, slow-path tables only.
  const maxcode = new Int32Array(18);
  const valoffset = new Int32Array(17);
  let code = 0;
  let p = 0;
  for (let l = 1; l <= 16; l++) {
    const n = counts[l - 1] ?? 0;
    if (n > 0) {
      valoffset[l] = p - code;
      code += n;
      p += n;
      maxcode[l] = code - 1;
    } else {
      maxcode[l] = -1;
    }
    if (code > 1 << l) throw new JpegDecodeError('bad Huffman table');
    code <<= 1;
  }
  maxcode[17] = 0x7fffffff;
  return { maxcode, valoffset, values };
}

/** Reads markers up to the frame header (headerOnly) or through the whole stream, calling scans. */
function parseMarkers(bytes: Uint8Array, headerOnly: boolean, onScan?: (state: MarkerState, pos: number) => number): MarkerState {
  const state: MarkerState = { frame: undefined, quant: [], dc: [], ac: [], restartInterval: 0, adobeTransform: undefined, jfif: false };
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new JpegDecodeError('data does not start with a JPEG SOI marker');
  let pos = 2;
  for (;;) {
    // Skip fill bytes and anything that is not a marker (libjpeg warns and resyncs the same way).
    while (pos < bytes.length && bytes[pos] !== 0xff) pos++;
    while (pos < bytes.length && bytes[pos] === 0xff) pos++;
    if (pos >= bytes.length) {
      if (state.frame !== undefined && !headerOnly) return state;
      throw new JpegDecodeError('unexpected end of data before the image');
    }
    const marker = bytes[pos++] ?? 0;
    if (marker === 0xd9) return state; // EOI
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // TEM, stray RSTn
    const length = u16(bytes, pos);
    if (length < 2 || pos + length > bytes.length) throw new JpegDecodeError(`marker segment 0xFF${marker.toString(16)} has a bad length`);
    const seg = bytes.subarray(pos + 2, pos + length);
    switch (marker) {
      case 0xdb: {
        let o = 0;
        while (o < seg.length) {
          const pq = (seg[o] ?? 0) >> 4;
          const tq = (seg[o] ?? 0) & 15;
          o++;
          if (tq > 3) throw new JpegDecodeError('bad quantisation table id');
          const table = new Uint16Array(64);
          for (let k = 0; k < 64; k++) {
            if (o + (pq ? 2 : 1) > seg.length) throw new JpegDecodeError('truncated quantisation table');
            // Tables are sent in zigzag order; store in natural order as libjpeg does.
            table[ZIGZAG[k] ?? 0] = pq ? u16(seg, o) : (seg[o] ?? 0);
            o += pq ? 2 : 1;
          }
          state.quant[tq] = table;
        }
        break;
      }
      case 0xc4: {
        let o = 0;
        while (o < seg.length) {
          const tc = (seg[o] ?? 0) >> 4;
          const th = (seg[o] ?? 0) & 15;
          if (o + 17 > seg.length || th > 3 || tc > 1) throw new JpegDecodeError('bad Huffman table segment');
          const counts = seg.subarray(o + 1, o + 17);
          let total = 0;
          for (const c of counts) total += c;
          if (total > 256 || o + 17 + total > seg.length) throw new JpegDecodeError('bad Huffman table segment');
          const table = buildHuffman(counts, seg.slice(o + 17, o + 17 + total));
          (tc === 0 ? state.dc : state.ac)[th] = table;
          o += 17 + total;
        }
        break;
      }
      case 0xdd:
        state.restartInterval = u16(seg, 0);
        break;
      case 0xe0:
        if (seg[0] === 0x4a && seg[1] === 0x46 && seg[2] === 0x49 && seg[3] === 0x46 && seg[4] === 0) state.jfif = true;
        break;
      case 0xee:
        if (seg.length >= 12 && seg[0] === 0x41 && seg[1] === 0x64 && seg[2] === 0x6f && seg[3] === 0x62 && seg[4] === 0x65) {
          state.adobeTransform = seg[11];
        }
        break;
      case 0xc0:
      case 0xc1:
      case 0xc2:
      case 0xc3:
      case 0xc5:
      case 0xc6:
      case 0xc7:
      case 0xc9:
      case 0xca:
      case 0xcb:
      case 0xcd:
      case 0xce:
      case 0xcf: {
        if (state.frame !== undefined) throw new JpegDecodeError('more than one frame header');
        if (seg.length < 6) throw new JpegDecodeError('truncated frame header');
        const n = seg[5] ?? 0;
        if (n < 1 || n > 4 || seg.length < 6 + n * 3) throw new JpegDecodeError('bad frame header');
        const components = [];
        for (let i = 0; i < n; i++) {
          const hv = seg[7 + i * 3] ?? 0;
          const h = hv >> 4;
          const v = hv & 15;
          if (h < 1 || h > 4 || v < 1 || v > 4) throw new JpegDecodeError('bad sampling factors');
          components.push({ id: seg[6 + i * 3] ?? 0, h, v, tq: seg[8 + i * 3] ?? 0 });
        }
        state.frame = {
          marker,
          precision: seg[0] ?? 0,
          height: u16(seg, 1),
          width: u16(seg, 3),
          components,
          adobeTransform: state.adobeTransform,
          jfif: state.jfif,
        };
        if (headerOnly) return state;
        break;
      }
      case 0xda: {
        if (onScan === undefined) return state;
        pos = onScan(state, pos);
        continue;
      }
      default:
        break; // APPn, COM, DNL and others carry nothing we need.
    }
    pos += length;
  }
}

/** Bit reader with libjpeg's behaviour at markers and at the end: feed zeros. */
class BitReader {
  private buffer = 0;
  private bits = 0;
  /** Set when a marker (or the end) was hit; reading continues with zeros. */
  hitMarker = false;

  constructor(
    private readonly bytes: Uint8Array,
    public pos: number,
  ) {}

  private fill(): void {
    while (this.bits <= 16) {
      let byte = 0;
      if (!this.hitMarker && this.pos < this.bytes.length) {
        byte = this.bytes[this.pos] ?? 0;
        if (byte === 0xff) {
          let next = this.bytes[this.pos + 1] ?? 0xd9;
          let skip = 1;
          while (next === 0xff) {
            skip++;
            next = this.bytes[this.pos + skip] ?? 0xd9;
          }
          if (next === 0) {
            this.pos += skip + 1;
          } else {
            // A marker: stop consuming and supply zeros from now on.
            this.hitMarker = true;
            byte = 0;
          }
        } else {
          this.pos++;
        }
      } else {
        this.hitMarker = true;
      }
      this.buffer = ((this.buffer << 8) | byte) >>> 0;
      this.bits += 8;
      if (this.bits > 24) break;
    }
  }

  getBits(n: number): number {
    if (n === 0) return 0;
    if (this.bits < n) this.fill();
    this.bits -= n;
    return (this.buffer >>> this.bits) & ((1 << n) - 1);
  }

  getBit(): number {
    return this.getBits(1);
  }

  decode(table: HuffmanTable): number {
    // jdhuff.c jpeg_huff_decode: code grows one bit at a time until it fits.
    let code = this.getBit();
    let l = 1;
    while (code > (table.maxcode[l] ?? -1)) {
      code = (code << 1) | this.getBit();
      l++;
      if (l > 16) return 0; // corrupt: libjpeg warns and returns 0
    }
    return table.values[(table.valoffset[l] ?? 0) + code] ?? 0;
  }

  /** Discards buffered bits and moves past the next RSTn marker (restart interval boundary). */
  restart(): void {
    this.buffer = 0;
    this.bits = 0;
    let p = this.pos;
    while (p + 1 < this.bytes.length) {
      if (this.bytes[p] === 0xff) {
        const m = this.bytes[p + 1] ?? 0;
        if (m >= 0xd0 && m <= 0xd7) {
          this.pos = p + 2;
          this.hitMarker = false;
          return;
        }
        if (m !== 0 && m !== 0xff) break; // some other marker: leave it (libjpeg resyncs likewise)
      }
      p++;
    }
    this.pos = p;
    this.hitMarker = false;
  }
}

function extend(value: number, size: number): number {
  return value < 1 << (size - 1) ? value + ((-1 << size) + 1) : value;
}

/** Decodes a sequential Huffman JPEG (8- or 12-bit). Throws JpegDecodeError on bad data. */
export function decodeJpegDct(bytes: Uint8Array): JpegDecoded {
  let components: Component[] = [];
  let hmax = 1;
  let vmax = 1;
  let mcusPerLine = 0;
  let mcusPerColumn = 0;
  let frameSeen: JpegFrameHeader | undefined;

  const state = parseMarkers(bytes, false, (st, pos) => {
    const frame = st.frame;
    if (frame === undefined) throw new JpegDecodeError('scan before frame header');
    if (frameSeen === undefined) {
      frameSeen = frame;
      if (frame.marker !== 0xc0 && frame.marker !== 0xc1) {
        throw new JpegDecodeError(`unsupported JPEG process (SOF marker 0xFF${frame.marker.toString(16).toUpperCase()})`);
      }
      if (frame.precision !== 8 && frame.precision !== 12) throw new JpegDecodeError(`unsupported sample precision ${frame.precision}`);
      if (frame.width === 0 || frame.height === 0) throw new JpegDecodeError('frame has zero width or height');
      hmax = Math.max(...frame.components.map((c) => c.h));
      vmax = Math.max(...frame.components.map((c) => c.v));
      if (frame.components.some((c) => c.h !== hmax || c.v !== vmax)) {
        throw new JpegDecodeError('subsampled colour components are not supported by this decoder');
      }
      mcusPerLine = Math.ceil(frame.width / (8 * hmax));
      mcusPerColumn = Math.ceil(frame.height / (8 * vmax));
      components = frame.components.map((c) => {
        const blocksPerLine = mcusPerLine * c.h;
        const blocksPerColumn = mcusPerColumn * c.v;
        return {
          ...c,
          blocksPerLine,
          blocksPerColumn,
          coefficients: new Int16Array(blocksPerLine * blocksPerColumn * 64),
          dcTable: 0,
          acTable: 0,
          pred: 0,
        };
      });
    }
    return decodeScan(bytes, pos, st, frame, components, mcusPerLine, mcusPerColumn, hmax, vmax);
  });

  const frame = state.frame;
  if (frame === undefined || frameSeen === undefined) throw new JpegDecodeError('no image data (no scan)');
  const { width, height, precision } = frame;
  const n = components.length;
  const out = new Uint16Array(width * height * n);
  const block = new Int32Array(64);
  for (let ci = 0; ci < n; ci++) {
    const c = components[ci];
    if (c === undefined) continue;
    const q = state.quant[c.tq];
    if (q === undefined) throw new JpegDecodeError(`missing quantisation table ${c.tq}`);
    const compWidth = Math.ceil((width * c.h) / hmax);
    const compHeight = Math.ceil((height * c.v) / vmax);
    const usedBlocksX = Math.ceil(compWidth / 8);
    const usedBlocksY = Math.ceil(compHeight / 8);
    for (let by = 0; by < usedBlocksY; by++) {
      for (let bx = 0; bx < usedBlocksX; bx++) {
        const offset = (by * c.blocksPerLine + bx) * 64;
        idctIslow(c.coefficients, offset, q, precision, block);
        for (let y = 0; y < 8; y++) {
          const py = by * 8 + y;
          if (py >= height) break;
          for (let x = 0; x < 8; x++) {
            const px = bx * 8 + x;
            if (px >= width) break;
            out[(py * width + px) * n + ci] = block[y * 8 + x] ?? 0;
          }
        }
      }
    }
  }
  return { width, height, precision, componentCount: n, data: out };
}

function decodeScan(
  bytes: Uint8Array,
  pos: number,
  state: MarkerState,
  frame: JpegFrameHeader,
  components: Component[],
  mcusPerLine: number,
  mcusPerColumn: number,
  hmax: number,
  vmax: number,
): number {
  const length = u16(bytes, pos);
  const ns = bytes[pos + 2] ?? 0;
  if (ns < 1 || ns > 4 || length !== 6 + 2 * ns || pos + length > bytes.length) throw new JpegDecodeError('bad scan header');
  const scanComponents: Component[] = [];
  for (let i = 0; i < ns; i++) {
    const id = bytes[pos + 3 + i * 2];
    const tables = bytes[pos + 4 + i * 2] ?? 0;
    const c = components.find((x) => x.id === id);
    if (c === undefined) throw new JpegDecodeError('scan refers to an unknown component');
    c.dcTable = tables >> 4;
    c.acTable = tables & 15;
    c.pred = 0;
    scanComponents.push(c);
  }
  const ss = bytes[pos + 3 + ns * 2] ?? 0;
  const se = bytes[pos + 4 + ns * 2] ?? 0;
  if (ss !== 0 || se !== 63) throw new JpegDecodeError('spectral selection is not sequential (progressive JPEG)');
  const reader = new BitReader(bytes, pos + length);

  const decodeBlock = (c: Component, offset: number): void => {
    const dc = state.dc[c.dcTable];
    const ac = state.ac[c.acTable];
    if (dc === undefined || ac === undefined) throw new JpegDecodeError('scan uses an undefined Huffman table');
    const coefs = c.coefficients;
    let s = reader.decode(dc);
    let diff = 0;
    if (s !== 0) {
      if (s > 16) throw new JpegDecodeError('corrupt DC coefficient');
      diff = extend(reader.getBits(s), s);
    }
    c.pred += diff;
    coefs[offset] = c.pred; // JCOEF is 16-bit in libjpeg: the Int16Array wraps the same way
    for (let k = 1; k < 64; k++) {
      const rs = reader.decode(ac);
      const r = rs >> 4;
      s = rs & 15;
      if (s !== 0) {
        k += r;
        const value = extend(reader.getBits(s), s);
        coefs[offset + (ZIGZAG[k] ?? 63)] = value;
      } else {
        if (r !== 15) break;
        k += 15;
      }
    }
  };

  const interval = state.restartInterval;
  let mcusLeft = interval;
  const single = ns === 1;
  const only = scanComponents[0];
  const totalMcus = single && only !== undefined
    ? Math.ceil(Math.ceil((frame.width * only.h) / hmax) / 8) * Math.ceil(Math.ceil((frame.height * only.v) / vmax) / 8)
    : mcusPerLine * mcusPerColumn;
  const singleBlocksPerLine = single && only !== undefined ? Math.ceil(Math.ceil((frame.width * only.h) / hmax) / 8) : 0;

  for (let m = 0; m < totalMcus; m++) {
    if (interval > 0) {
      if (mcusLeft === 0) {
        reader.restart();
        for (const c of scanComponents) c.pred = 0;
        mcusLeft = interval;
      }
      mcusLeft--;
    }
    if (single && only !== undefined) {
      const bx = m % singleBlocksPerLine;
      const by = Math.floor(m / singleBlocksPerLine);
      decodeBlock(only, (by * only.blocksPerLine + bx) * 64);
    } else {
      const mx = m % mcusPerLine;
      const my = Math.floor(m / mcusPerLine);
      for (const c of scanComponents) {
        for (let v = 0; v < c.v; v++) {
          for (let h = 0; h < c.h; h++) {
            const bx = mx * c.h + h;
            const by = my * c.v + v;
            decodeBlock(c, (by * c.blocksPerLine + bx) * 64);
          }
        }
      }
    }
  }
  // Continue after the entropy-coded data: find the next marker that is not RSTn.
  let p = reader.pos;
  while (p + 1 < bytes.length) {
    if (bytes[p] === 0xff) {
      const m = bytes[p + 1] ?? 0;
      if (m !== 0 && m !== 0xff && !(m >= 0xd0 && m <= 0xd7)) return p;
    }
    p++;
  }
  return bytes.length;
}

// jidctint.c constants (CONST_BITS = 13).
const CONST_BITS = 13;
const FIX_0_298631336 = 2446;
const FIX_0_390180644 = 3196;
const FIX_0_541196100 = 4433;
const FIX_0_765366865 = 6270;
const FIX_0_899976223 = 7373;
const FIX_1_175875602 = 9633;
const FIX_1_501321110 = 12299;
const FIX_1_847759065 = 15137;
const FIX_1_961570560 = 16069;
const FIX_2_053119869 = 16819;
const FIX_2_562915447 = 20995;
const FIX_3_072711026 = 25172;

const workspace = new Float64Array(64);
const rangeTables = new Map<number, Uint16Array>();

/**
 * jdmaster.c prepare_range_limit_table, as jidctint.c indexes it:
 * table[x & RANGE_MASK] with RANGE_MASK = 4 * (MAXJSAMPLE + 1) - 1. In range
 * it adds CENTERJSAMPLE and clamps; far out of range it wraps like libjpeg.
 */
function rangeTable(precision: number): Uint16Array {
  let table = rangeTables.get(precision);
  if (table === undefined) {
    const n = 1 << precision;
    const center = n >> 1;
    table = new Uint16Array(4 * n);
    for (let idx = 0; idx < 4 * n; idx++) {
      if (idx < center) table[idx] = idx + center;
      else if (idx < 2 * n) table[idx] = n - 1;
      else if (idx < 4 * n - center) table[idx] = 0;
      else table[idx] = idx - (4 * n - center);
    }
    rangeTables.set(precision, table);
  }
  return table;
}

/**
 * jpeg_idct_islow (IJG 6b jidctint.c) for one block, through the range-limit
 * table. DESCALE(x, n) is floor((x + 2^(n-1)) / 2^n): libjpeg's rounding
 * right shift. Floating point is exact here (values stay far below 2^53) and
 * has no 32-bit overflow, like C's 64-bit `long`.
 */
function idctIslow(coefs: Int16Array, offset: number, quant: Uint16Array, precision: number, out: Int32Array): void {
  const pass1 = precision === 8 ? 2 : 1;
  const scale1 = 2 ** pass1;
  const constScale = 2 ** CONST_BITS;
  const div1 = 2 ** (CONST_BITS - pass1);
  const half1 = div1 / 2;
  const div2 = 2 ** (CONST_BITS + pass1 + 3);
  const half2 = div2 / 2;
  const divDc = 2 ** (pass1 + 3);
  const halfDc = divDc / 2;
  const table = rangeTable(precision);
  const mask = table.length - 1;
  const ws = workspace;

  for (let col = 0; col < 8; col++) {
    const o = offset + col;
    if (
      coefs[o + 8] === 0 && coefs[o + 16] === 0 && coefs[o + 24] === 0 && coefs[o + 32] === 0 &&
      coefs[o + 40] === 0 && coefs[o + 48] === 0 && coefs[o + 56] === 0
    ) {
      const dcval = (coefs[o] ?? 0) * (quant[col] ?? 0) * scale1;
      for (let i = 0; i < 64; i += 8) ws[i + col] = dcval;
      continue;
    }
    let z2 = (coefs[o + 16] ?? 0) * (quant[16 + col] ?? 0);
    let z3 = (coefs[o + 48] ?? 0) * (quant[48 + col] ?? 0);
    let z1 = (z2 + z3) * FIX_0_541196100;
    let tmp2 = z1 + z3 * -FIX_1_847759065;
    let tmp3 = z1 + z2 * FIX_0_765366865;
    z2 = (coefs[o] ?? 0) * (quant[col] ?? 0);
    z3 = (coefs[o + 32] ?? 0) * (quant[32 + col] ?? 0);
    let tmp0 = (z2 + z3) * constScale;
    let tmp1 = (z2 - z3) * constScale;
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;

    tmp0 = (coefs[o + 56] ?? 0) * (quant[56 + col] ?? 0);
    tmp1 = (coefs[o + 40] ?? 0) * (quant[40 + col] ?? 0);
    tmp2 = (coefs[o + 24] ?? 0) * (quant[24 + col] ?? 0);
    tmp3 = (coefs[o + 8] ?? 0) * (quant[8 + col] ?? 0);
    z1 = tmp0 + tmp3;
    z2 = tmp1 + tmp2;
    z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    const z5 = (z3 + z4) * FIX_1_175875602;
    tmp0 *= FIX_0_298631336;
    tmp1 *= FIX_2_053119869;
    tmp2 *= FIX_3_072711026;
    tmp3 *= FIX_1_501321110;
    z1 *= -FIX_0_899976223;
    z2 *= -FIX_2_562915447;
    z3 *= -FIX_1_961570560;
    z4 *= -FIX_0_390180644;
    z3 += z5;
    z4 += z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    // The workspace is C `int`: keep 32 bits, as libjpeg does.
    ws[col] = toInt(Math.floor((tmp10 + tmp3 + half1) / div1));
    ws[56 + col] = toInt(Math.floor((tmp10 - tmp3 + half1) / div1));
    ws[8 + col] = toInt(Math.floor((tmp11 + tmp2 + half1) / div1));
    ws[48 + col] = toInt(Math.floor((tmp11 - tmp2 + half1) / div1));
    ws[16 + col] = toInt(Math.floor((tmp12 + tmp1 + half1) / div1));
    ws[40 + col] = toInt(Math.floor((tmp12 - tmp1 + half1) / div1));
    ws[24 + col] = toInt(Math.floor((tmp13 + tmp0 + half1) / div1));
    ws[32 + col] = toInt(Math.floor((tmp13 - tmp0 + half1) / div1));
  }

  for (let r = 0; r < 64; r += 8) {
    const w0 = ws[r] ?? 0;
    const w1 = ws[r + 1] ?? 0;
    const w2 = ws[r + 2] ?? 0;
    const w3 = ws[r + 3] ?? 0;
    const w4 = ws[r + 4] ?? 0;
    const w5 = ws[r + 5] ?? 0;
    const w6 = ws[r + 6] ?? 0;
    const w7 = ws[r + 7] ?? 0;
    if (w1 === 0 && w2 === 0 && w3 === 0 && w4 === 0 && w5 === 0 && w6 === 0 && w7 === 0) {
      const v = table[Math.floor((w0 + halfDc) / divDc) & mask] ?? 0;
      for (let i = 0; i < 8; i++) out[r + i] = v;
      continue;
    }
    let z2 = w2;
    let z3 = w6;
    let z1 = (z2 + z3) * FIX_0_541196100;
    let tmp2 = z1 + z3 * -FIX_1_847759065;
    let tmp3 = z1 + z2 * FIX_0_765366865;
    let tmp0 = (w0 + w4) * constScale;
    let tmp1 = (w0 - w4) * constScale;
    const tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    const tmp11 = tmp1 + tmp2;
    const tmp12 = tmp1 - tmp2;

    tmp0 = w7;
    tmp1 = w5;
    tmp2 = w3;
    tmp3 = w1;
    z1 = tmp0 + tmp3;
    z2 = tmp1 + tmp2;
    z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    const z5 = (z3 + z4) * FIX_1_175875602;
    tmp0 *= FIX_0_298631336;
    tmp1 *= FIX_2_053119869;
    tmp2 *= FIX_3_072711026;
    tmp3 *= FIX_1_501321110;
    z1 *= -FIX_0_899976223;
    z2 *= -FIX_2_562915447;
    z3 *= -FIX_1_961570560;
    z4 *= -FIX_0_390180644;
    z3 += z5;
    z4 += z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    out[r] = table[Math.floor((tmp10 + tmp3 + half2) / div2) & mask] ?? 0;
    out[r + 7] = table[Math.floor((tmp10 - tmp3 + half2) / div2) & mask] ?? 0;
    out[r + 1] = table[Math.floor((tmp11 + tmp2 + half2) / div2) & mask] ?? 0;
    out[r + 6] = table[Math.floor((tmp11 - tmp2 + half2) / div2) & mask] ?? 0;
    out[r + 2] = table[Math.floor((tmp12 + tmp1 + half2) / div2) & mask] ?? 0;
    out[r + 5] = table[Math.floor((tmp12 - tmp1 + half2) / div2) & mask] ?? 0;
    out[r + 3] = table[Math.floor((tmp13 + tmp0 + half2) / div2) & mask] ?? 0;
    out[r + 4] = table[Math.floor((tmp13 - tmp0 + half2) / div2) & mask] ?? 0;
  }
}

/** C's (int) conversion of a long on the usual targets: keep the low 32 bits. */
function toInt(x: number): number {
  if (x >= -0x80000000 && x <= 0x7fffffff) return x;
  return Number(BigInt.asIntN(32, BigInt(x)));
}
