import type { PixelCodec } from './transfer-syntax';

/**
 * The third-party pixel codecs: the cornerstone emscripten builds (libjpeg-turbo
 * 8-bit, CharLS, OpenJPEG, OpenJPH) and the pure-JS JPEG lossless decoder.
 *
 * Each module is loaded on first need and kept: instantiating a wasm module
 * costs 6-16 ms, a decode far less. The specifiers are passed to import() as
 * variables so that bundlers leave these CommonJS/wasm packages external
 * (their .wasm files are found beside their JS at run time).
 *
 * A wasm module that aborted (a corrupt codestream can make a C++ decoder
 * call abort()) is unusable afterwards, so any failure drops the cached
 * instance and the next decode instantiates a fresh one.
 */

/** What every cornerstone decoder class has (the subset we use). */
export interface WasmFrameDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned?: boolean };
  readHeader?(): void;
  getInterleaveMode?(): number;
  delete(): void;
}

type DecoderConstructor = new () => WasmFrameDecoder;

export interface LosslessJpegDecoder {
  decode(buffer: ArrayBuffer, offset: number, length: number, numBytes?: number): Uint8Array | Uint16Array;
}

interface LoadedWasm {
  decoder: DecoderConstructor;
  /** Lines the module printed to stderr during the last decode (its error text). */
  errors: string[];
}

export type WasmCodecName = 'libjpeg-turbo' | 'charls' | 'openjpeg' | 'openjph';

const WASM_SOURCES: Readonly<Record<WasmCodecName, { specifier: string; className: string }>> = {
  'libjpeg-turbo': { specifier: '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs', className: 'JPEGDecoder' },
  charls: { specifier: '@cornerstonejs/codec-charls/decodewasmjs', className: 'JpegLSDecoder' },
  openjpeg: { specifier: '@cornerstonejs/codec-openjpeg/decodewasmjs', className: 'J2KDecoder' },
  openjph: { specifier: '@cornerstonejs/codec-openjph/wasmjs', className: 'HTJ2KDecoder' },
};

const loaded = new Map<WasmCodecName, LoadedWasm>();
const loading = new Map<WasmCodecName, Promise<LoadedWasm>>();
let lossless: (new () => LosslessJpegDecoder) | undefined;

async function importModule(specifier: string): Promise<unknown> {
  const mod: unknown = await import(specifier);
  if (typeof mod === 'object' && mod !== null && 'default' in mod) return (mod as { default: unknown }).default;
  return mod;
}

export async function loadWasmCodec(name: WasmCodecName): Promise<LoadedWasm> {
  const ready = loaded.get(name);
  if (ready !== undefined) return ready;
  let pending = loading.get(name);
  if (pending === undefined) {
    pending = (async () => {
      const source = WASM_SOURCES[name];
      const factory = (await importModule(source.specifier)) as (overrides: object) => Promise<Record<string, unknown>>;
      const errors: string[] = [];
      const instance = await factory({
        // Keep codec chatter out of the app's stdout; keep it for error messages.
        print: () => undefined,
        printErr: (line: string) => {
          errors.push(line);
          if (errors.length > 20) errors.shift();
        },
      });
      const decoder = instance[source.className] as DecoderConstructor | undefined;
      if (typeof decoder !== 'function') throw new Error(`${source.specifier} has no ${source.className}`);
      const result = { decoder, errors };
      loaded.set(name, result);
      return result;
    })();
    loading.set(name, pending);
    pending.catch(() => undefined).finally(() => loading.delete(name));
  }
  return pending;
}

export function loadedWasmCodec(name: WasmCodecName): LoadedWasm | undefined {
  return loaded.get(name);
}

/** Forget an instance after a failure (an aborted wasm module stays broken). */
export function discardWasmCodec(name: WasmCodecName): void {
  loaded.delete(name);
}

export async function loadLosslessJpeg(): Promise<new () => LosslessJpegDecoder> {
  if (lossless === undefined) {
    const mod = (await import('jpeg-lossless-decoder-js' as string)) as { Decoder?: new () => LosslessJpegDecoder; default?: { Decoder?: new () => LosslessJpegDecoder } };
    const ctor = mod.Decoder ?? mod.default?.Decoder;
    if (ctor === undefined) throw new Error('jpeg-lossless-decoder-js has no Decoder export');
    lossless = ctor;
  }
  return lossless;
}

export function loadedLosslessJpeg(): (new () => LosslessJpegDecoder) | undefined {
  return lossless;
}

/** The modules a codec family needs. */
export function wasmCodecsFor(codec: PixelCodec): WasmCodecName[] {
  switch (codec) {
    case 'jpeg-baseline':
    case 'jpeg-lossless':
      // 8-bit DCT frames go to libjpeg-turbo (12-bit ones to our own decoder,
      // lossless ones to the JS decoder); loaded for any JPEG file because
      // the frame's SOF, not the transfer syntax or BitsAllocated, decides.
      return ['libjpeg-turbo'];
    case 'jpeg-ls':
      return ['charls'];
    case 'jpeg2000':
      return ['openjpeg'];
    case 'htj2k':
      return ['openjpeg', 'openjph'];
    default:
      return [];
  }
}

export interface WasmDecodeResult {
  data: Uint8Array;
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned: boolean | undefined;
  /** CharLS only: 0 = planar (ILV_NONE), 1 = line, 2 = sample interleaved. */
  interleaveMode: number | undefined;
}

/**
 * Runs one wasm decode and copies the result out of wasm memory (the view
 * is invalidated by the next decode or by memory growth).
 */
export function runWasmDecode(
  name: WasmCodecName,
  encoded: Uint8Array,
): WasmDecodeResult {
  const codec = loaded.get(name);
  if (codec === undefined) throw new Error(`codec ${name} is not loaded`);
  codec.errors.length = 0;
  let decoder: WasmFrameDecoder | undefined;
  try {
    decoder = new codec.decoder();
    const input = decoder.getEncodedBuffer(encoded.length);
    input.set(encoded);
    decoder.decode();
    const info = decoder.getFrameInfo();
    const view = decoder.getDecodedBuffer();
    const data = new Uint8Array(view.length);
    data.set(view);
    return {
      data,
      width: info.width,
      height: info.height,
      bitsPerSample: info.bitsPerSample,
      componentCount: info.componentCount,
      isSigned: info.isSigned,
      interleaveMode: typeof decoder.getInterleaveMode === 'function' ? decoder.getInterleaveMode() : undefined,
    };
  } catch (e) {
    discardWasmCodec(name);
    const detail = codec.errors.filter((l) => l.trim() !== '').slice(-3).join(' ');
    // C++ exceptions arrive as bare numbers (pointers): say what they mean instead.
    const base = e instanceof Error ? e.message : typeof e === 'number' ? 'the codec rejected the compressed data' : String(e);
    throw new Error(detail !== '' ? `${base} (${detail})` : base, { cause: e });
  } finally {
    try {
      decoder?.delete();
    } catch {
      // The module may have aborted; it is discarded above.
    }
  }
}
