/**
 * The viewer's side panel: open or collapsed, and which tab it shows (the labeling panel or
 * the DICOM tags). Remembered in the page's localStorage, a view preference of this machine
 * like a window size, not library data: the next image, and the next start, open the same way.
 */

export type SidebarTab = 'labels' | 'tags';

const KEY = 'fovea.viewer.sidebar';

interface Stored {
  open: boolean;
  tab: SidebarTab;
}

function read(): Stored {
  try {
    const raw = globalThis.localStorage?.getItem(KEY);
    const v = raw ? (JSON.parse(raw) as Partial<Stored>) : {};
    return { open: v.open !== false, tab: v.tab === 'tags' ? 'tags' : 'labels' };
  } catch {
    return { open: true, tab: 'labels' };
  }
}

export class ViewerLayout {
  open = $state(true);
  tab = $state<SidebarTab>('labels');

  constructor() {
    const s = read();
    this.open = s.open;
    this.tab = s.tab;
  }

  #save(): void {
    try {
      globalThis.localStorage?.setItem(KEY, JSON.stringify({ open: this.open, tab: this.tab }));
    } catch {
      // Storage full or disabled: the choice holds for this session only.
    }
  }

  toggle(): void {
    this.open = !this.open;
    this.#save();
  }

  show(tab: SidebarTab): void {
    this.tab = tab;
    this.open = true;
    this.#save();
  }

  /** Whether the panel shows: without labeling there is only the tags tab, shown when asked for. */
  shown(hasLabels: boolean): boolean {
    return this.open && (hasLabels || this.tab === 'tags');
  }

  /** The fold key and button: fold or unfold; without labeling, unfold onto the tags. */
  toggleFor(hasLabels: boolean): void {
    if (!hasLabels && !this.shown(false)) this.show('tags');
    else this.toggle();
  }

  /** The tags key: open on the tags, or back to the labels when they are showing. */
  toggleTags(hasLabels: boolean): void {
    if (this.open && this.tab === 'tags') {
      if (hasLabels) this.show('labels');
      else this.toggle();
    } else this.show('tags');
  }
}
