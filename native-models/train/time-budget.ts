/**
 * A training time budget (TrainConfig.timeBudgetSeconds, `fovea train
 * --time-budget MINUTES`): the trainer measures its own steps on the
 * backend in use and stops in time, keeping the best checkpoint.
 *
 * Two decisions, both from measured seconds:
 * - Before an epoch (after the first): start it only if what is left holds
 *   at least two training batches plus the reserve (validation and saving),
 *   at their measured pace. A whole epoch need not fit: the cut below ends
 *   it in time, and the batches it trained are not wasted (waiting for a
 *   whole epoch to fit left half of a 10-minute DRIVE budget unused).
 * - Within an epoch: stop taking training batches when one more batch plus
 *   the reserve (validation at its measured or estimated pace, and saving)
 *   would overrun; the epoch is then validated and checkpointed as it
 *   stands, so even a budget shorter than one epoch ends with a model.
 * The clock starts when training starts (after the backend is up), so
 * preparing the data is not charged to the budget.
 */

/** Seconds kept for writing the checkpoints of an epoch. */
export const SAVE_RESERVE_SECONDS = 2;

export class TrainingBudget {
  readonly seconds: number;
  readonly #t0: number;
  readonly #now: () => number;
  #epochs = 0;
  #exhausted = false;

  /** `now` in milliseconds (performance.now by default; injectable for tests). */
  constructor(seconds: number, now: () => number = () => performance.now()) {
    if (!(seconds > 0 && Number.isFinite(seconds))) throw new RangeError(`a time budget must be a positive number of seconds (got ${seconds})`);
    this.seconds = seconds;
    this.#now = now;
    this.#t0 = now();
  }

  elapsed(): number {
    return (this.#now() - this.#t0) / 1000;
  }

  /** Seconds of the budget left (never negative). */
  left(): number {
    return Math.max(0, this.seconds - this.elapsed());
  }

  /** Whether the budget ended training (an epoch cut short or not started). */
  get exhausted(): boolean {
    return this.#exhausted;
  }

  /** Record a finished epoch. */
  epochDone(): void {
    this.#epochs++;
  }

  /** Whether to start another epoch (always the first: it is what gets measured); see the header. */
  nextEpochFits(secondsPerBatch: number, reserveSeconds: number): boolean {
    if (this.#epochs === 0) return true;
    const fits = this.elapsed() + 2 * secondsPerBatch + reserveSeconds + SAVE_RESERVE_SECONDS <= this.seconds;
    if (!fits) this.#exhausted = true;
    return fits;
  }

  /**
   * Whether to take one more training batch of this epoch: `batchesDone` of it are done at
   * `secondsPerBatch`; `reserveSeconds` is validation plus saving. The first batch of an
   * epoch is always taken (an epoch of no batch has nothing to validate).
   */
  takeBatch(batchesDone: number, secondsPerBatch: number, reserveSeconds: number): boolean {
    if (batchesDone === 0) return true;
    const take = this.elapsed() + secondsPerBatch + reserveSeconds + SAVE_RESERVE_SECONDS <= this.seconds;
    if (!take) this.#exhausted = true;
    return take;
  }
}
