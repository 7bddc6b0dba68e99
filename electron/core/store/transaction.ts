/**
 * Transactions for code outside store/: services group several repository
 * calls into one atomic write without holding the Database's own API (the
 * lint keeps `.prepare`/`.exec`/`.transaction` inside store/).
 * `immediate` takes the write lock at BEGIN, so a long batch never fails
 * halfway on SQLITE_BUSY when another connection (the CLI beside the app)
 * writes too.
 */
import type { Db } from './library-db';

export interface Transactional<A extends unknown[], R> {
  (...args: A): R;
  /** BEGIN IMMEDIATE: the write lock first. */
  immediate(...args: A): R;
}

/** `fn` wrapped in a transaction (nested calls become savepoints). */
export function transaction<A extends unknown[], R>(db: Db, fn: (...args: A) => R): Transactional<A, R> {
  return db.transaction(fn) as unknown as Transactional<A, R>;
}

/** Runs `fn` once in a BEGIN IMMEDIATE transaction and returns its result. */
export function inImmediateTransaction<R>(db: Db, fn: () => R): R {
  return db.transaction(fn).immediate();
}

/**
 * Runs `fn` once in a BEGIN IMMEDIATE transaction whose commit does not wait for the disk
 * (synchronous = NORMAL for this commit only; the library's own FULL is set back at once). Still
 * atomic and never corrupt (WAL), but a power cut may undo it: only for work that is done again
 * when lost, such as the steps of a dataset delete, which resumes on open. On a busy disk an fsync
 * per step would be most of a step's time.
 */
export function inRedoableTransaction<R>(db: Db, fn: () => R): R {
  const was = db.pragma('synchronous', { simple: true }) as number;
  db.pragma('synchronous = NORMAL');
  try {
    return db.transaction(fn).immediate();
  } finally {
    db.pragma(`synchronous = ${was}`);
  }
}
