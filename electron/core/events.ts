/** Typed backend events: `on` returns its unsubscribe function; no string bus. */
import type { EventName, Events } from '../contract/api';

type Listener<E extends EventName> = (payload: Events[E]) => void;

export class EventHub {
  readonly #listeners = new Map<EventName, Set<Listener<EventName>>>();
  readonly #any = new Set<(name: EventName, payload: Events[EventName]) => void>();

  on<E extends EventName>(name: E, listener: Listener<E>): () => void {
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, (set = new Set()));
    set.add(listener as Listener<EventName>);
    return () => set.delete(listener as Listener<EventName>);
  }

  /** Every event, for transports (IPC, the browser-harness bridge). */
  onAny(listener: (name: EventName, payload: Events[EventName]) => void): () => void {
    this.#any.add(listener);
    return () => this.#any.delete(listener);
  }

  emit<E extends EventName>(name: E, payload: Events[E]): void {
    for (const l of this.#listeners.get(name) ?? []) l(payload);
    for (const l of this.#any) l(name, payload);
  }
}
