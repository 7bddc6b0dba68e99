/**
 * The gate every IPC request passes before it reaches the core.
 *
 * The renderer is untrusted (it renders imported data, and a bug there must
 * not become a way into the backend). Electron security checklist #17:
 * validate the sender of every IPC message; and every payload. This guard
 * checks what does not depend on the request: the channel is a `fovea:`
 * request of the contract, the sender is the app's own top-level frame,
 * the payload is a plain object, and no `__proto__` / `constructor` /
 * `prototype` key survives to pollute anything downstream. Schema
 * validation is the core's dispatch (the contract's parseRequest); the
 * guard holds even if dispatch passed garbage through. It never throws:
 * Electron would flatten a thrown error into a string with a stack.
 */
import { CHANNEL_PREFIX, err, FoveaException, isErrorCode, isRequestName } from '../contract';
import type { FoveaError, RequestName, Result } from '../contract';
import { APP_ORIGIN, originOf } from './security';

/** What the guard reads of Electron's `event.senderFrame` (a WebFrameMain). */
export interface SenderFrameLike {
  url: string;
  /** null (or absent) for a top-level frame. */
  parent?: unknown;
}

/**
 * Whether an IPC message comes from the app's own top-level frame: its URL
 * has exactly the expected origin (fovea://app by default), and it has no
 * parent. Refused: a missing or destroyed frame (null), subframes, other
 * origins, about:blank, data:, blob:, file:, and anything unparseable.
 */
export function isTrustedSender(frame: SenderFrameLike | null | undefined, expectedOrigin: string = APP_ORIGIN): boolean {
  try {
    if (frame === null || frame === undefined || typeof frame !== 'object') return false;
    if (frame.parent !== null && frame.parent !== undefined) return false;
    const url = frame.url;
    if (typeof url !== 'string') return false;
    const origin = originOf(url);
    return origin !== null && origin === expectedOrigin.toLowerCase();
  } catch {
    // A destroyed WebFrameMain throws on property access.
    return false;
  }
}

/** Keys that reach a prototype when assigned or merged; dropped from payloads. */
const POLLUTING_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Deeper than this, a payload is refused (and a cyclic one stops here). */
export const MAX_PAYLOAD_DEPTH = 32;

class PayloadTooDeep extends Error {}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * A copy of a structured-cloned value with every `__proto__`,
 * `constructor` and `prototype` own key dropped, at any depth. Plain
 * objects and arrays are rebuilt (with defineProperty, so no key can reach
 * a setter such as `__proto__`); accessor properties are dropped without
 * being called; other values (strings, numbers, typed arrays, ...) pass as
 * they are.
 */
export function stripPollutingKeys(value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth > MAX_PAYLOAD_DEPTH) throw new PayloadTooDeep();
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) {
      const d = Object.getOwnPropertyDescriptor(value, i);
      out.push(d && 'value' in d ? stripPollutingKeys(d.value, depth + 1) : undefined);
    }
    return out;
  }
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (POLLUTING_KEYS.has(key)) continue;
    const d = Object.getOwnPropertyDescriptor(value, key);
    if (!d || !('value' in d)) continue;
    Object.defineProperty(out, key, {
      value: stripPollutingKeys(d.value, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** The function the guard hands checked requests to: the core's dispatch. */
export type Dispatch = (name: RequestName, payload: unknown) => Promise<Result<unknown>>;

export interface IpcDispatcherOptions {
  /** The origin of the only frame allowed to call (default fovea://app). */
  expectedOrigin?: string;
  /**
   * Told about a dispatch that threw or returned something that is not a
   * Result, with the error (stack included): it belongs in the backend's
   * log, never in the reply. Default: console.error.
   */
  onInternalError?: (error: unknown, name: string) => void;
}

export interface IpcDispatcher {
  /**
   * Check one request and pass it to dispatch. Resolves to a Result; never
   * throws or rejects.
   * @param channel the IPC channel, `fovea:` + a request name of the contract
   * @param senderFrame Electron's `event.senderFrame`
   * @param payload the request's input, as cloned by IPC
   */
  handle(channel: string, senderFrame: SenderFrameLike | null | undefined, payload: unknown): Promise<Result<unknown>>;
}

const INTERNAL_MESSAGE = 'Something went wrong inside Fovea. The request was not completed; try again, and report it if it keeps happening.';

function isResult(value: unknown): value is Result<unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as { ok?: unknown; error?: unknown };
  if (r.ok === true) return 'value' in r;
  if (r.ok !== false || typeof r.error !== 'object' || r.error === null) return false;
  const e = r.error as Partial<FoveaError>;
  return isErrorCode(e.code) && typeof e.message === 'string';
}

/**
 * The IPC gate: `handle(channel, senderFrame, payload)` refuses
 * - a channel without the `fovea:` prefix, or naming no request of the
 *   contract (the event channel included): UNKNOWN_REQUEST;
 * - a sender that is not the app's top-level frame: FORBIDDEN;
 * - a payload that is not a plain object, or is nested deeper than
 *   MAX_PAYLOAD_DEPTH: VALIDATION;
 * then strips polluting keys and calls dispatch. A FoveaException thrown by
 * dispatch becomes its error result; anything else thrown, or a reply
 * that is not a Result, becomes INTERNAL with a short message and no stack.
 */
export function createIpcDispatcher(dispatch: Dispatch, options: IpcDispatcherOptions = {}): IpcDispatcher {
  const expectedOrigin = options.expectedOrigin ?? APP_ORIGIN;
  const report =
    options.onInternalError ??
    ((error: unknown, name: string) => {
      console.error(`[fovea] request ${name} failed:`, error);
    });
  const internal = (error: unknown, name: string): Result<unknown> => {
    try {
      report(error, name);
    } catch {
      // Logging must not turn a handled error into a thrown one.
    }
    return err('INTERNAL', INTERNAL_MESSAGE);
  };

  return {
    async handle(channel, senderFrame, payload) {
      let name = '(unknown)';
      try {
        if (!isTrustedSender(senderFrame, expectedOrigin)) {
          return err('FORBIDDEN', 'This request is only accepted from the Fovea window.');
        }
        if (typeof channel !== 'string' || !channel.startsWith(CHANNEL_PREFIX)) {
          return err('UNKNOWN_REQUEST', 'Unknown request channel.');
        }
        const requested = channel.slice(CHANNEL_PREFIX.length);
        if (!isRequestName(requested)) {
          return err('UNKNOWN_REQUEST', `Unknown request: ${requested.slice(0, 80)}`);
        }
        name = requested;

        if (!isPlainObject(payload)) {
          return err('VALIDATION', `Invalid request ${requested}: the input must be an object.`);
        }
        let clean: unknown;
        try {
          clean = stripPollutingKeys(payload);
        } catch (e) {
          if (e instanceof PayloadTooDeep) {
            return err('VALIDATION', `Invalid request ${requested}: the input is nested too deeply.`);
          }
          throw e;
        }

        let result: unknown;
        try {
          result = await dispatch(requested, clean);
        } catch (e) {
          if (e instanceof FoveaException && isErrorCode(e.code) && e.code !== 'INTERNAL') {
            return err(e.code, e.message, e.details);
          }
          throw e;
        }
        if (isResult(result)) return result;
        return internal(new TypeError(`dispatch returned something that is not a Result for ${requested}`), requested);
      } catch (e) {
        return internal(e, name);
      }
    },
  };
}
