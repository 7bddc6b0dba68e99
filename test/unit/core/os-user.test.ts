/**
 * One currentUser(): from the OS account database, never from USER/USERNAME.
 * The audit log records it as the actor and the policy's annotatorFromOsUser
 * uses it, so setting USER must change neither.
 */
import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { test } from 'node:test';
import { currentUser } from '../../../electron/core/os-user';
import { settingsUnderPolicy } from '../../../electron/core/policy/policy';
import { tempCore } from '../../helpers/temp-library';

test('currentUser is the account name, whatever USER and USERNAME say; the audit log and the policy use it', (t) => {
  const saved = { USER: process.env['USER'], USERNAME: process.env['USERNAME'] };
  t.after(() => {
    for (const [k, val] of Object.entries(saved)) {
      if (val === undefined) delete process.env[k];
      else process.env[k] = val;
    }
  });
  process.env['USER'] = 'spoofed-user';
  process.env['USERNAME'] = 'spoofed-user';
  const account = userInfo().username;
  assert.notEqual(account, 'spoofed-user');
  assert.equal(currentUser(), account);
  // The policy's annotatorFromOsUser names the annotator with it.
  assert.equal(settingsUnderPolicy({}, { policy: { annotatorFromOsUser: true } }).settings.annotatorName, account);

  const { core, cleanup } = tempCore();
  t.after(cleanup);
  core.audit.append({ action: 'test.actor', objectType: 'dataset', objectId: 1 });
  const actors = core.db.prepare('SELECT os_user FROM audit_log').pluck().all() as string[];
  assert.ok(actors.length > 0);
  assert.ok(actors.every((a) => a === account), actors.join(', '));
});
