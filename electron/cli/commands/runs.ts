/**
 * The training loop's CLI (issue 19): a run's name, notes, learning rate and
 * augmentation at `fovea train`, and `fovea runs rename|note|compare`. The
 * values are checked by the contract's schemas (contract/runs.ts), the same
 * rules as the app's requests; renaming goes through the same core entry
 * point as 'runs.update' (admitted as that request: refused on a read-only
 * library).
 */
import * as v from 'valibot';
import type { AugmentConfig } from '../../contract/ml';
import { AugmentSchema, CutmixAlphaSchema, EarlyStoppingPatienceSchema, EncoderSchema, formatRunDuration, LabelSmoothingSchema, LrScheduleSchema, MixupAlphaSchema, LearningRateSchema, RunNameSchema, RunNotesSchema, runDisplayName } from '../../contract/runs';
import type { Core } from '../../core/composition-root';
import { compareRuns } from '../../core/training/run-compare';
import { updateRunLabel } from '../../core/training/training-service';
import type { CliContext } from '../cli-context';
import { EXIT_OK, UsageError } from '../cli-context';

export const runStartOptions = {
  name: { type: 'string' },
  notes: { type: 'string' },
  'learning-rate': { type: 'string' },
  patience: { type: 'string' },
  'lr-schedule': { type: 'string' },
  encoder: { type: 'string' },
  augment: { type: 'string' },
  'from-run': { type: 'string' },
  'label-smoothing': { type: 'string' },
  mixup: { type: 'string' },
  cutmix: { type: 'string' },
  'copy-paste': { type: 'string' },
} as const;

function check<T>(schema: v.GenericSchema<unknown, T>, value: unknown, flag: string): T {
  const r = v.safeParse(schema, value);
  if (!r.success) throw new UsageError(`${flag}: ${r.issues.map((i) => i.message).join('; ')}`);
  return r.output;
}

/**
 * `--augment none` or a comma list: flip-h, flip-v, no-flip-h, no-flip-v, rotate=DEG, scale=S,
 * intensity=I, translate=T, saturation=S, min-visible=V (detection boxes less visible become ignored),
 * multi-scale=M (detection: each training batch's side within inputSize (1 ± M)), copy-paste=P (detection: the
 * probability of pasting another image's masked objects, as `--copy-paste P`). What is not named keeps the task's default.
 */
export function parseAugment(value: unknown): Partial<AugmentConfig> | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  if (text === 'none') return check(AugmentSchema, { flipHorizontal: false, flipVertical: false, rotateDegrees: 0, scale: 0, intensity: 0, translate: 0, saturation: 0, minBoxVisibility: 0, multiScale: 0, copyPaste: 0 }, '--augment');
  const out: Record<string, unknown> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [key, raw] = part.split('=') as [string, string | undefined];
    if (key === 'flip-h' || key === 'no-flip-h') out['flipHorizontal'] = key === 'flip-h';
    else if (key === 'flip-v' || key === 'no-flip-v') out['flipVertical'] = key === 'flip-v';
    else if ((key === 'rotate' || key === 'scale' || key === 'intensity' || key === 'translate' || key === 'saturation' || key === 'min-visible' || key === 'multi-scale' || key === 'copy-paste') && raw !== undefined && raw.trim() !== '' && Number.isFinite(Number(raw))) {
      out[key === 'rotate' ? 'rotateDegrees' : key === 'min-visible' ? 'minBoxVisibility' : key === 'multi-scale' ? 'multiScale' : key === 'copy-paste' ? 'copyPaste' : key] = Number(raw);
    } else throw new UsageError(`--augment: "${part}" is not one of none, flip-h, flip-v, no-flip-h, no-flip-v, rotate=DEG, scale=S, intensity=I, translate=T, saturation=S, min-visible=V, multi-scale=M, copy-paste=P`);
  }
  return check(AugmentSchema, out, '--augment');
}

/** The run fields of `fovea train` (name, notes, learning rate, augmentation, classification regularisation, `--from-run RUN`: a warm start), checked. */
export function parseRunStartOptions(values: Record<string, unknown>): { name?: string; notes?: string; learningRate?: number; lrSchedule?: 'constant' | 'cosine'; encoder?: 'imagenet-mobilenetv2' | null; earlyStoppingPatience?: number; augment?: Partial<AugmentConfig>; labelSmoothing?: number; mixup?: number; cutmix?: number; warmStartRunId?: number } {
  const lr = values['learning-rate'];
  const fromRun = values['from-run'];
  const patience = values['patience'];
  const cp = values['copy-paste'];
  const parsed = parseAugment(values['augment']);
  // `--copy-paste P`: augment.copyPaste, checked by the same schema (and against `--augment copy-paste=` if both are given).
  if (cp !== undefined && parsed?.copyPaste !== undefined && parsed.copyPaste !== Number(cp)) throw new UsageError('--copy-paste and --augment copy-paste= disagree: give one of them');
  const augment = cp !== undefined ? check(AugmentSchema, { ...parsed, copyPaste: String(cp).trim() === '' ? NaN : Number(cp) }, '--copy-paste') : parsed;
  return {
    ...(values['name'] !== undefined ? { name: check(RunNameSchema, values['name'], '--name') } : {}),
    ...(values['notes'] !== undefined ? { notes: check(RunNotesSchema, values['notes'], '--notes') } : {}),
    ...(lr !== undefined ? { learningRate: check(LearningRateSchema, Number(lr), '--learning-rate') } : {}),
    ...(values['encoder'] !== undefined ? { encoder: values['encoder'] === 'none' ? null : check(EncoderSchema, values['encoder'], '--encoder') } : {}),
    ...(values['lr-schedule'] !== undefined ? { lrSchedule: check(LrScheduleSchema, values['lr-schedule'], '--lr-schedule') } : {}),
    ...(patience !== undefined ? { earlyStoppingPatience: check(EarlyStoppingPatienceSchema, Number(patience), '--patience') } : {}),
    ...(augment ? { augment } : {}),
    ...(fromRun !== undefined ? { warmStartRunId: runId(String(fromRun), '--from-run takes the id of a finished run (see `fovea runs`)') } : {}),
    ...(values['label-smoothing'] !== undefined ? { labelSmoothing: check(LabelSmoothingSchema, Number(values['label-smoothing']), '--label-smoothing') } : {}),
    ...(values['mixup'] !== undefined ? { mixup: check(MixupAlphaSchema, Number(values['mixup']), '--mixup') } : {}),
    ...(values['cutmix'] !== undefined ? { cutmix: check(CutmixAlphaSchema, Number(values['cutmix']), '--cutmix') } : {}),
  };
}

function runId(value: string | undefined, usage: string): number {
  const id = Number(value);
  if (!Number.isInteger(id) || id < 1) throw new UsageError(usage);
  return id;
}

/** `fovea runs rename ID NAME`, `fovea runs note ID TEXT`, `fovea runs compare ID ID...`; null for other subcommands. */
export function runRunsLabelCommand(ctx: CliContext, core: Core, positionals: string[]): number | null {
  const [sub, ...rest] = positionals;
  if (sub === 'rename' || sub === 'note') {
    const usage = sub === 'rename' ? 'fovea runs rename ID NAME' : 'fovea runs note ID TEXT';
    const id = runId(rest[0], usage);
    if (rest.length < 2) throw new UsageError(usage);
    const text = rest.slice(1).join(' ');
    core.admit('runs.update');
    const change = sub === 'rename' ? { name: check(RunNameSchema, text, 'NAME') } : { notes: check(RunNotesSchema, text, 'TEXT') };
    updateRunLabel(core, id, change);
    const r = core.runs.get(id);
    if (ctx.json) ctx.jsonLine({ runId: id, name: r.name, notes: r.notes });
    else ctx.out(sub === 'rename' ? `Run ${id} is now called "${runDisplayName(r)}".` : `Notes of ${runDisplayName(r)} saved (${r.notes.length} characters).`);
    return EXIT_OK;
  }
  if (sub === 'compare') {
    const ids = rest.map((x) => runId(x, 'fovea runs compare ID ID [ID...]'));
    core.admit('runs.compare');
    const cmp = compareRuns(ids.map((id) => core.runDetail(id)));
    if (ctx.json) {
      ctx.jsonLine(cmp);
      return EXIT_OK;
    }
    ctx.out(`${cmp.runs.length} ${cmp.task} runs of dataset ${cmp.runs[0]?.datasetName ?? ''}`);
    for (const r of cmp.runs) {
      const last = r.epochCurve.at(-1);
      const metrics = cmp.metricNames.map((m) => `${m} ${(r.metrics?.[m] ?? NaN).toFixed(3)}`).join('  ');
      ctx.out(
        `${String(r.id).padStart(4)}  ${runDisplayName(r).slice(0, 28).padEnd(28)} ${r.status.padEnd(13)} lr ${r.config.learningRate}  epochs ${r.epochsCompleted}/${r.epochs}  best ${r.bestEpoch ?? '-'}  ${metrics}  val loss ${last ? last.valLoss.toFixed(4) : '-'}  ${formatRunDuration(r.durationSeconds)}`,
      );
    }
    return EXIT_OK;
  }
  return null;
}
