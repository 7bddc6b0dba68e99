/**
 * `fovea inspect FILE --json`: every DICOM attribute keyed by tag, with VR and value.
 * `fovea pixels FILE --frame N --out F.bin --json`: the stored values of one frame after
 * decompression and before any LUT, little-endian, samples interleaved, and a JSON
 * description {rows, columns, samplesPerPixel, dtype, shape, photometric, transferSyntax}.
 * Both use the same decoder as import, display and training.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { FoveaException } from '../../contract/result';
import { decodeFrame, inspectDicom, parseDicom, readImageInfo } from '../../core/dicom';
import type { CliContext } from '../cli-context';
import { EXIT_OK, UsageError } from '../cli-context';

export const inspectHelp = 'fovea inspect FILE --json            DICOM attributes as JSON keyed by tag (VR and value)';
export const pixelsHelp = 'fovea pixels FILE --frame N --out F.bin --json   one frame\'s stored values (little-endian) and its description';
export const pixelsOptions = { frame: { type: 'string', default: '0' }, out: { type: 'string' } } as const;

function readFile(path: string): Uint8Array {
  try {
    return readFileSync(resolve(path));
  } catch (e) {
    throw new FoveaException('IO', `Cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export function runInspect(ctx: CliContext, positionals: string[]): number {
  const [file] = positionals;
  if (!file || positionals.length > 1) throw new UsageError('give exactly one DICOM file');
  const parsed = parseDicom(readFile(file));
  const attrs = inspectDicom(parsed);
  if (ctx.json) ctx.jsonLine(attrs);
  else for (const [tag, a] of Object.entries(attrs)) ctx.out(`(${tag.slice(0, 4)},${tag.slice(4)}) ${a.vr} ${JSON.stringify(a.value).slice(0, 200)}`);
  return EXIT_OK;
}

export async function runPixels(ctx: CliContext, positionals: string[], values: Record<string, unknown>): Promise<number> {
  const [file] = positionals;
  if (!file || positionals.length > 1) throw new UsageError('give exactly one DICOM file');
  const out = values['out'] as string | undefined;
  if (!out) throw new UsageError('--out F.bin is required');
  const frameIndex = Number(values['frame']);
  if (!Number.isInteger(frameIndex) || frameIndex < 0) throw new UsageError('--frame must be a whole number from 0');
  const parsed = parseDicom(readFile(file));
  const info = readImageInfo(parsed);
  if (!info) throw new FoveaException('UNSUPPORTED', `${file} has no pixel data.`);
  if (frameIndex >= info.numberOfFrames) throw new UsageError(`--frame ${frameIndex} is out of range: the file has ${info.numberOfFrames} frame(s), numbered from 0`);
  const frame = await decodeFrame(parsed, frameIndex, { info });
  const data = frame.data;
  const bytes = new Uint8Array(data.byteLength);
  const view = new DataView(bytes.buffer);
  // Write little-endian explicitly, whatever the host's byte order.
  const width = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    const o = i * width;
    switch (frame.dtype) {
      case 'uint8': view.setUint8(o, v); break;
      case 'int8': view.setInt8(o, v); break;
      case 'uint16': view.setUint16(o, v, true); break;
      case 'int16': view.setInt16(o, v, true); break;
      case 'uint32': view.setUint32(o, v, true); break;
      case 'int32': view.setInt32(o, v, true); break;
      case 'float32': view.setFloat32(o, v, true); break;
      case 'float64': view.setFloat64(o, v, true); break;
    }
  }
  writeFileSync(resolve(out), bytes);
  const shape = frame.samplesPerPixel > 1 ? [frame.rows, frame.columns, frame.samplesPerPixel] : [frame.rows, frame.columns];
  const description = {
    rows: frame.rows,
    columns: frame.columns,
    samplesPerPixel: frame.samplesPerPixel,
    dtype: frame.dtype,
    shape,
    photometric: frame.photometric,
    transferSyntax: info.transferSyntaxUid,
    frame: frameIndex,
    frames: info.numberOfFrames,
    bytes: bytes.length,
  };
  if (ctx.json) ctx.jsonLine(description);
  else ctx.out(`Wrote ${bytes.length} bytes (${frame.dtype} ${shape.join('x')}, ${frame.photometric}) to ${out}`);
  return EXIT_OK;
}
