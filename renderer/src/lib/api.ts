/**
 * The renderer's only way to the backend. Typed by the contract; the
 * transport is whatever provided `window.fovea`: the Electron preload, or
 * the browser-test harness bridge, both implementing the same FoveaApi.
 */
import type { EventName, Events, FoveaApi, RequestInput, RequestName, Responses } from '../../../electron/contract/api';
import type { FoveaError, Result } from '../../../electron/contract/result';

declare global {
  interface Window {
    fovea?: FoveaApi;
  }
}

function transport(): FoveaApi | null {
  return typeof window !== 'undefined' && window.fovea ? window.fovea : null;
}

const NOT_CONNECTED: FoveaError = {
  code: 'INTERNAL',
  message: 'The Fovea backend is not connected (window.fovea is missing). Start the app with `npm start`.',
};

export function isConnected(): boolean {
  return transport() !== null;
}

/** Send a request; never throws, errors come back as data. */
export async function request<K extends RequestName>(name: K, input: RequestInput<K>): Promise<Result<Responses[K]>> {
  const t = transport();
  if (!t) return { ok: false, error: NOT_CONNECTED };
  try {
    return await t.invoke(name, input);
  } catch (e) {
    return { ok: false, error: { code: 'INTERNAL', message: `The request ${name} failed in transit: ${(e as Error).message}` } };
  }
}

/** Subscribe to a backend event; returns the unsubscribe function. */
export function on<E extends EventName>(name: E, listener: (payload: Events[E]) => void): () => void {
  const t = transport();
  return t ? t.on(name, listener) : () => {};
}

/** The path of a dropped file, or null where the transport cannot know it. */
export function pathForFile(file: unknown): string | null {
  return transport()?.pathForFile(file) ?? null;
}

/** A loadable URL for a stored image blob (thumbnail), or null without a backend or a valid hash. */
export function blobUrl(sha256: string): string | null {
  try {
    return transport()?.blobUrl(sha256) ?? null;
  } catch {
    return null;
  }
}
