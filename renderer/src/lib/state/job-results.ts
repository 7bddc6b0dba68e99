/**
 * What the jobs panel says about a finished job, and where its result lives: a one-line summary
 * from the kind's own finished event (which carries the result), and the screen to open for it.
 * Runs are named as everywhere else: by the name a person gave them, else "run N".
 */
import type { EventName, Events } from '../../../../electron/contract/api';
import { runDisplayName } from '../../../../electron/contract/runs';
import type { JobKind } from '../../../../electron/contract/jobs';
import type { AppScreen } from '../hotkey-registry';

/**
 * What a job works on, as a person names it (a run by its display name, runs.ts runDisplayName),
 * from the kind's events that say it; null when the event does not name one.
 */
export function jobTitle(name: EventName, payload: Events[EventName]): { jobId: string; title: string } | null {
  if (name !== 'training.started' && name !== 'training.finished' && name !== 'evaluation.finished') return null;
  const e = payload as Events['training.started' | 'training.finished' | 'evaluation.finished'];
  return e.runId === null ? null : { jobId: e.jobId, title: runDisplayName({ id: e.runId, name: e.runName }) };
}

/** The screen that starts a job of each kind, and shows its result. */
export const JOB_SCREENS: Record<JobKind, AppScreen> = {
  import: 'browse',
  samples: 'library',
  training: 'training',
  export: 'export',
  predict: 'evaluation',
  evaluation: 'evaluation',
  propagate: 'browse',
  'model-predict': 'models',
  'dataset-delete': 'library',
};

/** The screens from which a job of each kind is started and followed (no notice pops up there). */
export const JOB_HOME_SCREENS: Record<JobKind, readonly AppScreen[]> = {
  import: ['import'],
  samples: ['library'],
  training: ['training'],
  export: ['export'],
  predict: ['evaluation'],
  evaluation: ['evaluation'],
  propagate: ['browse'],
  'model-predict': ['models'],
  'dataset-delete': ['library'],
};

const plural = (n: number, word: string): string => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;

/** The kind-specific finished events whose results the panel summarises. */
export type ResultEvent = 'import.finished' | 'samples.finished' | 'training.finished' | 'export.finished' | 'evaluation.finished' | 'predict.finished' | 'assist.propagate.finished' | 'models.predict.finished' | 'datasets.delete.finished';
export const RESULT_EVENTS: readonly ResultEvent[] = ['import.finished', 'samples.finished', 'training.finished', 'export.finished', 'evaluation.finished', 'predict.finished', 'assist.propagate.finished', 'models.predict.finished', 'datasets.delete.finished'];

/** One line about a job's result, or null when its event carries none (an error says why elsewhere). */
export function resultSummary<E extends ResultEvent>(name: E, payload: Events[E]): string | null {
  const e = payload as Events[ResultEvent];
  switch (name) {
    case 'import.finished': {
      const r = (e as Events['import.finished']).report;
      if (!r) return null;
      const c = r.counts;
      const counts = [plural(c.imported, 'file') + ' imported', c.duplicate ? `${c.duplicate} duplicate` : '', c.skipped ? `${c.skipped} skipped` : '', c.failed ? `${c.failed} failed` : ''].filter(Boolean).join(', ');
      // A path that could not be read at all is the likeliest reason for "0 imported": say it.
      const problem = r.problems[0];
      return problem ? `${counts}; ${problem.path}: ${problem.reason}${r.problems.length > 1 ? ` (and ${r.problems.length - 1} more)` : ''}` : counts;
    }
    case 'samples.finished':
      return (e as Events['samples.finished']).datasets.map((d) => `${d.name}: ${plural(d.items, 'item')}`).join('; ') || null;
    case 'training.finished': {
      const t = e as Events['training.finished'];
      if (t.runId === null) return null;
      const run = runDisplayName({ id: t.runId, name: t.runName });
      if (!t.outcome) return run;
      const metrics = t.outcome.bestValMetrics ? Object.entries(t.outcome.bestValMetrics).slice(0, 2).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ') : '';
      return `${run}: ${t.outcome.status}, ${plural(t.outcome.epochsCompleted, 'epoch')}${metrics ? `, best ${metrics}` : ''}`;
    }
    case 'export.finished': {
      const r = (e as Events['export.finished']).result;
      return r ? `${plural(r.files.length, 'file')} in ${r.root}` : null;
    }
    case 'evaluation.finished': {
      const ev = e as Events['evaluation.finished'];
      const s = ev.summary;
      if (!s) return null;
      return `${runDisplayName({ id: s.runId, name: ev.runName })}, ${s.split}: ${s.headline.name} ${s.headline.value === null ? '—' : s.headline.value.toFixed(3)} on ${plural(s.n, 'image')}`;
    }
    case 'predict.finished': {
      const r = (e as Events['predict.finished']).report;
      return r ? `${plural(r.proposed, 'proposal')} on ${plural(r.images, 'image')}` : null;
    }
    case 'assist.propagate.finished': {
      const r = (e as Events['assist.propagate.finished']).report;
      return r ? `${plural(r.proposed, 'slice')} proposed` : null;
    }
    case 'models.predict.finished': {
      const r = (e as Events['models.predict.finished']).report;
      return r ? `${plural(r.proposed, 'proposal')} on ${plural(r.images, 'image')}` : null;
    }
    case 'datasets.delete.finished': {
      const r = (e as Events['datasets.delete.finished']).result;
      return r ? `"${r.name}" deleted: ${plural(r.items, 'item')}, ${plural(r.labels, 'label')}${r.runs ? `, ${plural(r.runs, 'training run')}` : ''}` : null;
    }
    default:
      return null;
  }
}
