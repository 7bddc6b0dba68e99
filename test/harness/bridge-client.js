// Browser-test harness only (never shipped): implements the contract's
// FoveaApi over the loopback bridge, exactly as the Electron preload does
// over IPC. Served from the harness origin, so CSP script-src 'self' allows it.
(() => {
  const listeners = new Map();
  let source = null;
  function ensureEvents() {
    if (source) return;
    source = new EventSource('/__bridge/events');
    source.onmessage = (msg) => {
      let env;
      try {
        env = JSON.parse(msg.data);
      } catch {
        return;
      }
      for (const fn of listeners.get(env.name) ?? []) fn(env.payload);
    };
  }
  // The bridge sends typed arrays as {__foveaTypedArray: 'Int16Array', base64} (JSON has none);
  // turn them back so the page sees what IPC's structured clone would give it.
  const TYPED = { Uint8Array, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array, Float32Array, Float64Array, Uint8ClampedArray };
  function revive(_key, value) {
    if (value && typeof value === 'object' && typeof value.__foveaTypedArray === 'string' && typeof value.base64 === 'string') {
      const Ctor = TYPED[value.__foveaTypedArray];
      if (!Ctor) return value;
      const bin = atob(value.base64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      return new Ctor(bytes.buffer, 0, bytes.length / Ctor.BYTES_PER_ELEMENT);
    }
    return value;
  }
  const api = {
    async invoke(name, input) {
      const res = await fetch('/__bridge/invoke', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name, input }),
      });
      return JSON.parse(await res.text(), revive);
    },
    on(name, listener) {
      ensureEvents();
      if (!listeners.has(name)) listeners.set(name, new Set());
      listeners.get(name).add(listener);
      return () => listeners.get(name)?.delete(listener);
    },
    // A plain browser cannot know where a dropped file lives; the UI then asks for paths.
    pathForFile() {
      return null;
    },
    blobUrl(sha256) {
      if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) throw new TypeError('blobUrl needs a lowercase hex SHA-256.');
      return `/__bridge/blob/${sha256}`;
    },
  };
  Object.defineProperty(window, 'fovea', { value: Object.freeze(api), writable: false, configurable: false });
})();
