import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EVENT_CHANNEL } from '../../../electron/contract/api';
import { createPreloadApi, type IpcRendererLike } from '../../../electron/preload/preload-api';

function fakeIpc() {
  const calls: { channel: string; args: unknown[] }[] = [];
  const listeners = new Map<string, Set<(e: unknown, ...a: unknown[]) => void>>();
  const ipc: IpcRendererLike = {
    invoke: async (channel, ...args) => {
      calls.push({ channel, args });
      return { ok: true, value: 'x' };
    },
    on: (channel, l) => {
      if (!listeners.has(channel)) listeners.set(channel, new Set());
      listeners.get(channel)?.add(l);
    },
    removeListener: (channel, l) => listeners.get(channel)?.delete(l),
  };
  return { ipc, calls, listeners };
}

test('the preload exposes exactly invoke, on, pathForFile and blobUrl, frozen', () => {
  const api = createPreloadApi(fakeIpc().ipc);
  assert.deepEqual(Object.keys(api).sort(), ['blobUrl', 'invoke', 'on', 'pathForFile']);
  assert.ok(Object.isFrozen(api));
});

test('invoke maps contract requests to prefixed channels and refuses anything else without touching IPC', async () => {
  const { ipc, calls } = fakeIpc();
  const api = createPreloadApi(ipc);
  await api.invoke('datasets.list', {});
  assert.deepEqual(calls, [{ channel: 'fovea:datasets.list', args: [{}] }]);
  const res = await (api.invoke as (n: string, i: unknown) => Promise<{ ok: boolean; error?: { code: string } }>)('shell.openExternal', {});
  assert.equal(res.ok, false);
  assert.equal(res.error?.code, 'UNKNOWN_REQUEST');
  assert.equal(calls.length, 1);
});

test('on delivers only the named event and returns an unsubscribe function', () => {
  const { ipc, listeners } = fakeIpc();
  const api = createPreloadApi(ipc);
  const got: unknown[] = [];
  const off = api.on('datasets.changed', (p) => got.push(p));
  const emit = (env: unknown) => listeners.get(EVENT_CHANNEL)?.forEach((l) => l({}, env));
  emit({ name: 'datasets.changed', payload: { datasetId: 3 } });
  emit({ name: 'other', payload: 1 });
  off();
  emit({ name: 'datasets.changed', payload: { datasetId: 4 } });
  assert.deepEqual(got, [{ datasetId: 3 }]);
  assert.throws(() => (api.on as (n: string, l: () => void) => void)('evil', () => {}), /Unknown event/);
});

test('pathForFile asks Electron for a dropped file\'s path and never throws', () => {
  const api = createPreloadApi(fakeIpc().ipc, (f: never) => (f as { name: string }).name === 'boom' ? (() => { throw new Error('x'); })() : `/data/${(f as { name: string }).name}`);
  assert.equal(api.pathForFile({ name: 'scan.dcm' }), '/data/scan.dcm');
  assert.equal(api.pathForFile({ name: 'boom' }), null);
  assert.equal(createPreloadApi(fakeIpc().ipc).pathForFile({ name: 'x' }), null);
});

test('blobUrl names a blob under fovea://data by its hash and refuses anything else', () => {
  const api = createPreloadApi(fakeIpc().ipc);
  const sha = 'ab'.padEnd(64, '0');
  assert.equal(api.blobUrl(sha), `fovea://data/ab/${sha}`);
  for (const bad of ['../etc/passwd', sha.toUpperCase(), `${sha}0`, `ab/${sha}`, '', 'x'.repeat(64)]) {
    assert.throws(() => api.blobUrl(bad), TypeError, bad);
  }
});
