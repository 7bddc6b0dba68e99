/**
 * The DICOM tag browser's state: the rows of the item shown (asked of the core once per item,
 * through `dicom.tags`), the filter text and what it leaves.
 */
import type { DicomTags } from '../../../../electron/contract/dicom-tags';
import { request } from '../api';
import { countTagRows, filterTagRows } from '../../viewer/tag-filter';

export class TagBrowserState {
  tags = $state.raw<DicomTags | null>(null);
  error = $state<string | null>(null);
  loading = $state(false);
  filter = $state('');
  readonly rows = $derived(this.tags ? filterTagRows(this.tags.rows, this.filter) : []);
  readonly total = $derived(this.tags ? countTagRows(this.tags.rows) : 0);
  readonly shown = $derived(countTagRows(this.rows));
  #ticket = 0;

  /** Show `itemId`'s tags (nothing is asked again when they are already here). */
  async load(itemId: number): Promise<void> {
    if (this.tags?.itemId === itemId && !this.error) return;
    const ticket = ++this.#ticket;
    this.loading = true;
    const res = await request('dicom.tags', { itemId });
    if (ticket !== this.#ticket) return;
    this.loading = false;
    if (res.ok) {
      this.tags = res.value;
      this.error = null;
    } else {
      this.tags = null;
      this.error = res.error.message;
    }
  }
}
