/**
 * The one hotkey registry: no key means two things in the viewer with labeling on (app screens,
 * viewer keys, the default labeling map), the active tool's keys do not shadow a viewer or
 * labeling key (Escape excepted: a tool's Escape drops its shape first, by design), MPR's keys
 * are its own, and Settings' check refuses the clashes issue 19 names (R, Alt+9, P).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_HOTKEYS, HOTKEY_ACTIONS } from '../../../electron/contract/domain';
import { normalizeKeyName } from '../../../renderer/src/annotate/hotkeys';
import {
  APP_SCREENS,
  appScreenFor,
  GRID_KEYS,
  gridCommandFor,
  LIBRARY_KEYS,
  libraryCommandFor,
  hotkeyConflict,
  MPR_KEYS,
  mprCommandFor,
  TOOL_KEYS,
  VIEWER_KEYS,
  viewerBindings,
  viewerCommandFor,
} from '../../../renderer/src/lib/hotkey-registry';

function key(k: string, opts: { shift?: boolean; alt?: boolean; ctrl?: boolean; code?: string } = {}) {
  return { key: k, code: opts.code, shiftKey: opts.shift ?? false, altKey: opts.alt ?? false, ctrlKey: opts.ctrl ?? false, metaKey: false };
}

describe('hotkey registry', () => {
  test('no key has two meanings in the viewer with the default labeling keys', () => {
    const seen = new Map<string, string>();
    const clashes: string[] = [];
    for (const b of viewerBindings()) {
      const prev = seen.get(b.key);
      if (prev && prev !== `${b.scope}:${b.what}`) clashes.push(`${b.key}: ${prev} and ${b.scope}:${b.what}`);
      seen.set(b.key, `${b.scope}:${b.what}`);
    }
    assert.deepEqual(clashes, []);
  });

  test('the active tool keys shadow no viewer or labeling key except Escape', () => {
    const taken = new Map(viewerBindings().map((b) => [b.key, `${b.scope}:${b.what}`]));
    for (const [tool, keys] of Object.entries(TOOL_KEYS)) {
      for (const k of keys) {
        if (k === 'Escape') continue;
        assert.equal(taken.get(normalizeKeyName(k)), undefined, `${tool}'s ${k} is also ${taken.get(normalizeKeyName(k))}`);
      }
    }
  });

  test('MPR keys are unique among themselves and leave the screen keys alone', () => {
    const seen = new Set<string>();
    for (const r of MPR_KEYS) for (const k of r.keys) {
      const n = normalizeKeyName(k);
      assert.ok(!seen.has(n), `${k} twice in MPR`);
      seen.add(n);
      assert.equal(appScreenFor(key(n.split('+').pop() ?? '', { alt: n.startsWith('Alt+') })), null);
    }
  });

  test('the grid and the library home have unique keys that leave the screen keys alone', () => {
    for (const table of [GRID_KEYS, LIBRARY_KEYS] as const) {
      const seen = new Set<string>();
      for (const r of table) for (const k of r.keys) {
        const n = normalizeKeyName(k);
        assert.ok(!seen.has(n), `${k} twice`);
        seen.add(n);
        assert.ok(!APP_SCREENS.some((s) => normalizeKeyName(s.key) === n), `${k} is a screen key`);
      }
    }
    assert.equal(gridCommandFor(key('Enter')), 'grid.open');
    assert.equal(gridCommandFor(key('End')), 'grid.last');
    assert.equal(libraryCommandFor(key('n')), 'library.newDataset');
    assert.equal(libraryCommandFor(key('N', { shift: true, code: 'KeyN' })), null);
  });

  test('events resolve to one command per scope', () => {
    assert.equal(appScreenFor(key('9', { alt: true, code: 'Digit9' })), 'system');
    assert.equal(appScreenFor(key('9', { code: 'Digit9' })), null);
    assert.equal(viewerCommandFor(key('r')), 'viewer.resetWindow');
    assert.equal(viewerCommandFor(key('R', { shift: true, code: 'KeyR' })), 'viewer.resetWindow');
    assert.equal(viewerCommandFor(key('p')), 'tool.pan');
    assert.equal(viewerCommandFor(key('q')), 'viewer.mpr');
    assert.equal(viewerCommandFor(key(' ')), 'viewer.cine');
    assert.equal(viewerCommandFor(key('m')), null, 'M is click-to-mask, not a viewer key');
    assert.equal(mprCommandFor(key('Z', { ctrl: true, shift: true, code: 'KeyZ' })), 'mpr.redo');
    assert.equal(APP_SCREENS.length, 9);
    assert.ok(VIEWER_KEYS.every((r) => r.keys.length > 0));
  });

  test('Settings refuses a key that clashes, with a reason, and accepts a free one', () => {
    assert.match(hotkeyConflict('tool.box', 'r', DEFAULT_HOTKEYS) ?? '', /viewer's "File window" key/);
    assert.match(hotkeyConflict('tool.box', 'Alt+9', DEFAULT_HOTKEYS) ?? '', /opens the System screen/);
    assert.match(hotkeyConflict('tool.box', 'p', DEFAULT_HOTKEYS) ?? '', /Pan/);
    assert.match(hotkeyConflict('tool.box', 'Escape', DEFAULT_HOTKEYS) ?? '', /viewer's/);
    assert.match(hotkeyConflict('tool.box', 'd', DEFAULT_HOTKEYS) ?? '', /already the key of "tool.brush"/);
    assert.match(hotkeyConflict('tool.box', '3', DEFAULT_HOTKEYS) ?? '', /class key/);
    assert.equal(hotkeyConflict('tool.box', 'Shift+Y', DEFAULT_HOTKEYS), null);
    // The measurement tools took Shift+A/E/B/G (issue 19): Settings keeps them for the viewer.
    assert.match(hotkeyConflict('tool.box', 'Shift+B', DEFAULT_HOTKEYS) ?? '', /"Rectangle"/);
    for (const [k, command] of [['a', 'tool.angle'], ['e', 'tool.ellipse'], ['b', 'tool.rectangle'], ['g', 'tool.freehand']] as const) {
      assert.equal(viewerCommandFor(key(k.toUpperCase(), { shift: true, code: `Key${k.toUpperCase()}` })), command);
      assert.notEqual(viewerCommandFor(key(k, { code: `Key${k.toUpperCase()}` })), command, `${k} unshifted stays a labeling key`);
    }
    // A viewer command that keeps another key may give one up: ArrowDown still steps the slices.
    assert.equal(hotkeyConflict('image.next', 'ArrowRight', DEFAULT_HOTKEYS), null);
    // Its own current key is no clash.
    assert.equal(hotkeyConflict('tool.box', 'b', DEFAULT_HOTKEYS), null);
    // Every default passes the same check Settings applies.
    for (const a of HOTKEY_ACTIONS) assert.equal(hotkeyConflict(a, DEFAULT_HOTKEYS[a], DEFAULT_HOTKEYS), null, a);
  });
});
