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
  const api = {
    async invoke(name, input) {
      const res = await fetch('/__bridge/invoke', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name, input }),
      });
      return res.json();
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
  };
  Object.defineProperty(window, 'fovea', { value: Object.freeze(api), writable: false, configurable: false });
})();
