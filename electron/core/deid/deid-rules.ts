/**
 * Which PS3.15 Annex E action applies to one attribute, given the profile options chosen.
 *
 * The table (ps315-table.ts, generated from Table E.1-1) gives the Basic Profile action and,
 * per option, the action that replaces it when that option is chosen. Composite actions
 * (X/Z, X/D, X/Z/D, Z/D, X/Z/U*) depend on whether the attribute is Type 1, 2 or 3 in the
 * object's IOD, which we do not model; so for attributes that the table marks as part of a
 * standard composite IOD we take the action that keeps every IOD conformant (D for X/D, X/Z/D and
 * Z/D, Z for X/Z, U for X/Z/U*), and for attributes in no standard IOD we remove them (X, or Z
 * for Z/D). Both are allowed by the profile and neither keeps any original value.
 */
import type { DeidProfileFlag, RetainLongitudinalDates } from '../../contract/deid-options';
import { PS315_ROWS, type Ps315Option, type Ps315Row } from './ps315-table';

/** The profile options a user may choose (PS3.15 E.3). */
export interface DeidProfileOptions extends Record<DeidProfileFlag, boolean> {
  /** Keep dates and times ('full'), shift them by a per-patient offset ('modified'), or remove them ('none'). */
  retainLongitudinalDates: RetainLongitudinalDates;
  /** Not supported: every private attribute is removed whatever this says (a warning tells the user). */
  retainSafePrivate: boolean;
}

export const DEFAULT_PROFILE_OPTIONS: DeidProfileOptions = {
  retainLongitudinalDates: 'none',
  retainPatientCharacteristics: false,
  retainDeviceIdentity: false,
  retainInstitutionIdentity: false,
  retainUids: false,
  retainSafePrivate: false,
  cleanDescriptors: false,
  cleanStructuredContent: false,
  cleanGraphics: false,
};

/** The table's option columns that the chosen options switch on (retainSafePrivate never: unsupported). */
export function activeOptionColumns(o: DeidProfileOptions): Set<Ps315Option> {
  const s = new Set<Ps315Option>();
  if (o.retainLongitudinalDates === 'full') s.add('retainLongitudinalFullDates');
  if (o.retainLongitudinalDates === 'modified') s.add('retainLongitudinalModifiedDates');
  if (o.retainPatientCharacteristics) s.add('retainPatientCharacteristics');
  if (o.retainDeviceIdentity) s.add('retainDeviceIdentity');
  if (o.retainInstitutionIdentity) s.add('retainInstitutionIdentity');
  if (o.retainUids) s.add('retainUids');
  if (o.cleanDescriptors) s.add('cleanDescriptors');
  if (o.cleanStructuredContent) s.add('cleanStructuredContent');
  if (o.cleanGraphics) s.add('cleanGraphics');
  return s;
}

/**
 * A resolved action. 'C' carries the option column that asked for it, because "clean" means a
 * date shift under Retain Longitudinal Modified Dates and text cleaning everywhere else.
 */
export type ResolvedAction =
  | { action: 'X' | 'Z' | 'D' | 'K' | 'U'; row: Ps315Row | undefined }
  | { action: 'C'; row: Ps315Row; by: Ps315Option };

const exact = new Map<string, Ps315Row>();
const masks: { row: Ps315Row; mask: number; value: number }[] = [];
let privateRow: Ps315Row | undefined;
for (const row of PS315_ROWS) {
  if (row.tag === 'private') privateRow = row;
  else if (row.tag.includes('x')) {
    let mask = 0;
    let value = 0;
    for (const ch of row.tag) {
      mask = mask * 16 + (ch === 'x' ? 0 : 0xf);
      value = value * 16 + (ch === 'x' ? 0 : parseInt(ch, 16));
    }
    masks.push({ row, mask: mask >>> 0, value: value >>> 0 });
  } else exact.set(row.tag, row);
}

/** The table row for a tag ('GGGGEEEE', any case), including repeating-group masks and the private row. */
export function rowFor(tag: string): Ps315Row | undefined {
  const key = tag.toUpperCase();
  const hit = exact.get(key);
  if (hit) return hit;
  const n = parseInt(key, 16) >>> 0;
  for (const m of masks) if (((n & m.mask) >>> 0) === m.value) return m.row;
  if ((n >>> 16) % 2 === 1) return privateRow;
  return undefined;
}

/** Resolve the action for a row (undefined: not in the table, kept). */
export function resolveAction(row: Ps315Row | undefined, active: ReadonlySet<Ps315Option>): ResolvedAction {
  if (row === undefined) return { action: 'K', row };
  let chosen: ResolvedAction | undefined;
  for (const [opt, act] of Object.entries(row.options) as [Ps315Option, 'K' | 'C'][]) {
    if (!active.has(opt)) continue;
    // Two chosen options on one attribute (e.g. Retain Device Identity K and Retain Modified
    // Dates C on a calibration date): cleaning is the more protective, so C wins.
    if (act === 'C') {
      if (chosen?.action !== 'C') chosen = { action: 'C', row, by: opt };
    } else if (chosen === undefined) chosen = { action: 'K', row };
  }
  if (chosen) return chosen;
  switch (row.basic) {
    case 'D':
    case 'Z':
    case 'X':
    case 'K':
    case 'U':
      return { action: row.basic, row };
    case 'C':
      return { action: 'D', row }; // no basic row is C in 2024b; a dummy is the safe reading
    case 'X/Z':
      return { action: row.inStdIod ? 'Z' : 'X', row };
    case 'X/D':
    case 'X/Z/D':
      return { action: row.inStdIod ? 'D' : 'X', row };
    case 'Z/D':
      return { action: row.inStdIod ? 'D' : 'Z', row };
    case 'X/Z/U*':
      return { action: row.inStdIod ? 'U' : 'X', row };
  }
}
