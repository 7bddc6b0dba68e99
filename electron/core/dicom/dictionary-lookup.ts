import { dcmjs } from './dcmjs';

/**
 * Tag -> VR and keyword, from the PS3.6 data dictionary that dcmjs ships
 * (`dcmjs.data.DicomMetaDictionary.dictionary`, its public export).
 *
 * Implicit VR files carry no VRs, so reading them, and naming attributes in
 * `fovea inspect` and in error messages, needs the standard's table. dcmjs
 * writes the VRs that depend on the context as codes, and prefixes retired
 * keywords; both are translated to what the reader expects: 'US|SS' (chosen
 * by PixelRepresentation), 'OB|OW', 'US|OW' (LUT data: read as US; the
 * retired Gray LUT Data alone is 'US|SS|OW' in PS3.6), 'UL' for DICOMDIR
 * offsets and 'NONE' for item tags, and keywords without 'RETIRED_'.
 * dcmjs is loaded on the first lookup (most files are explicit VR and never
 * need it), and every answer is kept.
 */

export interface DictionaryEntry {
  /** One VR, or several joined by '|' where PS3.6 leaves it to the context ('US|SS'). */
  readonly vr: string;
  readonly keyword: string;
}

const CONTEXT_VRS: Readonly<Record<string, string>> = {
  xs: 'US|SS',
  ox: 'OB|OW',
  lt: 'US|OW',
  up: 'UL',
  na: 'NONE',
};

/** dcmjs's 'lt' covers both; PS3.6 gives (0028,1200) one more choice than (0028,3006). */
const GRAY_LUT_DATA = 0x00281200;

const GROUP_LENGTH: DictionaryEntry = { vr: 'UL', keyword: 'GenericGroupLength' };
const PRIVATE_CREATOR: DictionaryEntry = { vr: 'LO', keyword: 'PrivateCreator' };

const known = new Map<number, DictionaryEntry | undefined>();

export function lookupTag(tag: number): DictionaryEntry | undefined {
  const t = tag >>> 0;
  if (known.has(t)) return known.get(t);
  const entry = find(t);
  known.set(t, entry);
  return entry;
}

function find(tag: number): DictionaryEntry | undefined {
  const element = tag & 0xffff;
  // Private tags (odd groups): creators are LO, the rest is unknown without the vendor's
  // dictionary. Checked first: dcmjs's repeating-group ranges (60xx) include odd groups.
  if (((tag >>> 16) & 1) === 1) return element >= 0x0010 && element <= 0x00ff ? PRIVATE_CREATOR : undefined;
  const found = dcmjs().data.DicomMetaDictionary.dictionary[tag.toString(16).toUpperCase().padStart(8, '0')];
  if (found !== undefined) {
    return {
      vr: tag === GRAY_LUT_DATA && found.vr === 'lt' ? 'US|SS|OW' : (CONTEXT_VRS[found.vr] ?? found.vr),
      keyword: found.name.startsWith('RETIRED_') ? found.name.slice('RETIRED_'.length) : found.name,
    };
  }
  // Group lengths (gggg,0000) are all UL, in every group.
  return element === 0 ? GROUP_LENGTH : undefined;
}
