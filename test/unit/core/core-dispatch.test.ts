import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tempCore } from '../../helpers/temp-library';

test('dispatch validates every payload against the contract and returns errors as data', async (t) => {
  const { core, cleanup } = tempCore();
  t.after(cleanup);

  const bad = await core.dispatch('datasets.create', { name: '' });
  assert.equal(bad.ok, false);
  if (!bad.ok) {
    assert.equal(bad.error.code, 'VALIDATION');
    assert.match(bad.error.message, /needs a name/);
  }
  const extra = await core.dispatch('datasets.create', { name: 'a', evil: true });
  assert.equal(extra.ok, false, 'unknown keys are refused (strict objects)');
  const notObject = await core.dispatch('datasets.list', 'hello');
  assert.equal(notObject.ok, false);
  const control = await core.dispatch('datasets.create', { name: 'a\u202Eb' });
  assert.equal(control.ok, false, 'bidi override characters are refused in names');

  const unknown = await core.dispatch('system.exec', {});
  assert.equal(unknown.ok, false);
  if (!unknown.ok) assert.equal(unknown.error.code, 'UNKNOWN_REQUEST');

  const polluted = await core.dispatch('datasets.create', JSON.parse('{"name":"p","__proto__":{"polluted":1}}'));
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'no prototype pollution');
  assert.equal(polluted.ok, false);
});

test('datasets: create, list with counts, get, duplicate names refused case-insensitively, audited, events emitted', async (t) => {
  const { core, cleanup } = tempCore();
  t.after(cleanup);
  const events: number[] = [];
  const off = core.on('datasets.changed', (e) => events.push(e.datasetId));

  const created = await core.dispatch('datasets.create', { name: '  Chest CT  ', description: 'CT' });
  assert.equal(created.ok, true);
  if (!created.ok) return;
  const ds = created.value as { id: number; name: string; counts: { items: number } };
  assert.equal(ds.name, 'Chest CT', 'names are trimmed');
  assert.equal(ds.counts.items, 0);
  assert.deepEqual(events, [ds.id]);
  off();

  const dup = await core.dispatch('datasets.create', { name: 'chest ct' });
  assert.equal(dup.ok, false);
  if (!dup.ok) assert.equal(dup.error.code, 'CONFLICT');

  const list = await core.dispatch('datasets.list', {});
  assert.ok(list.ok && Array.isArray(list.value) && list.value.length === 1);
  const missing = await core.dispatch('datasets.get', { id: 999 });
  assert.ok(!missing.ok && missing.error.code === 'NOT_FOUND');

  const audit = core.db.prepare("SELECT action, object_id FROM audit_log WHERE action = 'dataset.create'").all();
  assert.deepEqual(audit, [{ action: 'dataset.create', object_id: String(ds.id) }]);
});

test('an unexpected exception becomes an INTERNAL error result, never a throw', async (t) => {
  const { core, cleanup } = tempCore();
  t.after(cleanup);
  const origError = console.error;
  console.error = () => {};
  // Close the database under the core: better-sqlite3 then throws a TypeError, a bug-class error.
  core.db.close();
  try {
    const res = await core.dispatch('datasets.list', {});
    assert.equal(res.ok, false);
    if (!res.ok) assert.equal(res.error.code, 'INTERNAL');
  } finally {
    console.error = origError;
  }
});

test('the enterprise policy is served read-only and enforced (sample library off)', async (t) => {
  const policy = {
    source: 'policy' as const,
    policy: { sampleData: false, modelExport: false, allowedExportFormats: ['dicom-deid' as const] },
    sources: [],
    origins: { sampleData: '/etc/fovea/policy.json', modelExport: '/etc/fovea/policy.json', allowedExportFormats: '/etc/fovea/policy.json' },
    errors: [],
    warnings: [],
  };
  const { core, cleanup } = tempCore({ policy });
  t.after(cleanup);
  const got = await core.dispatch('policy.get', {});
  assert.ok(got.ok);
  if (got.ok) assert.deepEqual((got.value as { policy: unknown }).policy, policy.policy);
  const samples = await core.dispatch('samples.create', {});
  assert.ok(!samples.ok && samples.error.code === 'FORBIDDEN' && /sampleData/.test(samples.error.message));
});
