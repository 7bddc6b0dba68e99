/**
 * Kept measurements (issue 19): create, move, delete and list them, each audited like a label
 * ('measurement.create' | 'measurement.update' | 'measurement.delete', with ids and kind, never
 * pixel values or patient data). The values are computed here from the frame the one decoder
 * gives (PixelService: modality LUT or rescale applied, HU for CT), never taken from the page.
 * The CLI's `fovea measurements` and the requests use this same service.
 */
import type { PixelFrame } from '../../contract/domain';
import type { Measurement, MeasurementKind } from '../../contract/measure';
import { measurementShapeProblem } from '../../contract/measure';
import { FoveaException } from '../../contract/result';
import type { AuditLog } from '../store/audit-log';
import type { Db } from '../store/library-db';
import { measuredItem, MeasurementsRepo } from '../store/measurements-repo';
import { inImmediateTransaction } from '../store/transaction';
import { measurementValues, type FrameValues } from './measure-values';

type Points = readonly (readonly [number, number])[];

export interface MeasureServiceDeps {
  db: Db;
  audit: AuditLog;
  /** One frame through the one decoder (PixelService.frame). */
  frame(itemId: number, frame: number): Promise<PixelFrame>;
  /** Who is measuring: the annotator's name, else the OS user. */
  author(): string;
}

/** The modality values of a frame (HU for CT), or null for colour. */
export function frameValues(f: PixelFrame): FrameValues {
  if (f.kind !== 'grey') return { rows: f.rows, columns: f.columns, values: null, pixelSpacing: f.pixelSpacing, spacingSource: f.pixelSpacingSource, valueUnit: null };
  const values = new Float64Array(f.data.length);
  for (let i = 0; i < values.length; i++) values[i] = (f.data[i] as number) * f.slope + f.intercept;
  return { rows: f.rows, columns: f.columns, values, pixelSpacing: f.pixelSpacing, spacingSource: f.pixelSpacingSource, valueUnit: f.units };
}

export class MeasureService {
  readonly #deps: MeasureServiceDeps;
  readonly #repo: MeasurementsRepo;

  constructor(deps: MeasureServiceDeps) {
    this.#deps = deps;
    this.#repo = new MeasurementsRepo(deps.db);
  }

  list(q: { datasetId?: number | undefined; seriesId?: number | undefined; itemId?: number | undefined; frame?: number | undefined }): Measurement[] {
    if (q.seriesId !== undefined) return this.#repo.listForSeries(q.seriesId);
    if (q.itemId !== undefined) {
      if (!measuredItem(this.#deps.db, q.itemId)) throw new FoveaException('NOT_FOUND', `There is no item ${q.itemId}.`);
      return this.#repo.listForItem(q.itemId, q.frame);
    }
    if (q.datasetId === undefined) throw new FoveaException('VALIDATION', 'Name exactly one of datasetId, seriesId and itemId.');
    return this.#repo.listForDataset(q.datasetId);
  }

  get(id: number): Measurement {
    const m = this.#repo.get(id);
    if (!m) throw new FoveaException('NOT_FOUND', `There is no measurement ${id}.`);
    return m;
  }

  async #values(itemId: number, frame: number, kind: MeasurementKind, points: Points): Promise<Measurement['values']> {
    const problem = measurementShapeProblem(kind, points);
    if (problem) throw new FoveaException('VALIDATION', problem);
    const f = await this.#deps.frame(itemId, frame);
    for (const [x, y] of points) {
      if (x < 0 || y < 0 || x > f.columns || y > f.rows) {
        throw new FoveaException('VALIDATION', `The point (${x.toFixed(1)}, ${y.toFixed(1)}) is outside the image (${f.columns} x ${f.rows} pixels).`);
      }
    }
    return measurementValues(kind, points, frameValues(f));
  }

  async create(p: { itemId: number; frame: number; kind: MeasurementKind; points: Points; note: string }): Promise<Measurement> {
    const item = measuredItem(this.#deps.db, p.itemId);
    if (!item) throw new FoveaException('NOT_FOUND', `There is no item ${p.itemId}.`);
    if (p.frame >= Math.max(item.frames, 1)) throw new FoveaException('VALIDATION', `Frame ${p.frame} does not exist: the image has ${item.frames} frame(s).`);
    const values = await this.#values(p.itemId, p.frame, p.kind, p.points);
    const author = this.#deps.author();
    const id = inImmediateTransaction(this.#deps.db, () => {
      const newId = this.#repo.create({ datasetId: item.datasetId, itemId: p.itemId, frame: p.frame, kind: p.kind, points: p.points, note: p.note, values, author });
      this.#deps.audit.append({ action: 'measurement.create', objectType: 'measurement', objectId: newId, actor: author, details: { datasetId: item.datasetId, itemId: p.itemId, frame: p.frame, kind: p.kind } });
      return newId;
    });
    return this.get(id);
  }

  async update(p: { id: number; points?: Points | undefined; note?: string | undefined }): Promise<Measurement> {
    const old = this.get(p.id);
    const points = p.points ?? old.points;
    const values = p.points ? await this.#values(old.itemId, old.frame, old.kind, points) : old.values;
    const author = this.#deps.author();
    inImmediateTransaction(this.#deps.db, () => {
      this.#repo.update(p.id, { points, note: p.note ?? old.note, values });
      const changed = [...(p.points ? ['points'] : []), ...(p.note !== undefined ? ['note'] : [])];
      this.#deps.audit.append({ action: 'measurement.update', objectType: 'measurement', objectId: p.id, actor: author, details: { datasetId: old.datasetId, itemId: old.itemId, kind: old.kind, changed } });
    });
    return this.get(p.id);
  }

  delete(id: number): { id: number; deleted: true } {
    const old = this.get(id);
    const author = this.#deps.author();
    inImmediateTransaction(this.#deps.db, () => {
      this.#repo.delete(id);
      this.#deps.audit.append({ action: 'measurement.delete', objectType: 'measurement', objectId: id, actor: author, details: { datasetId: old.datasetId, itemId: old.itemId, frame: old.frame, kind: old.kind } });
    });
    return { id, deleted: true };
  }
}
