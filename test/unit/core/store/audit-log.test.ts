import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { AuditLog } from '../../../../electron/core/store/audit-log';
import { openLibraryDb } from '../../../../electron/core/store/library-db';
import { tempDir } from '../../../helpers/temp-library';

test('the audit log is append-only and hash-chained', (t) => {
  const tmp = tempDir();
  t.after(tmp.cleanup);
  const { db } = openLibraryDb(join(tmp.dir, 'lib'));
  t.after(() => db.close());
  const log = new AuditLog(db);
  log.append({ action: 'dataset.create', objectType: 'dataset', objectId: 1 });
  log.append({ action: 'export', objectType: 'dataset', objectId: 1, outcome: 'refused', details: { format: 'coco' } });
  assert.equal(log.verify(), null, 'chain intact');

  const rows = db.prepare('SELECT * FROM audit_log ORDER BY id').all() as Record<string, string>[];
  assert.equal(rows.length, 2);
  assert.equal(rows[1]?.['prev_hash'], rows[0]?.['hash']);
  assert.match(rows[0]?.['at'] ?? '', /^\d{4}-\d\d-\d\dT.*Z$/, 'UTC time');
  assert.ok(rows[0]?.['os_user'], 'OS user recorded');

  assert.throws(() => db.prepare("UPDATE audit_log SET action = 'x'").run(), /append-only/);
  assert.throws(() => db.prepare('DELETE FROM audit_log').run(), /append-only/);

  // Tampering behind the triggers' back is detected by the chain.
  db.exec('DROP TRIGGER audit_log_no_update');
  db.prepare("UPDATE audit_log SET object_id = '2' WHERE id = 1").run();
  assert.equal(log.verify(), 1);
});
