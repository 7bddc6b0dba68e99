import { DICTIONARY_TABLE, REPEATER_TABLE } from './data-dictionary';

export interface DictionaryEntry {
  /** One VR, or several joined by '|' where PS3.6 leaves it to the context ('US|SS'). */
  readonly vr: string;
  readonly keyword: string;
}

let exact: Map<number, DictionaryEntry> | undefined;
let repeaters: { mask: number; value: number; entry: DictionaryEntry }[] | undefined;

/** Parsed on first use: most calls never need it (explicit VR files carry their VRs). */
function load(): void {
  exact = new Map();
  for (const line of DICTIONARY_TABLE.split('\n')) {
    const [tag, vr, keyword] = line.split(' ');
    if (tag === undefined || vr === undefined || keyword === undefined) continue;
    exact.set(parseInt(tag, 16) >>> 0, { vr, keyword });
  }
  repeaters = [];
  for (const line of REPEATER_TABLE.split('\n')) {
    const [pattern, vr, keyword] = line.split(' ');
    if (pattern === undefined || vr === undefined || keyword === undefined) continue;
    let mask = 0;
    let value = 0;
    for (const ch of pattern) {
      mask = mask * 16 + (ch === 'X' ? 0 : 15);
      value = value * 16 + (ch === 'X' ? 0 : parseInt(ch, 16));
    }
    repeaters.push({ mask: mask >>> 0, value: value >>> 0, entry: { vr, keyword } });
  }
}

export function lookupTag(tag: number): DictionaryEntry | undefined {
  if (exact === undefined || repeaters === undefined) load();
  const found = exact?.get(tag >>> 0);
  if (found !== undefined) return found;
  // Group lengths (gggg,0000) are all UL, in every group.
  if ((tag & 0xffff) === 0) return { vr: 'UL', keyword: 'GenericGroupLength' };
  // Private tags (odd groups): creators are LO, the rest is unknown without the vendor's dictionary.
  if (((tag >>> 16) & 1) === 1) {
    const element = tag & 0xffff;
    if (element >= 0x0010 && element <= 0x00ff) return { vr: 'LO', keyword: 'PrivateCreator' };
    return undefined;
  }
  for (const r of repeaters ?? []) {
    if (((tag & r.mask) >>> 0) === r.value) return r.entry;
  }
  return undefined;
}
