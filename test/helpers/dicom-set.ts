/**
 * A set of N distinct DICOM files made from the shared test files (read in
 * place, written to a temp folder, never into the repo): copy k of a file
 * gets new SOP Instance UIDs (same length, so no other byte moves).
 */
import dicomParser from 'dicom-parser';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED_TESTDATA } from './paths';

/** Importable images across transfer syntaxes (uncompressed, RLE, JPEG-LS, JPEG 2000, deflated, big endian). */
export const SET_SOURCES = [
  'dicom/pydicom/CT_small.dcm',
  'dicom/pydicom/MR_small.dcm',
  'dicom/pydicom/MR_small_RLE.dcm',
  'dicom/pydicom/MR_small_jpeg_ls_lossless.dcm',
  'dicom/pydicom/MR_small_jp2klossless.dcm',
  'dicom/pydicom/SC_rgb_rle.dcm',
  'dicom/dicomParser/CT1_UNC.explicit_little_endian.dcm',
  'dicom/dicomParser/CT1_UNC.fragmented_bot_jpeg_ls.80.dcm',
  'dicom/pydicom-data/emri_small.dcm',
  'dicom/pydicom-data/US1_UNCR.dcm',
];

function rewriteUid(bytes: Uint8Array, el: { dataOffset: number; length: number } | undefined, k: number): void {
  if (!el || el.length < 12) return;
  // Replace the last digits with k (zero-padded), keeping the length; strip a trailing NUL pad.
  let end = el.dataOffset + el.length;
  while (end > el.dataOffset && (bytes[end - 1] === 0 || bytes[end - 1] === 0x20)) end--;
  const digits = String(k).padStart(8, '0');
  for (let i = 0; i < digits.length; i++) bytes[end - digits.length + i] = digits.charCodeAt(i);
}

/** Write `count` distinct files into `dir`; returns their paths and total bytes. */
export function makeDicomSet(dir: string, count: number): { paths: string[]; bytes: number } {
  mkdirSync(dir, { recursive: true });
  const sources = SET_SOURCES.map((p) => new Uint8Array(readFileSync(join(SHARED_TESTDATA, p))));
  const paths: string[] = [];
  let bytes = 0;
  for (let k = 0; k < count; k++) {
    const src = sources[k % sources.length] as Uint8Array;
    const copy = new Uint8Array(src);
    const ds = dicomParser.parseDicom(copy, { untilTag: 'x7fe00010' });
    // A distinct number per copy: k * 16 + source index keeps copies of different sources apart.
    rewriteUid(copy, ds.elements['x00080018'], k + 1);
    rewriteUid(copy, ds.elements['x00020003'], k + 1);
    const p = join(dir, `${String(k).padStart(5, '0')}.dcm`);
    writeFileSync(p, copy);
    paths.push(p);
    bytes += copy.length;
  }
  return { paths, bytes };
}
