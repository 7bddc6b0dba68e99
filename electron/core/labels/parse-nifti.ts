/**
 * NIfTI label volumes (.nii, .nii.gz; NIfTI-1 or NIfTI-2, read with nifti-reader-js) to the
 * intermediate form: one ParsedLabelVolume per file, placed in the patient by its affine, for the
 * importer to lay onto the dataset's DICOM slices (core/import/volume-label-matcher.ts). Nothing
 * is matched by file name: a NIfTI volume knows where it lies, not which files it came from.
 *
 * - The affine is the one nibabel would use: sform when sform_code > 0 and not below qform_code,
 *   else qform when qform_code > 0. Volumes with neither (codes 0) have no position and cannot be
 *   placed: they are reported and skipped.
 * - Voxel values are class indices (0 = background): integer types as stored, float types when
 *   every value is a whole number, scl_slope/scl_inter applied when set. 3D only (a 4th
 *   dimension of 1 is fine).
 * - Class map, first found wins: options.classes; classes.json / class_map.json / labelmap.json /
 *   classes.txt beside the file or up to two folders above it (what `fovea export --format nifti`
 *   writes); else classes are named by their value, with a warning. Values whose class is named
 *   background / unlabelled / void / ..., and options.ignoreValues, are not labels.
 * - Gzip is inflated here with a ceiling on the output (a gzip bomb is refused, not allocated).
 */
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as nifti from 'nifti-reader-js';
import { FoveaException } from '../../contract/result';
import {
  isDirectory,
  LABEL_LIMITS,
  readFileBounded,
  readTextBounded,
  throwIfAborted,
  walkFiles,
  WarningSink,
  type ParsedLabelFile,
  type ParsedLabelVolume,
  type ParseLabelOptions,
} from './label-types';
import { isBackgroundName } from './class-names';
import { classMapFromOption, findClassMap } from './parse-masks';

/** Compressed file size read at most. */
const MAX_FILE_BYTES = 512 * 1024 * 1024;
/** Inflated size allowed (header + up to maxMaskPixels float32 voxels). */
const MAX_INFLATED_BYTES = 1024 + LABEL_LIMITS.maxMaskPixels * 4;

export function isNiftiName(name: string): boolean {
  const n = name.toLowerCase();
  return n.endsWith('.nii') || n.endsWith('.nii.gz');
}

export async function parseNifti(path: string, options: ParseLabelOptions = {}): Promise<ParsedLabelFile> {
  const warn = new WarningSink();
  const folder = await isDirectory(path);
  const dir = folder ? path : dirname(path);
  const files = folder ? await walkFiles(path, isNiftiName, { recursive: true, signal: options.signal }) : [path.slice(dir.length + 1)];
  if (files.length === 0) warn.add(`No NIfTI files (.nii, .nii.gz) found in ${path}.`);
  const classMap = options.classes ? classMapFromOption(options.classes) : await findClassMap(dir, warn);
  const ignore = new Set(options.ignoreValues ?? []);
  const volumes: ParsedLabelVolume[] = [];
  const sidecars = new Map<string, Map<string, string>>();
  const seen = new Set<number>();
  let done = 0;
  for (const rel of files) {
    throwIfAborted(options.signal);
    try {
      const vol = await readNiftiVolume(join(dir, rel), rel, warn);
      if (vol) {
        const classes = new Map<number, string>();
        const present = new Set<number>();
        for (const v of vol.values) if (v !== 0) present.add(v);
        for (const v of [...present].sort((a, b) => a - b)) {
          if (ignore.has(v)) continue;
          const name = classMap ? classMap.get(v) : String(v);
          if (name === undefined) {
            warn.add(`${rel}: value ${v} is not in the class map; its voxels are not imported.`);
            continue;
          }
          if (isBackgroundName(name)) continue;
          classes.set(v, name);
          seen.add(v);
        }
        const key = (await sidecarKeys(dirname(join(dir, rel)), sidecars)).get(basename(rel));
        volumes.push({ ...vol, classes, ...(key ? { seriesKey: key } : {}) });
      }
    } catch (e) {
      if (!(e instanceof FoveaException) || !['BAD_INPUT', 'UNSUPPORTED', 'TOO_LARGE'].includes(e.code)) throw e;
      warn.add(`${rel}: ${e.message} Skipped.`);
    }
    options.onProgress?.(++done, files.length);
  }
  const classes: string[] = [];
  for (const v of [...seen].sort((a, b) => a - b)) {
    const n = classMap ? (classMap.get(v) as string) : String(v);
    if (!classes.includes(n)) classes.push(n);
  }
  if (!classMap && seen.size > 0) warn.add('No class map found (classes.json beside the volumes): classes are named by their voxel value.');
  return { format: 'nifti', classes, images: [], volumes, warnings: warn.done() };
}

/**
 * File name -> series key from a volumes.json beside the files (written by Fovea's NIfTI
 * export); empty when there is none or it cannot be read (matching then goes by position only).
 */
async function sidecarKeys(folder: string, cache: Map<string, Map<string, string>>): Promise<Map<string, string>> {
  let keys = cache.get(folder);
  if (keys) return keys;
  keys = new Map();
  cache.set(folder, keys);
  try {
    const doc = JSON.parse(await readTextBounded(join(folder, 'volumes.json'))) as { volumes?: { file?: unknown; seriesKey?: unknown }[] };
    for (const v of Array.isArray(doc.volumes) ? doc.volumes : []) {
      if (typeof v.file === 'string' && typeof v.seriesKey === 'string' && /^sha256:[0-9a-f]{64}$/.test(v.seriesKey)) keys.set(basename(v.file), v.seriesKey);
    }
  } catch {
    // No sidecar (or not ours): position alone decides.
  }
  return keys;
}

function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** One NIfTI file as a label volume (classes still empty), or null with a warning when it cannot be placed. */
export async function readNiftiVolume(full: string, name: string, warn: WarningSink): Promise<Omit<ParsedLabelVolume, 'classes'> | null> {
  let bytes: Uint8Array = await readFileBounded(full, MAX_FILE_BYTES);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: MAX_INFLATED_BYTES });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
        throw new FoveaException('TOO_LARGE', `it inflates to more than ${MAX_INFLATED_BYTES} bytes.`);
      }
      throw new FoveaException('BAD_INPUT', `it is not valid gzip (${(e as Error).message}).`);
    }
  }
  const data = toArrayBuffer(bytes);
  if (!nifti.isNIFTI(data)) throw new FoveaException('BAD_INPUT', 'it is not a NIfTI-1 or NIfTI-2 single file (.hdr/.img pairs are not read).');
  let header: nifti.NIFTI1 | nifti.NIFTI2;
  try {
    header = nifti.readHeader(data);
  } catch (e) {
    throw new FoveaException('BAD_INPUT', `its header cannot be read (${(e as Error).message}).`);
  }
  const dims = header.dims;
  const nd = dims[0] ?? 0;
  const [nx = 0, ny = 1, nz = 1] = [dims[1], nd >= 2 ? dims[2] : 1, nd >= 3 ? dims[3] : 1];
  for (let d = 4; d <= Math.min(7, nd); d++) {
    if ((dims[d] ?? 1) > 1) throw new FoveaException('UNSUPPORTED', `it has ${nd} dimensions (${dims.slice(1, nd + 1).join('x')}); label volumes are 3D.`);
  }
  if (![nx, ny, nz].every((n) => Number.isInteger(n) && n >= 1)) throw new FoveaException('BAD_INPUT', `its dimensions ${dims.slice(1, 4).join('x')} are not valid.`);
  const count = nx * ny * nz;
  if (count > LABEL_LIMITS.maxMaskPixels) throw new FoveaException('TOO_LARGE', `${nx}x${ny}x${nz} voxels is more than Fovea reads (${LABEL_LIMITS.maxMaskPixels}).`);
  if (header.qform_code <= 0 && header.sform_code <= 0) {
    warn.add(`${name}: the volume has no position in the patient (qform_code and sform_code are 0), so it cannot be laid onto DICOM slices; skipped.`);
    return null;
  }
  const bytesPer = header.numBitsPerVoxel / 8;
  const offset = Math.round(header.vox_offset);
  if (!Number.isInteger(bytesPer) || offset < 0 || offset + count * bytesPer > data.byteLength) {
    throw new FoveaException('BAD_INPUT', `it is truncated or its header is inconsistent (${count} voxels of ${header.numBitsPerVoxel} bits from byte ${offset}, file ${data.byteLength} bytes).`);
  }
  const view = new DataView(data, offset, count * bytesPer);
  const le = header.littleEndian;
  const read = readerFor(header.datatypeCode, view, le);
  if (!read) throw new FoveaException('UNSUPPORTED', `its data type (${header.getDatatypeCodeString(header.datatypeCode)}) is not a label type (integers, or floats holding whole numbers).`);
  const slope = Number.isFinite(header.scl_slope) && header.scl_slope !== 0 ? header.scl_slope : 1;
  const inter = Number.isFinite(header.scl_inter) && header.scl_slope !== 0 ? header.scl_inter : 0;
  const values = new Uint16Array(count);
  let bad = 0;
  let max = 0;
  for (let i = 0; i < count; i++) {
    const v = read(i) * slope + inter;
    const r = Math.round(v);
    if (!Number.isFinite(v) || Math.abs(v - r) > 1e-3 || r < 0 || r > 65535) {
      bad++;
      continue;
    }
    values[i] = r;
    if (r > max) max = r;
  }
  if (bad > 0) warn.add(`${name}: ${bad} voxel(s) hold values that are not class indices (whole numbers 0..65535); they are treated as background.`);
  const A = affineOf(header);
  // RAS (NIfTI) -> LPS (DICOM): negate the x and y rows.
  const voxelToLps = [0, 1, 2, 3].map((r) => [0, 1, 2, 3].map((c) => (r < 2 ? -1 : 1) * Number(A[r]?.[c] ?? (r === c ? 1 : 0))));
  voxelToLps[3] = [0, 0, 0, 1];
  return { fileName: name, dims: [nx, ny, nz], values: max <= 255 ? Uint8Array.from(values) : values, voxelToLps };
}

/**
 * The voxel -> RAS affine as nibabel chooses it: the sform when sform_code > 0 and not below
 * qform_code, else the qform. The qform is computed here rather than taken from nifti-reader-js,
 * which gives NaN when float32 rounding puts b² + c² + d² just above 1 (a 180° rotation; such
 * files are common): a is then 0, as nifti1_io and nibabel read it.
 */
function affineOf(header: nifti.NIFTI1 | nifti.NIFTI2): number[][] {
  if (header.sform_code > 0 && header.sform_code >= header.qform_code) return header.affine;
  let [b, c, d] = [header.quatern_b, header.quatern_c, header.quatern_d];
  const sum = b * b + c * c + d * d;
  let a = 0;
  if (1 - sum < 1e-7) {
    const s = 1 / Math.sqrt(sum);
    [b, c, d] = [b * s, c * s, d * s];
  } else a = Math.sqrt(1 - sum);
  const R = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
  const qfac = header.pixDims[0] === -1 ? -1 : 1;
  const dx = [header.pixDims[1] ?? 1, header.pixDims[2] ?? 1, (header.pixDims[3] ?? 1) * qfac].map((v) => (v > 0 || v < 0 ? v : 1));
  const off = [header.qoffset_x, header.qoffset_y, header.qoffset_z];
  return [
    ...R.map((row, i) => [row[0]! * dx[0]!, row[1]! * dx[1]!, row[2]! * dx[2]!, off[i] ?? 0]),
    [0, 0, 0, 1],
  ];
}

function readerFor(code: number, view: DataView, le: boolean): ((i: number) => number) | null {
  switch (code) {
    case 2:
      return (i) => view.getUint8(i);
    case 256:
      return (i) => view.getInt8(i);
    case 4:
      return (i) => view.getInt16(i * 2, le);
    case 512:
      return (i) => view.getUint16(i * 2, le);
    case 8:
      return (i) => view.getInt32(i * 4, le);
    case 768:
      return (i) => view.getUint32(i * 4, le);
    case 16:
      return (i) => view.getFloat32(i * 4, le);
    case 64:
      return (i) => view.getFloat64(i * 8, le);
    case 1024:
      return (i) => Number(view.getBigInt64(i * 8, le));
    case 1280:
      return (i) => Number(view.getBigUint64(i * 8, le));
    default:
      return null;
  }
}
