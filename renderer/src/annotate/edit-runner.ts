/**
 * Runs edit actions (actions.ts) in one ordered save queue and keeps the
 * histories they record into: one History per image (or frame), at most
 * MAX_HISTORIES of them, the least recently used dropped first, and all of
 * them released when the viewer closes (`release`). Before, every image
 * edited in a session kept its stacks (and their geometry) until the app quit. Pure (no runes): the
 * labeling state passes callbacks for what it shows (writes pending, history
 * changed).
 */
import { History } from './history';
import type { EditAction, EditContext } from './actions';

/** Images whose undo stacks are kept while the viewer is open. */
export const MAX_HISTORIES = 64;

export interface RunnerEvents {
  /** +1 when a write is queued, -1 when it has finished. */
  pending(delta: number): void;
  /** A history gained or lost an entry. */
  changed(): void;
}

export class EditRunner {
  #queue: Promise<unknown> = Promise.resolve();
  // Insertion order is recency order: a history used again moves to the end.
  readonly #histories = new Map<string, History>();
  readonly #ctx: EditContext;
  readonly #events: RunnerEvents;

  constructor(ctx: EditContext, events: RunnerEvents) {
    this.#ctx = ctx;
    this.#events = events;
  }

  /** Queue any work behind the edits sent so far. */
  enqueue(fn: () => Promise<void>): Promise<void> {
    this.#events.pending(1);
    const run = this.#queue.then(fn).finally(() => this.#events.pending(-1));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Queue an action; what it returns goes to its history. `after` runs once it has (cleanup of UI state). */
  run<A>(action: EditAction<A>, args: A, after?: () => void): Promise<void> {
    return this.enqueue(async () => {
      try {
        const result = await action.perform(this.#ctx, args);
        if (result) {
          this.#history(result.key).push(result.entry);
          this.#events.changed();
        }
      } finally {
        after?.();
      }
    });
  }

  /** The history of an image, or null when nothing was edited there (or it was released). */
  history(key: string): History | null {
    return this.#histories.get(key) ?? null;
  }

  #history(key: string): History {
    let h = this.#histories.get(key);
    if (h) this.#histories.delete(key);
    else h = new History();
    this.#histories.set(key, h);
    while (this.#histories.size > MAX_HISTORIES) this.#histories.delete(this.#histories.keys().next().value as string);
    return h;
  }

  /** How many histories are held (tests). */
  get size(): number {
    return this.#histories.size;
  }

  /** Wait until every edit queued so far is saved. */
  async flush(): Promise<void> {
    await this.#queue;
  }

  /** The viewer closed (its writes flushed): drop every undo stack. */
  release(): void {
    this.#histories.clear();
    this.#events.changed();
  }
}
