/**
 * `fovea train --dataset NAME --task classify|detect|segment [--classes A,B,...] [--epochs N] [--batch N]
 *  [--size N] [--backend auto|webgpu|tensorflow|wasm|cpu] [--threads N] [--data-parallel] [--planned] [--time-budget MINUTES] [--plan-only] [--resume RUN [--backend B]] [--from-run RUN] [--json]`
 * `--from-run RUN` starts from that finished run's best weights (a warm start: same classes, every
 * layer; other classes, a new head); weights that do not fit are refused before a run exists.
 * `--from-model DIR` does the same from a TF.js layers model folder (e.g. a Fovea TF.js export),
 * `--from-model PATH.onnx` from an ONNX file (train.py's model.onnx, a Fovea ONNX export) and
 * `--from-model NAME` from a model of the library (`fovea models`, imported with `fovea
 * import-model`); ONNX layers are matched by order and shape.
 * `--planned` trains with the recipe planned from the data (resolution, patches, normalisation,
 * batch, class weights: see core/training/recipe-plan.ts), stored with the run; `--time-budget
 * MINUTES` plans too and stops in time with the best checkpoint; `--plan-only` prints the plan
 * (with --json: one JSON line {type:'plan', plan, config}) and trains nothing.
 * `--classes` trains only those of the dataset's classes (default: every class with a usable
 * label); labels of the others are left out and counted, and the run records its classes.
 * A progress bar on a terminal; with --json, JSON lines (batch, epoch, ...), the last of
 * which carries "runId". Ctrl-C cancels after the current batch; `--resume RUN` continues
 * an interrupted or cancelled run from its last completed epoch.
 *
 * `fovea runs [--json]` lists runs; `fovea runs cancel ID` asks a running run to stop.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BackendPreference, TaskKind, WarmStartInfo } from '../../contract/ml';
import { planDecisions } from '../../contract/recipe';
import { timeBudgetProblem, timeBudgetSeconds as minutesToSeconds } from '../../contract/training-recipe';
import type { TrainRequest } from '../../core/training/training-service';
import type { CliContext } from '../cli-context';
import { EXIT_OK, EXIT_PARTIAL, UsageError } from '../cli-context';
import { interruptible } from '../interrupt';
import { formatDuration, ProgressBar } from '../progress-bar';
import { describeWarmStart, formatRunDuration, runDisplayName, runDurationSeconds } from '../../contract/runs';
import { parseRunStartOptions, runRunsLabelCommand, runStartOptions } from './runs';

export const trainHelp =
  'fovea train --dataset NAME --task classify|detect|segment [--classes A,B,...] [--epochs N] [--batch N] [--size N] [--backend auto|webgpu|tensorflow|wasm|cpu] [--unlabeled-pixels background|ignore] [--threads N] [--data-parallel] [--planned] [--time-budget MINUTES] [--plan-only] [--resume RUN] [--from-run RUN | --from-model TFJS_DIR|FILE.onnx|MODEL_NAME] [--name NAME] [--notes TEXT] [--learning-rate LR] [--lr-schedule constant|cosine] [--encoder imagenet-mobilenetv2|none (segmentation)] [--patience EPOCHS (0: never stop early)] [--augment none|flip-h,flip-v,rotate=DEG,scale=S,intensity=I,translate=T,saturation=S,min-visible=V,multi-scale=M,copy-paste=P] [--copy-paste P (detection, objects with masks)] [--label-smoothing E] [--mixup ALPHA] [--cutmix ALPHA] [--json]';
export const trainOptions = {
  dataset: { type: 'string' },
  task: { type: 'string' },
  classes: { type: 'string' },
  epochs: { type: 'string' },
  batch: { type: 'string' },
  size: { type: 'string' },
  backend: { type: 'string' },
  resume: { type: 'string' },
  seed: { type: 'string' },
  threads: { type: 'string' },
  'data-parallel': { type: 'boolean' },
  'unlabeled-pixels': { type: 'string' },
  planned: { type: 'boolean' },
  'plan-only': { type: 'boolean' },
  'time-budget': { type: 'string' },
  'from-model': { type: 'string' },
  ...runStartOptions,
} as const;
export const runsHelp = 'fovea runs [--json] | fovea runs cancel ID | fovea runs rename ID NAME | fovea runs note ID TEXT | fovea runs compare ID ID...   training runs with their names, status and metrics';

const TASKS: Record<string, TaskKind> = { classify: 'classification', detect: 'detection', segment: 'segmentation' };
const BACKENDS: readonly BackendPreference[] = ['auto', 'webgpu', 'tensorflow', 'wasm', 'cpu'];

function positiveInt(values: Record<string, unknown>, key: string, max: number): number | undefined {
  const v = values[key];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${key} must be a whole number from 1 to ${max}`);
  return n;
}

/** `--classes a,b,c`: the names, trimmed; undefined when absent. */
export function parseClassList(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const names = String(value)
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n.length > 0);
  if (names.length === 0) throw new UsageError('--classes takes class names separated by commas, e.g. --classes car,pedestrian');
  return names;
}

/** `--time-budget MINUTES` in seconds (fractions allowed: 0.5 is 30 s); undefined when absent. */
export function parseTimeBudget(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const minutes = Number(value);
  if (timeBudgetProblem(minutes) !== null) throw new UsageError('--time-budget takes minutes, a number above 0 (e.g. --time-budget 15)');
  return minutesToSeconds(minutes);
}

/**
 * `--from-model`: a TF.js layers model folder (or its model.json) or an ONNX file to warm-start
 * from, made absolute; or, when it is a plain name (no folder, no .onnx/.json) that is no file
 * here, the name of a model of the library (`fovea models`).
 */
export function parseFromModel(value: unknown): { warmStartModelPath?: string; warmStartModelName?: string } {
  if (value === undefined) return {};
  const path = String(value).trim();
  if (path === '') throw new UsageError('--from-model takes the folder of a TF.js layers model, an ONNX file or the name of an imported model (fovea models)');
  const plainName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(path) && !/\.(onnx|json)$/i.test(path);
  if (plainName && !existsSync(resolve(path))) return { warmStartModelName: path };
  return { warmStartModelPath: resolve(path) };
}

function fmtMetrics(m: Record<string, number>): string {
  return Object.entries(m)
    .map(([k, v]) => `${k} ${v.toFixed(3)}`)
    .join('  ');
}

export async function runTrain(ctx: CliContext, _positionals: string[], values: Record<string, unknown>): Promise<number> {
  const core = ctx.core();
  const training = core.training;
  const interrupt = interruptible(ctx, 'Cancelling after the current batch');
  const bar = !ctx.json && ctx.isTty ? new ProgressBar() : null;
  let totalEpochs = 0;
  const callbacks = {
    signal: interrupt.signal,
    onStart: (info: { runId: number; config: { epochs: number; task: string; inputSize: number; batchSize: number; classNames: string[]; warmStart?: WarmStartInfo | null }; samples: number; warnings: string[]; splits: { counts: Record<string, number>; patients: Record<string, number> } }) => {
      totalEpochs = info.config.epochs;
      if (ctx.json) ctx.jsonLine({ type: 'start', runId: info.runId, config: info.config, samples: info.samples, splits: info.splits.counts, patients: info.splits.patients, warnings: info.warnings });
      else {
        ctx.err(`Run ${info.runId}: ${info.config.task}, ${info.samples} images, ${info.config.epochs} epochs, input ${info.config.inputSize} px, batch ${info.config.batchSize}`);
        ctx.err(`Classes: ${info.config.classNames.join(', ')}`);
        if (info.config.warmStart) ctx.err(`Warm start: ${describeWarmStart(info.config.warmStart)}`);
        ctx.err(`Splits: train ${info.splits.counts['train']}, val ${info.splits.counts['val']}, test ${info.splits.counts['test']} (patients ${JSON.stringify(info.splits.patients)})`);
        for (const w of info.warnings) ctx.err(`  note: ${w}`);
      }
    },
    onBatch: (runId: number, p: { epoch: number; batch: number; batchesPerEpoch: number; loss: number; metrics: Record<string, number>; imagesPerSecond: number; etaSeconds: number; budgetLeftSeconds?: number }) => {
      if (ctx.json) ctx.jsonLine({ type: 'batch', runId, ...p });
      else
        bar?.update(
          ((p.epoch - 1) * p.batchesPerEpoch + p.batch) / Math.max(1, totalEpochs * p.batchesPerEpoch),
          `epoch ${p.epoch}/${totalEpochs} batch ${p.batch}/${p.batchesPerEpoch}  loss ${p.loss.toFixed(4)}  ${fmtMetrics(p.metrics)}  ${p.imagesPerSecond.toFixed(0)} img/s  ETA ${formatDuration(p.etaSeconds)}${p.budgetLeftSeconds !== undefined ? `  budget left ${formatDuration(p.budgetLeftSeconds)}` : ''}`,
        );
    },
    onEpoch: (runId: number, r: { epoch: number; trainLoss: number; valLoss: number; valMetrics: Record<string, number>; best: boolean; seconds: number }) => {
      if (ctx.json) ctx.jsonLine({ type: 'epoch', runId, ...r });
      else {
        bar?.done();
        ctx.err(`epoch ${r.epoch}/${totalEpochs}: train loss ${r.trainLoss.toFixed(4)}  val loss ${r.valLoss.toFixed(4)}  ${fmtMetrics(r.valMetrics)}${r.best ? '  (best)' : ''}  ${r.seconds.toFixed(1)} s`);
      }
    },
  };
  try {
    let result;
    // CPU threads of the run (default: every core). The training worker inherits the environment
    // it starts with (native-models/backends/threads.ts reads it there).
    const threads = positiveInt(values, 'threads', 1024);
    if (threads !== undefined) process.env['FOVEA_THREADS'] = String(threads);
    // Data-parallel training on the CPU: the threads each train on a share of every batch (threads.ts).
    if (values['data-parallel']) process.env['FOVEA_DATA_PARALLEL'] = '1';
    const resume = values['resume'] as string | undefined;
    if (resume) {
      const id = Number(resume);
      if (!Number.isInteger(id) || id < 1) throw new UsageError('--resume takes a run id');
      // `--backend` with `--resume` continues the run on another backend (a checkpoint is backend-neutral).
      const backend = values['backend'] as string | undefined;
      if (backend !== undefined && !(BACKENDS as readonly string[]).includes(backend)) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}`);
      result = await training.resume(id, callbacks, backend !== undefined ? { backend: backend as BackendPreference } : {});
    } else {
      const name = values['dataset'] as string | undefined;
      if (!name) throw new UsageError('--dataset NAME is required');
      const task = TASKS[String(values['task'] ?? '')];
      if (!task) throw new UsageError('--task must be classify, detect or segment');
      const backend = (values['backend'] as string | undefined) ?? 'auto';
      if (!(BACKENDS as readonly string[]).includes(backend)) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}`);
      const dataset = core.datasets.findByName(name);
      if (!dataset) throw new UsageError(`there is no dataset named "${name}"`);
      const seed = values['seed'] === undefined ? undefined : Number(values['seed']);
      const unlabeled = values['unlabeled-pixels'] as string | undefined;
      if (unlabeled !== undefined && unlabeled !== 'background' && unlabeled !== 'ignore') throw new UsageError('--unlabeled-pixels must be background or ignore');
      const classNames = parseClassList(values['classes']);
      const timeBudgetSeconds = parseTimeBudget(values['time-budget']);
      const request: TrainRequest = {
        ...(classNames ? { classNames } : {}),
        ...(values['planned'] === true || timeBudgetSeconds !== undefined || values['plan-only'] === true ? { recipe: 'planned' as const } : {}),
        ...(timeBudgetSeconds !== undefined ? { timeBudgetSeconds } : {}),
        epochs: positiveInt(values, 'epochs', 10_000),
        batchSize: positiveInt(values, 'batch', 4096),
        inputSize: positiveInt(values, 'size', 4096),
        backend: backend as BackendPreference,
        ...(seed !== undefined && Number.isInteger(seed) ? { seed } : {}),
        ...(unlabeled ? { unlabeledPixels: unlabeled as 'background' | 'ignore' } : {}),
        ...parseRunStartOptions(values),
        ...parseFromModel(values['from-model']),
      };
      if (values['plan-only'] === true) {
        const { plan, config } = await training.plan(dataset.id, task, request);
        if (ctx.json) ctx.jsonLine({ type: 'plan', plan, config });
        else {
          ctx.out(`Plan for ${name} (${task}): ${plan.data.images} images, median ${plan.data.medianSize[0]}x${plan.data.medianSize[1]} px, ${plan.data.modality}`);
          for (const { label, reason } of planDecisions(plan)) ctx.out(`  ${label}: ${reason}`);
          ctx.out(`Config: input ${config.inputSize} px${config.patch ? ' patches' : ''}, batch ${config.batchSize}, ${config.epochs} epochs, normalisation ${config.normalization.kind}${config.slices === '2.5d' ? ', 2.5-D (3 slices as channels)' : ''}`);
        }
        return EXIT_OK;
      }
      result = await training.train(dataset.id, task, request, callbacks);
    }
    bar?.done();
    const o = result.outcome;
    const final = { type: 'done', runId: result.runId, status: o.status, epochsCompleted: o.epochsCompleted, bestEpoch: o.bestEpoch, metrics: o.bestValMetrics, backend: o.backend, error: o.error, ...(o.warning ? { warning: o.warning } : {}) };
    if (ctx.json) ctx.jsonLine(final);
    else {
      if (o.warning) ctx.err(`warning: ${o.warning}`);
      ctx.out(`Run ${result.runId} ${o.status} after ${o.epochsCompleted} epoch(s) on ${o.backend}. Best epoch ${o.bestEpoch ?? '-'}: ${fmtMetrics(o.bestValMetrics ?? {})}`);
      if (o.error) ctx.out(`${o.error.code}: ${o.error.message}`);
      if (o.status === 'cancelled') ctx.out(`Resume with: fovea train --resume ${result.runId}`);
    }
    return o.status === 'failed' ? EXIT_PARTIAL : EXIT_OK;
  } finally {
    interrupt.release();
  }
}

export function runRuns(ctx: CliContext, positionals: string[]): number {
  const runs = ctx.core().runs;
  runs.markInterrupted();
  if (positionals[0] === 'cancel') {
    const id = Number(positionals[1]);
    if (!Number.isInteger(id) || id < 1) throw new UsageError('fovea runs cancel ID');
    runs.get(id);
    const ok = runs.requestCancel(id);
    if (ctx.json) ctx.jsonLine({ runId: id, cancelRequested: ok });
    else ctx.out(ok ? `Asked run ${id} to stop after its current batch.` : `Run ${id} is not running.`);
    return ok ? EXIT_OK : EXIT_PARTIAL;
  }
  const labelled = runRunsLabelCommand(ctx, ctx.core(), positionals);
  if (labelled !== null) return labelled;
  if (positionals.length) throw new UsageError(`unknown runs subcommand "${positionals[0]}"`);
  const list = runs.list();
  if (ctx.json) {
    ctx.jsonLine(list);
    return EXIT_OK;
  }
  if (!list.length) ctx.out('No training runs yet. Start one with `fovea train --dataset NAME --task classify`.');
  for (const r of list) {
    const duration = formatRunDuration(runDurationSeconds(r));
    ctx.out(
      `${String(r.id).padStart(4)}  ${runDisplayName(r).slice(0, 24).padEnd(24)} ${r.status.padEnd(13)} ${r.task.padEnd(14)} ${r.datasetName.slice(0, 24).padEnd(24)} epochs ${r.epochsCompleted}/${r.config.epochs}  ${r.backend ?? ''}  started ${r.createdAt.slice(0, 16).replace('T', ' ')}  ${duration}  ${fmtMetrics(r.metrics ?? {})}`,
    );
  }
  return EXIT_OK;
}
