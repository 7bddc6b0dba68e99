/**
 * Keyboard shortcuts: events to key names ('b', 'Shift+N', 'Ctrl+Enter'),
 * and key names to actions through the user's map (settings) and the
 * dataset's class keys. Pure: unit-tested in Node.
 */
import { HOTKEY_ACTIONS, type HotkeyAction } from '../../../electron/contract/domain';

export interface KeyLike {
  key: string;
  code?: string;
  ctrlKey: boolean;
  altKey: boolean;
  shiftKey: boolean;
  metaKey: boolean;
}

function canonicalKey(key: string): string {
  if (key === ' ') return 'Space';
  return key.length === 1 ? key.toLowerCase() : key;
}

/** A key name in canonical form: modifiers Ctrl, Alt, Shift, Meta in that order, single keys lower-case. */
export function normalizeKeyName(name: string): string {
  const parts = name.split('+');
  let key = parts.pop() ?? '';
  if (key === '' && parts.length > 0) {
    parts.pop();
    key = '+';
  }
  const mods = new Set(parts.map((m) => m.toLowerCase()));
  const order = [
    ['ctrl', 'Ctrl'],
    ['alt', 'Alt'],
    ['shift', 'Shift'],
    ['meta', 'Meta'],
  ] as const;
  return [...order.filter(([m]) => mods.has(m)).map(([, label]) => label), canonicalKey(key)].join('+');
}

/** The key name of an event. Digits come from `code`, so Shift+1 is 'Shift+1', not '!'. */
export function eventKeyName(e: KeyLike): string {
  let key = e.key;
  const digit = e.code?.match(/^(?:Digit|Numpad)(\d)$/);
  if (digit) key = digit[1] as string;
  else if (e.shiftKey && key.length === 1 && e.code?.startsWith('Key')) key = e.code.slice(3);
  const mods = [e.ctrlKey ? 'Ctrl' : '', e.altKey ? 'Alt' : '', e.shiftKey ? 'Shift' : '', e.metaKey ? 'Meta' : ''].filter(Boolean);
  return [...mods, canonicalKey(key)].join('+');
}

export class Keymap {
  readonly #actions = new Map<string, HotkeyAction>();
  constructor(map: Partial<Record<HotkeyAction, string>>) {
    for (const a of HOTKEY_ACTIONS) {
      const k = map[a];
      if (k) this.#actions.set(normalizeKeyName(k), a);
    }
  }

  action(e: KeyLike): HotkeyAction | null {
    return this.#actions.get(eventKeyName(e)) ?? null;
  }

  /** For Shift+digit: which class key (0-9) and whether Shift was held (series level). */
  static classKey(e: KeyLike): { digit: string; series: boolean } | null {
    if (e.ctrlKey || e.altKey || e.metaKey) return null;
    const m = e.code?.match(/^(?:Digit|Numpad)(\d)$/);
    const digit = m ? (m[1] as string) : /^\d$/.test(e.key) ? e.key : null;
    return digit ? { digit, series: e.shiftKey } : null;
  }
}
