/**
 * A small BALANCED subset of PneumoniaMNIST (../shared/testdata, read in
 * place): `perClass` images of each class (normal, pneumonia) from each of the
 * dataset's own splits, written as 28x28 greyscale PNGs with a
 * `filename,label` CSV, for tests that need a real classifier quickly. (The
 * data set's first images are all of one class, so a plain prefix would not do.)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import sharp from 'sharp';
import { PNEUMONIA_CLASSES, PNEUMONIA_NPZ } from './pneumoniamnist';

type Split = 'train' | 'val' | 'test';

function readNpyUint8(bytes: Uint8Array): { shape: number[]; data: Uint8Array } {
  if (bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY') throw new Error('not a .npy file');
  const major = bytes[6] ?? 1;
  const headerLen = major === 1 ? (bytes[8] ?? 0) | ((bytes[9] ?? 0) << 8) : new DataView(bytes.buffer, bytes.byteOffset + 8, 4).getUint32(0, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  if (!/'descr':\s*'\|u1'/u.test(header) || /'fortran_order':\s*True/u.test(header)) throw new Error(`unexpected npy header ${header}`);
  const shape = (/'shape':\s*\(([^)]*)\)/u.exec(header)?.[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  return { shape, data: bytes.subarray(start + headerLen) };
}

export interface PneumoniaSubset {
  imagesDir: string;
  labelsCsv: string;
  /** file name -> split */
  split: Map<string, Split>;
  /** file name -> class */
  label: Map<string, string>;
}

export async function writePneumoniaSubset(dir: string, perClass: Record<Split, number>): Promise<PneumoniaSubset> {
  const arrays = unzipSync(new Uint8Array(readFileSync(PNEUMONIA_NPZ)));
  const imagesDir = join(dir, 'images');
  mkdirSync(imagesDir, { recursive: true });
  const rows = ['filename,label'];
  const split = new Map<string, Split>();
  const label = new Map<string, string>();
  for (const s of ['train', 'val', 'test'] as const) {
    const images = readNpyUint8(arrays[`${s}_images.npy`] ?? new Uint8Array());
    const labels = readNpyUint8(arrays[`${s}_labels.npy`] ?? new Uint8Array());
    const [n = 0, h = 28, w = 28] = images.shape;
    const taken = [0, 0];
    for (let i = 0; i < n && (taken[0] as number) + (taken[1] as number) < 2 * perClass[s]; i++) {
      const k = labels.data[i] ?? 0;
      if ((taken[k] as number) >= perClass[s]) continue;
      taken[k] = (taken[k] as number) + 1;
      const name = `${s}_${String(i).padStart(5, '0')}.png`;
      const px = Buffer.from(images.data.subarray(i * h * w, (i + 1) * h * w));
      writeFileSync(join(imagesDir, name), await sharp(px, { raw: { width: w, height: h, channels: 1 } }).png().toBuffer());
      const cls = PNEUMONIA_CLASSES[k] as string;
      rows.push(`${name},${cls}`);
      split.set(name, s);
      label.set(name, cls);
    }
  }
  const labelsCsv = join(dir, 'labels.csv');
  writeFileSync(labelsCsv, `${rows.join('\n')}\n`);
  return { imagesDir, labelsCsv, split, label };
}
