/**
 * Append-only audit log with a hash chain: each row stores the previous
 * row's hash and its own hash over (previous hash + the row's fields), so an
 * edited or deleted row breaks the chain (`verifyAuditChain`). Rows carry ids
 * and outcomes, never PHI values.
 */
import { createHash } from 'node:crypto';
import { currentUser } from '../os-user';
import type { Db } from './library-db';

export interface AuditEntry {
  action: string;
  objectType?: string;
  objectId?: string | number;
  outcome?: 'ok' | 'failed' | 'refused' | 'cancelled';
  actor?: string | null;
  details?: Record<string, unknown>;
}

const GENESIS = '0'.repeat(64);

function rowHash(prev: string, fields: readonly (string | null)[]): string {
  const h = createHash('sha256');
  h.update(prev);
  for (const f of fields) h.update(`\u0000${f ?? '\u0001'}`);
  return h.digest('hex');
}

export class AuditLog {
  readonly #db: Db;
  readonly #user = currentUser();
  constructor(db: Db) {
    this.#db = db;
  }

  append(entry: AuditEntry): void {
    const at = new Date().toISOString();
    const fields = [
      at,
      this.#user,
      entry.actor ?? null,
      entry.action,
      entry.objectType ?? null,
      entry.objectId === undefined ? null : String(entry.objectId),
      entry.outcome ?? 'ok',
      entry.details ? JSON.stringify(entry.details) : null,
    ] as const;
    this.#db.transaction(() => {
      const last = this.#db.prepare('SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1').get() as { hash: string } | undefined;
      const prev = last?.hash ?? GENESIS;
      this.#db
        .prepare(
          `INSERT INTO audit_log (at, os_user, actor, action, object_type, object_id, outcome, details, prev_hash, hash)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(...fields, prev, rowHash(prev, fields));
    }).immediate();
  }

  /** Returns the id of the first row whose hash does not match, or null if the chain is intact. */
  verify(): number | null {
    let prev = GENESIS;
    const rows = this.#db
      .prepare('SELECT id, at, os_user, actor, action, object_type, object_id, outcome, details, prev_hash, hash FROM audit_log ORDER BY id')
      .iterate() as IterableIterator<Record<string, string | null> & { id: number }>;
    for (const r of rows) {
      const fields = [r['at'], r['os_user'], r['actor'], r['action'], r['object_type'], r['object_id'], r['outcome'], r['details']] as (string | null)[];
      if (r['prev_hash'] !== prev || r['hash'] !== rowHash(prev, fields)) return r.id;
      prev = r['hash'] as string;
    }
    return null;
  }
}
