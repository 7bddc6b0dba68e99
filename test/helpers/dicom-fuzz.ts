/**
 * Mutation fuzzing of the DICOM path (parse, inspect, classify, size check,
 * decode, display), shared by the bounded CI test and the longer bench.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { FoveaException } from '../../electron/contract/result';
import { checkDeclaredSize, classifyDicom, decodeFrame, inspectDicom, modalityValues, parseDicom, readImageInfo, toDisplay } from '../../electron/core/dicom';
import { keepScans, TESTDATA_DICOM, writeBigEndianFiles, writeDamagedSizFile, writeJ2kClassFiles, writeSegmentedPaletteFiles, zeroScanHeaders } from './decoding-classes';
import { runTool } from './reference-tools';


/** mulberry32: a small seeded generator, so failures reproduce. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Everything a file goes through on import and display. */
export async function exercise(bytes: Uint8Array): Promise<void> {
  const parsed = parseDicom(bytes);
  inspectDicom(parsed);
  if (classifyDicom(parsed).kind !== 'image') return;
  const info = readImageInfo(parsed);
  if (info === null) return;
  checkDeclaredSize(info, bytes.length);
  for (let f = 0; f < Math.min(2, info.numberOfFrames); f++) {
    const frame = await decodeFrame(parsed, f, { info });
    toDisplay(frame, info);
    modalityValues(frame, info);
  }
}

export const FUZZ_FILES = [
  'pydicom/CT_small.dcm',
  'pydicom/MR_small_implicit.dcm',
  'pydicom/MR_small_bigendian.dcm',
  'pydicom/MR_small_RLE.dcm',
  'pydicom/SC_rgb_rle.dcm',
  'pydicom/JPGExtended.dcm',
  'pydicom/SC_rgb_jpeg_dcmtk.dcm',
  'pydicom/MR_small_jpeg_ls_lossless.dcm',
  'pydicom/MR_small_jp2klossless.dcm',
  'pydicom/examples_palette.dcm',
  'pydicom/image_dfl.dcm',
  'pydicom/test-SR.dcm',
  'pydicom/rtdose.dcm',
  'pydicom/dicomdirtests/DICOMDIR-implicit',
  'pydicom-data/JPEG-LL.dcm',
  'pydicom-data/HTJ2K_08_RGB.dcm',
];

/** A fuzz input: where it came from and its bytes. */
export interface FuzzOriginal {
  name: string;
  bytes: Uint8Array;
}

export function sharedFuzzFiles(): FuzzOriginal[] {
  return FUZZ_FILES.map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(join(TESTDATA_DICOM, f))) }));
}

/**
 * The classes of issue 17, generated into `dir` (decoding-classes.ts):
 * progressive and spectral-selection JPEG (8 and 12 bit, cut after its first
 * scans), a sequential JPEG with zeroed scan headers, JPEG 2000 with
 * delimiter look-alikes across fragments and the damaged-SIZ file,
 * segmented palettes, big-endian OW with odd byte counts.
 */
export async function generatedFuzzFiles(dir: string): Promise<FuzzOriginal[]> {
  const paths: string[] = [];
  const jpeg = (name: string, args: string[], source: string, patch?: (b: Uint8Array) => Uint8Array): void => {
    const path = join(dir, `${name}.dcm`);
    runTool('dcmcjpeg', [...args, join(TESTDATA_DICOM, source), path]);
    if (patch) writeFileSync(path, patch(new Uint8Array(readFileSync(path))));
    paths.push(path);
  };
  jpeg('jpeg-progressive-12bit', ['+ep'], 'pydicom/MR_small.dcm');
  jpeg('jpeg-spectral-12bit', ['+es'], 'pydicom/MR_small.dcm');
  jpeg('jpeg-progressive-12bit-first-4-scans', ['+ep'], 'pydicom/MR_small.dcm', (b) => keepScans(b, 4));
  jpeg('jpeg-progressive-8bit-grey', ['+ep', '+Wm', '+be'], 'pydicom/CT_small.dcm');
  jpeg('jpeg-extended-12bit-scan-header-zeroed', ['+ee'], 'pydicom/CT_small.dcm', zeroScanHeaders);
  paths.push(...(await writeJ2kClassFiles(dir)).filter((f) => !f.name.endsWith('-bot')).map((f) => f.path), writeDamagedSizFile(dir));
  paths.push(...writeSegmentedPaletteFiles(dir).map((f) => f.path));
  paths.push(...writeBigEndianFiles(dir).map((f) => f.path));
  return paths.map((p) => ({ name: `generated/${basename(p)}`, bytes: new Uint8Array(readFileSync(p)) }));
}

/** A truncation, or a few flipped bytes (half the time in the header, where lengths and VRs live). */
export function mutate(original: Uint8Array, rnd: () => number): Uint8Array {
  let bytes = original.slice();
  const mode = rnd();
  if (mode < 0.35) return bytes.slice(0, Math.floor(rnd() * bytes.length));
  const flips = 1 + Math.floor(rnd() * 8);
  const span = rnd() < 0.5 ? Math.min(bytes.length, 1500) : bytes.length;
  for (let k = 0; k < flips; k++) bytes[Math.floor(rnd() * span)] = Math.floor(rnd() * 256);
  if (mode > 0.85) bytes = bytes.slice(0, Math.floor(bytes.length * (0.5 + rnd() / 2)));
  return bytes;
}

/** Only FoveaException with an input code is an acceptable failure. */
export function isExpectedRejection(e: unknown): e is FoveaException {
  return e instanceof FoveaException && ['BAD_INPUT', 'TOO_LARGE', 'UNSUPPORTED'].includes(e.code);
}
