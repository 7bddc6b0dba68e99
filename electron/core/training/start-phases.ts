/**
 * What a training run does between Start and its first trained batch, in words for the person
 * watching (issue 19: 22 s of silence after Start). The engine names its phases (loading the
 * backend, building the model, waiting for data, the first step); the batch provider counts the
 * images it decodes, which is what "waiting for data" is made of. Once a batch has trained, the
 * batch progress speaks and this goes quiet.
 */
import type { TrainPhase } from '../../contract/ml';

export interface StartPhase {
  phase: string;
  /** Images of the first batch decoded so far, while decoding. */
  done: number | null;
  total: number | null;
  /** True when the phase changed (not only its count). */
  changed: boolean;
}

export class StartPhases {
  readonly #report: (p: StartPhase) => void;
  readonly #resumed: boolean;
  #state: 'collecting' | TrainPhase | 'trained' = 'collecting';
  #firstBatch = 0;
  #decodes = 0;
  #decodesAtWait = 0;
  #backend = 'ML';

  constructor(report: (p: StartPhase) => void, options: { resumed: boolean }) {
    this.#report = report;
    this.#resumed = options.resumed;
  }

  /** The run starts: the labelled images are being collected and split. */
  collecting(): void {
    this.#report({ phase: 'Preparing data: collecting the labelled images', done: null, total: null, changed: true });
  }

  /** The images of the first training batch (what the first step waits for) and the backend asked for. */
  prepared(firstBatch: number, backend: string): void {
    this.#firstBatch = firstBatch;
    if (backend !== 'auto') this.#backend = backend;
  }

  /** A phase the engine names. */
  engine(phase: TrainPhase): void {
    if (this.#state === 'trained') return;
    this.#state = phase;
    if (phase === 'waiting-for-data') this.#decodesAtWait = this.#decodes;
    this.#report({ ...this.#describe(), changed: true });
  }

  /** The batch provider decoded one more image (`total` decodes so far). */
  decoded(total: number): void {
    this.#decodes = total;
    if (this.#state === 'waiting-for-data') this.#report({ ...this.#describe(), changed: false });
  }

  /** A batch has trained: the batch progress takes over. */
  trained(): void {
    this.#state = 'trained';
  }

  #describe(): Omit<StartPhase, 'changed'> {
    const epoch = this.#resumed ? 'The next epoch' : 'First epoch';
    switch (this.#state) {
      case 'collecting':
        return { phase: 'Preparing data: collecting the labelled images', done: null, total: null };
      case 'loading-backend':
        return { phase: `Loading the ${this.#backend} backend`, done: null, total: null };
      case 'building-model':
        return { phase: this.#resumed ? 'Loading the model from its checkpoint' : 'Building the model', done: null, total: null };
      case 'waiting-for-data': {
        const done = Math.min(this.#firstBatch, this.#decodes - this.#decodesAtWait);
        return { phase: `Preparing data: decoding ${done}/${this.#firstBatch} images of the first batch`, done, total: this.#firstBatch };
      }
      case 'first-step':
        return { phase: `${epoch}: training the first batch`, done: null, total: null };
      case 'trained':
        return { phase: epoch, done: null, total: null };
    }
  }
}
