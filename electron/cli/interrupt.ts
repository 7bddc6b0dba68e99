/**
 * Ctrl-C for long commands: the first one aborts the returned signal (the
 * command stops at a safe point and leaves the library consistent), a second
 * one quits at once. Call `release()` when the command ends.
 */
import type { CliContext } from './cli-context';

export function interruptible(ctx: CliContext, whatStops: string): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    controller.abort();
    ctx.err(`\n${whatStops} (Ctrl-C again to quit at once)...`);
  };
  process.on('SIGINT', onSigint);
  return { signal: controller.signal, release: () => process.off('SIGINT', onSigint) };
}
