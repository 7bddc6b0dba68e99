/**
 * The labeling keys of the viewer: the active tool's own keys first, then the
 * user's hotkey map (one handler per action, a table instead of a switch),
 * then class keys 1-9 (Shift: the whole series). Which key means what is the
 * registry's business (lib/hotkey-registry.ts); this file says what each
 * action does.
 */
import type { HotkeyAction } from '../../../../electron/contract/domain';
import type { StackEntry } from '../../annotate/actions';
import { eventKeyName, Keymap } from '../../annotate/hotkeys';
import type { ToolName } from '../../annotate/tool';
import type { AnnotateState, Navigation } from './annotate-state.svelte';

export const TOOL_ACTIONS: Record<ToolName, HotkeyAction> = {
  select: 'tool.select',
  box: 'tool.box',
  polygon: 'tool.polygon',
  brush: 'tool.brush',
  eraser: 'tool.eraser',
  sam: 'tool.sam',
};

/** Where the key was pressed: the viewer's navigation and stack. */
export interface KeyEnv {
  nav: Navigation;
  stack: readonly StackEntry[];
  index: number;
  step: (delta: number) => void;
}

type Handler = (s: AnnotateState, env: KeyEnv) => boolean;

function review(s: AnnotateState, action: 'accept' | 'reject'): boolean {
  const sel = s.selected;
  const p = sel?.status === 'proposed' ? sel : s.proposals[0];
  if (p) s.review(p, action);
  else s.notice('No model proposal on this image.');
  return true;
}

function tool(name: ToolName): Handler {
  return (s) => (s.setTool(name), true);
}

const HANDLERS: Record<HotkeyAction, Handler> = {
  'tool.select': tool('select'),
  'tool.box': tool('box'),
  'tool.polygon': tool('polygon'),
  'tool.brush': tool('brush'),
  'tool.eraser': tool('eraser'),
  'tool.sam': tool('sam'),
  'brush.smaller': (s) => ((s.brushSize = Math.max(1, Math.round(s.brushSize / 1.25))), true),
  'brush.larger': (s) => ((s.brushSize = Math.min(400, Math.round(s.brushSize * 1.25) + 1)), true),
  'image.next': (_s, env) => (env.nav.next(), true),
  'image.previous': (_s, env) => (env.nav.previous(), true),
  'image.submit': (s, env) => (void s.setStatus('done').then((ok) => ok && env.nav.next()), true),
  'proposal.accept': (s) => review(s, 'accept'),
  'proposal.reject': (s) => review(s, 'reject'),
  'annotation.delete': (s) => {
    const sel = s.selected;
    if (sel) s.deleteAnnotation(sel);
    return sel !== null;
  },
  'slice.copyNext': (s, env) => (void s.copyToNext(env.stack, env.index).then((ok) => ok && env.step(1)), true),
  'slice.interpolate': (s, env) => (void s.interpolate(env.stack, env.index), true),
  'slice.propagate': (s) => {
    const sel = s.selected;
    if (sel?.kind === 'mask' && sel.status === 'active') void s.assist.propagate(sel.id, 'both');
    else s.notice('Select a mask to propagate to the other slices.');
    return true;
  },
  'edit.undo': (s) => (s.undo(), true),
  'edit.redo': (s) => (s.redo(), true),
  // Handled by the review bar when review mode is on.
  'review.approve': () => false,
  'review.reject': () => false,
};

/** A key press in the viewer; true when the labeling state handled it. */
export function handleAnnotateKey(s: AnnotateState, e: KeyboardEvent, env: KeyEnv): boolean {
  if (s.tool && !e.ctrlKey && !e.metaKey && s.tool.key(s, eventKeyName(e))) return true;
  if (e.key === 'Escape' && s.selectedId !== null) {
    s.selectedId = null;
    return true;
  }
  const action = s.keymap.action(e);
  if (action) return HANDLERS[action](s, env);
  const ck = Keymap.classKey(e);
  if (!ck) return false;
  const cls = s.classes.find((c) => c.hotkey === ck.digit);
  if (!cls) return false;
  s.activeClassId = cls.id;
  const sel = s.selected;
  if (sel && sel.kind !== 'class' && !ck.series) s.changeClass(sel, cls.id);
  else if (ck.series || s.toolName === null || s.toolName === 'select') s.toggleClass(cls.id, ck.series);
  return true;
}
