/**
 * The viewer's state and its cornerstone element: the stack being shown,
 * the window (in DICOM LINEAR terms), invert, zoom/pan, the active tool,
 * overlays, probe and cine (kept measurements: lib/state/measure-state.svelte.ts). Components read the
 * fields and call the methods; only this class (and image-loader.ts) talk to
 * cornerstone. `dispose()` disables the element (cornerstone's redraw loop
 * runs until then) and stops cine.
 */
import cornerstone, { type Image, type Point, type Viewport } from 'cornerstone-core';
import { MEASUREMENT_KINDS, type MeasurementKind } from '../../../electron/contract/measure';
import { defaultWindow, frameOf, imageIdOf, registerFoveaLoader, toCornerstoneVoi, type DicomWindow, type FrameMeta } from './image-loader';

export interface StackEntry {
  itemId: number;
  frame: number;
}

export type ViewerTool = 'wl' | 'pan' | 'zoom' | 'probe' | MeasurementKind;

/** The tools that draw a kept measurement (lib/state/measure-state.svelte.ts). */
export function isMeasureTool(tool: ViewerTool): tool is MeasurementKind {
  return (MEASUREMENT_KINDS as readonly string[]).includes(tool);
}

/** CT presets (center/width, Hounsfield units). */
export const CT_PRESETS: readonly { id: string; label: string; center: number; width: number }[] = [
  { id: 'lung', label: 'Lung', center: -600, width: 1500 },
  { id: 'mediastinum', label: 'Mediastinum', center: 50, width: 350 },
  { id: 'bone', label: 'Bone', center: 400, width: 1800 },
  { id: 'brain', label: 'Brain', center: 40, width: 80 },
  { id: 'abdomen', label: 'Abdomen', center: 40, width: 400 },
  { id: 'liver', label: 'Liver', center: 60, width: 160 },
];

export interface ProbeReading {
  x: number;
  y: number;
  /** Stored value (grey) or [r, g, b]. */
  stored: number | [number, number, number];
  /** Modality value (HU for CT), grey only. */
  value: number | null;
  units: string | null;
}

const PREFETCH = 8;

/** What the viewer keeps of a stack when it is left, to come back to the same slice and window. */
export interface ViewMemory {
  /** The stack it belongs to (first entry and length). */
  key: string;
  index: number;
  /** The user's window, or null when the files' own was in force. */
  window: DicomWindow | null;
  invert: boolean;
}

function stackKey(stack: readonly StackEntry[]): string {
  const first = stack[0];
  return first ? `${first.itemId}:${first.frame}:${stack.length}` : '';
}

/**
 * Smooth (bilinear) display is the default, as in every radiology viewer; the user's choice
 * of pixels carries over to the next image opened in this window.
 */
let smoothPreference = true;

export class ViewerController {
  stack = $state.raw<StackEntry[]>([]);
  index = $state(0);
  /** The displayed frame's metadata. */
  frame = $state.raw<FrameMeta | null>(null);
  /** The window in force, DICOM LINEAR semantics; null until the first image. */
  window = $state<DicomWindow | null>(null);
  /** The user changed the window: keep it while scrolling instead of each file's own. */
  windowTouched = $state(false);
  userInvert = $state(false);
  scale = $state(1);
  /** The viewport's translation (image pixels), with `scale` what maps image to canvas. */
  translation = $state.raw<Point>({ x: 0, y: 0 });
  tool = $state<ViewerTool>('wl');
  overlays = $state(true);
  hideIdentifiers = $state(false);
  /** Bilinear interpolation when magnified; false shows each image pixel as a square (pixel replication). */
  smooth = $state(smoothPreference);
  probe = $state.raw<ProbeReading | null>(null);
  cinePlaying = $state(false);
  error = $state<string | null>(null);
  loading = $state(false);
  /** Incremented on every cornerstoneimagerendered: tests and overlays wait on it. */
  renderCount = $state(0);
  /** ms from asking for a frame to its rendered event. */
  lastFrameMs = $state<number | null>(null);

  readonly currentImageId = $derived(this.stack[this.index] ? imageIdOf(this.stack[this.index]!.itemId, this.stack[this.index]!.frame) : null);
  readonly effectiveInvert = $derived((this.frame?.kind === 'grey' && this.frame.monochrome1) !== this.userInvert);

  #element: HTMLElement | null = null;
  #image: Image | null = null;
  #requested = 0;
  #requestedAt = 0;
  #cineTimer: ReturnType<typeof setTimeout> | null = null;
  #fitNext = true;
  readonly #onRendered = (): void => {
    this.renderCount++;
    if (this.#requestedAt) {
      this.lastFrameMs = performance.now() - this.#requestedAt;
      this.#requestedAt = 0;
    }
  };

  attach(element: HTMLElement): void {
    registerFoveaLoader();
    this.#element = element;
    cornerstone.enable(element);
    element.addEventListener(cornerstone.EVENTS.IMAGE_RENDERED, this.#onRendered);
    if (this.stack.length) void this.#show(true);
  }

  dispose(): void {
    this.stopCine();
    const el = this.#element;
    if (el) {
      el.removeEventListener(cornerstone.EVENTS.IMAGE_RENDERED, this.#onRendered);
      cornerstone.disable(el);
    }
    this.#element = null;
    this.#image = null;
  }

  /**
   * Show a stack (a series, a multi-frame instance or one image) at `index`; resets the view,
   * unless `memory` is of this same stack: then its slice and window come back.
   */
  open(stack: StackEntry[], index = 0, memory: ViewMemory | null = null): void {
    const same = memory !== null && memory.key === stackKey(stack);
    this.stack = stack;
    this.index = Math.min(Math.max(same ? memory.index : index, 0), Math.max(stack.length - 1, 0));
    this.window = same ? memory.window : null;
    this.windowTouched = same && memory.window !== null;
    this.userInvert = same ? memory.invert : false;
    this.probe = null;
    this.#fitNext = true;
    this.stopCine();
    void this.#show(true);
  }

  /** What to give `open` to come back here. */
  remember(): ViewMemory {
    return { key: stackKey(this.stack), index: this.index, window: this.windowTouched ? this.window : null, invert: this.userInvert };
  }

  toggleSmooth(): void {
    this.smooth = smoothPreference = !this.smooth;
    this.#update({ pixelReplication: !this.smooth });
  }

  setIndex(i: number): void {
    if (!this.stack.length) return;
    const next = Math.min(Math.max(Math.round(i), 0), this.stack.length - 1);
    if (next === this.index) return;
    this.index = next;
    void this.#show(false);
  }

  step(delta: number): void {
    this.setIndex(this.index + delta);
  }

  async #show(reset: boolean): Promise<void> {
    const el = this.#element;
    const imageId = this.currentImageId;
    if (!el || !imageId) return;
    const ticket = ++this.#requested;
    this.#requestedAt = performance.now();
    this.loading = true;
    let image: Image;
    try {
      image = await cornerstone.loadAndCacheImage(imageId);
    } catch (e) {
      if (ticket === this.#requested) {
        this.error = (e as Error).message;
        this.loading = false;
      }
      return;
    }
    if (ticket !== this.#requested || this.#element !== el) return;
    this.loading = false;
    this.error = null;
    const meta = frameOf(imageId) ?? null;
    this.frame = meta;
    if (!this.windowTouched && meta) this.window = defaultWindow(meta);
    const previous = cornerstone.getViewport(el);
    const fit = reset || this.#fitNext || !previous || this.#image === null;
    const base: Viewport = fit ? cornerstone.getDefaultViewportForImage(el, image) : previous;
    this.#fitNext = false;
    this.#image = image;
    const viewport: Partial<Viewport> = {
      ...base,
      pixelReplication: !this.smooth,
      invert: this.effectiveInvert,
      ...(this.window ? { voi: toCornerstoneVoi(this.window) } : {}),
    };
    cornerstone.displayImage(el, image, viewport);
    this.scale = cornerstone.getViewport(el)?.scale ?? 1;
    this.translation = { ...(cornerstone.getViewport(el)?.translation ?? { x: 0, y: 0 }) };
    // The probe reads the pixel it points at on the slice now shown, never the previous slice's.
    if (this.probe) this.#probePixel(this.probe.x, this.probe.y);
    this.#prefetch();
  }

  #prefetch(): void {
    for (let d = 1; d <= PREFETCH; d++) {
      for (const i of [this.index + d, this.index - d]) {
        const e = this.stack[i];
        if (e) void cornerstone.loadAndCacheImage(imageIdOf(e.itemId, e.frame)).catch(() => undefined);
      }
    }
  }

  /** Load every frame of the stack into the cache (the bench and small series). */
  async prefetchAll(): Promise<void> {
    await Promise.all(this.stack.map((e) => cornerstone.loadAndCacheImage(imageIdOf(e.itemId, e.frame))));
  }

  #update(change: Partial<Viewport>): void {
    const el = this.#element;
    if (!el || !this.#image) return;
    const vp = cornerstone.getViewport(el);
    if (!vp) return;
    this.#requestedAt = performance.now();
    cornerstone.setViewport(el, { ...vp, ...change });
    this.scale = cornerstone.getViewport(el)?.scale ?? this.scale;
    this.translation = { ...(cornerstone.getViewport(el)?.translation ?? this.translation) };
  }

  setWindow(w: DicomWindow): void {
    this.window = { center: w.center, width: Math.max(w.width, 1) };
    this.windowTouched = true;
    this.#update({ voi: toCornerstoneVoi(this.window) });
  }

  preset(id: string): void {
    const p = CT_PRESETS.find((x) => x.id === id);
    if (p) this.setWindow({ center: p.center, width: p.width });
  }

  /** Back to the file's own window. */
  resetWindow(): void {
    this.windowTouched = false;
    if (this.frame) this.window = defaultWindow(this.frame);
    if (this.window) this.#update({ voi: toCornerstoneVoi(this.window) });
  }

  /** Window/level by a drag of (dx, dy) screen pixels: right/left changes width, down/up the centre. */
  dragWindow(dx: number, dy: number): void {
    const w = this.window ?? { center: 128, width: 256 };
    const f = this.frame;
    const range = f?.kind === 'grey' ? Math.max((f.max - f.min) * Math.abs(f.slope), 1) : 256;
    const k = Math.max(range / 512, 0.25);
    this.setWindow({ center: w.center + dy * k, width: Math.max(1, w.width + dx * k) });
  }

  toggleInvert(): void {
    this.userInvert = !this.userInvert;
    this.#update({ invert: this.effectiveInvert });
  }

  fit(): void {
    const el = this.#element;
    if (!el || !this.#image) return;
    const d = cornerstone.getDefaultViewportForImage(el, this.#image);
    this.#update({ scale: d.scale, translation: { x: 0, y: 0 } });
  }

  /** 1:1: one image pixel per canvas pixel, on whole canvas pixels (no resampling). */
  actualSize(): void {
    const el = this.#element;
    const img = this.#image;
    if (!el || !img) return;
    const canvas = el.querySelector('canvas');
    const ox = canvas && (canvas.width - img.columns) % 2 !== 0 ? 0.5 : 0;
    const oy = canvas && (canvas.height - img.rows) % 2 !== 0 ? 0.5 : 0;
    this.#update({ scale: 1, translation: { x: ox, y: oy } });
  }

  /** An exact zoom (canvas pixels per image pixel), keeping the pan. */
  zoomTo(scale: number): void {
    this.#update({ scale: Math.min(Math.max(scale, 0.05), 40) });
  }

  zoomBy(factor: number): void {
    this.#update({ scale: Math.min(Math.max(this.scale * factor, 0.05), 40) });
  }

  panBy(dx: number, dy: number): void {
    const el = this.#element;
    const vp = el ? cornerstone.getViewport(el) : undefined;
    if (!vp) return;
    this.#update({ translation: { x: vp.translation.x + dx / vp.scale, y: vp.translation.y + dy / vp.scale } });
  }

  /**
   * Redraw after the element changed size (window resize, side panel folded). An image that
   * fitted stays fitted (cornerstone's own test misses fits rounded by a pixel and would scale
   * it by the area's change, cutting it off); the zoom and pan fields follow what is drawn.
   */
  resize(): void {
    const el = this.#element;
    const img = this.#image;
    if (!el || !img) return;
    const vp = cornerstone.getViewport(el);
    const fit = cornerstone.getDefaultViewportForImage(el, img).scale;
    const wasFit = vp !== undefined && Math.abs(vp.scale - fit) <= 1e-6 * fit && vp.translation.x === 0 && vp.translation.y === 0;
    cornerstone.resize(el, wasFit);
    this.scale = cornerstone.getViewport(el)?.scale ?? this.scale;
    this.translation = { ...(cornerstone.getViewport(el)?.translation ?? this.translation) };
  }

  /** Image pixel under a page position, or null outside the image. */
  pixelAt(pageX: number, pageY: number): Point | null {
    const el = this.#element;
    const img = this.#image;
    if (!el || !img) return null;
    const p = cornerstone.pageToPixel(el, pageX, pageY);
    const x = Math.floor(p.x);
    const y = Math.floor(p.y);
    if (x < 0 || y < 0 || x >= img.columns || y >= img.rows) return null;
    return { x, y };
  }

  probeAt(pageX: number, pageY: number): ProbeReading | null {
    const p = this.pixelAt(pageX, pageY);
    return p ? this.#probePixel(p.x, p.y) : (this.probe = null);
  }

  #probePixel(x: number, y: number): ProbeReading | null {
    const img = this.#image;
    const f = this.frame;
    if (!img || !f || x >= img.columns || y >= img.rows) return (this.probe = null);
    const p = { x, y };
    const data = img.getPixelData();
    const i = p.y * img.columns + p.x;
    if (f.kind === 'rgba') {
      this.probe = { x: p.x, y: p.y, stored: [data[i * 4] ?? 0, data[i * 4 + 1] ?? 0, data[i * 4 + 2] ?? 0], value: null, units: null };
    } else {
      const stored = data[i] ?? 0;
      this.probe = { x: p.x, y: p.y, stored, value: stored * f.slope + f.intercept, units: f.units };
    }
    return this.probe;
  }

  toCanvas(p: Point): Point | null {
    return this.#element && this.#image ? cornerstone.pixelToCanvas(this.#element, p) : null;
  }

  /** Sub-pixel image coordinates of a page position (for measurements). */
  imagePoint(pageX: number, pageY: number): Point | null {
    return this.#element && this.#image ? cornerstone.pageToPixel(this.#element, pageX, pageY) : null;
  }

  /** A page position as image coordinates kept inside the image (a measurement's point). */
  imagePointInside(pageX: number, pageY: number): Point | null {
    const p = this.imagePoint(pageX, pageY);
    const img = this.#image;
    if (!p || !img) return null;
    return { x: Math.min(Math.max(p.x, 0), img.columns), y: Math.min(Math.max(p.y, 0), img.rows) };
  }

  /** Show the stack entry of this image and frame, if the stack has it. */
  goTo(itemId: number, frame: number): boolean {
    const i = this.stack.findIndex((e) => e.itemId === itemId && e.frame === frame);
    if (i < 0) return false;
    this.setIndex(i);
    return true;
  }

  /** Play through the stack at the file's frame time (else 15 fps), looping. */
  playCine(): void {
    if (this.cinePlaying || this.stack.length < 2) return;
    this.cinePlaying = true;
    const tick = (): void => {
      if (!this.cinePlaying) return;
      this.setIndex(this.index + 1 >= this.stack.length ? 0 : this.index + 1);
      const ms = this.frame?.frameTime && this.frame.frameTime > 0 ? this.frame.frameTime : 1000 / 15;
      this.#cineTimer = setTimeout(tick, Math.max(ms, 16));
    };
    tick();
  }

  stopCine(): void {
    this.cinePlaying = false;
    if (this.#cineTimer !== null) clearTimeout(this.#cineTimer);
    this.#cineTimer = null;
  }

  toggleCine(): void {
    if (this.cinePlaying) this.stopCine();
    else this.playCine();
  }
}
