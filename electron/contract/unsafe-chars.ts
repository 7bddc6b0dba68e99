/**
 * The one set of characters Fovea never takes into a name (dataset, class,
 * annotator, model pack file), a policy path or a library URL, and strips
 * from the names of files it writes.
 *
 * It is the strictest of the sets the code had grown (four of them), and the
 * correct one for identifiers a person reads:
 * - C0 controls, DEL and C1 controls (U+0000-U+001F, U+007F-U+009F): NUL
 *   truncates paths; C1's CSI (U+009B) and the C0 ESC drive terminals, and the
 *   CLI prints names;
 * - bidirectional formatting (U+061C, U+200E, U+200F, U+202A-U+202E,
 *   U+2066-U+2069): they reorder what is shown ("Trojan Source",
 *   CVE-2021-42574), so "scan.gpj.exe" can read as "scan.exe.jpg";
 * - invisible characters (U+200B-U+200D, U+2060-U+2065, U+FEFF): two names
 *   that differ only by one look identical, e.g. two classes "tumour"; a
 *   label could go to the wrong one. This also refuses the zero-width
 *   joiners some scripts and emoji use; in identifiers of a clinical library
 *   an invisible difference is the worse failure (as in Unicode's identifier
 *   security profile, UTS #39).
 */

const RANGES = '\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u2069\\ufeff';

/** Matches one unsafe character. */
export const UNSAFE_CHAR = new RegExp(`[${RANGES}]`, 'u');

/** A whole string without an unsafe character (empty allowed). */
export const WITHOUT_UNSAFE_CHARS = new RegExp(`^[^${RANGES}]*$`, 'u');

/** A plain file name: not '.' or '..', no separators, no drive colon, no unsafe character. */
export const PLAIN_FILE_NAME = new RegExp(`^(?!\\.\\.?$)[^/\\\\:${RANGES}]+$`, 'u');

export function hasUnsafeChar(s: string): boolean {
  return UNSAFE_CHAR.test(s);
}

/** `s` with every unsafe character removed. */
export function withoutUnsafeChars(s: string): string {
  return s.replace(new RegExp(`[${RANGES}]`, 'gu'), '');
}
