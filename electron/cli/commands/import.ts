/**
 * `fovea import PATH... --dataset NAME [--workers N] [--json]`: files, folders
 * (recursive) and DICOMDIRs into a dataset (created if needed), decoded by N
 * worker threads (default: one per core but one; 0: in this thread). A progress bar on a
 * terminal; with --json, one JSON line per file then a summary line.
 * Ctrl-C stops after the current file and leaves the library consistent;
 * running the same import again skips what is there.
 */
import type { CliContext } from '../cli-context';
import { EXIT_OK, EXIT_PARTIAL, UsageError } from '../cli-context';
import { interruptible } from '../interrupt';
import { formatDuration, ProgressBar } from '../progress-bar';

export const importHelp = 'fovea import PATH... --dataset NAME [--workers N] [--json]   import DICOM (files, folders, DICOMDIR) and images';
export const importOptions = { dataset: { type: 'string' }, workers: { type: 'string' } } as const;

export async function runImport(ctx: CliContext, paths: string[], values: Record<string, unknown>): Promise<number> {
  const datasetName = values['dataset'] as string | undefined;
  if (!datasetName) throw new UsageError('--dataset NAME is required');
  if (paths.length === 0) throw new UsageError('give at least one file or folder to import');
  const workersText = values['workers'] as string | undefined;
  const workers = workersText === undefined ? undefined : Number(workersText);
  if (workers !== undefined && (!Number.isInteger(workers) || workers < 0 || workers > 256)) {
    throw new UsageError('--workers must be a whole number from 0 (decode in this thread) to 256');
  }
  const core = ctx.core();
  const existing = core.datasets.findByName(datasetName);
  const dataset = existing ?? core.datasets.create(datasetName, '');
  // As the app's import does (Core.startImport): a dataset this import made and filled with nothing
  // (every path missing or unreadable) does not stay behind empty.
  const removeIfNew = (): void => {
    if (!existing && core.datasets.removeIfEmpty(dataset.id) && !ctx.json) ctx.err(`Nothing was imported; the new dataset "${dataset.name}" was not kept.`);
  };

  const interrupt = interruptible(ctx, 'Stopping after the current file');
  const bar = !ctx.json && ctx.isTty ? new ProgressBar() : null;
  try {
    const report = await core.importFiles({
      datasetId: dataset.id,
      paths,
      ...(workers !== undefined ? { workers } : {}),
      signal: interrupt.signal,
      onFile: (f) => {
        if (ctx.json) ctx.jsonLine({ type: 'file', path: f.path, outcome: f.outcome, kind: f.kind ?? null, reason: f.reason ?? null, code: f.code ?? null, itemId: f.itemId ?? null });
      },
      onProgress: (p) => {
        bar?.update(
          p.filesTotal ? p.filesDone / p.filesTotal : 1,
          `${p.filesDone}/${p.filesTotal} files  ${(p.bytesDone / 1e6).toFixed(1)} MB  ${p.filesPerSecond.toFixed(1)} files/s  ${p.megabytesPerSecond.toFixed(1)} MB/s  ETA ${formatDuration(p.etaSeconds)}`,
        );
      },
    });
    bar?.done();
    const c = report.counts;
    if (ctx.json) {
      ctx.jsonLine({
        type: 'summary',
        dataset: dataset.name,
        datasetId: dataset.id,
        importJobId: report.importJobId,
        cancelled: report.cancelled,
        files: report.filesDone,
        bytes: report.bytesDone,
        seconds: report.seconds,
        filesPerSecond: report.filesPerSecond,
        megabytesPerSecond: report.megabytesPerSecond,
        imported: c.imported,
        duplicate: c.duplicate,
        skipped: c.skipped,
        failed: c.failed,
        problems: report.problems,
      });
    } else {
      ctx.out(
        `${report.cancelled ? 'Cancelled' : 'Done'} in ${report.seconds.toFixed(1)} s: ${c.imported} imported, ${c.duplicate} duplicate, ${c.skipped} skipped, ${c.failed} failed` +
          ` (${report.filesDone} files, ${(report.bytesDone / 1e6).toFixed(1)} MB) into "${dataset.name}".`,
      );
      const groups: [string, typeof report.notImported][] = [
        ['Failed', report.notImported.filter((f) => f.outcome === 'failed')],
        ['Skipped', report.notImported.filter((f) => f.outcome === 'skipped')],
      ];
      for (const [title, list] of groups) {
        if (list.length === 0) continue;
        ctx.out(`${title}:`);
        for (const f of list.slice(0, 50)) ctx.out(`  ${f.path}: ${f.reason ?? ''}`);
        if (list.length > 50) ctx.out(`  ... and ${list.length - 50} more (use --json for all)`);
      }
      for (const p of report.problems) ctx.out(`  ${p.path}: ${p.reason}`);
      if (report.cancelled) ctx.out('Run the same command again to finish the import.');
    }
    return c.failed > 0 || report.problems.length > 0 ? EXIT_PARTIAL : EXIT_OK;
  } finally {
    interrupt.release();
    removeIfNew();
  }
}
