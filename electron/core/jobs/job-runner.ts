/**
 * The one job model (VS Code's withProgress): `run` starts a long task with a cancel signal,
 * throttles its progress, maps its error once (core/errors.ts), and always ends it with the kind's
 * own finished event (which carries the typed result) followed by the generic 'job.finished'.
 * 'job.started' goes out before `run` returns, so a UI that starts a job must buffer events that
 * arrive before its start call answers (renderer job-state does). `list` lets any screen rebuild
 * itself from the jobs running now.
 */
import type { JobEvents, JobInfo, JobKind, JobOutcome, JobProgress, JobSubject } from '../../contract/jobs';
import type { FoveaError, Result } from '../../contract/result';
import { toFoveaError } from '../errors';

export interface JobContext {
  readonly jobId: string;
  readonly signal: AbortSignal;
  /**
   * Report progress. Sent at most every `throttleMs`, and always for a last step (done >= total);
   * `alsoEmit` (the kind's own progress event) is called only when this step is sent; `always`
   * sends a step the throttle would drop (the end of a training epoch).
   */
  progress(p: { done: number; total: number | null; phase?: string | null }, alsoEmit?: () => void, always?: boolean): void;
  /** Name what the job works on once it is known (a training run's id). */
  subject(s: Partial<JobSubject>): void;
}

export interface JobSpec<T> {
  kind: JobKind;
  subject?: Partial<JobSubject>;
  /** Minimum milliseconds between progress events (default 200). */
  throttleMs?: number;
  task(ctx: JobContext): Promise<T>;
  /** Emit the kind's own finished event with the result, or the error. Called exactly once. */
  finished(result: Result<T>, ctx: JobContext): void;
  /** How a successful result ended (default 'done'): an import or a run that stopped on request is 'cancelled'. */
  outcomeOf?(value: T): JobOutcome;
}

type Emit = <E extends keyof JobEvents>(name: E, payload: JobEvents[E]) => void;

interface Running {
  info: JobInfo;
  controller: AbortController;
}

/** What a service that starts jobs needs: this, not the container. */
export type StartJob = <T>(spec: JobSpec<T>) => { jobId: string };

export class JobRunner {
  readonly #jobs = new Map<string, Running>();
  readonly #emit: Emit;
  #next = 1;

  constructor(emit: Emit) {
    this.#emit = emit;
  }

  /** Start a job; answers its id at once. */
  run<T>(spec: JobSpec<T>): { jobId: string } {
    const jobId = `${spec.kind}-${Date.now().toString(36)}-${this.#next++}`;
    const controller = new AbortController();
    const info: JobInfo = { jobId, kind: spec.kind, startedAt: Date.now(), subject: { datasetId: null, runId: null, ...spec.subject }, progress: null };
    const job: Running = { info, controller };
    this.#jobs.set(jobId, job);
    const throttleMs = spec.throttleMs ?? 200;
    let lastSent = 0;
    const ctx: JobContext = {
      jobId,
      signal: controller.signal,
      progress: (p, alsoEmit, always = false) => {
        const progress: JobProgress = { done: p.done, total: p.total, phase: p.phase ?? null };
        info.progress = progress;
        const now = Date.now();
        const last = p.total !== null && p.done >= p.total;
        if (now - lastSent < throttleMs && !last && !always) return;
        lastSent = now;
        alsoEmit?.();
        this.#emit('job.progress', { jobId, kind: spec.kind, subject: { ...info.subject }, progress });
      },
      subject: (s) => {
        info.subject = { ...info.subject, ...s };
      },
    };
    this.#emit('job.started', copy(info));
    // The task starts on a later turn, so every event it sends follows 'job.started'.
    void Promise.resolve()
      .then(() => spec.task(ctx))
      .then(
        (value) => this.#end(job, spec, ctx, { ok: true, value }, spec.outcomeOf?.(value) ?? 'done', null),
        (e: unknown) => {
          const error = toFoveaError(e);
          this.#end(job, spec, ctx, { ok: false, error }, error.code === 'CANCELLED' ? 'cancelled' : 'failed', error);
        },
      );
    return { jobId };
  }

  #end<T>(job: Running, spec: JobSpec<T>, ctx: JobContext, result: Result<T>, outcome: JobOutcome, error: FoveaError | null): void {
    this.#jobs.delete(job.info.jobId);
    const { jobId, kind, subject, startedAt } = job.info;
    try {
      spec.finished(result, ctx);
    } catch (e) {
      // A bug in a finished handler must not leave the job looking alive to the UI.
      console.error('[fovea] a job finished handler failed:', e);
    }
    this.#emit('job.finished', { jobId, kind, subject: { ...subject }, outcome, error, seconds: (Date.now() - startedAt) / 1000 });
  }

  /** Returns false when no such job is running. */
  cancel(id: string): boolean {
    const job = this.#jobs.get(id);
    if (!job) return false;
    job.controller.abort();
    return true;
  }

  /** The jobs running now, oldest first (copies). */
  list(kind?: JobKind): JobInfo[] {
    return [...this.#jobs.values()].filter((j) => kind === undefined || j.info.kind === kind).map((j) => copy(j.info));
  }

  /** Cancel every job (the library is closing). Their finished events still follow. */
  dispose(): void {
    for (const j of this.#jobs.values()) j.controller.abort();
  }
}

function copy(info: JobInfo): JobInfo {
  return { ...info, subject: { ...info.subject }, progress: info.progress && { ...info.progress } };
}
