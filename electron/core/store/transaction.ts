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
