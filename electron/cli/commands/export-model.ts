/**
 * `fovea export-model --run ID --format tfjs|onnx --out DIR [--checkpoint best|last] [--overwrite] [--json]`
 *   writes the run's model (TF.js model.json + weight shards, or model.onnx),
 *   model-card.json and fovea-manifest.json into DIR. --json prints one JSON
 *   object: runId, format, outDir, files (path, bytes, sha256), manifest,
 *   bytes, and the model card.
 */
import { resolve } from 'node:path';
import { MODEL_EXPORT_FORMATS, type ModelExportFormat } from '../../contract/export-formats';
import { exportModel } from '../../core/export/model-export';
import type { CliContext } from '../cli-context';
import { EXIT_OK, UsageError } from '../cli-context';

export const exportModelHelp = `fovea export-model --run ID --format ${MODEL_EXPORT_FORMATS.join('|')} --out DIR [--checkpoint best|last] [--overwrite] [--json]`;
export const exportModelOptions = {
  run: { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
  checkpoint: { type: 'string' },
  overwrite: { type: 'boolean', default: false },
} as const;

export async function runExportModel(ctx: CliContext, positionals: string[], values: Record<string, unknown>): Promise<number> {
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const runId = Number(values['run']);
  if (values['run'] === undefined || !Number.isInteger(runId) || runId < 1) throw new UsageError('--run takes a run id (see `fovea runs`)');
  const format = values['format'] as string | undefined;
  if (!format || !(MODEL_EXPORT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${MODEL_EXPORT_FORMATS.join(', ')}`);
  const out = values['out'] as string | undefined;
  if (!out) throw new UsageError('--out DIR is required (the folder to write into)');
  const checkpoint = values['checkpoint'] as string | undefined;
  if (checkpoint !== undefined && checkpoint !== 'best' && checkpoint !== 'last') throw new UsageError('--checkpoint must be best or last');

  const report = await exportModel(ctx.core(), {
    runId,
    format: format as ModelExportFormat,
    outDir: resolve(out),
    ...(checkpoint ? { checkpoint } : {}),
    overwrite: values['overwrite'] === true,
  });
  if (ctx.json) {
    ctx.jsonLine({ runId: report.runId, format: report.format, outDir: report.outDir, files: report.files, manifest: report.manifest, bytes: report.bytes, card: report.card });
  } else {
    ctx.out(`Run ${report.runId} (${report.card.task}, ${report.card.classes.length} class(es)) exported as ${report.format} to ${report.outDir}:`);
    for (const f of report.files) ctx.out(`  ${f.path}  ${f.bytes} bytes  sha256 ${f.sha256.slice(0, 16)}...`);
    ctx.out(`  input ${JSON.stringify(report.card.input.shape)} ${report.card.input.layout} float32, ${report.card.preprocessing.normalization.kind} normalisation, letterboxed to ${report.card.preprocessing.letterbox.size} px${report.card.preprocessing.slices.mode === '2.5d' ? ', 2.5-D (channels: slice below, slice, slice above)' : ''}`);
    ctx.out(`manifest: ${report.manifest}`);
  }
  return EXIT_OK;
}
