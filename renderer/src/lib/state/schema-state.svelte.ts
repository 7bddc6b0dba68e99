/**
 * The label schema editor's state: a dataset's classes (name, colour, key),
 * single- or multi-label, the class-deletion rule (a class in use is only
 * deleted by moving its annotations to another class), and merging one class
 * into another (two label strings for one thing).
 */
import type { LabelSchema } from '../../../../electron/contract/domain';

export type ClassKey = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9';
import { request } from '../api';

export class SchemaState {
  schema = $state.raw<LabelSchema | null>(null);
  error = $state<string | null>(null);
  /** A refused delete: the class, and how many annotations use it. */
  inUse = $state.raw<{ classId: number; count: number } | null>(null);
  readonly #datasetId: number;

  constructor(datasetId: number) {
    this.#datasetId = datasetId;
  }

  async load(): Promise<void> {
    const res = await request('classes.schema', { datasetId: this.#datasetId });
    if (res.ok) this.schema = res.value;
    else this.error = res.error.message;
  }

  async #done<T>(res: { ok: true; value: T } | { ok: false; error: { message: string; details?: unknown } }): Promise<boolean> {
    if (!res.ok) {
      this.error = res.error.message;
      return false;
    }
    this.error = null;
    await this.load();
    return true;
  }

  async add(name: string, hotkey: ClassKey | null): Promise<boolean> {
    return this.#done(await request('classes.create', { datasetId: this.#datasetId, name, ...(hotkey ? { hotkey } : {}) }));
  }

  async update(id: number, change: { name?: string; color?: string; hotkey?: ClassKey | null }): Promise<boolean> {
    return this.#done(await request('classes.update', { id, ...change }));
  }

  async remove(id: number, reassignTo?: number): Promise<boolean> {
    const res = await request('classes.delete', { id, ...(reassignTo !== undefined ? { reassignTo } : {}) });
    if (!res.ok && res.error.code === 'CONFLICT') {
      const count = (res.error.details as { inUse?: number } | undefined)?.inUse ?? 0;
      this.inUse = { classId: id, count };
      this.error = res.error.message;
      return false;
    }
    this.inUse = null;
    return this.#done(res);
  }

  /** Merge class `from` into `into`: its annotations move there and it is removed (classes.merge). */
  async merge(from: number, into: number): Promise<boolean> {
    return this.#done(await request('classes.merge', { from: [from], into }));
  }

  async setMultiLabel(multiLabel: boolean): Promise<boolean> {
    return this.#done(await request('classes.setMultiLabel', { datasetId: this.#datasetId, multiLabel }));
  }
}
