/**
 * `fovea report --run ID [--split train|val|test|all] --out DIR [--pdf] [--overwrite] [--json]`
 *   writes the evaluation report of a run: report.html (self-contained: inline
 *   SVG charts, no script, opens with no network), report.pdf with --pdf, and
 *   fovea-manifest.json (SHA-256 of each file). Uses the run's stored
 *   evaluation on the split (default: test) and evaluates the run first when
 *   there is none. No patient data: images are named by library item id.
 *
 * --json prints one JSON object: runId, split, task, root, manifest, files
 * (path, bytes, sha256), evaluatedNow and the headline metrics.
 */
import { resolve } from 'node:path';
import { exportReport } from '../../core/report/report-export';
import type { EvaluationSplit } from '../../core/evaluation/evaluate-run';
import type { CliContext } from '../cli-context';
import { EXIT_OK, UsageError } from '../cli-context';

export const reportHelp = 'fovea report --run ID [--split train|val|test|all] --out DIR [--pdf] [--overwrite] [--json]   evaluation report as HTML (and PDF)';
export const reportOptions = {
  run: { type: 'string' },
  split: { type: 'string' },
  out: { type: 'string' },
  pdf: { type: 'boolean', default: false },
  overwrite: { type: 'boolean', default: false },
} as const;

const SPLITS: readonly EvaluationSplit[] = ['train', 'val', 'test', 'all'];

export async function runReport(ctx: CliContext, positionals: string[], values: Record<string, unknown>): Promise<number> {
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const runArg = values['run'] as string | undefined;
  if (runArg === undefined) throw new UsageError('--run ID is required');
  const runId = Number(runArg);
  if (!Number.isInteger(runId) || runId < 1) throw new UsageError('--run takes a run id');
  const out = values['out'] as string | undefined;
  if (!out) throw new UsageError('--out DIR is required (the folder to write the report into)');
  const split = values['split'] as string | undefined;
  if (split !== undefined && !(SPLITS as readonly string[]).includes(split)) throw new UsageError(`--split must be one of ${SPLITS.join(', ')}`);

  const core = ctx.core();
  const result = await exportReport(
    core,
    {
      runId,
      outDir: resolve(out),
      ...(split ? { split: split as EvaluationSplit } : {}),
      pdf: values['pdf'] === true,
      overwrite: values['overwrite'] === true,
    },
    {
      onProgress: (done, total) => {
        if (!ctx.json && ctx.isTty) process.stderr.write(`\revaluating: batch ${done}/${total}`);
      },
    },
  );
  if (!ctx.json && ctx.isTty && result.evaluatedNow) process.stderr.write('\n');
  if (ctx.json) {
    ctx.jsonLine(result);
  } else {
    if (result.evaluatedNow) ctx.err(`Run ${runId} had no stored evaluation on the ${result.split} split: evaluated it now.`);
    ctx.out(`Report of run ${runId} (${result.task}, ${result.split}): ${result.metrics.map((m) => `${m.label} ${m.value}`).join(', ')}`);
    for (const f of result.files) ctx.out(`  ${f.path}  ${f.bytes} bytes  sha256 ${f.sha256}`);
    ctx.out(`manifest: ${result.manifest}`);
    if (!result.audited) ctx.err('note: the library is read-only, so this export is not in its audit log.');
  }
  return EXIT_OK;
}
