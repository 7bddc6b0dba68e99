/**
 * Edit actions and the EditRunner over an in-memory document that answers the
 * annotation requests the way the library does (versions, delete/restore as a
 * status): each action's returned inverse delta undoes exactly what it saved,
 * undo and redo are actions through the same queue, a failed write records
 * nothing, histories are bounded and released.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Annotation, AnnotationGeometry } from '../../../../electron/contract/domain';
import type { RequestInput, RequestName, Responses } from '../../../../electron/contract/api';
import * as actions from '../../../../renderer/src/annotate/actions';
import { EditRunner, MAX_HISTORIES } from '../../../../renderer/src/annotate/edit-runner';

function row(id: number, itemId: number, classId: number, geometry: AnnotationGeometry): Annotation {
  return {
    id, itemId, seriesId: null, frame: null, classId, kind: 'box', geometry, status: 'active', version: 1, author: 't', source: 'human', score: null,
  } as unknown as Annotation;
}

/** The library's answers, in memory; `failNext` makes the next write fail like a CONFLICT. */
class Doc implements actions.EditContext {
  rows = new Map<number, Annotation>();
  view: actions.ViewKey | null = { itemId: 7, frame: 0, frames: 1, width: 100, height: 100, seriesId: null };
  schema = null;
  next = 1;
  failNext = false;
  pending = 0;
  get annotations(): Annotation[] {
    return [...this.rows.values()].filter((a) => a.status === 'active' && a.itemId === this.view?.itemId);
  }
  known(id: number): Annotation | undefined {
    return this.rows.get(id);
  }
  async call<K extends RequestName>(name: K, input: RequestInput<K>): Promise<Responses[K] | null> {
    await Promise.resolve();
    if (this.failNext) {
      this.failNext = false;
      return null;
    }
    const i = input as Record<string, unknown>;
    const bump = (a: Annotation, change: Partial<Annotation>): Annotation => {
      assert.equal(i.expectedVersion, a.version, 'writes name the version they edit');
      const b = { ...a, ...change, version: a.version + 1 };
      this.rows.set(a.id, b);
      return b;
    };
    switch (name) {
      case 'annotations.create': {
        const a = row(this.next++, i.itemId as number, i.classId as number, i.geometry as AnnotationGeometry);
        this.rows.set(a.id, a);
        return a as Responses[K];
      }
      case 'annotations.update':
        return bump(this.rows.get(i.id as number)!, { ...(i.classId !== undefined ? { classId: i.classId as number } : {}), ...(i.geometry ? { geometry: i.geometry as AnnotationGeometry } : {}) }) as Responses[K];
      case 'annotations.delete':
        return bump(this.rows.get(i.id as number)!, { status: 'deleted' }) as Responses[K];
      case 'annotations.restore':
        return bump(this.rows.get(i.id as number)!, { status: 'active' }) as Responses[K];
      default:
        throw new Error(`unexpected ${name}`);
    }
  }
  absorb(a: Annotation): void {
    this.rows.set(a.id, a);
  }
  remember(a: Annotation): void {
    this.rows.set(a.id, a);
  }
  started(): void {}
  notice(): void {}
}

function snapshot(d: Doc): string {
  return JSON.stringify(d.annotations.map((a) => [a.id, a.classId, a.geometry]));
}

describe('edit actions', () => {
  test('create, move, reclass, delete; undo each back to the start and redo to the end', async () => {
    const d = new Doc();
    let changes = 0;
    const r = new EditRunner(d, { pending: (x) => (d.pending += x), changed: () => changes++ });
    const v = d.view!;
    const key = actions.viewHistoryKey(v);
    const states = [snapshot(d)];
    await r.run(actions.createShapes, { view: v, classId: 1, kind: 'box', geometries: [{ x: 1, y: 2, width: 3, height: 4 }], label: 'Draw box' });
    states.push(snapshot(d));
    const a = d.annotations[0]!;
    await r.run(actions.changeGeometry, { key, annotation: a, geometry: { x: 5, y: 5, width: 3, height: 4 }, label: 'Move' });
    states.push(snapshot(d));
    await r.run(actions.changeClass, { key, annotation: d.known(a.id)!, classId: 2 });
    states.push(snapshot(d));
    await r.run(actions.deleteAnnotation, { key, annotation: d.known(a.id)!, label: 'Delete' });
    states.push(snapshot(d));
    assert.equal(d.pending, 0);
    assert.equal(changes, 4);
    const h = r.history(key)!;
    assert.equal(h.undoLabel, 'Delete');
    for (let i = states.length - 2; i >= 0; i--) {
      await r.run(actions.undo, { history: h });
      assert.equal(snapshot(d), states[i], `after undo to state ${i}`);
    }
    assert.equal(h.canUndo, false);
    for (let i = 1; i < states.length; i++) {
      await r.run(actions.redo, { history: h });
      assert.equal(snapshot(d), states[i], `after redo to state ${i}`);
    }
  });

  test('a failed write records nothing; the after-callback still runs', async () => {
    const d = new Doc();
    const r = new EditRunner(d, { pending: () => undefined, changed: () => undefined });
    d.failNext = true;
    let after = false;
    await r.run(actions.createShapes, { view: d.view!, classId: 1, kind: 'box', geometries: [{ x: 1, y: 1, width: 2, height: 2 }], label: 'Draw box' }, () => (after = true));
    assert.equal(after, true);
    assert.equal(r.history(actions.viewHistoryKey(d.view!)), null);
  });

  test('histories are bounded (least recently used dropped) and released', async () => {
    const d = new Doc();
    const r = new EditRunner(d, { pending: () => undefined, changed: () => undefined });
    for (let item = 1; item <= MAX_HISTORIES + 5; item++) {
      const v = { ...d.view!, itemId: item };
      d.view = v;
      await r.run(actions.createShapes, { view: v, classId: 1, kind: 'box', geometries: [{ x: 1, y: 1, width: 2, height: 2 }], label: 'Draw box' });
    }
    assert.equal(r.size, MAX_HISTORIES);
    assert.equal(r.history(actions.historyKey(1, null)), null, 'the oldest was dropped');
    assert.ok(r.history(actions.historyKey(MAX_HISTORIES + 5, null)));
    r.release();
    assert.equal(r.size, 0);
  });

  test('interpolation plans the empty slices between two of the same class and kind', () => {
    const stack = [0, 1, 2, 3, 4].map((i) => ({ itemId: 10 + i, frame: 0 }));
    const a = row(1, 10, 1, { x: 0, y: 0, width: 10, height: 10 });
    const b = row(2, 14, 1, { x: 40, y: 0, width: 10, height: 10 });
    const plan = actions.planInterpolation(a, [a, b], stack, 0);
    assert.ok('shapes' in plan);
    assert.deepEqual(plan.shapes.map((s) => s.entry.itemId), [11, 12, 13]);
    assert.deepEqual(plan.shapes.map((s) => (s.geometry as { x: number }).x), [10, 20, 30]);
    assert.deepEqual(actions.planInterpolation(a, [a], stack, 0), { message: 'Interpolation needs another slice with the same class and kind of shape.' });
  });
});
