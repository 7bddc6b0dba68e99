/**
 * The one job model's contract: every long task (import, sample library, training, prediction,
 * evaluation, export, model help) runs as a job with an id and a kind, and reports through the same
 * three generic events, besides its own typed finished event that carries its result. Any screen
 * rebuilds its state from `jobs.list` when it opens.
 *
 * PURE TypeScript: no node:, no 'electron'.
 */
import * as v from 'valibot';
import { ERROR_CODES } from './result';

/** Every kind of job, defined once. */
export const JOB_KINDS = ['import', 'samples', 'training', 'export', 'predict', 'evaluation', 'propagate', 'model-predict', 'dataset-delete'] as const;
export const JobKindSchema = v.picklist(JOB_KINDS);
export type JobKind = v.InferOutput<typeof JobKindSchema>;

const Count = v.pipe(v.number(), v.minValue(0));
const OptionalId = v.nullable(v.pipe(v.number(), v.integer(), v.minValue(1)));

/** What a job works on, so a screen can tell its own jobs from the others (null: not known yet or not applicable). */
export const JobSubjectSchema = v.strictObject({ datasetId: OptionalId, runId: OptionalId });
export type JobSubject = v.InferOutput<typeof JobSubjectSchema>;

/** How far a job is: `done` of `total` (null total: unknown), and the phase it is in, if it has phases. */
export const JobProgressSchema = v.strictObject({ done: Count, total: v.nullable(Count), phase: v.nullable(v.string()) });
export type JobProgress = v.InferOutput<typeof JobProgressSchema>;

const JobId = v.pipe(v.string(), v.minLength(1), v.maxLength(200));

/** A running job, as `jobs.list` and 'job.started' describe it. */
export const JobInfoSchema = v.strictObject({
  jobId: JobId,
  kind: JobKindSchema,
  /** Milliseconds since the epoch. */
  startedAt: Count,
  subject: JobSubjectSchema,
  progress: v.nullable(JobProgressSchema),
});
export type JobInfo = v.InferOutput<typeof JobInfoSchema>;

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

/**
 * Runtime schemas of the generic job events: the types below are inferred from them, and the tests
 * check every event the core sends against them (as every request payload is checked).
 */
export const jobEventSchemas = {
  /** A job began (always before its start request answers). */
  'job.started': JobInfoSchema,
  /** A job's progress, at most a few times a second, and always for its last step. */
  'job.progress': v.strictObject({ jobId: JobId, kind: JobKindSchema, subject: JobSubjectSchema, progress: JobProgressSchema }),
  /** A job ended; its kind's own finished event, with the result, came just before. */
  'job.finished': v.strictObject({
    jobId: JobId,
    kind: JobKindSchema,
    subject: JobSubjectSchema,
    outcome: v.picklist(JOB_OUTCOMES),
    error: v.nullable(v.object({ code: v.picklist(ERROR_CODES), message: v.string(), details: v.optional(v.unknown()) })),
    seconds: Count,
  }),
};

export type JobEvents = { [E in keyof typeof jobEventSchemas]: v.InferOutput<(typeof jobEventSchemas)[E]> };

export const JOB_EVENT_NAMES = ['job.started', 'job.progress', 'job.finished'] as const satisfies readonly (keyof JobEvents)[];
