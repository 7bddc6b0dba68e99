/**
 * The annotator's name and hotkey map, kept in the library's settings table
 * (so a library moved to another workstation keeps who labelled what).
 *
 * Under an IT policy with annotatorFromOsUser=true the name is the OS
 * account's (from the account database, not $USER) and cannot be changed;
 * the user is never asked. Changes are audited (names and keys only).
 */
import { DEFAULT_HOTKEYS, HOTKEY_ACTIONS, type AnnotatorSettings, type HotkeyAction } from '../../contract/domain';
import { FoveaException } from '../../contract/result';
import type { AuditLog } from '../store/audit-log';
import type { Db } from '../store/library-db';
import { getSetting, putSetting } from '../store/settings-repo';
import { inImmediateTransaction } from '../store/transaction';

const NAME_KEY = 'annotator.name';
const HOTKEYS_KEY = 'annotator.hotkeys';

export class AnnotatorSettingsService {
  readonly #db: Db;
  readonly #audit: AuditLog;
  readonly #lockedName: string | null;

  /** `osUserName` is given when the policy says annotatorFromOsUser=true. */
  constructor(db: Db, audit: AuditLog, osUserName: string | null) {
    this.#db = db;
    this.#audit = audit;
    this.#lockedName = osUserName;
  }

  #get(key: string): string | null {
    return getSetting(this.#db, key);
  }

  #put(key: string, value: string): void {
    putSetting(this.#db, key, value);
  }

  current(): AnnotatorSettings {
    const hotkeys: Record<HotkeyAction, string> = { ...DEFAULT_HOTKEYS };
    const stored = this.#get(HOTKEYS_KEY);
    if (stored) {
      try {
        const parsed = JSON.parse(stored) as Record<string, unknown>;
        for (const a of HOTKEY_ACTIONS) if (typeof parsed[a] === 'string') hotkeys[a] = parsed[a];
      } catch {
        // A damaged value falls back to the defaults; the next save rewrites it.
      }
    }
    return { annotatorName: this.#lockedName ?? this.#get(NAME_KEY), annotatorLocked: this.#lockedName !== null, hotkeys };
  }

  /** The name to record on a label; refuses (VALIDATION) until one is set. */
  requireAnnotator(): string {
    const name = this.current().annotatorName;
    if (!name) throw new FoveaException('VALIDATION', 'Enter your name as annotator first (it is recorded on every label).');
    return name;
  }

  set(p: { annotatorName?: string | undefined; hotkeys?: Partial<Record<HotkeyAction, string>> | undefined }): AnnotatorSettings {
    if (p.annotatorName !== undefined && this.#lockedName !== null) {
      throw new FoveaException('FORBIDDEN', 'Your IT policy records your operating-system user as the annotator (policy key annotatorFromOsUser); the name cannot be changed.');
    }
    const before = this.current();
    let hotkeys: Record<HotkeyAction, string> | null = null;
    if (p.hotkeys) {
      hotkeys = { ...before.hotkeys, ...p.hotkeys };
      const seen = new Map<string, HotkeyAction>();
      for (const a of HOTKEY_ACTIONS) {
        const key = normalizeKey(hotkeys[a]);
        const other = seen.get(key);
        if (other) throw new FoveaException('CONFLICT', `The key ${hotkeys[a]} is given to both "${other}" and "${a}".`);
        seen.set(key, a);
      }
    }
    inImmediateTransaction(this.#db, () => {
      if (p.annotatorName !== undefined) this.#put(NAME_KEY, p.annotatorName);
      if (hotkeys) this.#put(HOTKEYS_KEY, JSON.stringify(hotkeys));
      this.#audit.append({
        action: 'settings.change',
        objectType: 'settings',
        actor: p.annotatorName ?? before.annotatorName,
        details: { annotatorName: p.annotatorName !== undefined, hotkeys: p.hotkeys ? Object.keys(p.hotkeys) : [] },
      });
    });
    return this.current();
  }
}

/** Case-insensitive for single letters, modifiers in a fixed order. */
function normalizeKey(k: string): string {
  const parts = k.split('+');
  const key = parts.pop() || '+';
  const mods = new Set(parts.map((m) => m.toLowerCase()));
  return `${['ctrl', 'alt', 'shift', 'meta'].filter((m) => mods.has(m)).join('+')}|${key.length === 1 ? key.toLowerCase() : key}`;
}
