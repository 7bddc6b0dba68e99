/**
 * Long-running work (imports now; training and exports later) runs as a
 * job: it gets an id the UI can cancel by, and its progress goes out as
 * events. Every job has an AbortController; `dispose` cancels them all.
 */
export interface RunningJob {
  id: string;
  kind: string;
  controller: AbortController;
  startedAt: number;
}

export class JobRegistry {
  readonly #jobs = new Map<string, RunningJob>();
  #next = 1;

  start(kind: string): RunningJob {
    const job: RunningJob = { id: `${kind}-${Date.now().toString(36)}-${this.#next++}`, kind, controller: new AbortController(), startedAt: Date.now() };
    this.#jobs.set(job.id, job);
    return job;
  }

  finish(id: string): void {
    this.#jobs.delete(id);
  }

  /** Returns false when no such job is running. */
  cancel(id: string): boolean {
    const job = this.#jobs.get(id);
    if (!job) return false;
    job.controller.abort();
    return true;
  }

  running(): RunningJob[] {
    return [...this.#jobs.values()];
  }

  dispose(): void {
    for (const j of this.#jobs.values()) j.controller.abort();
    this.#jobs.clear();
  }
}
