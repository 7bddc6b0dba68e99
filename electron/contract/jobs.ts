/**
 * The one job model's contract: every long task (import, sample library, training, prediction,
 * evaluation, export, model help) runs as a job with an id and a kind, and reports through the same
 * three generic events, besides its own typed finished event that carries its result. Any screen
 * rebuilds its state from `jobs.list` when it opens.
 *
 * PURE TypeScript: no node:, no 'electron'.
 */
import * as v from 'valibot';
import type { FoveaError } from './result';

/** Every kind of job, defined once. */
export const JOB_KINDS = ['import', 'samples', 'training', 'export', 'predict', 'evaluation', 'propagate', 'model-predict'] as const;
export const JobKindSchema = v.picklist(JOB_KINDS);
export type JobKind = v.InferOutput<typeof JobKindSchema>;

/** What a job works on, so a screen can tell its own jobs from the others (null: not known yet or not applicable). */
export interface JobSubject {
  datasetId: number | null;
  runId: number | null;
}

/** How far a job is: `done` of `total` (null total: unknown), and the phase it is in, if it has phases. */
export interface JobProgress {
  done: number;
  total: number | null;
  phase: string | null;
}

/** A running job, as `jobs.list` and 'job.started' describe it. */
export interface JobInfo {
  jobId: string;
  kind: JobKind;
  /** Milliseconds since the epoch. */
  startedAt: number;
  subject: JobSubject;
  progress: JobProgress | null;
}

/** How a job ended: done, cancelled by a person, or failed (error set). */
export const JOB_OUTCOMES = ['done', 'cancelled', 'failed'] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];

export const jobRequestSchemas = {
  /** The jobs running now (optionally of one kind), oldest first. */
  'jobs.list': v.strictObject({ kind: v.optional(JobKindSchema) }),
};

export interface JobResponses {
  'jobs.list': JobInfo[];
}

export interface JobEvents {
  /** A job began (always before its start request answers). */
  'job.started': JobInfo;
  /** A job's progress, at most a few times a second, and always for its last step. */
  'job.progress': { jobId: string; kind: JobKind; subject: JobSubject; progress: JobProgress };
  /** A job ended; its kind's own finished event, with the result, came just before. */
  'job.finished': { jobId: string; kind: JobKind; subject: JobSubject; outcome: JobOutcome; error: FoveaError | null; seconds: number };
}

export const JOB_EVENT_NAMES = ['job.started', 'job.progress', 'job.finished'] as const satisfies readonly (keyof JobEvents)[];
