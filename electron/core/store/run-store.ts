/**
 * Training runs: their config, seed, data snapshot, backend, curves and
 * metrics. A run whose process died (crash, kill, power cut) is found by its
 * stale heartbeat and marked 'interrupted', which `--resume` continues.
 */
import type { BackendName } from '../../contract/domain';
import type { BatchProgress, EpochResult, TaskKind, TrainConfig, TrainOutcome } from '../../contract/ml';
import { FoveaException } from '../../contract/result';
import type { Db } from './library-db';

export type RunStatus = 'running' | 'done' | 'cancelled' | 'stopped-early' | 'failed' | 'interrupted';

export interface RunRecord {
  id: number;
  datasetId: number;
  datasetName: string;
  task: TaskKind;
  status: RunStatus;
  config: TrainConfig;
  seed: number;
  backend: BackendName | null;
  epochsCompleted: number;
  bestEpoch: number | null;
  metrics: Record<string, number> | null;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
  /** The name a person gave the run, or null. */
  name: string | null;
  /** Free-text notes ('' when none). */
  notes: string;
}

export interface RunEpochRecord extends EpochResult {
  runId: number;
}

/** A running run is considered dead when its heartbeat is older than this. */
export const HEARTBEAT_STALE_MS = 60_000;

function isAlive(pid: number | null): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class RunStore {
  readonly #db: Db;
  constructor(db: Db) {
    this.#db = db;
  }

  create(datasetId: number, config: TrainConfig, snapshot: unknown, label: { name?: string | null; notes?: string } = {}): number {
    const info = this.#db
      .prepare(
        `INSERT INTO runs (dataset_id, task, status, config, seed, snapshot, pid, heartbeat_at, created_at, name, notes)
         VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(datasetId, config.task, JSON.stringify(config), config.seed, JSON.stringify(snapshot), process.pid, new Date().toISOString(), new Date().toISOString(), label.name ?? null, label.notes ?? '');
    return Number(info.lastInsertRowid);
  }

  /** Set a run's name (null: none) and/or notes; NOT_FOUND when there is no such run. */
  setLabel(id: number, change: { name?: string | null; notes?: string }): void {
    this.get(id);
    if (change.name !== undefined) this.#db.prepare('UPDATE runs SET name = ? WHERE id = ?').run(change.name, id);
    if (change.notes !== undefined) this.#db.prepare('UPDATE runs SET notes = ? WHERE id = ?').run(change.notes, id);
  }

  /** Mark a run running again (resume) in this process. */
  reopen(id: number): void {
    this.#db.prepare("UPDATE runs SET status = 'running', pid = ?, heartbeat_at = ?, cancel_requested = 0, error = NULL, finished_at = NULL WHERE id = ?").run(process.pid, new Date().toISOString(), id);
  }

  heartbeat(id: number): boolean {
    this.#db.prepare('UPDATE runs SET heartbeat_at = ? WHERE id = ?').run(new Date().toISOString(), id);
    return (this.#db.prepare('SELECT cancel_requested AS c FROM runs WHERE id = ?').get(id) as { c: number } | undefined)?.c === 1;
  }

  recordBatch(id: number, p: BatchProgress): void {
    this.#db
      .prepare('INSERT OR REPLACE INTO run_batches (run_id, epoch, batch, loss, images_per_second) VALUES (?, ?, ?, ?, ?)')
      .run(id, p.epoch, p.batch, Number.isFinite(p.loss) ? p.loss : 0, p.imagesPerSecond);
  }

  recordEpoch(id: number, r: EpochResult): void {
    this.#db.transaction(() => {
      this.#db
        .prepare(
          'INSERT OR REPLACE INTO run_epochs (run_id, epoch, train_loss, val_loss, train_metrics, val_metrics, best, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(id, r.epoch, r.trainLoss, r.valLoss, JSON.stringify(r.trainMetrics), JSON.stringify(r.valMetrics), r.best ? 1 : 0, r.seconds);
      this.#db
        .prepare(
          `UPDATE runs SET epochs_completed = max(epochs_completed, ?),
             best_epoch = CASE WHEN ? THEN ? ELSE best_epoch END,
             metrics = CASE WHEN ? THEN ? ELSE metrics END,
             heartbeat_at = ? WHERE id = ?`,
        )
        .run(r.epoch, r.best ? 1 : 0, r.epoch, r.best ? 1 : 0, JSON.stringify(r.valMetrics), new Date().toISOString(), id);
    })();
  }

  finish(id: number, outcome: TrainOutcome): void {
    this.#db
      .prepare(
        `UPDATE runs SET status = ?, backend = ?, best_epoch = coalesce(?, best_epoch), metrics = coalesce(?, metrics),
           error = ?, finished_at = ?, pid = NULL WHERE id = ?`,
      )
      .run(
        outcome.status,
        outcome.backend,
        outcome.bestEpoch,
        outcome.bestValMetrics ? JSON.stringify(outcome.bestValMetrics) : null,
        outcome.error ? `${outcome.error.code}: ${outcome.error.message}` : null,
        new Date().toISOString(),
        id,
      );
    // Detection: the decoding tuned on validation joins the run's config, so evaluation and prediction use it.
    if (outcome.decoding) this.#db.prepare("UPDATE runs SET config = json_set(config, '$.decoding', json(?)) WHERE id = ?").run(JSON.stringify(outcome.decoding), id);
  }

  setBackend(id: number, backend: BackendName): void {
    this.#db.prepare('UPDATE runs SET backend = ? WHERE id = ?').run(backend, id);
  }

  requestCancel(id: number): boolean {
    const res = this.#db.prepare("UPDATE runs SET cancel_requested = 1 WHERE id = ? AND status = 'running'").run(id);
    return res.changes > 0;
  }

  /** Runs marked running whose process is gone become 'interrupted' (resumable). */
  markInterrupted(): number {
    const rows = this.#db.prepare("SELECT id, pid, heartbeat_at FROM runs WHERE status = 'running'").all() as { id: number; pid: number | null; heartbeat_at: string | null }[];
    let n = 0;
    for (const r of rows) {
      const stale = !r.heartbeat_at || Date.now() - Date.parse(r.heartbeat_at) > HEARTBEAT_STALE_MS;
      if (!isAlive(r.pid) || (stale && r.pid !== process.pid)) {
        this.#db.prepare("UPDATE runs SET status = 'interrupted', pid = NULL WHERE id = ? AND status = 'running'").run(r.id);
        n++;
      }
    }
    return n;
  }

  get(id: number): RunRecord {
    const r = this.#db
      .prepare('SELECT r.*, d.name AS dataset_name FROM runs r JOIN datasets d ON d.id = r.dataset_id WHERE r.id = ?')
      .get(id) as Record<string, unknown> | undefined;
    if (!r) throw new FoveaException('NOT_FOUND', `There is no run with id ${id}.`);
    return toRecord(r);
  }

  snapshot(id: number): unknown {
    const r = this.#db.prepare('SELECT snapshot FROM runs WHERE id = ?').get(id) as { snapshot: string } | undefined;
    if (!r) throw new FoveaException('NOT_FOUND', `There is no run with id ${id}.`);
    return JSON.parse(r.snapshot);
  }

  list(datasetId?: number): RunRecord[] {
    const rows = (datasetId
      ? this.#db.prepare('SELECT r.*, d.name AS dataset_name FROM runs r JOIN datasets d ON d.id = r.dataset_id WHERE r.dataset_id = ? ORDER BY r.id DESC').all(datasetId)
      : this.#db.prepare('SELECT r.*, d.name AS dataset_name FROM runs r JOIN datasets d ON d.id = r.dataset_id WHERE d.deleting IS NULL ORDER BY r.id DESC').all()) as Record<string, unknown>[];
    return rows.map(toRecord);
  }

  /** Per-batch losses, thinned to at most `max` points (every k-th batch) for charts. */
  batches(id: number, max = 4000): { epoch: number; batch: number; loss: number; imagesPerSecond: number }[] {
    const n = (this.#db.prepare('SELECT count(*) AS n FROM run_batches WHERE run_id = ?').get(id) as { n: number }).n;
    const step = Math.max(1, Math.ceil(n / max));
    return this.#db
      .prepare(
        `SELECT epoch, batch, loss, images_per_second AS imagesPerSecond FROM (
           SELECT *, row_number() OVER (ORDER BY epoch, batch) AS k FROM run_batches WHERE run_id = ?
         ) WHERE (k - 1) % ? = 0 ORDER BY epoch, batch`,
      )
      .all(id, step) as { epoch: number; batch: number; loss: number; imagesPerSecond: number }[];
  }

  epochs(id: number): RunEpochRecord[] {
    return (this.#db.prepare('SELECT * FROM run_epochs WHERE run_id = ? ORDER BY epoch').all(id) as Record<string, unknown>[]).map((r) => ({
      runId: r['run_id'] as number,
      epoch: r['epoch'] as number,
      trainLoss: r['train_loss'] as number,
      valLoss: r['val_loss'] as number,
      trainMetrics: JSON.parse((r['train_metrics'] as string | null) ?? '{}') as Record<string, number>,
      valMetrics: JSON.parse((r['val_metrics'] as string | null) ?? '{}') as Record<string, number>,
      best: r['best'] === 1,
      seconds: r['seconds'] as number,
    }));
  }
}

function toRecord(r: Record<string, unknown>): RunRecord {
  return {
    id: r['id'] as number,
    datasetId: r['dataset_id'] as number,
    datasetName: r['dataset_name'] as string,
    task: r['task'] as TaskKind,
    status: r['status'] as RunStatus,
    config: JSON.parse(r['config'] as string) as TrainConfig,
    seed: r['seed'] as number,
    backend: (r['backend'] as BackendName | null) ?? null,
    epochsCompleted: r['epochs_completed'] as number,
    bestEpoch: (r['best_epoch'] as number | null) ?? null,
    metrics: r['metrics'] ? (JSON.parse(r['metrics'] as string) as Record<string, number>) : null,
    error: (r['error'] as string | null) ?? null,
    createdAt: r['created_at'] as string,
    finishedAt: (r['finished_at'] as string | null) ?? null,
    name: (r['name'] as string | null) ?? null,
    notes: (r['notes'] as string | null) ?? '',
  };
}
