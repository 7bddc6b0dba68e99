/** Typed context helpers: components get app state from here, never by importing a singleton. */
import { getContext, setContext } from 'svelte';
import type { LibraryState } from './library-state.svelte';

const LIBRARY = Symbol('library-state');

export function provideLibraryState(state: LibraryState): LibraryState {
  return setContext(LIBRARY, state);
}

export function useLibraryState(): LibraryState {
  const state = getContext<LibraryState | undefined>(LIBRARY);
  if (!state) throw new Error('LibraryState was not provided: wrap the component in App.svelte.');
  return state;
}
