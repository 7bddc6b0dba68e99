/**
 * The annotator's settings as the app shell and the settings screen see
 * them: the name (asked on first start unless IT policy fixes it to the OS
 * user) and the hotkey map.
 */
import type { AnnotatorSettings, HotkeyAction } from '../../../../electron/contract/domain';
import { request } from '../api';

export class SettingsState {
  settings = $state.raw<AnnotatorSettings | null>(null);
  error = $state<string | null>(null);
  /** True once loaded and no name is known: the shell asks for one. */
  readonly needsName = $derived(this.settings !== null && !this.settings.annotatorName && !this.settings.annotatorLocked);

  async load(): Promise<void> {
    const res = await request('settings.get', {});
    if (res.ok) this.settings = res.value;
    else this.error = res.error.message;
  }

  async setName(name: string): Promise<boolean> {
    const res = await request('settings.set', { annotatorName: name });
    if (!res.ok) {
      this.error = res.error.message;
      return false;
    }
    this.settings = res.value;
    this.error = null;
    return true;
  }

  async setHotkeys(hotkeys: Partial<Record<HotkeyAction, string>>): Promise<boolean> {
    const res = await request('settings.set', { hotkeys });
    if (!res.ok) {
      this.error = res.error.message;
      return false;
    }
    this.settings = res.value;
    this.error = null;
    return true;
  }
}
