/**
 * The dataset browser: which dataset, the filters and sort, and the items
 * as pages fetched on demand (items.list) for a virtualized grid: only the
 * pages around what is on screen are held (bounded), so 100,000 items cost
 * a few hundred rows of memory. Responses for an older filter are dropped.
 */
import type { Dataset, ItemRow, ItemSort, ItemStatus, LabelClass, SeriesStack } from '../../../../electron/contract/domain';
import { request } from '../api';

export const PAGE_SIZE = 200;
const MAX_PAGES = 40;

export interface BrowseFilter {
  status: ItemStatus | '';
  modality: string;
  classId: number | null;
  split: 'train' | 'val' | 'test' | 'none' | '';
  labelSource: 'human' | 'model' | 'imported' | '';
  search: string;
}

export const EMPTY_FILTER: BrowseFilter = { status: '', modality: '', classId: null, split: '', labelSource: '', search: '' };

export class BrowseState {
  datasets = $state.raw<Dataset[]>([]);
  datasetId = $state<number | null>(null);
  filter = $state<BrowseFilter>({ ...EMPTY_FILTER });
  sort = $state<ItemSort>('id');
  classes = $state.raw<LabelClass[]>([]);
  total = $state(0);
  loading = $state(false);
  error = $state<string | null>(null);
  /** Index (in the filtered, sorted list) of the selected item. */
  selected = $state(0);
  /** Bumped whenever a page arrives: rowAt() reads it so the grid re-renders. */
  pagesVersion = $state(0);

  // Deliberately not reactive: thousands of rows; `pagesVersion` tells the grid when to look again.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- see above
  readonly #pages = new Map<number, ItemRow[]>();
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping only, never rendered
  readonly #inflight = new Set<number>();
  #generation = 0;

  async loadDatasets(): Promise<void> {
    const res = await request('datasets.list', {});
    if (!res.ok) {
      this.error = res.error.message;
      return;
    }
    this.datasets = res.value;
    if (this.datasetId === null || !res.value.some((d) => d.id === this.datasetId)) {
      const first = res.value.find((d) => d.counts.items > 0) ?? res.value[0];
      if (first) await this.selectDataset(first.id);
    }
  }

  async selectDataset(id: number): Promise<void> {
    this.datasetId = id;
    this.filter = { ...EMPTY_FILTER };
    // The grid forgets the old rows now (reload's first, synchronous step), not after the classes
    // arrive: a key pressed meanwhile must not act on a row that is about to be replaced.
    const items = this.reload();
    const res = await request('classes.list', { datasetId: id });
    if (this.datasetId === id) this.classes = res.ok ? res.value : [];
    await items;
  }

  setFilter(change: Partial<BrowseFilter>): void {
    const next = { ...this.filter, ...change };
    if ((Object.keys(next) as (keyof BrowseFilter)[]).every((k) => next[k] === this.filter[k])) return;
    this.filter = next;
    void this.reload();
  }

  setSort(sort: ItemSort): void {
    this.sort = sort;
    void this.reload();
  }

  #query(offset: number, withTotal: boolean) {
    const f = this.filter;
    return {
      datasetId: this.datasetId ?? 0,
      ...(f.status ? { status: [f.status] } : {}),
      ...(f.modality ? { modality: f.modality } : {}),
      ...(f.classId !== null ? { classId: f.classId } : {}),
      ...(f.split ? { split: f.split } : {}),
      ...(f.labelSource ? { labelSource: f.labelSource } : {}),
      ...(f.search.trim() ? { search: f.search.trim() } : {}),
      sort: this.sort,
      offset,
      limit: PAGE_SIZE,
      withTotal,
    };
  }

  /** The items.list query of the current dataset, filter and sort for a page (batch marks). */
  pageQuery(offset: number, limit: number) {
    return { ...this.#query(offset, false), limit };
  }

  /** Start over: new filter, sort or dataset. Fetches the first page with the total. */
  async reload(): Promise<void> {
    if (this.datasetId === null) return;
    const gen = ++this.#generation;
    this.#pages.clear();
    this.#inflight.clear();
    this.selected = 0;
    this.loading = true;
    // Show placeholders until the new first page comes: what the grid shows is what Space and Enter act on.
    this.pagesVersion++;
    const res = await request('items.list', this.#query(0, true));
    if (gen !== this.#generation) return;
    this.loading = false;
    if (!res.ok) {
      this.error = res.error.message;
      this.total = 0;
    } else {
      this.error = null;
      this.total = res.value.total ?? res.value.rows.length;
      this.#pages.set(0, res.value.rows);
    }
    this.pagesVersion++;
  }

  /** Fetch the loaded pages again (statuses changed in the viewer), keeping the selection and scroll. */
  async refresh(): Promise<void> {
    if (this.datasetId === null) return;
    const gen = this.#generation;
    for (const page of [...this.#pages.keys()]) {
      const res = await request('items.list', this.#query(page * PAGE_SIZE, false));
      if (gen !== this.#generation) return;
      if (res.ok) this.#pages.set(page, res.value.rows);
    }
    this.pagesVersion++;
  }

  rowAt(index: number): ItemRow | undefined {
    void this.pagesVersion;
    return this.#pages.get(Math.floor(index / PAGE_SIZE))?.[index % PAGE_SIZE];
  }

  /** Make sure the pages covering [first, last] are loaded or loading. */
  ensureRange(first: number, last: number): void {
    if (this.datasetId === null || this.total === 0) return;
    const lo = Math.max(0, Math.floor(first / PAGE_SIZE));
    const hi = Math.floor(Math.min(last, this.total - 1) / PAGE_SIZE);
    for (let p = lo; p <= hi; p++) if (!this.#pages.has(p) && !this.#inflight.has(p)) void this.#fetchPage(p, lo);
  }

  async #fetchPage(page: number, near: number): Promise<void> {
    const gen = this.#generation;
    this.#inflight.add(page);
    const res = await request('items.list', this.#query(page * PAGE_SIZE, false));
    if (gen !== this.#generation) return;
    this.#inflight.delete(page);
    if (!res.ok) {
      this.error = res.error.message;
      return;
    }
    this.#pages.set(page, res.value.rows);
    // Bounded: drop the pages farthest from where the user is.
    if (this.#pages.size > MAX_PAGES) {
      const far = [...this.#pages.keys()].sort((a, b) => Math.abs(b - near) - Math.abs(a - near));
      for (const p of far.slice(0, this.#pages.size - MAX_PAGES)) this.#pages.delete(p);
    }
    this.pagesVersion++;
  }

  select(index: number): void {
    this.selected = Math.min(Math.max(index, 0), Math.max(this.total - 1, 0));
  }

  /** The stack to view for an item: its series in display order, its frames, or the image alone. */
  async stackFor(row: ItemRow): Promise<{ stack: { itemId: number; frame: number }[]; index: number; series: SeriesStack | null }> {
    if (row.seriesId !== null) {
      const res = await request('series.get', { seriesId: row.seriesId });
      if (res.ok && res.value.entries.length) {
        const stack = res.value.entries.map((e) => ({ itemId: e.itemId, frame: e.frame }));
        const index = Math.max(0, stack.findIndex((e) => e.itemId === row.id));
        return { stack, index, series: res.value };
      }
    }
    return { stack: Array.from({ length: Math.max(row.frames, 1) }, (_, frame) => ({ itemId: row.id, frame })), index: 0, series: null };
  }
}
