/**
 * One MPR view's cornerstone element: shows a plane (by imageId) with the shared window, keeps
 * its own zoom and pan, and converts between page, canvas and picture coordinates for the
 * overlays and the tools. Only this class (with the loaders) talks to cornerstone for MPR.
 * `dispose()` disables the element (cornerstone's redraw loop runs until then).
 */
import cornerstone, { type Image, type Point, type Viewport } from 'cornerstone-core';
import { toCornerstoneVoi, type DicomWindow } from './image-loader';
import { registerMprLoader } from './mpr-image-loader';

export class MprViewport {
  /** Incremented on every rendered frame: overlays re-project, tests wait on it. */
  renderCount = $state(0);
  scale = $state(1);
  error = $state<string | null>(null);
  /** The imageId on screen. */
  shown = $state<string | null>(null);
  /** ms from asking for a plane to its rendered frame. */
  lastFrameMs = $state<number | null>(null);

  #element: HTMLElement | null = null;
  #image: Image | null = null;
  #ticket = 0;
  #askedAt = 0;
  #window: DicomWindow | null = null;
  #invert = false;
  readonly #onRendered = (): void => {
    this.renderCount++;
    if (this.#askedAt) {
      this.lastFrameMs = performance.now() - this.#askedAt;
      this.#askedAt = 0;
    }
  };

  attach(element: HTMLElement): void {
    registerMprLoader();
    this.#element = element;
    cornerstone.enable(element);
    element.addEventListener(cornerstone.EVENTS.IMAGE_RENDERED, this.#onRendered);
  }

  dispose(): void {
    const el = this.#element;
    if (el) {
      el.removeEventListener(cornerstone.EVENTS.IMAGE_RENDERED, this.#onRendered);
      cornerstone.disable(el);
    }
    this.#element = null;
    this.#image = null;
  }

  /** Show a plane; the first one is fitted, later ones keep the zoom and pan. */
  async show(imageId: string, window: DicomWindow, invert: boolean): Promise<void> {
    const el = this.#element;
    if (!el) return;
    const ticket = ++this.#ticket;
    this.#askedAt = performance.now();
    let image: Image;
    try {
      image = await cornerstone.loadAndCacheImage(imageId);
    } catch (e) {
      if (ticket === this.#ticket) this.error = (e as Error).message;
      return;
    }
    if (ticket !== this.#ticket || this.#element !== el) return;
    this.error = null;
    const previous = this.#image ? cornerstone.getViewport(el) : undefined;
    const refit = !previous || this.#image?.columns !== image.columns || this.#image?.rows !== image.rows;
    const base: Viewport = refit ? cornerstone.getDefaultViewportForImage(el, image) : (previous as Viewport);
    this.#image = image;
    this.#window = window;
    this.#invert = invert;
    cornerstone.displayImage(el, image, { ...base, pixelReplication: true, invert, voi: toCornerstoneVoi(window) });
    this.scale = cornerstone.getViewport(el)?.scale ?? 1;
    this.shown = imageId;
  }

  /** Load planes into the cache without showing them. */
  prefetch(imageIds: string[]): void {
    for (const id of imageIds) void cornerstone.loadAndCacheImage(id).catch(() => undefined);
  }

  setWindow(window: DicomWindow, invert: boolean): void {
    if (this.#window && this.#window.center === window.center && this.#window.width === window.width && this.#invert === invert) return;
    this.#window = window;
    this.#invert = invert;
    this.#update({ voi: toCornerstoneVoi(window), invert });
  }

  #update(change: Partial<Viewport>): void {
    const el = this.#element;
    if (!el || !this.#image) return;
    const vp = cornerstone.getViewport(el);
    if (!vp) return;
    cornerstone.setViewport(el, { ...vp, ...change });
    this.scale = cornerstone.getViewport(el)?.scale ?? this.scale;
  }

  zoomBy(factor: number): void {
    this.#update({ scale: Math.min(Math.max(this.scale * factor, 0.05), 40) });
  }

  panBy(dx: number, dy: number): void {
    const el = this.#element;
    const vp = el ? cornerstone.getViewport(el) : undefined;
    if (vp) this.#update({ translation: { x: vp.translation.x + dx / vp.scale, y: vp.translation.y + dy / vp.scale } });
  }

  fit(): void {
    const el = this.#element;
    if (el && this.#image) {
      const d = cornerstone.getDefaultViewportForImage(el, this.#image);
      this.#update({ scale: d.scale, translation: { x: 0, y: 0 } });
    }
  }

  resize(): void {
    if (this.#element && this.#image) cornerstone.resize(this.#element, true);
  }

  /** Continuous picture coordinates of a page position (pixel centres at x + 0.5). */
  imagePoint(pageX: number, pageY: number): Point | null {
    return this.#element && this.#image ? cornerstone.pageToPixel(this.#element, pageX, pageY) : null;
  }

  toCanvas(p: Point): Point | null {
    return this.#element && this.#image ? cornerstone.pixelToCanvas(this.#element, p) : null;
  }

  /** The stored value under a picture pixel (HU = value * slope + intercept), or null. */
  valueAt(x: number, y: number): number | null {
    const img = this.#image;
    if (!img || x < 0 || y < 0 || x >= img.columns || y >= img.rows) return null;
    return (img.getPixelData()[y * img.columns + x] as number) * img.slope + img.intercept;
  }
}
