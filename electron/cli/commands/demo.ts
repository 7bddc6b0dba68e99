/** `fovea demo [--library DIR] [--json]`: a sample library from data Fovea generates itself. */
import { createSampleLibrary } from '../../core/samples/sample-library';
import type { CliContext } from '../cli-context';
import { EXIT_OK } from '../cli-context';
import { ProgressBar } from '../progress-bar';

export const demoHelp = 'fovea demo [--library DIR] [--json]   create the sample library (synthetic CT and road scenes)';

export async function runDemo(ctx: CliContext): Promise<number> {
  const bar = !ctx.json && ctx.isTty ? new ProgressBar() : null;
  let lastPhase = '';
  const report = await createSampleLibrary(ctx.core(), {
    onProgress: ({ phase, fraction }) => {
      if (phase !== lastPhase && !bar && !ctx.json) ctx.err(`${phase}...`);
      lastPhase = phase;
      bar?.update(fraction, phase);
    },
  });
  bar?.done();
  if (ctx.json) ctx.jsonLine(report);
  else {
    for (const d of report.datasets) ctx.out(`  ${d.name}: ${d.items} items, ${d.annotations} annotations`);
    ctx.out(`Sample library ready in ${report.seconds.toFixed(1)} s at ${ctx.libraryDir}.`);
  }
  return EXIT_OK;
}
