// Generates the application icons from resources/icons/fovea.svg into build/generated/ (git-ignored):
//   icon.png (1024x1024), icons/<N>x<N>.png (Linux), icon.ico (Windows: 16-256 px, PNG entries),
//   icon.icns (macOS: ic07-ic10 PNG entries). `npm run dist` runs it first; run it by hand with
//   `node build/scripts/make-icons.mjs`. Both container formats are written here because they are
//   a few bytes of header around PNGs (ICO: ICONDIR + ICONDIRENTRY; ICNS: 'icns' + typed chunks).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const here = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(here, '..', '..', 'resources', 'icons', 'fovea.svg');
export const GENERATED = join(here, '..', 'generated');

const LINUX_SIZES = [16, 24, 32, 48, 64, 128, 256, 512, 1024];
const ICO_SIZES = [16, 24, 32, 48, 64, 128, 256];
const ICNS_TYPES = [
  ['ic07', 128],
  ['ic08', 256],
  ['ic09', 512],
  ['ic10', 1024],
];

async function png(svg, size) {
  return sharp(svg, { density: Math.max(72, (72 * size) / 1024) * 4 })
    .resize(size, size)
    .png({ compressionLevel: 9 })
    .toBuffer();
}

export function icoFile(images) {
  const header = Buffer.alloc(6 + 16 * images.length);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2); // 1 = icon
  header.writeUInt16LE(images.length, 4);
  let offset = header.length;
  images.forEach(({ size, data }, i) => {
    const e = 6 + 16 * i;
    header.writeUInt8(size >= 256 ? 0 : size, e); // 0 means 256
    header.writeUInt8(size >= 256 ? 0 : size, e + 1);
    header.writeUInt8(0, e + 2);
    header.writeUInt8(0, e + 3);
    header.writeUInt16LE(1, e + 4); // colour planes
    header.writeUInt16LE(32, e + 6); // bits per pixel
    header.writeUInt32LE(data.length, e + 8);
    header.writeUInt32LE(offset, e + 12);
    offset += data.length;
  });
  return Buffer.concat([header, ...images.map((i) => i.data)]);
}

export function icnsFile(chunks) {
  const parts = chunks.map(({ type, data }) => {
    const h = Buffer.alloc(8);
    h.write(type, 0, 'latin1');
    h.writeUInt32BE(data.length + 8, 4);
    return Buffer.concat([h, data]);
  });
  const body = Buffer.concat(parts);
  const h = Buffer.alloc(8);
  h.write('icns', 0, 'latin1');
  h.writeUInt32BE(body.length + 8, 4);
  return Buffer.concat([h, body]);
}

export async function makeIcons(out = GENERATED) {
  const svg = readFileSync(SOURCE);
  mkdirSync(join(out, 'icons'), { recursive: true });
  const bySize = new Map();
  for (const size of LINUX_SIZES) {
    const data = await png(svg, size);
    bySize.set(size, data);
    writeFileSync(join(out, 'icons', `${size}x${size}.png`), data);
  }
  writeFileSync(join(out, 'icon.png'), bySize.get(1024));
  writeFileSync(join(out, 'icon.ico'), icoFile(ICO_SIZES.map((size) => ({ size, data: bySize.get(size) }))));
  writeFileSync(join(out, 'icon.icns'), icnsFile(ICNS_TYPES.map(([type, size]) => ({ type, data: bySize.get(size) }))));
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = await makeIcons();
  console.log(`icons written to ${out}`);
}
