/**
 * Every job running in the library, and the ones that ended since this window opened, for the
 * shell's jobs indicator and its panel; and a notice when one ends on another screen than its own,
 * so a person who started training and went elsewhere learns that it finished. It only shows jobs;
 * screens follow their own through JobState.
 */
import type { JobEvents, JobInfo, JobKind } from '../../../../electron/contract/jobs';
import { on, request } from '../api';
import type { AppScreen } from '../hotkey-registry';
import { JOB_HOME_SCREENS, jobTitle, RESULT_EVENTS, resultSummary } from './job-results';

/** The events that name what a job works on (jobTitle). */
const TITLE_EVENTS = ['training.started', 'training.finished', 'evaluation.finished'] as const;

export const JOB_LABELS: Record<JobKind, string> = {
  import: 'Import',
  samples: 'Sample library',
  training: 'Training',
  export: 'Export',
  predict: 'Prediction',
  evaluation: 'Evaluation',
  propagate: 'Propagation',
  'model-predict': 'Model labels',
  'dataset-delete': 'Dataset delete',
};

/** A job that ended, and what it worked on as a person names it (a run's display name), when its events say. */
export type JobNotice = JobEvents['job.finished'] & { title: string | null };

/** A job that ended: how, when, and what it made (a one-line summary of its result). */
export interface FinishedJob extends JobNotice {
  startedAt: number;
  finishedAt: number;
  result: string | null;
}

/** How long a notice of a job that went well stays up; a failed or cancelled one stays until dismissed. */
export const DONE_NOTICE_MS = 10_000;
const KEEP_FINISHED = 20;

export class JobsState {
  running = $state.raw<JobInfo[]>([]);
  /** Jobs that ended on another screen than their own, newest first, until dismissed. */
  notices = $state.raw<JobNotice[]>([]);
  /** Jobs that ended since this window opened, newest first (the panel's history). */
  finished = $state.raw<FinishedJob[]>([]);
  /** The screen on show (set by the shell): a job ending on its own screen needs no notice. */
  screen: AppScreen | null = null;
  #offs: (() => void)[] = [];
  // Timers and a hand-over buffer, never rendered.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- see above
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  /** Result summaries from the kind's finished event, which comes just before 'job.finished'. */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- see above
  readonly #results = new Map<string, string | null>();
  /** Titles of running jobs (jobTitle), from their kind's events. */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- see above
  readonly #titles = new Map<string, string>();

  start(): void {
    this.#offs.push(
      on('job.started', (j) => {
        if (!this.running.some((r) => r.jobId === j.jobId)) this.running = [...this.running, j];
      }),
      on('job.progress', (p) => {
        this.running = this.running.map((r) => (r.jobId === p.jobId ? { ...r, subject: p.subject, progress: p.progress } : r));
      }),
      ...RESULT_EVENTS.map((name) => on(name, (e) => this.#results.set(e.jobId, resultSummary(name, e)))),
      ...TITLE_EVENTS.map((name) =>
        on(name, (e) => {
          const t = jobTitle(name, e);
          if (t) this.#titles.set(t.jobId, t.title);
        }),
      ),
      on('job.finished', (f) => this.#finish(f)),
    );
    void this.refresh();
  }

  async refresh(): Promise<void> {
    const res = await request('jobs.list', {});
    if (res.ok) this.running = res.value;
  }

  dismiss(jobId: string): void {
    this.notices = this.notices.filter((n) => n.jobId !== jobId);
  }

  dispose(): void {
    for (const off of this.#offs) off();
    this.#offs = [];
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #finish(ended: JobEvents['job.finished']): void {
    const now = Date.now();
    const info = this.running.find((r) => r.jobId === ended.jobId);
    const result = this.#results.get(ended.jobId) ?? null;
    this.#results.delete(ended.jobId);
    const f: JobNotice = { ...ended, title: this.#titles.get(ended.jobId) ?? null };
    this.#titles.delete(ended.jobId);
    this.running = this.running.filter((r) => r.jobId !== f.jobId);
    const subject = info && f.subject.datasetId === null ? { ...f.subject, datasetId: info.subject.datasetId } : f.subject;
    const done: FinishedJob = { ...f, subject, startedAt: info?.startedAt ?? now - f.seconds * 1000, finishedAt: now, result };
    this.finished = [done, ...this.finished].slice(0, KEEP_FINISHED);
    if (this.screen !== null && JOB_HOME_SCREENS[f.kind].includes(this.screen)) return;
    this.notices = [f, ...this.notices].slice(0, 5);
    if (f.outcome === 'done') {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        this.dismiss(f.jobId);
      }, DONE_NOTICE_MS);
      this.#timers.add(t);
    }
  }
}
