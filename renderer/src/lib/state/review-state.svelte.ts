/**
 * Review mode: a walk through the items of a dataset that need review, in
 * the order they were listed when review began (approving or rejecting one
 * changes its status, so the walk keeps its own list rather than re-querying).
 */
import type { ItemRow } from '../../../../electron/contract/domain';
import { request } from '../api';

const MAX_REVIEW = 1000;

export class ReviewState {
  items = $state.raw<ItemRow[]>([]);
  index = $state(0);
  /** Decisions made in this walk, by item id. */
  decided = $state.raw<Record<number, 'approved' | 'rejected'>>({});
  error = $state<string | null>(null);

  readonly current = $derived(this.items[this.index] ?? null);
  readonly remaining = $derived(this.items.filter((i) => !(i.id in this.decided)).length);

  async load(datasetId: number): Promise<boolean> {
    const res = await request('items.list', { datasetId, status: ['needs_review'], sort: 'id', limit: MAX_REVIEW, withTotal: true });
    if (!res.ok) {
      this.error = res.error.message;
      return false;
    }
    this.items = res.value.rows;
    this.index = 0;
    this.decided = {};
    this.error = null;
    return this.items.length > 0;
  }

  step(delta: number): ItemRow | null {
    const next = this.index + delta;
    if (next < 0 || next >= this.items.length) return null;
    this.index = next;
    return this.current;
  }

  mark(itemId: number, decision: 'approved' | 'rejected'): void {
    this.decided = { ...this.decided, [itemId]: decision };
  }
}
