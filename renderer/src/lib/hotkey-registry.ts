/**
 * Every keyboard shortcut of the app in one place. Screens look their keys
 * up here instead of each writing its own `if (k === 'r')` chain, so a key
 * cannot mean two things at once without a test noticing
 * (test/unit/renderer/hotkey-registry.test.ts), and Settings can refuse a
 * key an annotation action would steal from the viewer.
 *
 * Scopes that are active together must not share a key:
 *   app      Alt+1..9 switch screens (everywhere)
 *   viewer   the 2-D viewer's own keys (fixed)
 *   annotate the labeling actions (the user's map over DEFAULT_HOTKEYS)
 *   tool     keys of the active annotation tool (Enter, Escape, ...)
 * The MPR screen replaces the viewer while open, so its keys are checked
 * against `app` only; so are the browse grid's and the library home's.
 *
 * Pure: no DOM, unit-tested in Node.
 */
import { DEFAULT_HOTKEYS, HOTKEY_ACTIONS, type HotkeyAction } from '../../../electron/contract/domain';
import { eventKeyName, normalizeKeyName, type KeyLike } from '../annotate/hotkeys';

export type AppScreen = 'library' | 'import' | 'training' | 'browse' | 'evaluation' | 'settings' | 'export' | 'models' | 'system';

/** Screens in the order of their Alt+digit keys. */
export const APP_SCREENS: readonly { id: AppScreen; label: string; key: string }[] = [
  { id: 'library', label: 'Library', key: 'Alt+1' },
  { id: 'import', label: 'Import', key: 'Alt+2' },
  { id: 'training', label: 'Training', key: 'Alt+3' },
  { id: 'browse', label: 'Browse', key: 'Alt+4' },
  { id: 'evaluation', label: 'Evaluation', key: 'Alt+5' },
  { id: 'settings', label: 'Settings', key: 'Alt+6' },
  { id: 'export', label: 'Export', key: 'Alt+7' },
  { id: 'models', label: 'Models', key: 'Alt+8' },
  { id: 'system', label: 'System', key: 'Alt+9' },
];

export type ViewerCommand =
  | 'slice.next'
  | 'slice.previous'
  | 'slice.next10'
  | 'slice.previous10'
  | 'slice.first'
  | 'slice.last'
  | 'viewer.escape'
  | 'viewer.cine'
  | 'viewer.invert'
  | 'viewer.fit'
  | 'viewer.actualSize'
  | 'viewer.resetWindow'
  | 'viewer.overlays'
  | 'viewer.hideIdentifiers'
  | 'viewer.smooth'
  | 'viewer.hideLabels'
  | 'viewer.mpr'
  | 'viewer.sidebar'
  | 'viewer.tags'
  | 'tool.wl'
  | 'tool.pan'
  | 'tool.zoom'
  | 'tool.probe'
  | 'tool.length'
  | 'tool.angle'
  | 'tool.ellipse'
  | 'tool.rectangle'
  | 'tool.freehand';

/** A letter key works with and without Shift (as it always has in the viewer). */
function letter(k: string): string[] {
  return [k, `Shift+${k}`];
}

/** The viewer's fixed keys: command, label (toolbar hints) and key names. */
export const VIEWER_KEYS: readonly { command: ViewerCommand; label: string; keys: string[] }[] = [
  { command: 'slice.next', label: 'Next slice', keys: ['ArrowDown', 'ArrowRight'] },
  { command: 'slice.previous', label: 'Previous slice', keys: ['ArrowUp', 'ArrowLeft'] },
  { command: 'slice.next10', label: '10 slices on', keys: ['PageDown'] },
  { command: 'slice.previous10', label: '10 slices back', keys: ['PageUp'] },
  { command: 'slice.first', label: 'First slice', keys: ['Home'] },
  { command: 'slice.last', label: 'Last slice', keys: ['End'] },
  { command: 'viewer.escape', label: 'Leave the drawing tool, then back to the grid', keys: ['Escape'] },
  { command: 'viewer.cine', label: 'Cine', keys: ['Space'] },
  { command: 'viewer.invert', label: 'Invert', keys: letter('i') },
  { command: 'viewer.fit', label: 'Fit', keys: letter('f') },
  { command: 'viewer.actualSize', label: '1:1', keys: ['1'] },
  { command: 'viewer.resetWindow', label: 'File window', keys: letter('r') },
  { command: 'viewer.overlays', label: 'Overlays', keys: letter('o') },
  { command: 'viewer.hideIdentifiers', label: 'Hide patient', keys: letter('h') },
  { command: 'viewer.smooth', label: 'Smooth / pixels', keys: letter('k') },
  { command: 'viewer.hideLabels', label: 'Hide all labels', keys: letter('j') },
  { command: 'viewer.mpr', label: 'MPR', keys: letter('q') },
  { command: 'viewer.sidebar', label: 'Show / hide the side panel', keys: ['\\'] },
  { command: 'viewer.tags', label: 'DICOM tags', keys: ['Ctrl+i'] },
  { command: 'tool.wl', label: 'W/L', keys: letter('w') },
  { command: 'tool.pan', label: 'Pan', keys: letter('p') },
  { command: 'tool.zoom', label: 'Zoom', keys: letter('z') },
  { command: 'tool.probe', label: 'Probe', keys: letter('v') },
  { command: 'tool.length', label: 'Length', keys: letter('l') },
  // Kept measurements: every plain letter is taken, so Shift with the letter of a labeling key
  // (which those keys never use shifted): A angle, E ellipse, B box (rectangle), G freehand (as polygon's G).
  { command: 'tool.angle', label: 'Angle', keys: ['Shift+A'] },
  { command: 'tool.ellipse', label: 'Ellipse', keys: ['Shift+E'] },
  { command: 'tool.rectangle', label: 'Rectangle', keys: ['Shift+B'] },
  { command: 'tool.freehand', label: 'Freehand', keys: ['Shift+G'] },
];

/** Keys of the annotation tools while one is active (they win over everything but the app's). */
export const TOOL_KEYS: Readonly<Record<'sam' | 'polygon' | 'box' | 'select' | 'brush' | 'eraser', readonly string[]>> = {
  sam: ['Enter', 'Shift+Enter', 'Backspace', 'Escape'],
  polygon: ['Enter', 'Backspace', 'Escape'],
  box: ['Escape'],
  select: ['Escape'],
  brush: [],
  eraser: [],
};

/** Click-to-mask: accept the candidate as a mask / as polygons. */
export const SAM_ACCEPT_MASK = 'Enter';
export const SAM_ACCEPT_POLYGON = 'Shift+Enter';

export type MprCommand =
  | 'mpr.undo'
  | 'mpr.redo'
  | 'mpr.escape'
  | 'mpr.apply'
  | 'slice.next'
  | 'slice.previous'
  | 'slice.next10'
  | 'slice.previous10'
  | 'slice.first'
  | 'slice.last'
  | 'mpr.crosshair'
  | 'mpr.brush'
  | 'mpr.eraser'
  | 'mpr.brushSmaller'
  | 'mpr.brushLarger'
  | 'mpr.layout'
  | 'mpr.resetWindow';

export const MPR_KEYS: readonly { command: MprCommand; keys: string[] }[] = [
  { command: 'mpr.undo', keys: ['Ctrl+z', 'Meta+z'] },
  { command: 'mpr.redo', keys: ['Ctrl+Shift+z', 'Meta+Shift+z', 'Ctrl+y', 'Meta+y'] },
  { command: 'mpr.escape', keys: ['Escape'] },
  { command: 'mpr.apply', keys: ['Enter'] },
  { command: 'slice.next', keys: ['ArrowDown', 'ArrowRight'] },
  { command: 'slice.previous', keys: ['ArrowUp', 'ArrowLeft'] },
  { command: 'slice.next10', keys: ['PageDown'] },
  { command: 'slice.previous10', keys: ['PageUp'] },
  { command: 'slice.first', keys: ['Home'] },
  { command: 'slice.last', keys: ['End'] },
  { command: 'mpr.crosshair', keys: letter('x') },
  { command: 'mpr.brush', keys: letter('d') },
  { command: 'mpr.eraser', keys: letter('e') },
  { command: 'mpr.brushSmaller', keys: ['['] },
  { command: 'mpr.brushLarger', keys: [']'] },
  { command: 'mpr.layout', keys: letter('l') },
  { command: 'mpr.resetWindow', keys: letter('r') },
];

export type GridCommand =
  | 'grid.right' | 'grid.left' | 'grid.down' | 'grid.up' | 'grid.pageDown' | 'grid.pageUp' | 'grid.first' | 'grid.last' | 'grid.open'
  // marks for batch actions (issue 19)
  | 'grid.mark' | 'grid.markAll' | 'grid.unmarkAll' | 'grid.deleteMarked';

/** The browse grid's keys (the grid has focus; the viewer is closed). */
export const GRID_KEYS: readonly { command: GridCommand; keys: string[] }[] = [
  { command: 'grid.right', keys: ['ArrowRight'] },
  { command: 'grid.left', keys: ['ArrowLeft'] },
  { command: 'grid.down', keys: ['ArrowDown'] },
  { command: 'grid.up', keys: ['ArrowUp'] },
  { command: 'grid.pageDown', keys: ['PageDown'] },
  { command: 'grid.pageUp', keys: ['PageUp'] },
  { command: 'grid.first', keys: ['Home'] },
  { command: 'grid.last', keys: ['End'] },
  { command: 'grid.open', keys: ['Enter'] },
  { command: 'grid.mark', keys: ['Space'] },
  { command: 'grid.markAll', keys: ['Ctrl+a', 'Meta+a'] },
  { command: 'grid.unmarkAll', keys: ['Escape'] },
  { command: 'grid.deleteMarked', keys: ['Delete'] },
];

/** The library home's keys (outside text fields). */
export const LIBRARY_KEYS: readonly { command: 'library.newDataset' | 'library.cancel'; keys: string[] }[] = [
  { command: 'library.newDataset', keys: ['n'] },
  { command: 'library.cancel', keys: ['Escape'] },
];

function lookup<C extends string>(table: readonly { command: C; keys: string[] }[]): Map<string, C> {
  const m = new Map<string, C>();
  for (const row of table) for (const k of row.keys) m.set(normalizeKeyName(k), row.command);
  return m;
}

const APP_BY_KEY = new Map(APP_SCREENS.map((s) => [normalizeKeyName(s.key), s.id]));
const VIEWER_BY_KEY = lookup(VIEWER_KEYS);
const MPR_BY_KEY = lookup(MPR_KEYS);
const GRID_BY_KEY = lookup(GRID_KEYS);
const LIBRARY_BY_KEY = lookup(LIBRARY_KEYS);

export function gridCommandFor(e: KeyLike): GridCommand | null {
  return GRID_BY_KEY.get(eventKeyName(e)) ?? null;
}

export function libraryCommandFor(e: KeyLike): 'library.newDataset' | 'library.cancel' | null {
  return LIBRARY_BY_KEY.get(eventKeyName(e)) ?? null;
}

/** The screen an Alt+digit opens, or null. */
export function appScreenFor(e: KeyLike): AppScreen | null {
  return APP_BY_KEY.get(eventKeyName(e)) ?? null;
}

export function viewerCommandFor(e: KeyLike): ViewerCommand | null {
  return VIEWER_BY_KEY.get(eventKeyName(e)) ?? null;
}

export function mprCommandFor(e: KeyLike): MprCommand | null {
  return MPR_BY_KEY.get(eventKeyName(e)) ?? null;
}

/** The hint shown on a viewer button: its first key, as the user types it ('R', 'Space'). */
export function viewerKeyHint(command: ViewerCommand): string {
  const k = VIEWER_KEYS.find((r) => r.command === command)?.keys[0] ?? '';
  return k.length === 1 ? k.toUpperCase() : k;
}

/**
 * Why `key` cannot be the key of `action` given the rest of the user's map, or null when it can.
 * A viewer key may be taken over only where the viewer command keeps another key (ArrowRight for
 * "next image" leaves ArrowDown to step through slices); otherwise the viewer would lose it.
 */
export function hotkeyConflict(action: HotkeyAction, key: string, current: Partial<Record<HotkeyAction, string>>): string | null {
  const k = normalizeKeyName(key);
  if (/^(Shift\+)?(Control|Alt|Shift|Meta)$/.test(k)) return 'Press a key, not only a modifier.';
  if (k === 'Tab' || k === 'Shift+Tab') return 'Tab moves between fields; it cannot be a shortcut.';
  const screen = APP_BY_KEY.get(k);
  if (screen) return `${key} opens the ${APP_SCREENS.find((s) => s.id === screen)?.label} screen.`;
  const viewer = VIEWER_KEYS.find((r) => r.keys.some((x) => normalizeKeyName(x) === k));
  if (viewer) {
    const others = viewer.keys.filter((x) => normalizeKeyName(x) !== k && !x.startsWith('Shift+'));
    if (others.length === 0) return `${key} is the viewer's "${viewer.label}" key.`;
  }
  for (const other of HOTKEY_ACTIONS) {
    if (other === action) continue;
    const theirs = current[other] ?? DEFAULT_HOTKEYS[other];
    if (normalizeKeyName(theirs) === k) return `${key} is already the key of "${other}".`;
  }
  if (/^\d$/.test(k) || /^Shift\+\d$/.test(k)) return `${key} is a class key (set per class in the label schema).`;
  return null;
}

/**
 * Every binding active at once in the 2-D viewer with labeling on: scope, meaning and key.
 * The registry test asserts that no key appears twice.
 */
export function viewerBindings(map: Readonly<Record<HotkeyAction, string>> = DEFAULT_HOTKEYS): { scope: string; what: string; key: string }[] {
  const out: { scope: string; what: string; key: string }[] = [];
  for (const s of APP_SCREENS) out.push({ scope: 'app', what: s.id, key: normalizeKeyName(s.key) });
  for (const r of VIEWER_KEYS) for (const k of r.keys) out.push({ scope: 'viewer', what: r.command, key: normalizeKeyName(k) });
  for (const a of HOTKEY_ACTIONS) out.push({ scope: 'annotate', what: a, key: normalizeKeyName(map[a]) });
  return out;
}
