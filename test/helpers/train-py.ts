/**
 * Running an exported train.py (core/export/training-export.ts) in the training-export tests: under
 * `torchrun` with gloo or on one process, with what it printed parsed, and the checks that both
 * ranks trained and that Fovea's metrics equal the printed ones.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { PYTHON } from './reference-tools';

export interface Trained {
  events: Record<string, unknown>[];
  metrics: Record<string, unknown>;
  seconds: number;
}

let runs = 0;

/** Runs train.py (torchrun with `procs` processes, or plain python) and parses what it prints. */
export function train(dir: string, procs: number, args: string[]): Trained {
  const started = performance.now();
  // Debian's torch 1.13 on Python 3.11 cannot parse torchrun's default "--redirects 0 --tee 0"
  // (IntFlag iteration skips Std.NONE, so the value becomes None and the launcher crashes before
  // starting any worker). A mapping for a local rank that does not exist means "none" for every
  // rank, which is the default's meaning; newer torch needs no such flags.
  // `--standalone` is one node with a c10d rendezvous, but torch 1.13 puts it on the fixed port 29400:
  // two test files running torchrun at once then fail ("The connection to the C10d store has
  // failed"). The same rendezvous on port 0 lets the agent take a free port.
  const rendezvous = ['--nnodes', '1', '--rdzv_backend', 'c10d', '--rdzv_endpoint', 'localhost:0', '--rdzv_id', `fovea-test-${process.pid}-${++runs}`];
  const cmd = procs > 1 ? ['-m', 'torch.distributed.run', ...rendezvous, '--nproc_per_node', String(procs), '--redirects', '9:1', '--tee', '9:1', 'train.py', ...args] : ['train.py', ...args];
  // A run here takes seconds: a hang fails in minutes, not after ten.
  const r = spawnSync(PYTHON, cmd, { cwd: dir, encoding: 'utf8', timeout: 240_000, env: { ...process.env, OMP_NUM_THREADS: '1' } });
  assert.equal(r.status, 0, `train.py failed (status ${r.status}, signal ${r.signal}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
  const events: Record<string, unknown>[] = [];
  let metrics: Record<string, unknown> | null = null;
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('TEST_METRICS ')) metrics = JSON.parse(line.slice('TEST_METRICS '.length)) as Record<string, unknown>;
    else if (line.startsWith('{')) events.push(JSON.parse(line) as Record<string, unknown>);
  }
  assert.ok(metrics, `no TEST_METRICS line:\n${r.stdout.slice(-2000)}`);
  return { events, metrics, seconds: (performance.now() - started) / 1000 };
}

/** Every value train.py printed (`b`) equals Fovea's (`a`) within `tol`; nulls and strings exactly. */
export function close(a: unknown, b: unknown, tol: number, path: string): void {
  if (typeof a === 'number' && typeof b === 'number') assert.ok(Math.abs(a - b) <= tol, `${path}: Fovea ${a} vs train.py ${b}`);
  else if (Array.isArray(a) && Array.isArray(b)) {
    assert.equal(a.length, b.length, `${path}: length`);
    a.forEach((x, i) => close(x, b[i], tol, `${path}[${i}]`));
  } else if (a && b && typeof a === 'object' && typeof b === 'object') {
    for (const k of Object.keys(b)) close((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], tol, `${path}.${k}`);
  } else assert.deepEqual(a, b, path);
}

/** Both ranks trained every epoch, their shares add up to the split; rank 0 alone wrote one checkpoint per epoch. */
export function assertDistributed(t: Trained, epochs: number, trainImages: number): void {
  const start = t.events.find((e) => e['event'] === 'start');
  assert.equal(start?.['world'], 2);
  assert.equal(start?.['backend'], 'gloo');
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const ranks = t.events.filter((e) => e['event'] === 'rank-epoch' && e['epoch'] === epoch);
    assert.deepEqual(ranks.map((e) => e['rank']).sort(), [0, 1], `epoch ${epoch}: both ranks trained`);
    for (const r of ranks) assert.ok((r['samples'] as number) > 0);
    const total = ranks.reduce((n, e) => n + (e['samples'] as number), 0);
    // DistributedSampler pads the last shard with a repeated image when the split is odd.
    assert.ok(total === trainImages || total === trainImages + 1, `epoch ${epoch}: ${total} samples for ${trainImages} images`);
    const avg = t.events.find((e) => e['event'] === 'epoch' && e['epoch'] === epoch);
    assert.ok(avg, `epoch ${epoch}: averaged loss printed`);
    const expected = ranks.reduce((s, e) => s + (e['loss'] as number) * (e['samples'] as number), 0) / total;
    assert.ok(Math.abs((avg['loss'] as number) - expected) < 1e-9, `epoch ${epoch}: the printed loss is the all-reduced mean`);
  }
  const checkpoints = t.events.filter((e) => e['event'] === 'checkpoint');
  assert.equal(checkpoints.length, epochs, 'one checkpoint per epoch');
  assert.ok(checkpoints.every((e) => e['rank'] === 0), 'written by rank 0 only');
}
