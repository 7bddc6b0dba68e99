/** Typed context helper for the dataset browser's state. */
import { getContext, setContext } from 'svelte';
import type { BrowseState } from './browse-state.svelte';

const BROWSE = Symbol('browse-state');

export function provideBrowseState(state: BrowseState): BrowseState {
  return setContext(BROWSE, state);
}

export function useBrowseState(): BrowseState {
  const state = getContext<BrowseState | undefined>(BROWSE);
  if (!state) throw new Error('BrowseState was not provided: wrap the component in App.svelte.');
  return state;
}
