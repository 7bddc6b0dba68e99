/**
 * Renaming and merging classes at import (`fovea import-labels --map "a=b,c=b"`), the same for
 * every format: applied to the parsed intermediate form, so no parser needs to know about it.
 */
import { FoveaException } from '../../contract/result';
import type { ParsedLabelFile } from './label-types';

/**
 * Parses "old=new,old2=new" into a map. Names may not be empty; a name given twice is an error.
 * Throws VALIDATION with the part that is wrong.
 */
export function parseRenameList(text: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const from = eq < 0 ? '' : part.slice(0, eq).trim();
    const to = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (!from || !to) throw new FoveaException('VALIDATION', `"${part.trim()}" is not OLD=NEW (e.g. PASpersonWalking=pedestrian).`);
    if (from in out) throw new FoveaException('VALIDATION', `"${from}" is renamed twice.`);
    out[from] = to;
  }
  return out;
}

/**
 * The parsed file with its classes renamed: a label's class is looked up exactly, then ignoring
 * case. Classes that several names map to are merged (listed once, at the first one's place).
 * A name in the map that the file never uses is reported in the warnings (a typo stays visible).
 */
export function renameParsedClasses(parsed: ParsedLabelFile, rename: Readonly<Record<string, string>>): ParsedLabelFile {
  const exact = new Map(Object.entries(rename));
  const folded = new Map([...exact].map(([k, v]) => [k.toLowerCase(), v]));
  const used = new Set<string>();
  const to = (name: string): string => {
    const hit = exact.has(name) ? name : folded.has(name.toLowerCase()) ? [...exact.keys()].find((k) => k.toLowerCase() === name.toLowerCase()) : undefined;
    if (hit === undefined) return name;
    used.add(hit);
    return exact.get(hit) as string;
  };
  const classes: string[] = [];
  for (const c of parsed.classes) {
    const n = to(c);
    if (!classes.includes(n)) classes.push(n);
  }
  const images = parsed.images.map((im) => ({ ...im, labels: im.labels.map((l) => ({ ...l, className: to(l.className) })) }));
  const volumes = parsed.volumes?.map((v) => ({ ...v, classes: new Map([...v.classes].map(([value, name]) => [value, to(name)])) }));
  const unused = [...exact.keys()].filter((k) => !used.has(k));
  const warnings = unused.length ? [...parsed.warnings, `--map names ${unused.map((u) => `"${u}"`).join(', ')}, which the labels do not use (classes in the file: ${parsed.classes.slice(0, 12).join(', ')}).`] : parsed.warnings;
  return { ...parsed, classes, images, ...(volumes ? { volumes } : {}), warnings };
}
