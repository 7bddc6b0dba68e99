/**
 * Errors cross the UI/backend boundary as data, never as thrown exceptions
 * (Electron flattens thrown errors to a string). The UI switches on `code`
 * and shows `message`, which is written for a person and says what to do.
 */

export const ERROR_CODES = [
  /** A payload failed its schema: the caller sent something malformed. */
  'VALIDATION',
  /** The request names something that does not exist (dataset, item, run). */
  'NOT_FOUND',
  /** The request would clash with existing data (duplicate name, ...). */
  'CONFLICT',
  /** The library was written by a newer Fovea and is open read-only. */
  'LIBRARY_READ_ONLY',
  /** The library folder cannot be opened or used (permissions, corrupt, network drive). */
  'LIBRARY_UNUSABLE',
  /** A file could not be read or written. */
  'IO',
  /** The input is valid but of a kind Fovea does not handle. */
  'UNSUPPORTED',
  /** The input is malformed (a broken DICOM file, a bad label file). */
  'BAD_INPUT',
  /** The input declares sizes beyond what Fovea will allocate. */
  'TOO_LARGE',
  /** The user or a policy cancelled or refused the operation. */
  'CANCELLED',
  /** The request is not allowed (sender, policy). */
  'FORBIDDEN',
  /** The unknown-request channel, or a request with no handler. */
  'UNKNOWN_REQUEST',
  /** A bug: logged with its stack on the backend, a short message to the UI. */
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface FoveaError {
  code: ErrorCode;
  message: string;
  /** Machine-readable context (e.g. the schema issues of a VALIDATION error). No PHI. */
  details?: unknown;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: FoveaError };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function err(code: ErrorCode, message: string, details?: unknown): { ok: false; error: FoveaError } {
  return details === undefined ? { ok: false, error: { code, message } } : { ok: false, error: { code, message, details } };
}

/**
 * Thrown inside the backend to end a request with a specific code; the
 * dispatcher turns it into an error result. Never crosses the boundary itself.
 */
export class FoveaException extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'FoveaException';
    this.code = code;
    this.details = details;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}
