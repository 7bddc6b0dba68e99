/** `fovea backup --out FILE` and `fovea check [--repair]`. */
import { resolve } from 'node:path';
import type { CliContext } from '../cli-context';
import { EXIT_OK, EXIT_PARTIAL, UsageError } from '../cli-context';

export const backupHelp = 'fovea backup --out FILE [--json]   online backup of the library database, verified';
export const backupOptions = { out: { type: 'string' } } as const;
export const checkHelp = 'fovea check [--repair] [--json]    integrity_check, foreign_key_check, missing/orphaned blobs, audit chain';
export const checkOptions = { repair: { type: 'boolean', default: false } } as const;

export async function runBackup(ctx: CliContext, values: Record<string, unknown>): Promise<number> {
  const out = values['out'] as string | undefined;
  if (!out) throw new UsageError('--out FILE is required');
  const res = await ctx.core().maintenance.backup(resolve(out));
  if (ctx.json) ctx.jsonLine(res);
  else ctx.out(`Backed up the library database to ${res.path} (${(res.bytes / 1e6).toFixed(1)} MB, verified). Blob files are not part of the database backup: copy the library's blobs/ folder too.`);
  return EXIT_OK;
}

export function runCheck(ctx: CliContext, values: Record<string, unknown>): number {
  const m = ctx.core().maintenance;
  const removed = values['repair'] ? m.removeOrphanBlobFiles() : 0;
  const r = m.check();
  if (ctx.json) {
    ctx.jsonLine({ ...r, removedOrphanBlobFiles: removed });
  } else {
    ctx.out(`integrity_check: ${r.integrity.join('; ')}`);
    ctx.out(`foreign_key_check: ${r.foreignKeys.length === 0 ? 'ok' : `${r.foreignKeys.length} violations`}`);
    ctx.out(`blob files missing: ${r.missingBlobFiles.length}`);
    ctx.out(`blob rows unreferenced: ${r.unreferencedBlobRows.length}`);
    ctx.out(`blob files orphaned (harmless; --repair removes them): ${r.orphanBlobFiles.length}${removed ? ` (removed ${removed})` : ''}`);
    ctx.out(`audit chain: ${r.auditChainBrokenAt === null ? 'intact' : `broken at row ${r.auditChainBrokenAt}`}`);
    ctx.out(r.ok ? 'Library OK.' : 'Library has problems (see above).');
  }
  return r.ok ? EXIT_OK : EXIT_PARTIAL;
}
