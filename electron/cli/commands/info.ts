/** `fovea info [--json]`: versions, the library, and the ML backend preflight. */
import type { CliContext } from '../cli-context';
import { EXIT_OK } from '../cli-context';

export const infoHelp = 'fovea info [--json]            versions, library path and the ML backend preflight';

export async function runInfo(ctx: CliContext): Promise<number> {
  const info = await ctx.core().info();
  if (ctx.json) {
    ctx.jsonLine(info);
    return EXIT_OK;
  }
  const v = info.versions;
  ctx.out(`Fovea ${v.fovea}  (Node ${v.node}${v.electron ? `, Electron ${v.electron}` : ''}, SQLite ${v.sqlite}, TensorFlow.js ${v.tfjs ?? 'not installed'})`);
  ctx.out(`Library  ${info.library.path}${info.library.readOnly ? `  [READ-ONLY: ${info.library.readOnlyReason}]` : ''}`);
  ctx.out('');
  ctx.out('ML backends');
  for (const b of info.ml.backends) {
    const mark = b.available ? (b.name === info.ml.chosen ? '*' : '+') : '-';
    ctx.out(`  ${mark} ${b.name.padEnd(15)} ${b.available ? 'available' : 'unavailable'}${b.canTrain ? '' : ' (inference only)'}`);
    ctx.out(`      ${b.reason}`);
  }
  if (info.ml.gpus.length) {
    ctx.out('GPUs');
    for (const g of info.ml.gpus) ctx.out(`  ${g.name}${g.memoryMiB ? `, ${g.memoryMiB} MiB` : ''}${g.driverVersion ? `, driver ${g.driverVersion}` : ''}`);
  }
  ctx.out('');
  ctx.out(`Using: ${info.ml.chosen ?? 'none'}. ${info.ml.why}`);
  return EXIT_OK;
}
