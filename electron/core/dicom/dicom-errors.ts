import { FoveaException } from '../../contract/result';

/**
 * Every failure of this module reaches callers as a FoveaException with a
 * message a person can act on. These helpers keep the wording consistent.
 */

export function badInput(message: string, details?: unknown): FoveaException {
  return new FoveaException('BAD_INPUT', message, details);
}

export function unsupported(message: string, details?: unknown): FoveaException {
  return new FoveaException('UNSUPPORTED', message, details);
}

export function tooLarge(message: string, details?: unknown): FoveaException {
  return new FoveaException('TOO_LARGE', message, details);
}

/** `(GGGG,EEEE)`: how people and dcmdump write a tag. */
export function formatTag(tag: number): string {
  const hex = (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return `(${hex.slice(0, 4)},${hex.slice(4)})`;
}

/** Error text of anything thrown by a third-party library (which may throw strings). */
export function describeThrown(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.message;
  if (typeof thrown === 'string') return thrown;
  if (typeof thrown === 'number') return `code ${thrown}`;
  try {
    return JSON.stringify(thrown) ?? String(thrown);
  } catch {
    return String(thrown);
  }
}
