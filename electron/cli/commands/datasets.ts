/** `fovea datasets [--json]`: the datasets in the library with their counts; `rename` and `delete` (data-management.ts). */
import type { CliContext } from '../cli-context';
import { EXIT_OK } from '../cli-context';
import { datasetsManageHelp, runDatasetsManage } from './data-management';

export const datasetsHelp = `fovea datasets [--json]        list datasets with item, series and label counts\n  ${datasetsManageHelp}`;

export const datasetsOptions = { yes: { type: 'boolean', default: false } } as const;

export function runDatasets(ctx: CliContext, positionals: string[] = [], values: Record<string, unknown> = {}): number | Promise<number> {
  const [sub, ...rest] = positionals;
  if (sub !== undefined) return runDatasetsManage(ctx, sub, rest, values);
  const list = ctx.core().datasets.list();
  if (ctx.json) {
    ctx.jsonLine(list);
    return EXIT_OK;
  }
  if (list.length === 0) {
    ctx.out(`No datasets in ${ctx.libraryDir}. Import some with \`fovea import PATH --dataset NAME\`.`);
    return EXIT_OK;
  }
  ctx.out(`${'ID'.padStart(4)}  ${'NAME'.padEnd(30)} ${'ITEMS'.padStart(7)} ${'SERIES'.padStart(7)} ${'LABELED'.padStart(8)} ${'ANNOT.'.padStart(7)}`);
  for (const d of list) {
    const c = d.counts;
    ctx.out(`${String(d.id).padStart(4)}  ${d.name.slice(0, 30).padEnd(30)} ${String(c.items).padStart(7)} ${String(c.series).padStart(7)} ${String(c.labeledItems).padStart(8)} ${String(c.annotations).padStart(7)}`);
  }
  return EXIT_OK;
}
