/**
 * The items marked in the Browse grid for a batch action (issue 19): status, split or delete for
 * all of them at once. Marks are item ids (they survive scrolling and paging); they are cleared
 * when the dataset or the filter changes, so a batch never touches items the user cannot see.
 * The batch requests go through api.ts; the answer's warnings (a patient moved whole, items
 * already gone) become the notice.
 */
import { SvelteSet } from 'svelte/reactivity';
import { MAX_BATCH_ITEMS } from '../../../../electron/contract/data-management';
import type { ItemStatus } from '../../../../electron/contract/domain';
import { request } from '../api';

export class ItemMarks {
  readonly ids = new SvelteSet<number>();
  /** The index a Shift+click range starts from. */
  anchor = $state<number | null>(null);
  busy = $state(false);
  notice = $state<string | null>(null);
  error = $state<string | null>(null);
  /** The delete confirmation is showing. */
  confirmingDelete = $state(false);
  readonly count = $derived(this.ids.size);

  toggle(id: number, index: number): void {
    if (this.ids.has(id)) this.ids.delete(id);
    else this.ids.add(id);
    this.anchor = index;
  }

  /** Mark the items from the anchor to `index` (their ids from `idAt`; rows not loaded are skipped). */
  range(index: number, idAt: (i: number) => number | undefined): void {
    const from = this.anchor ?? index;
    for (let i = Math.min(from, index); i <= Math.max(from, index); i++) {
      const id = idAt(i);
      if (id !== undefined) this.ids.add(id);
    }
    this.anchor = index;
  }

  clear(): void {
    this.ids.clear();
    this.anchor = null;
    this.confirmingDelete = false;
  }

  /** Mark every item the filter matches (at most MAX_BATCH_ITEMS), fetched a page at a time. */
  async markAll(query: (offset: number, limit: number) => Parameters<typeof request<'items.list'>>[1], total: number): Promise<void> {
    const limit = 1000;
    for (let offset = 0; offset < Math.min(total, MAX_BATCH_ITEMS); offset += limit) {
      const res = await request('items.list', { ...query(offset, limit), withTotal: false });
      if (!res.ok) {
        this.error = res.error.message;
        return;
      }
      for (const r of res.value.rows) this.ids.add(r.id);
      if (res.value.rows.length < limit) break;
    }
    if (total > MAX_BATCH_ITEMS) this.notice = `Marked the first ${MAX_BATCH_ITEMS.toLocaleString('en-US')} items (one batch at most).`;
  }

  async setStatus(datasetId: number, status: ItemStatus, comment?: string): Promise<boolean> {
    return this.#run(async () => {
      const res = await request('items.setStatusMany', { datasetId, itemIds: [...this.ids], status, ...(comment ? { comment } : {}) });
      if (!res.ok) return res.error.message;
      this.notice = `Set ${res.value.updated} item${res.value.updated === 1 ? '' : 's'} to ${status.replace('_', ' ')}.`;
      return null;
    });
  }

  async setSplit(datasetId: number, split: 'train' | 'val' | 'test'): Promise<boolean> {
    return this.#run(async () => {
      const res = await request('items.setSplit', { datasetId, itemIds: [...this.ids], split });
      if (!res.ok) return res.error.message;
      this.notice = [`Put ${res.value.written} item${res.value.written === 1 ? '' : 's'} in ${split} by hand (training uses it; a redraw never moves it).`, ...res.value.warnings].join(' ');
      return null;
    });
  }

  async deleteMarked(datasetId: number): Promise<boolean> {
    return this.#run(async () => {
      const res = await request('items.delete', { datasetId, itemIds: [...this.ids] });
      if (!res.ok) return res.error.message;
      const r = res.value;
      this.notice = [`Deleted ${r.deleted} item${r.deleted === 1 ? '' : 's'} with ${r.labels} label${r.labels === 1 ? '' : 's'}.`, ...r.warnings].join(' ');
      this.clear();
      return null;
    });
  }

  async #run(action: () => Promise<string | null>): Promise<boolean> {
    if (this.busy || this.ids.size === 0) return false;
    this.busy = true;
    this.error = null;
    this.notice = null;
    try {
      const error = await action();
      this.error = error;
      this.confirmingDelete = false;
      return error === null;
    } finally {
      this.busy = false;
    }
  }
}
