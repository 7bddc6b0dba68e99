/**
 * The `fovea` command: the same core as the desktop app, no Electron.
 * Exit codes: 0 success, 1 completed with per-item failures, 2 bad usage or
 * an unusable library.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { FoveaException } from '../contract/result';
import { loadPolicy } from '../core/policy/policy';
import { createCliContext, EXIT_USAGE, UsageError, type CliContext } from './cli-context';
import { datasetsHelp, runDatasets } from './commands/datasets';
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
import { resliceHelp, resliceOptions, runReslice, runSegmentStats, segmentStatsHelp, segmentStatsOptions } from './commands/volume';

type Command = (ctx: CliContext, positionals: string[], values: Record<string, unknown>) => Promise<number> | number;

interface CommandSpec {
  help: string;
  run: Command;
  options?: ParseArgsConfig['options'];
}

const COMMANDS: Record<string, CommandSpec> = {
  info: { help: infoHelp, run: (ctx) => runInfo(ctx) },
  datasets: { help: datasetsHelp, run: (ctx) => runDatasets(ctx) },
  import: { help: importHelp, options: importOptions, run: runImport },
  backup: { help: backupHelp, options: backupOptions, run: (ctx, _p, values) => runBackup(ctx, values) },
  check: { help: checkHelp, options: checkOptions, run: (ctx, _p, values) => runCheck(ctx, values) },
  'import-labels': { help: importLabelsHelp, options: importLabelsOptions, run: runImportLabels },
  export: { help: exportHelp, options: exportOptions, run: runExport },
  demo: { help: demoHelp, run: (ctx) => runDemo(ctx) },
  train: { help: trainHelp, options: trainOptions, run: runTrain },
  evaluate: { help: evaluateHelp, options: evaluateOptions, run: runEvaluate },
  report: { help: reportHelp, options: reportOptions, run: runReport },
  'export-model': { help: exportModelHelp, options: exportModelOptions, run: runExportModel },
  'export-training': { help: exportTrainingHelp, options: exportTrainingOptions, run: runExportTraining },
  predict: { help: predictHelp, options: predictOptions, run: runPredictCommand },
  runs: { help: runsHelp, run: (ctx, positionals) => runRuns(ctx, positionals) },
  inspect: { help: inspectHelp, run: (ctx, positionals) => runInspect(ctx, positionals) },
  pixels: { help: pixelsHelp, options: pixelsOptions, run: runPixels },
  segment: { help: segmentHelp, options: segmentOptions, run: runSegment },
  models: { help: modelsHelp, run: (ctx) => runModels(ctx) },
  'import-model': { help: importModelHelp, options: importModelOptions, run: runImportModel },
  reslice: { help: resliceHelp, options: resliceOptions, run: runReslice },
  'segment-stats': { help: segmentStatsHelp, options: segmentStatsOptions, run: runSegmentStats },
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
    'Exit codes: 0 success, 1 completed with per-item failures, 2 bad usage or unusable library.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
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
  const policy = await loadPolicy();
  for (const e of policy.errors) process.stderr.write(`fovea: IT policy problem, the safest settings apply: ${e}\n`);
  if (policy.policy.libraryLocation && values['library']) {
    process.stderr.write(`fovea: --library is ignored: your IT policy sets the library to ${policy.policy.libraryLocation}\n`);
  }
  const ctx = createCliContext({ json: Boolean(values['json']), library: values['library'] as string | undefined }, policy);
  try {
    return await spec.run(ctx, parsed.positionals, values);
  } catch (e) {
    if (e instanceof UsageError) {
      ctx.err(`fovea ${name}: ${e.message}\n  ${spec.help}`);
      return EXIT_USAGE;
    }
    if (e instanceof FoveaException) {
      if (ctx.json) ctx.jsonLine({ error: { code: e.code, message: e.message } });
      ctx.err(`fovea ${name}: ${e.message}`);
      return e.code === 'LIBRARY_UNUSABLE' || e.code === 'VALIDATION' || e.code === 'NOT_FOUND' ? EXIT_USAGE : 1;
    }
    ctx.err(`fovea ${name}: internal error: ${(e as Error).stack ?? String(e)}`);
    return 1;
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
