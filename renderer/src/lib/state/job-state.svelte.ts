/**
 * The renderer's one job-state class: which job of a kind this screen follows, its progress, and
 * how it ended. Every screen that starts a long task uses it (import, training, export, ...).
 *
 * The core sends 'job.started' (and, for a job that ends at once, its finished events) before the
 * start request answers, so events of a job whose id is not known yet are buffered while a start
 * call (or an `attach`) is in flight, and replayed when its id arrives: nothing is dropped, nothing
 * is left "running". Only the job this object started, or one it was asked to `attach` to, is
 * followed: another window's job is never adopted by accident.
 */
import type { EventName, Events } from '../../../../electron/contract/api';
import type { JobEvents, JobInfo, JobKind, JobProgress } from '../../../../electron/contract/jobs';
import type { Result } from '../../../../electron/contract/result';
import { on, request } from '../api';

/** Events that carry the id of the job they belong to. */
export type JobScopedEvent = { [E in EventName]: Events[E] extends { jobId: string } ? E : never }[EventName];

type Buffered = { name: JobScopedEvent; payload: Events[JobScopedEvent] };

export class JobState {
  readonly kind: JobKind;
  /** The followed job while it runs; null when none. */
  jobId = $state<string | null>(null);
  /** What the followed job works on (dataset, run), from 'job.started' or the list of running jobs. */
  info = $state.raw<JobInfo | null>(null);
  progress = $state.raw<JobProgress | null>(null);
  /** How the last followed job ended. */
  ended = $state.raw<JobEvents['job.finished'] | null>(null);
  cancelling = $state(false);

  readonly running = $derived(this.jobId !== null);
  readonly fraction = $derived(this.progress && this.progress.total ? Math.min(1, this.progress.done / this.progress.total) : 0);

  /** Kind-specific handlers (not reactive state: set once before `connect`). */
  readonly #handlers: Partial<Record<JobScopedEvent, (payload: never) => void>> = {};
  #offs: (() => void)[] = [];
  /** Start or attach calls in flight: while any is, events of unknown jobs are kept. */
  #pending = 0;
  #buffer: Buffered[] = [];

  constructor(kind: JobKind) {
    this.kind = kind;
  }

  /** Also follow this kind-specific event (it carries the result) for the followed job. Call before `connect`. */
  on<E extends JobScopedEvent>(name: E, handler: (payload: Events[E]) => void): this {
    this.#handlers[name] = handler as (payload: never) => void;
    return this;
  }

  /** Subscribe (a screen mounting). */
  connect(): void {
    const names: JobScopedEvent[] = ['job.started', 'job.progress', 'job.finished', ...(Object.keys(this.#handlers) as JobScopedEvent[])];
    for (const name of names) {
      this.#offs.push(on(name, (payload) => this.#receive(name, payload)));
    }
  }

  /** Start a job with `call` (a start request); the answer is returned as is. */
  async start<T extends { jobId: string }>(call: () => Promise<Result<T>>): Promise<Result<T>> {
    this.ended = null;
    this.progress = null;
    this.cancelling = false;
    this.#pending++;
    try {
      const res = await call();
      if (res.ok) this.#adopt(res.value.jobId, null);
      return res;
    } finally {
      this.#settle();
    }
  }

  /**
   * Follow a job of this kind that is running now (a screen opening after navigating away), the
   * first that `match` accepts. Returns it, or null when none runs.
   */
  async attach(match: (job: JobInfo) => boolean = () => true): Promise<JobInfo | null> {
    if (this.jobId !== null) return this.info;
    this.#pending++;
    try {
      const res = await request('jobs.list', { kind: this.kind });
      const job = res.ok ? res.value.find(match) : undefined;
      if (!job || this.jobId !== null) return job ?? null;
      this.progress = job.progress;
      this.#adopt(job.jobId, job);
      return job;
    } finally {
      this.#settle();
    }
  }

  async cancel(): Promise<void> {
    if (this.jobId === null) return;
    this.cancelling = true;
    await request('jobs.cancel', { jobId: this.jobId });
  }

  dispose(): void {
    for (const off of this.#offs) off();
    this.#offs = [];
    this.#buffer = [];
  }

  #receive(name: JobScopedEvent, payload: Events[JobScopedEvent]): void {
    if (payload.jobId === this.jobId) this.#handle(name, payload);
    else if (this.#pending > 0 && (!name.startsWith('job.') || (payload as JobInfo).kind === this.kind)) this.#buffer.push({ name, payload });
  }

  #handle(name: JobScopedEvent, payload: Events[JobScopedEvent]): void {
    if (name === 'job.started') this.info = payload as JobInfo;
    else if (name === 'job.progress') this.progress = (payload as JobEvents['job.progress']).progress;
    else if (name === 'job.finished') {
      this.ended = payload as JobEvents['job.finished'];
      this.jobId = null;
      this.cancelling = false;
      return;
    }
    this.#handlers[name]?.(payload as never);
  }

  #adopt(jobId: string, info: JobInfo | null): void {
    this.jobId = jobId;
    if (info) this.info = info;
    const mine = this.#buffer.filter((b) => b.payload.jobId === jobId);
    this.#buffer = this.#buffer.filter((b) => b.payload.jobId !== jobId);
    for (const b of mine) this.#handle(b.name, b.payload);
  }

  #settle(): void {
    this.#pending--;
    // Nothing is being started: what is left belongs to other windows' jobs.
    if (this.#pending === 0) this.#buffer = [];
  }
}
