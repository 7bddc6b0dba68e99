/**
 * `fovea measurements --dataset NAME [--json | --csv FILE [--overwrite]]`: a dataset's kept
 * measurements (issue 19). Without an option, a table; --json prints them as one JSON array
 * (the contract's Measurement objects, values with their units); --csv FILE writes the same CSV
 * as the Export screen (units in their own columns, sample SD) and records it in the audit log.
 * Lists go through the app's request (core.dispatch), so the same checks hold.
 */
import { resolve } from 'node:path';
import type { Measurement } from '../../contract/measure';
import { FoveaException } from '../../contract/result';
import { writeMeasurementsFile } from '../../core/measure/measure-export';
import type { CliContext } from '../cli-context';
import { EXIT_OK, UsageError } from '../cli-context';

export const measurementsHelp = 'fovea measurements --dataset NAME [--json | --csv FILE [--overwrite]]   kept measurements (length, angle, regions with HU statistics)';
export const measurementsOptions = {
  dataset: { type: 'string' },
  csv: { type: 'string' },
  overwrite: { type: 'boolean', default: false },
} as const;

function fmt(n: number | null, digits = 2): string {
  return n === null ? '' : n.toFixed(digits);
}

/** One line a person reads: what, where, and its values with units. */
export function describeMeasurement(m: Measurement): string {
  const v = m.values;
  const where = `${m.item.sourceName}${m.frame > 0 ? ` frame ${m.frame + 1}` : ''}`;
  let what: string;
  if (m.kind === 'length') what = `${fmt(v.length)} ${v.unit}`;
  else if (m.kind === 'angle') what = `${fmt(v.angle)}°`;
  else {
    const stats = v.mean !== null ? `  mean ${fmt(v.mean)} SD ${fmt(v.sd)} min ${fmt(v.min)} max ${fmt(v.max)}${v.valueUnit ? ` ${v.valueUnit}` : ''}` : '';
    what = `area ${fmt(v.area)} ${v.unit}²  ${v.pixels} px${stats}`;
  }
  return `#${m.id}  ${m.kind.padEnd(9)}  ${where}  ${what}${m.note ? `  "${m.note}"` : ''}`;
}

export async function runMeasurements(ctx: CliContext, positionals: string[], values: Record<string, unknown>): Promise<number> {
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const name = values['dataset'] as string | undefined;
  if (!name) throw new UsageError('--dataset NAME is required');
  const csv = values['csv'] as string | undefined;
  if (csv !== undefined && ctx.json) throw new UsageError('choose one of --json and --csv FILE');
  if (csv === '') throw new UsageError('--csv takes a file name');
  const core = ctx.core();
  const dataset = core.datasets.findByName(name);
  if (!dataset) throw new UsageError(`there is no dataset named "${name}" (see \`fovea datasets\`)`);
  if (csv !== undefined) {
    core.admit('measurements.export');
    const r = writeMeasurementsFile(core.measureExportDeps(), { datasetId: dataset.id, format: 'csv', file: resolve(csv), overwrite: values['overwrite'] === true });
    ctx.out(`Wrote ${r.measurements} measurement(s) of "${dataset.name}" to ${r.file}`);
    return EXIT_OK;
  }
  const r = await core.dispatch('measurements.list', { datasetId: dataset.id });
  if (!r.ok) throw new FoveaException(r.error.code, r.error.message, r.error.details);
  const rows = r.value as Measurement[];
  if (ctx.json) {
    ctx.jsonLine(rows);
    return EXIT_OK;
  }
  if (!rows.length) ctx.out(`"${dataset.name}" has no measurements.`);
  for (const m of rows) ctx.out(describeMeasurement(m));
  return EXIT_OK;
}
