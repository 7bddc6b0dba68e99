/**
 * DCT JPEG decoder for ITU T.81 Huffman processes: sequential (1, 2, 4) and
 * progressive (10, 12; spectral selection and successive approximation),
 * 8- or 12-bit samples, written to be bit-exact with the IJG libjpeg 6b
 * that dcmtk's dcmdjpeg and gdcm use for DICOM 1.2.840.10008.1.2.4.50-.55.
 *
 * Why our own: no npm decoder handles 12-bit JPEG exactly (libjpeg-turbo's
 * 8-bit wasm build refuses it; the pdf.js-derived decoders use a different
 * IDCT and are off by several grey levels). Exactness comes from following
 * libjpeg where it makes choices the standard leaves open:
 * - the integer "islow" IDCT (jidctint.c, including PASS1_BITS = 1 for
 *   12-bit) and the wrap-around range-limit table of jdmaster.c;
 * - truncated entropy data (jdhuff.c, jdphuff.c): zero bits are fed once a
 *   marker or the end is reached, and the MCUs after the one that ran out
 *   are left as they are until the next restart marker ("insufficient data");
 * - a sequential scan whose header says Ss/Se/Ah/Al other than 0/63/0/0 is
 *   decoded as a full sequential scan with a warning (jdhuff.c: "there are
 *   some baseline files out there with all zeroes in these bytes");
 * - quantisation tables are latched at a component's first scan (jdinput.c);
 * - a progressive image whose first AC coefficients were never fully sent
 *   (a truncated file) gets libjpeg's inter-block smoothing (jdcoefct.c,
 *   T.81 K.8).
 *
 * Scope: any number of components, output as component planes without
 * colour conversion. Images whose components are subsampled are refused
 * (8-bit colour data goes to libjpeg-turbo, which handles those); arithmetic,
 * hierarchical and lossless frames are refused too.
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
  /** SOF2: progressive DCT (processes 10 and 12). */
  readonly progressive: boolean;
  /** What libjpeg would have warned about while decoding (the data was still decoded as it does). */
  readonly warnings: readonly string[];
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

/**
 * Bit reader with libjpeg's behaviour at markers and at the end of the data
 * (jdhuff.c jpeg_fill_bit_buffer): once a marker is reached, zero bits are
 * supplied, and a read that needed bits the data did not have sets
 * `insufficient` (libjpeg's insufficient_data).
 */
class BitReader {
  private buffer = 0;
  private bits = 0;
  /** A marker (or the end) stops the entropy-coded segment: nothing more is consumed. */
  private atMarker = false;
  insufficient = false;

  constructor(
    private readonly bytes: Uint8Array,
    public pos: number,
  ) {}

  private fill(needed: number): void {
    // libjpeg loads bytes while fewer than MIN_GET_BITS (25) are buffered.
    while (this.bits <= 24 && !this.atMarker) {
      if (this.pos >= this.bytes.length) {
        this.atMarker = true; // libjpeg's source manager inserts a fake EOI here
        break;
      }
      const byte = this.bytes[this.pos] ?? 0;
      if (byte === 0xff) {
        let skip = 1;
        let next = this.bytes[this.pos + skip] ?? 0xd9;
        while (next === 0xff) {
          skip++;
          next = this.bytes[this.pos + skip] ?? 0xd9;
        }
        if (next !== 0) {
          this.atMarker = true;
          break;
        }
        this.pos += skip + 1; // FF 00 (after any fill FFs) is a data byte 0xFF
      } else {
        this.pos++;
      }
      this.buffer = ((this.buffer << 8) | byte) >>> 0;
      this.bits += 8;
    }
    if (this.bits < needed) {
      // Out of data: remember it (libjpeg warns once) and continue with zero bits.
      this.insufficient = true;
      this.buffer = (this.buffer << (needed - this.bits)) >>> 0;
      this.bits = needed;
    }
  }

  getBits(n: number): number {
    if (n === 0) return 0;
    if (this.bits < n) this.fill(n);
    this.bits -= n;
    return (this.buffer >>> this.bits) & ((1 << n) - 1);
  }

  decode(table: HuffmanTable): number {
    // jdhuff.c jpeg_huff_decode: the code grows one bit at a time until it fits.
    let code = this.getBits(1);
    let l = 1;
    while (code > (table.maxcode[l] ?? -1)) {
      code = (code << 1) | this.getBits(1);
      l++;
      if (l > 16) return 0; // corrupt: libjpeg warns and returns 0
    }
    return table.values[(table.valoffset[l] ?? 0) + code] ?? 0;
  }

  /**
   * At a restart interval boundary: discard buffered bits and move past the
   * next RSTn marker. libjpeg clears the out-of-data flag unless it is left
   * up against another marker (then the next interval reads as empty too).
   */
  restart(): void {
    this.buffer = 0;
    this.bits = 0;
    let p = this.pos;
    while (p + 1 < this.bytes.length) {
      if (this.bytes[p] === 0xff) {
        const m = this.bytes[p + 1] ?? 0;
        if (m >= 0xd0 && m <= 0xd7) {
          this.pos = p + 2;
          this.atMarker = false;
          this.insufficient = false;
          return;
        }
        if (m !== 0 && m !== 0xff) break; // some other marker: stay on it
      }
      p++;
    }
    this.pos = p;
    this.atMarker = true;
  }
}

function extend(value: number, size: number): number {
  return value < 1 << (size - 1) ? value + ((-1 << size) + 1) : value;
}

interface Component {
  readonly id: number;
  readonly h: number;
  readonly v: number;
  readonly tq: number;
  /** Blocks per line and column including the MCU padding (the coefficient array's shape). */
  readonly blocksPerLine: number;
  readonly blocksPerColumn: number;
  /** Blocks that hold image data (libjpeg's width_in_blocks, height_in_blocks). */
  readonly widthInBlocks: number;
  readonly heightInBlocks: number;
  readonly coefficients: Int16Array;
  /** The quantisation table latched at the component's first scan (jdinput.c latch_quant_tables). */
  quant: Uint16Array | undefined;
  /** Progressive only: per coefficient, the Al of its last scan, -1 before any (libjpeg's coef_bits). */
  readonly coefBits: Int8Array;
}

interface FrameLayout {
  readonly frame: JpegFrameHeader;
  readonly progressive: boolean;
  readonly components: Component[];
  readonly mcusPerLine: number;
  readonly mcusPerColumn: number;
  readonly warnings: string[];
}

function layoutFrame(frame: JpegFrameHeader): FrameLayout {
  if (frame.marker !== 0xc0 && frame.marker !== 0xc1 && frame.marker !== 0xc2) {
    throw new JpegDecodeError(`unsupported JPEG process (SOF marker 0xFF${frame.marker.toString(16).toUpperCase()})`);
  }
  if (frame.precision !== 8 && frame.precision !== 12) throw new JpegDecodeError(`unsupported sample precision ${frame.precision}`);
  if (frame.width === 0 || frame.height === 0) throw new JpegDecodeError('frame has zero width or height');
  const hmax = Math.max(...frame.components.map((c) => c.h));
  const vmax = Math.max(...frame.components.map((c) => c.v));
  if (frame.components.some((c) => c.h !== hmax || c.v !== vmax)) {
    throw new JpegDecodeError('subsampled colour components are not supported by this decoder');
  }
  const mcusPerLine = Math.ceil(frame.width / (8 * hmax));
  const mcusPerColumn = Math.ceil(frame.height / (8 * vmax));
  const components = frame.components.map((c): Component => {
    const blocksPerLine = mcusPerLine * c.h;
    const blocksPerColumn = mcusPerColumn * c.v;
    return {
      ...c,
      blocksPerLine,
      blocksPerColumn,
      widthInBlocks: Math.ceil(Math.ceil((frame.width * c.h) / hmax) / 8),
      heightInBlocks: Math.ceil(Math.ceil((frame.height * c.v) / vmax) / 8),
      coefficients: new Int16Array(blocksPerLine * blocksPerColumn * 64),
      quant: undefined,
      coefBits: new Int8Array(64).fill(-1),
    };
  });
  return { frame, progressive: frame.marker === 0xc2, components, mcusPerLine, mcusPerColumn, warnings: [] };
}

/** Decodes a sequential or progressive Huffman JPEG (8- or 12-bit). Throws JpegDecodeError on bad data. */
export function decodeJpegDct(bytes: Uint8Array): JpegDecoded {
  let layout: FrameLayout | undefined;
  const state = parseMarkers(bytes, false, (st, pos) => {
    const frame = st.frame;
    if (frame === undefined) throw new JpegDecodeError('scan before frame header');
    layout ??= layoutFrame(frame);
    return decodeScan(bytes, pos, st, layout);
  });
  if (state.frame === undefined || layout === undefined) throw new JpegDecodeError('no image data (no scan)');
  return reconstruct(layout);
}

/** A block of one MCU: its component and the offset of its 64 coefficients. */
type McuBlock = readonly [Component, number];

/** Decodes the MCUs of one scan; `restart` resets the predictions at a restart marker. */
interface ScanDecoder {
  mcu(blocks: readonly McuBlock[]): void;
  restart(): void;
}

/** One scan: the header at `pos` (its length field), then entropy-coded data; returns where the next marker starts. */
function decodeScan(bytes: Uint8Array, pos: number, state: MarkerState, layout: FrameLayout): number {
  const length = u16(bytes, pos);
  const ns = bytes[pos + 2] ?? 0;
  if (ns < 1 || ns > 4 || length !== 6 + 2 * ns || pos + length > bytes.length) throw new JpegDecodeError('bad scan header');
  const scan: { component: Component; dcTable: number; acTable: number }[] = [];
  for (let i = 0; i < ns; i++) {
    const id = bytes[pos + 3 + i * 2];
    const tables = bytes[pos + 4 + i * 2] ?? 0;
    const component = layout.components.find((x) => x.id === id);
    if (component === undefined) throw new JpegDecodeError('scan refers to an unknown component');
    if (component.quant === undefined) {
      component.quant = state.quant[component.tq];
      if (component.quant === undefined) throw new JpegDecodeError(`missing quantisation table ${component.tq}`);
    }
    scan.push({ component, dcTable: tables >> 4, acTable: tables & 15 });
  }
  const params = {
    ss: bytes[pos + 3 + ns * 2] ?? 0,
    se: bytes[pos + 4 + ns * 2] ?? 0,
    ah: (bytes[pos + 5 + ns * 2] ?? 0) >> 4,
    al: (bytes[pos + 5 + ns * 2] ?? 0) & 15,
  };
  const reader = new BitReader(bytes, pos + length);
  const decoder = layout.progressive ? progressiveScan(reader, state, scan, params) : sequentialScan(reader, state, scan, params, layout.warnings);

  const interval = state.restartInterval;
  let restartsToGo = interval;
  const blocks: McuBlock[] = [];
  const nextMcu = (): void => {
    if (interval === 0) return;
    if (restartsToGo === 0) {
      reader.restart();
      decoder.restart();
      restartsToGo = interval;
    }
    restartsToGo--;
  };
  const only = scan.length === 1 ? scan[0]?.component : undefined;
  if (only !== undefined) {
    // A non-interleaved scan: one block per MCU, over the blocks that hold data.
    for (let by = 0; by < only.heightInBlocks; by++) {
      for (let bx = 0; bx < only.widthInBlocks; bx++) {
        nextMcu();
        blocks.length = 0;
        blocks.push([only, (by * only.blocksPerLine + bx) * 64]);
        decoder.mcu(blocks);
      }
    }
  } else {
    for (let my = 0; my < layout.mcusPerColumn; my++) {
      for (let mx = 0; mx < layout.mcusPerLine; mx++) {
        nextMcu();
        blocks.length = 0;
        for (const { component: c } of scan) {
          for (let v = 0; v < c.v; v++) {
            for (let h = 0; h < c.h; h++) blocks.push([c, ((my * c.v + v) * c.blocksPerLine + mx * c.h + h) * 64]);
          }
        }
        decoder.mcu(blocks);
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

interface ScanParams {
  readonly ss: number;
  readonly se: number;
  readonly ah: number;
  readonly al: number;
}

type ScanComponents = readonly { component: Component; dcTable: number; acTable: number }[];

function huffmanTable(tables: (HuffmanTable | undefined)[], index: number): HuffmanTable {
  const table = tables[index];
  if (table === undefined) throw new JpegDecodeError('scan uses an undefined Huffman table');
  return table;
}

/** jdhuff.c decode_mcu: DC difference then 63 AC coefficients per block. */
function sequentialScan(reader: BitReader, state: MarkerState, scan: ScanComponents, params: ScanParams, warnings: string[]): ScanDecoder {
  // jdhuff.c start_pass_huff_decoder only warns here, then decodes a full sequential scan.
  if (params.ss !== 0 || params.se !== 63 || params.ah !== 0 || params.al !== 0) warnings.push('Invalid SOS parameters for sequential JPEG');
  const tables = new Map(scan.map((s) => [s.component, { dc: huffmanTable(state.dc, s.dcTable), ac: huffmanTable(state.ac, s.acTable), pred: 0 }]));
  return {
    restart: () => {
      for (const t of tables.values()) t.pred = 0;
    },
    mcu: (blocks) => {
      // After running out of data, the rest of the restart interval stays as it is (zeroes).
      if (reader.insufficient) return;
      for (const [c, offset] of blocks) {
        const t = tables.get(c);
        if (t === undefined) continue;
        const coefs = c.coefficients;
        let s = reader.decode(t.dc);
        let diff = 0;
        if (s !== 0) {
          if (s > 16) throw new JpegDecodeError('corrupt DC coefficient');
          diff = extend(reader.getBits(s), s);
        }
        t.pred += diff;
        coefs[offset] = t.pred; // JCOEF is 16-bit in libjpeg: the Int16Array wraps the same way
        for (let k = 1; k < 64; k++) {
          const rs = reader.decode(t.ac);
          const r = rs >> 4;
          s = rs & 15;
          if (s !== 0) {
            k += r;
            coefs[offset + (ZIGZAG[k] ?? 63)] = extend(reader.getBits(s), s);
          } else {
            if (r !== 15) break;
            k += 15;
          }
        }
      }
    },
  };
}

/** jdphuff.c: the four kinds of progressive scan, with libjpeg's checks and progression bookkeeping. */
function progressiveScan(reader: BitReader, state: MarkerState, scan: ScanComponents, params: ScanParams): ScanDecoder {
  const { ss, se, ah, al } = params;
  const dcBand = ss === 0;
  // start_pass_phuff_decoder: these are fatal in libjpeg (JERR_BAD_PROGRESSION).
  const bad = (dcBand ? se !== 0 : ss > se || se > 63 || scan.length !== 1) || (ah !== 0 && al !== ah - 1) || al > 13;
  if (bad) throw new JpegDecodeError(`bad progressive scan parameters (Ss=${ss}, Se=${se}, Ah=${ah}, Al=${al})`);
  for (const { component } of scan) for (let k = ss; k <= se; k++) component.coefBits[k] = al;

  const preds = new Map(scan.map((s) => [s.component, 0]));
  let eobrun = 0;
  const restart = (): void => {
    for (const c of preds.keys()) preds.set(c, 0);
    eobrun = 0;
  };

  if (dcBand && ah === 0) {
    const tables = new Map(scan.map((s) => [s.component, huffmanTable(state.dc, s.dcTable)]));
    return {
      restart,
      mcu: (blocks) => {
        if (reader.insufficient) return;
        for (const [c, offset] of blocks) {
          const table = tables.get(c);
          if (table === undefined) continue;
          let s = reader.decode(table);
          if (s !== 0) {
            if (s > 16) throw new JpegDecodeError('corrupt DC coefficient');
            s = extend(reader.getBits(s), s);
          }
          const value = (preds.get(c) ?? 0) + s;
          preds.set(c, value);
          c.coefficients[offset] = value << al;
        }
      },
    };
  }
  if (dcBand) {
    // DC refinement: one bit per block; libjpeg does not check for missing data here.
    const p1 = 1 << al;
    return {
      restart,
      mcu: (blocks) => {
        for (const [c, offset] of blocks) if (reader.getBits(1) !== 0) c.coefficients[offset] = (c.coefficients[offset] ?? 0) | p1;
      },
    };
  }
  const only = scan[0];
  if (only === undefined) throw new JpegDecodeError('bad scan header');
  const table = huffmanTable(state.ac, only.acTable);
  if (ah === 0) {
    return {
      restart,
      mcu: (blocks) => {
        if (reader.insufficient) return;
        if (eobrun > 0) {
          eobrun--;
          return;
        }
        const block = blocks[0];
        if (block === undefined) return;
        const [c, offset] = block;
        for (let k = ss; k <= se; k++) {
          const rs = reader.decode(table);
          let r = rs >> 4;
          const s = rs & 15;
          if (s !== 0) {
            k += r;
            c.coefficients[offset + (ZIGZAG[k] ?? 63)] = extend(reader.getBits(s), s) << al;
          } else if (r === 15) {
            k += 15;
          } else {
            eobrun = 1 << r;
            if (r !== 0) {
              r = reader.getBits(r);
              eobrun += r;
            }
            eobrun--;
            break;
          }
        }
      },
    };
  }
  // AC refinement (successive approximation).
  const p1 = 1 << al;
  const m1 = -1 << al;
  return {
    restart,
    mcu: (blocks) => {
      if (reader.insufficient) return;
      const block = blocks[0];
      if (block === undefined) return;
      const [c, offset] = block;
      const coefs = c.coefficients;
      const refine = (at: number): void => {
        // A correction bit for an already non-zero coefficient: 1 means its magnitude grows.
        if (reader.getBits(1) !== 0) {
          const v = coefs[at] ?? 0;
          if ((v & p1) === 0) coefs[at] = v >= 0 ? v + p1 : v + m1;
        }
      };
      let k = ss;
      if (eobrun === 0) {
        for (; k <= se; k++) {
          const rs = reader.decode(table);
          let r = rs >> 4;
          let s = rs & 15;
          if (s !== 0) {
            // The size of a newly non-zero coefficient is always 1 (libjpeg warns otherwise).
            s = reader.getBits(1) !== 0 ? p1 : m1;
          } else if (r !== 15) {
            eobrun = 1 << r;
            if (r !== 0) eobrun += reader.getBits(r);
            break;
          }
          // Skip r zero coefficients (and the non-zero ones between them, refining each).
          do {
            const at = offset + (ZIGZAG[k] ?? 63);
            if ((coefs[at] ?? 0) !== 0) refine(at);
            else if (--r < 0) break;
            k++;
          } while (k <= se);
          if (s !== 0) coefs[offset + (ZIGZAG[k] ?? 63)] = s;
        }
      }
      if (eobrun > 0) {
        for (; k <= se; k++) {
          const at = offset + (ZIGZAG[k] ?? 63);
          if ((coefs[at] ?? 0) !== 0) refine(at);
        }
        eobrun--;
      }
    },
  };
}

/** Inverse DCT of every block (with libjpeg's block smoothing where it applies) into interleaved samples. */
function reconstruct(layout: FrameLayout): JpegDecoded {
  const { frame, components, progressive, warnings } = layout;
  const { width, height, precision } = frame;
  const n = components.length;
  const out = new Uint16Array(width * height * n);
  const block = new Int32Array(64);
  const smoothing = progressive && smoothingUseful(components);
  const workspace = new Int16Array(64);
  const unscanned = new Uint16Array(64); // libjpeg's zeroed multiplier table: a component no scan reached is mid-grey
  for (let ci = 0; ci < n; ci++) {
    const c = components[ci];
    if (c === undefined) continue;
    const q = c.quant ?? unscanned;
    for (let by = 0; by < c.heightInBlocks; by++) {
      for (let bx = 0; bx < c.widthInBlocks; bx++) {
        const offset = (by * c.blocksPerLine + bx) * 64;
        if (smoothing) {
          workspace.set(c.coefficients.subarray(offset, offset + 64));
          smoothBlock(c, bx, by, workspace);
          idctIslow(workspace, 0, q, precision, block);
        } else {
          idctIslow(c.coefficients, offset, q, precision, block);
        }
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
  return { width, height, precision, componentCount: n, data: out, progressive, warnings };
}

/** Natural-order positions of the first five AC coefficients in zigzag order (jdcoefct.c Q01_POS ...). */
const SMOOTHED = [1, 8, 16, 9, 2] as const;

/**
 * jdcoefct.c smoothing_ok: smoothing applies when every component's DC is
 * at least partly known, its first quantisers are non-zero, and some of the
 * first five AC coefficients are not known to full precision (a progressive
 * stream that ended before its last scans).
 */
function smoothingUseful(components: readonly Component[]): boolean {
  let useful = false;
  for (const c of components) {
    const q = c.quant;
    if (q === undefined || q[0] === 0 || SMOOTHED.some((pos) => q[pos] === 0)) return false;
    if ((c.coefBits[0] ?? -1) < 0) return false;
    for (let k = 1; k <= 5; k++) if (c.coefBits[k] !== 0) useful = true;
  }
  return useful;
}

/**
 * jdcoefct.c decompress_smooth_data for one block (T.81 K.8): estimates the
 * first five AC coefficients from the DC values of the block and its eight
 * neighbours (edges repeat), where a coefficient is still zero and not
 * known exactly.
 */
function smoothBlock(c: Component, bx: number, by: number, ws: Int16Array): void {
  const q = c.quant;
  if (q === undefined) return;
  const dc = (x: number, y: number): number => {
    const cx = Math.min(Math.max(x, 0), c.widthInBlocks - 1);
    const cy = Math.min(Math.max(y, 0), c.heightInBlocks - 1);
    return c.coefficients[(cy * c.blocksPerLine + cx) * 64] ?? 0;
  };
  const dc1 = dc(bx - 1, by - 1);
  const dc2 = dc(bx, by - 1);
  const dc3 = dc(bx + 1, by - 1);
  const dc4 = dc(bx - 1, by);
  const dc5 = dc(bx, by);
  const dc6 = dc(bx + 1, by);
  const dc7 = dc(bx - 1, by + 1);
  const dc8 = dc(bx, by + 1);
  const dc9 = dc(bx + 1, by + 1);
  const q00 = q[0] ?? 0;
  const estimates = [
    36 * q00 * (dc4 - dc6),
    36 * q00 * (dc2 - dc8),
    9 * q00 * (dc2 + dc8 - 2 * dc5),
    5 * q00 * (dc1 - dc3 - dc7 + dc9),
    9 * q00 * (dc4 + dc6 - 2 * dc5),
  ];
  for (let i = 0; i < 5; i++) {
    const pos = SMOOTHED[i] ?? 0;
    const al = c.coefBits[i + 1] ?? 0;
    if (al === 0 || ws[pos] !== 0) continue;
    const qk = q[pos] ?? 1;
    const num = estimates[i] ?? 0;
    // Integer division of non-negative values, as C does it; the sign is applied afterwards.
    let pred = Math.floor(((qk << 7) + Math.abs(num)) / (qk << 8));
    if (al > 0 && pred >= 1 << al) pred = (1 << al) - 1;
    ws[pos] = num >= 0 ? pred : -pred;
  }
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
