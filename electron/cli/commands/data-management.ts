/**
 * `fovea datasets rename|delete` and `fovea items delete|set-split|set-status`: the same requests as
 * the Library home and the Browse screen (core.dispatch: Core.admit, the contract's schemas, the
 * data-management service, the audit), so a read-only library or a running job refuses both alike.
 */
import { parseRequest, type Events, type RequestInput, type RequestName, type Responses } from '../../contract/api';
import { DATASET_DELETE_RUNS_NOTE, type DatasetDeleteResult } from '../../contract/data-management';
import { FoveaException } from '../../contract/result';
import type { CliContext } from '../cli-context';
import { EXIT_OK, EXIT_USAGE, UsageError } from '../cli-context';
import { ProgressBar } from '../progress-bar';

export const datasetsManageHelp = [
  'fovea datasets rename OLD NEW   rename a dataset',
  '  fovea datasets delete NAME [--yes]   delete a dataset with its items, labels and training runs (prints what goes; --yes to do it)',
].join('\n');

export const itemsHelp = [
  'fovea items delete|set-split|set-status --dataset NAME ID...   delete items, or set their split / status by hand',
  '  (--split train|val|test; --status unlabeled|in_progress|done|needs_review|approved|rejected [--comment TEXT] [--annotator NAME])',
].join('\n');

export const itemsOptions = {
  dataset: { type: 'string' },
  split: { type: 'string' },
  status: { type: 'string' },
  comment: { type: 'string' },
  annotator: { type: 'string' },
} as const;

/** One request through the core's one door; a refusal becomes the CLI's error (code and message). */
async function call<K extends RequestName>(ctx: CliContext, name: K, input: RequestInput<K>): Promise<Responses[K]> {
  const r = await ctx.core().dispatch(name, input);
  if (!r.ok) throw new FoveaException(r.error.code, r.error.message, r.error.details);
  return r.value as Responses[K];
}

function datasetId(ctx: CliContext, name: string | undefined): number {
  if (!name) throw new UsageError('--dataset NAME is required');
  const d = ctx.core().datasets.findByName(name);
  if (!d) throw new UsageError(`there is no dataset named "${name}" (see \`fovea datasets\`)`);
  return d.id;
}

function itemIds(positionals: string[]): number[] {
  if (positionals.length === 0) throw new UsageError('name the item ids (see `fovea ... --json` output or the Browse screen)');
  return positionals.map((p) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`"${p}" is not an item id`);
    return n;
  });
}

export async function runDatasetsManage(ctx: CliContext, sub: string, args: string[], values: Record<string, unknown>): Promise<number> {
  if (sub === 'rename') {
    const [from, to] = args;
    if (!from || !to || args.length !== 2) throw new UsageError('rename takes OLD and NEW');
    const ds = await call(ctx, 'datasets.rename', { id: datasetId(ctx, from), name: to });
    if (ctx.json) ctx.jsonLine(ds);
    else ctx.out(`Renamed dataset ${ds.id} to "${ds.name}".`);
    return EXIT_OK;
  }
  if (sub === 'delete') {
    const [name] = args;
    if (!name || args.length !== 1) throw new UsageError('delete takes the dataset NAME');
    const id = datasetId(ctx, name);
    if (!values['yes']) {
      const p = await call(ctx, 'datasets.deletePreview', { id });
      if (ctx.json) ctx.jsonLine({ preview: p, deleted: false });
      else {
        ctx.out(`Deleting "${p.name}" would remove:`);
        for (const line of p.summary) ctx.out(`  ${line}`);
        if (p.blockedBy) ctx.out(`Refused now: ${p.blockedBy}`);
      }
      ctx.err('Nothing was deleted. Run again with --yes to delete it.');
      return EXIT_USAGE;
    }
    const r = await deleteAndWait(ctx, id);
    if (ctx.json) ctx.jsonLine({ result: r, deleted: true });
    else {
      ctx.out(`Deleted dataset "${r.name}": ${r.items} items (${r.series} series, ${r.patients} patients), ${r.labels} labels, ${r.proposals} proposals, ${r.splits} split assignments.`);
      ctx.out(r.runs > 0 ? `Deleted ${r.runs} training run(s) ${r.runIds.join(', ')} with ${r.checkpointDirsRemoved} checkpoint folder(s). ${DATASET_DELETE_RUNS_NOTE}` : 'It had no training runs.');
      ctx.out(`Removed ${r.blobs} stored file(s) only it used${r.blobFilesRemoved < r.blobs ? ` (${r.blobs - r.blobFilesRemoved} left on disk while an import runs; \`fovea check --repair\` removes them)` : ''}.`);
    }
    return EXIT_OK;
  }
  throw new UsageError(`unknown datasets subcommand "${sub}" (rename, delete)`);
}

/**
 * 'datasets.delete' starts a job: follow its progress (a bar on a terminal) and wait for its end.
 * Events are listened to before the request, so none of this job's is missed.
 */
async function deleteAndWait(ctx: CliContext, id: number): Promise<DatasetDeleteResult> {
  const core = ctx.core();
  const bar = !ctx.json && ctx.isTty ? new ProgressBar() : null;
  let jobId: string | null = null;
  const early: Events['datasets.delete.finished'][] = [];
  let settle: (e: Events['datasets.delete.finished']) => void = (e) => early.push(e);
  const offs = [
    core.on('job.progress', (p) => {
      if (p.jobId === jobId && p.progress.total) bar?.update(p.progress.done / p.progress.total, p.progress.phase ?? '');
    }),
    core.on('datasets.delete.finished', (e) => settle(e)),
  ];
  try {
    const started = await call(ctx, 'datasets.delete', { id });
    jobId = started.jobId;
    if (!bar && !ctx.json) ctx.err(`Deleting "${started.name}" (${started.items.toLocaleString('en-US')} items)...`);
    const ended = await new Promise<Events['datasets.delete.finished']>((resolve) => {
      const mine = early.find((e) => e.jobId === started.jobId);
      if (mine) resolve(mine);
      else settle = (e) => void (e.jobId === started.jobId && resolve(e));
    });
    bar?.done();
    if (!ended.result) throw new FoveaException(ended.error?.code ?? 'INTERNAL', ended.error?.message ?? 'The delete failed.', ended.error?.details);
    return ended.result;
  } finally {
    for (const off of offs) off();
    bar?.done();
  }
}

export async function runItems(ctx: CliContext, positionals: string[], values: Record<string, unknown>): Promise<number> {
  const [sub, ...rest] = positionals;
  const id = (): number => datasetId(ctx, values['dataset'] as string | undefined);
  if (sub === 'delete') {
    const r = await call(ctx, 'items.delete', { datasetId: id(), itemIds: itemIds(rest) });
    if (ctx.json) ctx.jsonLine(r);
    else ctx.out(`Deleted ${r.deleted} item(s) with ${r.labels} label(s) and ${r.proposals} proposal(s); ${r.emptySeriesRemoved} empty series and ${r.blobsRemoved} stored file(s) removed.`);
    if (!ctx.json) for (const w of r.warnings) ctx.err(`warning: ${w}`);
    return EXIT_OK;
  }
  if (sub === 'set-split') {
    const split = values['split'] as string | undefined;
    if (split !== 'train' && split !== 'val' && split !== 'test') throw new UsageError('--split must be train, val or test');
    const r = await call(ctx, 'items.setSplit', { datasetId: id(), itemIds: itemIds(rest), split });
    if (ctx.json) ctx.jsonLine(r);
    else ctx.out(`Put ${r.written} item(s) in ${r.split} by hand (training uses it; a redraw never moves it).`);
    if (!ctx.json) for (const w of r.warnings) ctx.err(`warning: ${w}`);
    return EXIT_OK;
  }
  if (sub === 'set-status') {
    const status = values['status'] as string | undefined;
    const comment = values['comment'] as string | undefined;
    const annotator = values['annotator'] as string | undefined;
    const input = { datasetId: id(), itemIds: itemIds(rest), status: status as RequestInput<'items.setStatusMany'>['status'], ...(comment !== undefined ? { comment } : {}) };
    let r: Responses['items.setStatusMany'];
    if (annotator === undefined) r = await call(ctx, 'items.setStatusMany', input);
    else {
      // The name on the command line instead of the app's annotator setting: the same checks first.
      const core = ctx.core();
      core.admit('items.setStatusMany');
      const parsed = parseRequest('items.setStatusMany', input);
      if (!parsed.ok) throw new FoveaException('VALIDATION', parsed.message);
      if (!annotator.trim()) throw new UsageError('--annotator needs a name');
      r = core.dataManagement.setStatus(parsed.value.datasetId, parsed.value.itemIds, parsed.value.status, parsed.value.comment, annotator.trim());
    }
    if (ctx.json) ctx.jsonLine(r);
    else ctx.out(`Set ${r.updated} item(s) to ${r.status.replace('_', ' ')}${r.notFound > 0 ? ` (${r.notFound} not in this dataset)` : ''}.`);
    return EXIT_OK;
  }
  throw new UsageError(`unknown items subcommand "${sub ?? ''}" (delete, set-split, set-status)`);
}
