/**
 * PneumoniaMNIST (MedMNIST v2, CC BY 4.0) from ../shared/testdata, read in
 * place and converted by this test script into what a user would import: one
 * 28x28 greyscale PNG per image, a `filename,label` CSV, and the dataset's
 * own train/val/test split per file.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import sharp from 'sharp';
import { SHARED_TESTDATA } from './paths';

export const PNEUMONIA_NPZ = join(SHARED_TESTDATA, 'medical-train', 'pneumoniamnist.npz');
export const PNEUMONIA_CLASSES = ['normal', 'pneumonia'];

/** A .npy array of uint8 (the only dtype this file uses). */
function readNpyUint8(bytes: Uint8Array): { shape: number[]; data: Uint8Array } {
  const magic = String.fromCharCode(...bytes.subarray(1, 6));
  if (bytes[0] !== 0x93 || magic !== 'NUMPY') throw new Error('not a .npy file');
  const major = bytes[6] ?? 1;
  const headerLen = major === 1 ? (bytes[8] ?? 0) | ((bytes[9] ?? 0) << 8) : new DataView(bytes.buffer, bytes.byteOffset + 8, 4).getUint32(0, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  if (!/'descr':\s*'\|u1'/.test(header) || /'fortran_order':\s*True/.test(header)) throw new Error(`unexpected npy header ${header}`);
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  return { shape, data: bytes.subarray(start + headerLen) };
}

export interface PneumoniaFiles {
  imagesDir: string;
  labelsCsv: string;
  /** file name -> the dataset's split */
  split: Map<string, 'train' | 'val' | 'test'>;
  counts: Record<'train' | 'val' | 'test', number>;
}

/** Write up to `limit` images per split (all by default) into `dir`. */
export async function writePneumoniaMnist(dir: string, limit: Partial<Record<'train' | 'val' | 'test', number>> = {}): Promise<PneumoniaFiles> {
  const arrays = unzipSync(new Uint8Array(readFileSync(PNEUMONIA_NPZ)));
  const imagesDir = join(dir, 'images');
  mkdirSync(imagesDir, { recursive: true });
  const rows = ['filename,label'];
  const split = new Map<string, 'train' | 'val' | 'test'>();
  const counts = { train: 0, val: 0, test: 0 };
  for (const s of ['train', 'val', 'test'] as const) {
    const images = readNpyUint8(arrays[`${s}_images.npy`] ?? new Uint8Array());
    const labels = readNpyUint8(arrays[`${s}_labels.npy`] ?? new Uint8Array());
    const [n = 0, h = 28, w = 28] = images.shape;
    const take = Math.min(n, limit[s] ?? n);
    for (let i = 0; i < take; i++) {
      const name = `${s}_${String(i).padStart(5, '0')}.png`;
      const pixels = images.data.subarray(i * h * w, (i + 1) * h * w);
      writeFileSync(join(imagesDir, name), await sharp(Buffer.from(pixels), { raw: { width: w, height: h, channels: 1 } }).png().toBuffer());
      rows.push(`${name},${PNEUMONIA_CLASSES[labels.data[i] ?? 0]}`);
      split.set(name, s);
    }
    counts[s] = take;
  }
  const labelsCsv = join(dir, 'labels.csv');
  writeFileSync(labelsCsv, `${rows.join('\n')}\n`);
  return { imagesDir, labelsCsv, split, counts };
}
