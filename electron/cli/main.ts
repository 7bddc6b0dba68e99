/**
 * The `fovea` command: the same core as the desktop app, no Electron.
 * Exit codes: 0 success, 1 completed with per-item failures, 2 bad usage, a
 * refusal by IT policy, or an unusable library.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { RequestName } from '../contract/api';
import { loadPolicy, type PolicyLoadResult } from '../core/policy/policy';
import { toFoveaError } from '../core/errors';
import { createCliContext, EXIT_USAGE, UsageError, type CliContext } from './cli-context';
import { datasetsHelp, datasetsOptions, runDatasets } from './commands/datasets';
import { itemsHelp, itemsOptions, runItems } from './commands/data-management';
import { demoHelp, runDemo } from './commands/demo';
import { inspectHelp, pixelsHelp, pixelsOptions, runInspect, runPixels } from './commands/dicom-tools';
import { evaluateHelp, evaluateOptions, runEvaluate } from './commands/evaluate';
import { exportModelHelp, exportModelOptions, runExportModel } from './commands/export-model';
import { exportTrainingHelp, exportTrainingOptions, runExportTraining } from './commands/export-training';
import { predictHelp, predictOptions, runPredictCommand } from './commands/predict';
import { importHelp, importOptions, runImport } from './commands/import';
import { importLabelsHelp, importLabelsOptions, runImportLabels } from './commands/import-labels';
import { exportHelp, exportOptions, runExport } from './commands/export';
import { infoHelp, runInfo } from './commands/info';
import { reportHelp, reportOptions, runReport } from './commands/report';
import { runRuns, runsHelp, runTrain, trainHelp, trainOptions } from './commands/train';
import { backupHelp, backupOptions, checkHelp, checkOptions, runBackup, runCheck } from './commands/maintenance';
import { importModelHelp, importModelOptions, modelsHelp, runImportModel, runModels, runSegment, segmentHelp, segmentOptions } from './commands/models';
import { measurementsHelp, measurementsOptions, runMeasurements } from './commands/measurements';
import { resliceHelp, resliceOptions, runReslice, runSegmentStats, segmentStatsHelp, segmentStatsOptions } from './commands/volume';

type Command = (ctx: CliContext, positionals: string[], values: Record<string, unknown>) => Promise<number> | number;

interface CommandSpec {
  help: string;
  run: Command;
  options?: ParseArgsConfig['options'];
  /**
   * The request of the app this command performs: the core admits it (read-only library, IT
   * policy) exactly as it admits the app's request, before the command starts. None for commands
   * that only read files outside the library.
   */
  request?: RequestName;
}

const COMMANDS: Record<string, CommandSpec> = {
  info: { help: infoHelp, request: 'app.info', run: (ctx) => runInfo(ctx) },
  datasets: { help: datasetsHelp, request: 'datasets.list', options: datasetsOptions, run: runDatasets },
  import: { help: importHelp, request: 'import.start', options: importOptions, run: runImport },
  backup: { help: backupHelp, options: backupOptions, run: (ctx, _p, values) => runBackup(ctx, values) },
  check: { help: checkHelp, options: checkOptions, run: (ctx, _p, values) => runCheck(ctx, values) },
  'import-labels': { help: importLabelsHelp, request: 'annotations.create', options: importLabelsOptions, run: runImportLabels },
  export: { help: exportHelp, request: 'export.start', options: exportOptions, run: runExport },
  demo: { help: demoHelp, request: 'samples.create', run: (ctx) => runDemo(ctx) },
  train: { help: trainHelp, request: 'training.start', options: trainOptions, run: runTrain },
  evaluate: { help: evaluateHelp, request: 'evaluation.run', options: evaluateOptions, run: runEvaluate },
  report: { help: reportHelp, request: 'reports.export', options: reportOptions, run: runReport },
  'export-model': { help: exportModelHelp, request: 'models.export', options: exportModelOptions, run: runExportModel },
  'export-training': { help: exportTrainingHelp, request: 'export.start', options: exportTrainingOptions, run: runExportTraining },
  predict: { help: predictHelp, request: 'predict.start', options: predictOptions, run: runPredictCommand },
  runs: { help: runsHelp, request: 'runs.list', run: (ctx, positionals) => runRuns(ctx, positionals) },
  inspect: { help: inspectHelp, run: (ctx, positionals) => runInspect(ctx, positionals) },
  pixels: { help: pixelsHelp, options: pixelsOptions, run: runPixels },
  segment: { help: segmentHelp, request: 'assist.segment', options: segmentOptions, run: runSegment },
  models: { help: modelsHelp, request: 'models.list', run: (ctx) => runModels(ctx) },
  'import-model': { help: importModelHelp, request: 'models.import', options: importModelOptions, run: runImportModel },
  reslice: { help: resliceHelp, options: resliceOptions, run: runReslice },
  'segment-stats': { help: segmentStatsHelp, options: segmentStatsOptions, run: runSegmentStats },
  items: { help: itemsHelp, options: itemsOptions, run: runItems },
  measurements: { help: measurementsHelp, request: 'measurements.list', options: measurementsOptions, run: runMeasurements },
};

const GLOBAL_OPTIONS = {
  library: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export function usage(): string {
  return [
    'Usage: fovea <command> [options]',
    '',
    'Commands:',
    ...Object.values(COMMANDS).map((c) => `  ${c.help}`),
    '',
    'Global options:',
    '  --library DIR   the library folder (default: $FOVEA_LIBRARY, else the per-user application-data folder)',
    '  --json          machine-readable output (JSON, or JSON lines for long-running commands)',
    '',
    'Exit codes: 0 success, 1 completed with per-item failures, 2 bad usage, refused by IT policy, or unusable library.',
  ].join('\n');
}

/** `policy`: tests pass one; the command loads IT's policy from its usual places otherwise. */
export async function main(argv: string[], deps: { policy?: PolicyLoadResult } = {}): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : EXIT_USAGE;
  }
  const spec = COMMANDS[name];
  if (!spec) {
    process.stderr.write(`fovea: unknown command "${name}"\n\n${usage()}\n`);
    return EXIT_USAGE;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, ...spec.options }, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`fovea ${name}: ${(e as Error).message}\n  ${spec.help}\n`);
    return EXIT_USAGE;
  }
  const values = parsed.values as Record<string, unknown>;
  if (values['help']) {
    process.stdout.write(`${spec.help}\n`);
    return 0;
  }
  const policy = deps.policy ?? (await loadPolicy());
  for (const e of policy.errors) process.stderr.write(`fovea: IT policy problem, the safest settings apply: ${e}\n`);
  if (policy.policy.libraryLocation && values['library']) {
    process.stderr.write(`fovea: --library is ignored: your IT policy sets the library to ${policy.policy.libraryLocation}\n`);
  }
  const ctx = createCliContext({ json: Boolean(values['json']), library: values['library'] as string | undefined }, policy);
  try {
    if (spec.request) ctx.core().admit(spec.request);
    return await spec.run(ctx, parsed.positionals, values);
  } catch (e) {
    if (e instanceof UsageError) {
      ctx.err(`fovea ${name}: ${e.message}\n  ${spec.help}`);
      return EXIT_USAGE;
    }
    // The core's one error mapping: a read-only library or a full disk is a message with its code, not a stack.
    const error = toFoveaError(e);
    if (ctx.json) ctx.jsonLine({ error: { code: error.code, message: error.message } });
    ctx.err(`fovea ${name}: ${error.message} [${error.code}]`);
    // A policy refusal is the caller's to change, like bad usage (fovea export has always exited 2 for it).
    return error.code === 'LIBRARY_UNUSABLE' || error.code === 'VALIDATION' || error.code === 'NOT_FOUND' || error.code === 'FORBIDDEN' ? EXIT_USAGE : 1;
  } finally {
    ctx.close();
  }
}

// Run when executed directly (tsx electron/cli/main.ts, or the bundled dist/cli.mjs).
const invokedDirectly = process.argv[1] && /(?:^|[\\/])(?:main\.ts|fovea\.mjs|cli\.mjs)$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`fovea: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
