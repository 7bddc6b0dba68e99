/**
 * Display names of items known only by id (evaluation lists, the confusion drill-down):
 * asked of the core (items.names), never built here from ids or file names.
 */
import { request } from '../api';

const MAX_IDS = 5000;

export class ItemNamesState {
  // Replaced whole on each load, never mutated: a plain Map in $state.raw.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- see above
  names = $state.raw<ReadonlyMap<number, string>>(new Map());
  error = $state<string | null>(null);

  /** Fetch the names not held yet (at most 5,000 ids a call). */
  async load(itemIds: readonly number[]): Promise<void> {
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a local for de-duplicating, never rendered
    const missing = [...new Set(itemIds)].filter((id) => !this.names.has(id)).slice(0, MAX_IDS);
    if (missing.length === 0) return;
    const res = await request('items.names', { itemIds: missing });
    if (!res.ok) {
      this.error = res.error.message;
      return;
    }
    // Replaced whole, never mutated: a plain Map in $state.raw.
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- see above
    const next = new Map(this.names);
    for (const { itemId, name } of res.value) next.set(itemId, name);
    this.names = next;
  }
}
