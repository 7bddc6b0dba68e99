/** Typed context helper for the annotator's settings (one SettingsState for the whole app). */
import { getContext, setContext } from 'svelte';
import type { SettingsState } from './settings-state.svelte';

const SETTINGS = Symbol('settings-state');

export function provideSettingsState(state: SettingsState): SettingsState {
  return setContext(SETTINGS, state);
}

export function useSettingsState(): SettingsState {
  const state = getContext<SettingsState | undefined>(SETTINGS);
  if (!state) throw new Error('SettingsState was not provided: wrap the component in App.svelte.');
  return state;
}
