import { existsSync, readdirSync } from 'node:fs';
import { isAbsolute, join, resolve, sep } from 'node:path';
import { badInput } from './dicom-errors';
import { parseDicom } from './parse-dicom';
import { SOP_CLASSES } from './sop-classes';

/** Directory record types whose files hold images (PS3.3 F.5.24). */
const IMAGE_RECORD_TYPES = new Set(['IMAGE', 'RT DOSE']);

/** ISO 9660 names may come back as "NAME.;1" or "NAME." from a CD. */
function normaliseCdName(name: string): string {
  return name.replace(/;\d+$/, '').replace(/\.$/, '').toUpperCase();
}

/** Resolves one path component in `dir`: exact name first, else a case-insensitive match (CDs upper-case names). */
function resolveComponent(dir: string, component: string): string {
  const exact = join(dir, component);
  if (existsSync(exact)) return exact;
  try {
    const wanted = normaliseCdName(component);
    const match = readdirSync(dir).find((e) => normaliseCdName(e) === wanted);
    if (match !== undefined) return join(dir, match);
  } catch {
    // Folder missing or unreadable: keep the name as written; the caller reports the missing file.
  }
  return exact;
}

/**
 * The absolute paths of the image files a DICOMDIR references, in record
 * order. Records are walked flat (not through the offsets), so missing or
 * wrong offsets, reordered records and a missing PATIENT level do not
 * matter. Inactive records and references that would leave `dirPath` are
 * ignored. Paths are returned even when the file is missing, so the caller
 * can report it.
 */
export function readDicomDir(bytes: Uint8Array, dirPath: string): string[] {
  const parsed = parseDicom(bytes);
  if (!parsed.has('00041220')) {
    throw badInput('This is not a DICOMDIR: it has no Directory Record Sequence (0004,1220).');
  }
  const root = resolve(dirPath);
  const out: string[] = [];
  const seen = new Set<string>();
  for (const record of parsed.items('00041220')) {
    if (record.num('00041410') === 0) continue; // record not in use
    const components = record.strs('00041500').filter((c) => c !== '');
    if (components.length === 0) continue;
    const type = (record.str('00041430') ?? '').toUpperCase();
    const sopClass = record.str('00041510');
    const known = sopClass !== undefined ? SOP_CLASSES[sopClass] : undefined;
    const isImage = known !== undefined ? known.category === 'image' : IMAGE_RECORD_TYPES.has(type);
    if (!isImage) continue;
    if (components.some((c) => c === '.' || c === '..' || c.includes('/') || c.includes('\\') || c.includes('\0') || isAbsolute(c))) continue;
    let path = root;
    for (const c of components) path = resolveComponent(path, c);
    if (!path.startsWith(root + sep)) continue;
    if (!seen.has(path)) {
      seen.add(path);
      out.push(path);
    }
  }
  return out;
}
