/**
 * Kept measurements in the viewer (issue 19): the measurements of the stack shown, the shape being
 * drawn, and the requests that keep, move and delete them. The values always come from the core
 * (measurements.create computes them from the decoded pixels); the page only sends points.
 *
 * Drawing, in image pixel coordinates (points kept inside the image):
 *   length, rectangle, ellipse  press at one end or corner, drag, release
 *   angle                       drag the first arm (to the vertex), release, then click the end of the second arm
 *   freehand                    press and draw the outline; release closes it
 * Escape drops a shape in progress.
 */
import type { Measurement, MeasurementKind } from '../../../../electron/contract/measure';
import { request } from '../api';
import { dragPoints, hitMeasurement, type MeasureGrab } from '../../viewer/measure-edit';

export type Pt = [number, number];

export interface MeasureDraft {
  kind: MeasurementKind;
  points: Pt[];
  /** angle: the first arm is done, the pointer places the second arm's end. */
  secondArm: boolean;
}

/** Less than this (image pixels) between presses is a click, not a shape. */
const MIN_EXTENT = 0.5;

export class MeasureState {
  items = $state.raw<Measurement[]>([]);
  draft = $state.raw<MeasureDraft | null>(null);
  error = $state<string | null>(null);
  busy = $state(false);
  selectedId = $state<number | null>(null);
  /** A kept measurement being dragged (measure-edit.ts): its points now, drawn instead of the kept ones. */
  moving = $state.raw<{ grab: MeasureGrab; points: Pt[] } | null>(null);
  #scope: { seriesId: number } | { itemIds: number[] } | null = null;
  #drawing = false;

  /** Load the measurements of a series, or of the images of a stack that is not one. */
  async load(scope: { seriesId: number } | { itemIds: number[] }): Promise<void> {
    this.#scope = scope;
    const lists = 'seriesId' in scope
      ? [await request('measurements.list', { seriesId: scope.seriesId })]
      : await Promise.all(scope.itemIds.filter((id, i, all) => all.indexOf(id) === i).slice(0, 100).map((itemId) => request('measurements.list', { itemId })));
    if (this.#scope !== scope) return;
    const out: Measurement[] = [];
    for (const r of lists) {
      if (!r.ok) {
        this.error = r.error.message;
        return;
      }
      out.push(...r.value);
    }
    this.items = out.sort((a, b) => a.id - b.id);
    this.error = null;
  }

  on(itemId: number, frame: number): Measurement[] {
    return this.items.filter((m) => m.itemId === itemId && m.frame === frame);
  }

  cancel(): boolean {
    const had = this.draft !== null;
    this.draft = null;
    this.#drawing = false;
    return had;
  }

  pointerDown(kind: MeasurementKind, p: Pt): void {
    const d = this.draft;
    if (d && d.kind === 'angle' && d.secondArm) {
      this.draft = { ...d, points: [d.points[0] as Pt, d.points[1] as Pt, p] };
      this.#drawing = true;
      return;
    }
    this.draft = { kind, points: kind === 'freehand' ? [p] : [p, p], secondArm: false };
    this.#drawing = true;
  }

  pointerMove(p: Pt): void {
    const d = this.draft;
    if (!d) return;
    if (d.kind === 'angle' && d.secondArm) {
      this.draft = { ...d, points: [d.points[0] as Pt, d.points[1] as Pt, p] };
      return;
    }
    if (!this.#drawing) return;
    if (d.kind === 'freehand') {
      const last = d.points[d.points.length - 1] as Pt;
      if (Math.hypot(p[0] - last[0], p[1] - last[1]) >= 1) this.draft = { ...d, points: [...d.points, p] };
      return;
    }
    this.draft = { ...d, points: [d.points[0] as Pt, p] };
  }

  /** Ends a press; returns the shape to keep when it is complete. */
  pointerUp(p: Pt): { kind: MeasurementKind; points: Pt[] } | null {
    this.pointerMove(p);
    this.#drawing = false;
    const d = this.draft;
    if (!d) return null;
    const [a, b] = d.points as [Pt, Pt];
    if (d.kind === 'angle') {
      if (!d.secondArm) {
        if (Math.hypot(b[0] - a[0], b[1] - a[1]) < MIN_EXTENT) return this.#drop();
        this.draft = { ...d, points: [a, b, b], secondArm: true };
        return null;
      }
      this.draft = null;
      return { kind: 'angle', points: d.points };
    }
    this.draft = null;
    if (d.kind === 'freehand') return d.points.length >= 3 ? { kind: 'freehand', points: d.points } : null;
    if (d.kind === 'length' ? Math.hypot(b[0] - a[0], b[1] - a[1]) < MIN_EXTENT : Math.abs(b[0] - a[0]) < MIN_EXTENT || Math.abs(b[1] - a[1]) < MIN_EXTENT) return null;
    return { kind: d.kind, points: [a, b] };
  }

  #drop(): null {
    this.draft = null;
    return null;
  }

  /** Keep a finished shape on the image shown; the core computes its values. */
  async keep(shape: { kind: MeasurementKind; points: Pt[] }, itemId: number, frame: number): Promise<Measurement | null> {
    this.busy = true;
    try {
      const r = await request('measurements.create', { itemId, frame, kind: shape.kind, points: shape.points });
      if (!r.ok) {
        this.error = r.error.message;
        return null;
      }
      this.items = [...this.items, r.value];
      this.selectedId = r.value.id;
      this.error = null;
      return r.value;
    } finally {
      this.busy = false;
    }
  }

  /**
   * A press with a measuring tool: on a kept measurement of the image shown (one of its points,
   * its outline or inside it) it starts moving that measurement and selects it; returns whether it did.
   */
  grab(itemId: number, frame: number, p: Pt, tol: number): boolean {
    const g = hitMeasurement(this.on(itemId, frame), p, tol, this.selectedId);
    if (!g) return false;
    this.selectedId = g.id;
    this.moving = { grab: g, points: g.points };
    return true;
  }

  /** The pointer moved while dragging: the new points, kept inside the image. */
  dragTo(p: Pt, columns: number, rows: number): void {
    if (this.moving) this.moving = { grab: this.moving.grab, points: dragPoints(this.moving.grab, p, columns, rows) };
  }

  /** The drag ended: the core keeps the new points and computes the values again. */
  async drop(): Promise<Measurement | null> {
    const m = this.moving;
    if (!m) return null;
    const same = m.points.every((q, i) => q[0] === m.grab.points[i]?.[0] && q[1] === m.grab.points[i]?.[1]);
    if (same) {
      this.moving = null;
      return null;
    }
    return this.#update({ id: m.grab.id, points: m.points });
  }

  /** Change a measurement's note (500 characters at most; the core says so beyond). */
  async setNote(id: number, note: string): Promise<Measurement | null> {
    return this.#update({ id, note });
  }

  async #update(p: { id: number; points?: Pt[]; note?: string }): Promise<Measurement | null> {
    this.busy = true;
    try {
      const r = await request('measurements.update', p);
      if (!r.ok) {
        this.error = r.error.message;
        return null;
      }
      this.items = this.items.map((m) => (m.id === r.value.id ? r.value : m));
      this.error = null;
      return r.value;
    } finally {
      // The moved shape shows where it was dropped until the kept one replaces it.
      if (p.points) this.moving = null;
      this.busy = false;
    }
  }

  async remove(id: number): Promise<boolean> {
    const r = await request('measurements.delete', { id });
    if (!r.ok) {
      this.error = r.error.message;
      return false;
    }
    this.items = this.items.filter((m) => m.id !== id);
    if (this.selectedId === id) this.selectedId = null;
    this.error = null;
    return true;
  }
}
