/**
 * Interpolation between slices (boxes linear, masks shape-based) and the undo history's
 * inverse deltas, applied to an in-memory document the way the viewer applies them to the
 * library: undo of every edit restores the exact earlier state, redo the later one.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AnnotationGeometry } from '../../../../electron/contract/domain';
import { boxFromCorners, deleteVertex, hitEdge, insertVertex, resizeBox } from '../../../../renderer/src/annotate/geometry';
import { History, invertDelta, type Op } from '../../../../renderer/src/annotate/history';
import { eventKeyName, Keymap, normalizeKeyName } from '../../../../renderer/src/annotate/hotkeys';
import { between, interpolateBox, interpolateMasks } from '../../../../renderer/src/annotate/interpolate';
import { emptyMask, maskArea, maskBounds, stampDisc } from '../../../../renderer/src/annotate/mask';
import { DEFAULT_HOTKEYS } from '../../../../electron/contract/domain';

describe('interpolation', () => {
  test('boxes: linear in x, y, width, height at each slice between', () => {
    const a = { x: 10, y: 20, width: 30, height: 40 };
    const b = { x: 50, y: 20, width: 10, height: 80 };
    assert.deepEqual(between(2, 6).map((s) => s.index), [3, 4, 5]);
    assert.deepEqual(between(6, 2).map((s) => [s.index, s.t]), [[3, 0.75], [4, 0.5], [5, 0.25]]);
    assert.deepEqual(interpolateBox(a, b, 0.5), { x: 30, y: 20, width: 20, height: 60 });
    assert.deepEqual(interpolateBox(a, b, 0.25), { x: 20, y: 20, width: 25, height: 50 });
  });

  test('masks: a disc that moves and grows is a disc in between, centred and sized between', () => {
    const a = emptyMask(80, 60);
    const b = emptyMask(80, 60);
    stampDisc(a, 20, 30, 10, 1);
    stampDisc(b, 60, 30, 30, 1);
    const [mid] = interpolateMasks(a, b, [0.5]);
    const bb = maskBounds(mid!)!;
    const cx = bb.x + bb.width / 2;
    assert.ok(Math.abs(cx - 40) <= 1, `centre ${cx}`);
    assert.ok(Math.abs(bb.width - 20) <= 2, `width ${bb.width}`);
    const area = maskArea(mid!);
    assert.ok(area > maskArea(a) && area < maskArea(b), `${maskArea(a)} < ${area} < ${maskArea(b)}`);
    // t -> 0 and 1 give back the end masks.
    const [near0, near1] = interpolateMasks(a, b, [0.001, 0.999]);
    assert.equal(maskArea(near0!), maskArea(a));
    assert.equal(maskArea(near1!), maskArea(b));
  });
});

describe('history as inverse deltas', () => {
  /** The document: live annotations by id, and the deleted ones (kept, as in the library). */
  function doc() {
    const live = new Map<number, { classId: number; geometry: AnnotationGeometry | null }>();
    const dead = new Map<number, { classId: number; geometry: AnnotationGeometry | null }>();
    const apply = async (ops: readonly Op[]): Promise<boolean> => {
      for (const op of ops) {
        if (op.op === 'add') {
          const row = dead.get(op.id);
          if (!row) return false;
          dead.delete(op.id);
          live.set(op.id, row);
        } else if (op.op === 'remove') {
          const row = live.get(op.id);
          if (!row) return false;
          live.delete(op.id);
          dead.set(op.id, row);
        } else {
          const row = live.get(op.id);
          if (!row || JSON.stringify(row) !== JSON.stringify(op.from)) return false;
          live.set(op.id, structuredClone(op.to));
        }
      }
      return true;
    };
    const snapshot = () => JSON.stringify([...live.entries()].sort((p, q) => p[0] - q[0]));
    return { live, apply, snapshot };
  }

  test('undo walks back through create, change, compound replace and delete; redo walks forward', async () => {
    const d = doc();
    const h = new History();
    const states: string[] = [d.snapshot()];
    const box1 = { x: 1, y: 1, width: 5, height: 5 };
    const box2 = { x: 2, y: 3, width: 5, height: 6 };
    // create #1
    d.live.set(1, { classId: 1, geometry: box1 });
    h.record('Draw box', [{ op: 'add', id: 1 }]);
    states.push(d.snapshot());
    // move #1
    await d.apply([{ op: 'change', id: 1, from: { classId: 1, geometry: box1 }, to: { classId: 1, geometry: box2 } }]);
    h.record('Move box', [{ op: 'change', id: 1, from: { classId: 1, geometry: box1 }, to: { classId: 1, geometry: box2 } }]);
    states.push(d.snapshot());
    // single-label replace: remove class label #2... first create #2 then replace it with #3
    d.live.set(2, { classId: 1, geometry: null });
    h.record('Class', [{ op: 'add', id: 2 }]);
    states.push(d.snapshot());
    await d.apply([{ op: 'remove', id: 2 }]);
    d.live.set(3, { classId: 2, geometry: null });
    h.record('Class', [{ op: 'remove', id: 2 }, { op: 'add', id: 3 }]);
    states.push(d.snapshot());
    // delete #1
    await d.apply([{ op: 'remove', id: 1 }]);
    h.record('Delete', [{ op: 'remove', id: 1 }]);
    states.push(d.snapshot());

    for (let i = states.length - 2; i >= 0; i--) {
      assert.equal(await h.undo(d.apply), true);
      assert.equal(d.snapshot(), states[i], `after undo to state ${i}`);
    }
    assert.equal(h.canUndo, false);
    assert.equal(await h.undo(d.apply), false);
    for (let i = 1; i < states.length; i++) {
      assert.equal(await h.redo(d.apply), true);
      assert.equal(d.snapshot(), states[i], `after redo to state ${i}`);
    }
    assert.equal(h.canRedo, false);
  });

  test('a new edit clears redo; a failed apply drops the entry', async () => {
    const d = doc();
    const h = new History();
    d.live.set(1, { classId: 1, geometry: null });
    h.record('a', [{ op: 'add', id: 1 }]);
    await h.undo(d.apply);
    assert.equal(h.canRedo, true);
    h.record('b', [{ op: 'add', id: 9 }]);
    assert.equal(h.canRedo, false);
    // #9 never existed in the document: undoing it fails, and the entry is gone.
    assert.equal(await h.undo(d.apply), false);
    assert.equal(h.canUndo, false);
    assert.deepEqual(invertDelta([{ op: 'add', id: 1 }, { op: 'remove', id: 2 }]), [{ op: 'add', id: 2 }, { op: 'remove', id: 1 }]);
  });
});

describe('geometry and keys', () => {
  test('boxes from corners are normalised and clamped; resizing keeps the opposite side', () => {
    assert.deepEqual(boxFromCorners({ x: 30, y: 40 }, { x: 10.123, y: -5 }, 100, 100), { x: 10.12, y: 0, width: 19.88, height: 40 });
    assert.equal(boxFromCorners({ x: 1, y: 1 }, { x: 1.2, y: 9 }, 100, 100), null);
    assert.deepEqual(resizeBox({ x: 10, y: 10, width: 20, height: 20 }, 'se', { x: 50, y: 35 }, 100, 100), { x: 10, y: 10, width: 40, height: 25 });
    assert.deepEqual(resizeBox({ x: 10, y: 10, width: 20, height: 20 }, 'w', { x: 40, y: 0 }, 100, 100), { x: 30, y: 10, width: 10, height: 20 });
  });

  test('polygon vertices are inserted on the clicked edge and deleted down to three', () => {
    const g = { points: [[0, 0], [10, 0], [10, 10], [0, 10]] as [number, number][] };
    const hit = hitEdge(g.points, { x: 5, y: 0.4 }, 1)!;
    assert.deepEqual([hit.index, hit.x, hit.y], [0, 5, 0]);
    const more = insertVertex(g, hit.index, hit);
    assert.deepEqual(more.points, [[0, 0], [5, 0], [10, 0], [10, 10], [0, 10]]);
    const less = deleteVertex(more, 1)!;
    assert.deepEqual(less.points, g.points);
    assert.equal(deleteVertex({ points: [[0, 0], [1, 0], [0, 1]] }, 0), null);
  });

  test('keys: defaults map to actions, Shift+digit is a series class key', () => {
    const km = new Keymap(DEFAULT_HOTKEYS);
    const ev = (key: string, code: string, mods: Partial<{ ctrlKey: boolean; shiftKey: boolean; altKey: boolean; metaKey: boolean }> = {}) => ({ key, code, ctrlKey: false, altKey: false, shiftKey: false, metaKey: false, ...mods });
    assert.equal(km.action(ev('n', 'KeyN')), 'image.next');
    assert.equal(km.action(ev('N', 'KeyN', { shiftKey: true })), 'image.previous');
    assert.equal(km.action(ev('Enter', 'Enter', { ctrlKey: true })), 'image.submit');
    assert.equal(km.action(ev('Z', 'KeyZ', { ctrlKey: true, shiftKey: true })), 'edit.redo');
    assert.equal(km.action(ev('z', 'KeyZ', { ctrlKey: true })), 'edit.undo');
    assert.equal(km.action(ev('q', 'KeyQ')), null);
    assert.equal(eventKeyName(ev('!', 'Digit1', { shiftKey: true })), 'Shift+1');
    assert.deepEqual(Keymap.classKey(ev('!', 'Digit1', { shiftKey: true })), { digit: '1', series: true });
    assert.equal(normalizeKeyName('shift+ctrl+K'), 'Ctrl+Shift+k');
  });
});
