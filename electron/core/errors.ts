/**
 * The one error mapping of the core: dispatch, jobs and the CLI all turn a thrown value into a
 * `FoveaError` here, so a read-only library or a full disk reads the same everywhere. A bug (an
 * error without a known code) keeps its stack on the backend and sends a short message.
 */
import { err, FoveaException, type FoveaError, type Result } from '../contract/result';

export function toFoveaError(e: unknown): FoveaError {
  if (e instanceof FoveaException) return e.details === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, details: e.details };
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code === 'SQLITE_READONLY') return { code: 'LIBRARY_READ_ONLY', message: 'The library cannot be written (read-only folder or file).' };
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') return { code: 'IO', message: 'The disk is full: free some space and try again. Nothing already saved was lost.' };
  if (code === 'EACCES' || code === 'EPERM') return { code: 'IO', message: `Permission denied: ${(e as Error).message}` };
  console.error('[fovea] internal error:', e);
  return { code: 'INTERNAL', message: `Internal error: ${(e as Error)?.message ?? String(e)}` };
}

export function toErrorResult(e: unknown): Result<never> {
  const f = toFoveaError(e);
  return err(f.code, f.message, f.details);
}
