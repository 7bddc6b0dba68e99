/**
 * Annotation tools are objects (after cornerstone3D's BaseTool): each has a
 * name, a cursor and pointer handlers, and works on a ToolHost, the part of
 * the annotation state a tool may touch. Tools only compute geometry in
 * image pixels and hand finished edits to the host, which saves them and
 * records their inverse in the history; a tool never talks to the backend.
 */
import type { Annotation, AnnotationGeometry, BoxGeometry } from '../../../electron/contract/domain';
import type { Pt } from './geometry';
import type { Mask } from './mask';

export type ToolName = 'select' | 'box' | 'polygon' | 'brush' | 'eraser' | 'sam';

/** A pointer event in image pixels. */
export interface ToolPointer {
  /** Continuous image coordinates (cornerstone pageToPixel), not clamped. */
  p: Pt;
  /** Hit tolerance in image pixels (a few screen pixels at the current zoom). */
  tol: number;
  shift: boolean;
  alt: boolean;
  /** Click count (2 for a double click). */
  detail: number;
}

/** What is being drawn or dragged, shown by the layer before it is saved. */
export type Draft =
  | { kind: 'box'; box: BoxGeometry; id: number | null }
  | { kind: 'polygon'; points: [number, number][]; closed: boolean; cursor: Pt | null; id: number | null };

/** A brush or eraser stroke in progress (not saved until the pointer is released). */
export interface Stroke {
  mask: Mask;
  classId: number;
  erase: boolean;
  /** The annotation being edited, or null for a new mask. */
  id: number | null;
  /** Bumped on every change so the layer redraws. */
  tick: number;
}

/**
 * Click-to-mask prompts (lib/state/assist-state.svelte.ts): the SAM tool hands clicks and boxes to
 * it; it asks the backend's promptable segmenter and holds the candidate mask until accepted.
 */
export interface PromptHost {
  click(p: Pt, positive: boolean): void;
  setBox(box: BoxGeometry): void;
  /** Remove the last click (Backspace). */
  undoLast(): boolean;
  /** Drop every prompt and the candidate mask (Escape). */
  clear(): boolean;
  /** Save the candidate as a mask or as polygons of the active class (Enter / Shift+Enter). */
  accept(as: 'mask' | 'polygon'): boolean;
}

export interface ToolHost {
  /** The displayed image's size in pixels, or null while none is shown. */
  readonly imageSize: { width: number; height: number } | null;
  /** Annotations on the displayed image, frame or series, in id order. */
  readonly annotations: readonly Annotation[];
  readonly activeClassId: number | null;
  readonly brushSize: number;
  selectedId: number | null;
  draft: Draft | null;
  stroke: Stroke | null;
  /** Save a new shape on the displayed image (history: "label"). */
  createShape(kind: 'box' | 'polygon' | 'mask', geometry: AnnotationGeometry, label: string): void;
  /** Save new geometry for an annotation (history: "label"). */
  changeGeometry(a: Annotation, geometry: AnnotationGeometry, label: string): void;
  deleteAnnotation(a: Annotation, label: string): void;
  /** Tell the user something (no class chosen, ...). */
  notice(message: string): void;
  /** Click-to-mask, where the backend offers it. */
  readonly prompts: PromptHost | null;
}

export interface AnnotationTool {
  readonly name: ToolName;
  readonly cursor: string;
  down(host: ToolHost, e: ToolPointer): void;
  move(host: ToolHost, e: ToolPointer): void;
  up(host: ToolHost, e: ToolPointer): void;
  /**
   * Keys while the tool is active, as canonical key names (annotate/hotkeys.ts: 'Enter',
   * 'Shift+Enter', 'Escape'); true when handled. lib/hotkey-registry.ts lists them (TOOL_KEYS).
   */
  key(host: ToolHost, key: string): boolean;
  /** Drop whatever is in progress (tool switch, image change). */
  cancel(host: ToolHost): void;
}

/** Shapes on the image that geometry tools can pick, topmost (newest) first. */
export function pickable(host: ToolHost): Annotation[] {
  return host.annotations.filter((a) => a.kind !== 'class' && a.geometry !== null).slice().reverse();
}
