/**
 * The IPC gate: channel allow-list, sender frame check, plain-object
 * payloads, prototype pollution, and a dispatch that throws or misbehaves.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EVENT_CHANNEL, FoveaException, ok, parseRequest, REQUEST_NAMES, type RequestName, type Result } from '../../../../electron/contract';
import {
  createIpcDispatcher,
  isTrustedSender,
  MAX_PAYLOAD_DEPTH,
  stripPollutingKeys,
  type SenderFrameLike,
} from '../../../../electron/main/ipc-guard';

const APP_FRAME: SenderFrameLike = { url: 'fovea://app/index.html', parent: null };

function recordingDispatcher(reply: (name: RequestName, payload: unknown) => Promise<Result<unknown>> = async () => ok('done')) {
  const calls: { name: RequestName; payload: unknown }[] = [];
  const internalErrors: { error: unknown; name: string }[] = [];
  const dispatcher = createIpcDispatcher(
    (name, payload) => {
      calls.push({ name, payload });
      return reply(name, payload);
    },
    { onInternalError: (error, name) => internalErrors.push({ error, name }) },
  );
  return { dispatcher, calls, internalErrors };
}

function errorCode(result: Result<unknown>): string | null {
  return result.ok ? null : result.error.code;
}

describe('isTrustedSender', () => {
  test("accepts the app's own top-level frame", () => {
    assert.equal(isTrustedSender(APP_FRAME), true);
    assert.equal(isTrustedSender({ url: 'fovea://app/index.html#/datasets/3' }), true, 'parent absent');
    assert.equal(isTrustedSender({ url: 'fovea://app/', parent: undefined }), true);
  });

  test('refuses subframes, other origins, opaque and local URLs, and missing frames', () => {
    const refused: (SenderFrameLike | null | undefined)[] = [
      null,
      undefined,
      { url: 'fovea://app/index.html', parent: APP_FRAME },
      { url: 'fovea://app/index.html', parent: {} },
      { url: 'https://evil.example/', parent: null },
      { url: 'http://localhost:5173/', parent: null },
      { url: 'fovea://data/thumbs/1.png', parent: null },
      { url: 'fovea://evil/index.html', parent: null },
      { url: 'fovea://app.evil/index.html', parent: null },
      { url: 'fovea://app:1234/index.html', parent: null },
      { url: 'fovea://user@app/index.html', parent: null },
      { url: 'about:blank', parent: null },
      { url: 'about:srcdoc', parent: null },
      { url: 'data:text/html,<script>1</script>', parent: null },
      { url: 'blob:fovea://app/1234', parent: null },
      { url: 'file:///C:/app/index.html', parent: null },
      { url: 'file:///opt/fovea/index.html', parent: null },
      { url: '', parent: null },
      { url: 'not a url', parent: null },
      { url: 42 as unknown as string, parent: null },
      'fovea://app/index.html' as unknown as SenderFrameLike,
    ];
    for (const frame of refused) assert.equal(isTrustedSender(frame), false, JSON.stringify(frame));
  });

  test('a frame whose properties throw (destroyed) is refused, not thrown', () => {
    const destroyed = {
      get url(): string {
        throw new Error('Render frame was disposed');
      },
      parent: null,
    };
    assert.equal(isTrustedSender(destroyed), false);
  });

  test('another expected origin can be given', () => {
    assert.equal(isTrustedSender({ url: 'fovea://other/x', parent: null }, 'fovea://other'), true);
    assert.equal(isTrustedSender(APP_FRAME, 'fovea://other'), false);
  });
});

describe('createIpcDispatcher', () => {
  test('a trusted request reaches dispatch with its name and payload; the result comes back as it is', async () => {
    const { dispatcher, calls } = recordingDispatcher(async () => ok({ id: 1 }));
    const res = await dispatcher.handle('fovea:datasets.get', APP_FRAME, { id: 1 });
    assert.deepEqual(res, { ok: true, value: { id: 1 } });
    assert.deepEqual(calls, [{ name: 'datasets.get', payload: { id: 1 } }]);
  });

  test('every request of the contract is accepted on its channel', async () => {
    const { dispatcher, calls } = recordingDispatcher();
    for (const name of REQUEST_NAMES) assert.equal((await dispatcher.handle(`fovea:${name}`, APP_FRAME, {})).ok, true, name);
    assert.deepEqual(
      calls.map((c) => c.name),
      REQUEST_NAMES,
    );
  });

  test('channels without the prefix, or not in the contract, are UNKNOWN_REQUEST', async () => {
    const { dispatcher, calls } = recordingDispatcher();
    const channels = [
      'datasets.list',
      'vscode:datasets.list',
      'FOVEA:datasets.list',
      ' fovea:datasets.list',
      'fovea:',
      'fovea:nope',
      'fovea:datasets.list ',
      'fovea:system.exec',
      EVENT_CHANNEL,
      'fovea:__proto__',
      'fovea:constructor',
      'fovea:toString',
      'fovea:hasOwnProperty',
      '',
      42 as unknown as string,
      null as unknown as string,
    ];
    for (const channel of channels) {
      const res = await dispatcher.handle(channel, APP_FRAME, {});
      assert.equal(errorCode(res), 'UNKNOWN_REQUEST', String(channel));
    }
    assert.equal(calls.length, 0, 'dispatch never called');
  });

  test('untrusted senders are FORBIDDEN before anything else', async () => {
    const { dispatcher, calls } = recordingDispatcher();
    const senders: (SenderFrameLike | null | undefined)[] = [
      null,
      undefined,
      { url: 'https://evil.example/', parent: null },
      { url: 'fovea://app/index.html', parent: APP_FRAME },
      { url: 'about:blank', parent: null },
      { url: 'file:///index.html', parent: null },
    ];
    for (const sender of senders) {
      const res = await dispatcher.handle('fovea:datasets.list', sender, {});
      assert.equal(errorCode(res), 'FORBIDDEN', JSON.stringify(sender));
      // An untrusted frame learns nothing about which channels exist.
      assert.equal(errorCode(await dispatcher.handle('fovea:nope', sender, {})), 'FORBIDDEN');
    }
    assert.equal(calls.length, 0);
  });

  test('payloads that are not plain objects are VALIDATION errors', async () => {
    const { dispatcher, calls } = recordingDispatcher();
    class Thing {
      id = 1;
    }
    const payloads: unknown[] = [undefined, null, 'hello', 42, true, [], [{ id: 1 }], new Date(), new Map(), new Thing(), () => 1, Symbol('x')];
    for (const payload of payloads) {
      const res = await dispatcher.handle('fovea:datasets.get', APP_FRAME, payload);
      assert.equal(errorCode(res), 'VALIDATION', String(typeof payload));
    }
    assert.equal(calls.length, 0);
    assert.equal((await dispatcher.handle('fovea:datasets.list', APP_FRAME, Object.create(null))).ok, true, 'a null-prototype object is plain');
  });

  test('payloads nested too deeply, or cyclic, are VALIDATION errors', async () => {
    const { dispatcher, calls } = recordingDispatcher();
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < MAX_PAYLOAD_DEPTH + 5; i++) {
      const next: Record<string, unknown> = {};
      deep['a'] = next;
      deep = next;
    }
    assert.equal(errorCode(await dispatcher.handle('fovea:datasets.create', APP_FRAME, root)), 'VALIDATION');
    const cyclic: Record<string, unknown> = { name: 'x' };
    cyclic['self'] = cyclic;
    assert.equal(errorCode(await dispatcher.handle('fovea:datasets.create', APP_FRAME, cyclic)), 'VALIDATION');
    assert.equal(calls.length, 0);
  });

  test('__proto__, constructor and prototype keys are stripped at every depth and pollute nothing', async () => {
    // What a renderer can send: JSON.parse makes "__proto__" an own key, and
    // structured clone keeps it one.
    const hostile = JSON.parse(
      '{"name":"ok","__proto__":{"polluted":"top"},"constructor":{"prototype":{"polluted":"ctor"}},' +
        '"prototype":{"polluted":"proto"},"nested":{"__proto__":{"polluted":"nested"},"keep":1},' +
        '"list":[{"__proto__":{"polluted":"list"},"keep":2}]}',
    ) as unknown;

    // A careless handler: a naive deep merge, the classic pollution gadget.
    const naiveMerge = (target: Record<string, unknown>, source: Record<string, unknown>): Record<string, unknown> => {
      for (const key of Object.keys(source)) {
        const value = source[key];
        if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
          if (typeof target[key] !== 'object' || target[key] === null) target[key] = {};
          naiveMerge(target[key] as Record<string, unknown>, value as Record<string, unknown>);
        } else target[key] = value;
      }
      return target;
    };

    const { dispatcher, calls } = recordingDispatcher(async (_name, payload) => ok(naiveMerge({}, payload as Record<string, unknown>)));
    try {
      const res = await dispatcher.handle('fovea:datasets.create', APP_FRAME, hostile);
      assert.equal(res.ok, true);
      assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'Object.prototype untouched');
      assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
      const received = calls[0]?.payload as Record<string, unknown>;
      assert.deepEqual(Object.keys(received).sort(), ['list', 'name', 'nested']);
      assert.deepEqual(Object.keys(received['nested'] as object), ['keep']);
      assert.deepEqual(Object.keys((received['list'] as object[])[0] as object), ['keep']);
      assert.equal(Object.getPrototypeOf(received), Object.prototype);
    } finally {
      // Only reached if the guard failed: leave the process clean for other tests.
      delete (Object.prototype as Record<string, unknown>)['polluted'];
    }
  });

  test('the merge gadget does pollute without the guard (the test above is meaningful)', () => {
    const hostile = JSON.parse('{"__proto__":{"pollutedControl":"yes"}}') as Record<string, unknown>;
    const target: Record<string, unknown> = {};
    try {
      for (const key of Object.keys(hostile)) {
        const t = (target[key] ??= {}) as Record<string, unknown>;
        Object.assign(t, hostile[key]);
      }
      assert.equal(({} as Record<string, unknown>)['pollutedControl'], 'yes');
    } finally {
      delete (Object.prototype as Record<string, unknown>)['pollutedControl'];
    }
    assert.equal(({} as Record<string, unknown>)['pollutedControl'], undefined);
  });

  test('getters on a payload are never called', async () => {
    let called = false;
    const payload = { name: 'x' };
    Object.defineProperty(payload, 'trap', {
      enumerable: true,
      get() {
        called = true;
        throw new Error('getter ran');
      },
    });
    const { dispatcher, calls } = recordingDispatcher();
    const res = await dispatcher.handle('fovea:datasets.create', APP_FRAME, payload);
    assert.equal(res.ok, true);
    assert.equal(called, false);
    assert.deepEqual(calls[0]?.payload, { name: 'x' });
  });

  test('a throwing dispatch becomes INTERNAL without a stack; the error goes to the log hook', async () => {
    const boom = new Error('database exploded at /home/someone/library/secret.sqlite');
    const { dispatcher, internalErrors } = recordingDispatcher(() => {
      throw boom;
    });
    const res = await dispatcher.handle('fovea:datasets.list', APP_FRAME, {});
    assert.equal(errorCode(res), 'INTERNAL');
    assert.ok(!res.ok);
    assert.doesNotMatch(res.error.message, /\bat\s|\.ts:|exploded|secret/, 'no stack, no internals');
    assert.equal('details' in res.error, false);
    assert.equal(JSON.stringify(res).includes('stack'), false);
    assert.deepEqual(internalErrors, [{ error: boom, name: 'datasets.list' }]);
  });

  test('a rejecting dispatch, a non-Error throw and a non-Result reply are INTERNAL too', async () => {
    const replies: (() => Promise<Result<unknown>>)[] = [
      () => Promise.reject(new Error('async boom')),
      () => {
        throw 'a string';
      },
      async () => undefined as unknown as Result<unknown>,
      async () => ({ ok: 'yes' }) as unknown as Result<unknown>,
      async () => ({ ok: false, error: { code: 'BOGUS', message: 'x' } }) as unknown as Result<unknown>,
      async () => ({ ok: false }) as unknown as Result<unknown>,
      async () => ({ ok: true }) as unknown as Result<unknown>,
    ];
    for (const reply of replies) {
      const { dispatcher, internalErrors } = recordingDispatcher(reply);
      const res = await dispatcher.handle('fovea:datasets.list', APP_FRAME, {});
      assert.equal(errorCode(res), 'INTERNAL', String(reply));
      assert.equal(internalErrors.length, 1);
    }
  });

  test('a FoveaException thrown by dispatch keeps its code and message', async () => {
    const { dispatcher, internalErrors } = recordingDispatcher(() => {
      throw new FoveaException('NOT_FOUND', 'No dataset with id 7.', { id: 7 });
    });
    const res = await dispatcher.handle('fovea:datasets.get', APP_FRAME, { id: 7 });
    assert.deepEqual(res, { ok: false, error: { code: 'NOT_FOUND', message: 'No dataset with id 7.', details: { id: 7 } } });
    assert.equal(internalErrors.length, 0);
  });

  test('a failing log hook does not make handle throw', async () => {
    const dispatcher = createIpcDispatcher(
      () => {
        throw new Error('boom');
      },
      {
        onInternalError: () => {
          throw new Error('logger down');
        },
      },
    );
    assert.equal(errorCode(await dispatcher.handle('fovea:datasets.list', APP_FRAME, {})), 'INTERNAL');
  });

  test('with the contract schema as dispatch, malformed payloads are VALIDATION errors', async () => {
    const dispatcher = createIpcDispatcher(async (name, payload) => {
      const parsed = parseRequest(name, payload);
      return parsed.ok ? ok(parsed.value) : { ok: false, error: { code: 'VALIDATION', message: parsed.message } };
    });
    assert.equal(errorCode(await dispatcher.handle('fovea:datasets.create', APP_FRAME, { name: '' })), 'VALIDATION');
    assert.equal(errorCode(await dispatcher.handle('fovea:datasets.get', APP_FRAME, { id: 'one' })), 'VALIDATION');
    assert.deepEqual(await dispatcher.handle('fovea:datasets.get', APP_FRAME, { id: 3 }), { ok: true, value: { id: 3 } });
    // A polluting key is stripped before the strict schema sees it.
    assert.deepEqual(await dispatcher.handle('fovea:datasets.get', APP_FRAME, JSON.parse('{"id":3,"__proto__":{"x":1}}')), {
      ok: true,
      value: { id: 3 },
    });
  });
});

test('stripPollutingKeys keeps ordinary values as they are', () => {
  const bytes = new Uint8Array([1, 2, 3]);
  const out = stripPollutingKeys({ a: 1, b: 'x', c: [1, { d: null }], e: bytes, f: undefined }) as Record<string, unknown>;
  assert.deepEqual(out, { a: 1, b: 'x', c: [1, { d: null }], e: bytes, f: undefined });
  assert.equal(out['e'], bytes);
  assert.equal(stripPollutingKeys('s'), 's');
  assert.equal(stripPollutingKeys(null), null);
});
