/**
 * The object the preload exposes as `window.fovea`: exactly the contract
 * (`invoke` for requests, `on` for events) and nothing else. The renderer
 * never sees ipcRenderer. Kept apart from preload.ts so tests can build it
 * over a fake ipcRenderer in plain Node.
 */
import {
  CHANNEL_PREFIX,
  EVENT_CHANNEL,
  isEventName,
  isRequestName,
  SHA256_PATTERN,
  type EventEnvelope,
  type FoveaApi,
  type RequestInput,
  type RequestName,
  type Responses,
} from '../contract/api';
import { err, type Result } from '../contract/result';

export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
  removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
}

/** Electron's webUtils.getPathForFile (File.path was removed in Electron 32). */
export type PathForFile = (file: never) => string;

export function createPreloadApi(ipc: IpcRendererLike, getPathForFile: PathForFile | null = null): FoveaApi {
  const api: FoveaApi = {
    invoke<K extends RequestName>(name: K, input: RequestInput<K>): Promise<Result<Responses[K]>> {
      if (!isRequestName(name)) {
        return Promise.resolve(err('UNKNOWN_REQUEST', `Unknown request: ${String(name).slice(0, 80)}`));
      }
      return ipc.invoke(`${CHANNEL_PREFIX}${name}`, input) as Promise<Result<Responses[K]>>;
    },
    on(name, listener) {
      if (!isEventName(name)) throw new TypeError(`Unknown event: ${String(name).slice(0, 80)}`);
      const handler = (_event: unknown, envelope: unknown): void => {
        const env = envelope as EventEnvelope | null;
        if (env && env.name === name) (listener as (p: unknown) => void)(env.payload);
      };
      ipc.on(EVENT_CHANNEL, handler);
      return () => {
        ipc.removeListener(EVENT_CHANNEL, handler);
      };
    },
    pathForFile(file) {
      if (!getPathForFile) return null;
      try {
        return getPathForFile(file as never) || null;
      } catch {
        return null;
      }
    },
    blobUrl(sha256) {
      // main serves fovea://data/ from the library's content-addressed blob store (blobs/ab/abcd...).
      if (typeof sha256 !== 'string' || !SHA256_PATTERN.test(sha256)) throw new TypeError('blobUrl needs a lowercase hex SHA-256.');
      return `fovea://data/${sha256.slice(0, 2)}/${sha256}`;
    },
  };
  // Frozen: page scripts cannot swap the methods.
  return Object.freeze(api);
}
