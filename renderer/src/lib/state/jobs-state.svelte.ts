/**
 * Every job running in the library, for the shell's jobs indicator, and a notice when one ends, so
 * a person who started training and went to another screen learns that it finished. It only shows
 * jobs; screens follow their own through JobState.
 */
import type { JobEvents, JobInfo, JobKind } from '../../../../electron/contract/jobs';
import { on, request } from '../api';

export const JOB_LABELS: Record<JobKind, string> = {
  import: 'Import',
  samples: 'Sample library',
  training: 'Training',
  export: 'Export',
  predict: 'Prediction',
  evaluation: 'Evaluation',
  propagate: 'Propagation',
  'model-predict': 'Model labels',
};

export type JobNotice = JobEvents['job.finished'];

export class JobsState {
  running = $state.raw<JobInfo[]>([]);
  /** Jobs that ended since this window opened, newest first, until dismissed. */
  notices = $state.raw<JobNotice[]>([]);
  #offs: (() => void)[] = [];

  start(): void {
    this.#offs.push(
      on('job.started', (j) => {
        if (!this.running.some((r) => r.jobId === j.jobId)) this.running = [...this.running, j];
      }),
      on('job.progress', (p) => {
        this.running = this.running.map((r) => (r.jobId === p.jobId ? { ...r, subject: p.subject, progress: p.progress } : r));
      }),
      on('job.finished', (f) => {
        this.running = this.running.filter((r) => r.jobId !== f.jobId);
        this.notices = [f, ...this.notices].slice(0, 5);
      }),
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
  }
}
