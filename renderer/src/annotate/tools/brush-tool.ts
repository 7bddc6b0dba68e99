/**
 * Brush and eraser: paint (or erase) discs of `brushSize` image pixels into the mask of the
 * active class on this image, one mask annotation per class. The stroke is kept in memory
 * while the pointer is down and saved when it is released: a crash loses at most that stroke.
 * Erasing a mask to nothing deletes it.
 */
import type { Annotation } from '../../../../electron/contract/domain';
import { emptyMask, maskArea, maskToRle, rleToMask, stampDisc, stampSegment } from '../mask';
import type { AnnotationTool, ToolHost, ToolPointer } from '../tool';

export class BrushTool implements AnnotationTool {
  static readonly toolName = 'brush';
  readonly name: 'brush' | 'eraser';
  readonly cursor = 'crosshair';
  readonly #erase: boolean;
  #last: { x: number; y: number } | null = null;
  #target: Annotation | null = null;

  constructor(erase: boolean) {
    this.#erase = erase;
    this.name = erase ? 'eraser' : 'brush';
  }

  /** The mask this stroke edits: the selected mask, else the active class's mask on this image. */
  #findTarget(host: ToolHost): Annotation | null {
    const masks = host.annotations.filter((a) => a.kind === 'mask' && a.geometry !== null);
    const selected = masks.find((a) => a.id === host.selectedId);
    if (selected) return selected;
    return masks.filter((a) => a.classId === host.activeClassId && a.status === 'active').at(-1) ?? null;
  }

  down(host: ToolHost, e: ToolPointer): void {
    const size = host.imageSize;
    if (!size) return;
    const target = this.#findTarget(host);
    const classId = target?.classId ?? host.activeClassId;
    if (classId === null) return host.notice('Choose a class first (keys 1-9).');
    if (this.#erase && !target) return host.notice('Nothing to erase: this class has no mask on this image.');
    const mask = target && target.geometry && 'rle' in target.geometry ? rleToMask(target.geometry.rle) : emptyMask(size.width, size.height);
    this.#target = target;
    this.#last = e.p;
    stampDisc(mask, e.p.x, e.p.y, host.brushSize, this.#erase ? 0 : 1);
    host.stroke = { mask, classId, erase: this.#erase, id: target?.id ?? null, tick: 0 };
  }

  move(host: ToolHost, e: ToolPointer): void {
    const s = host.stroke;
    if (!s || !this.#last) return;
    const dirty = stampSegment(s.mask, this.#last.x, this.#last.y, e.p.x, e.p.y, host.brushSize, this.#erase ? 0 : 1);
    this.#last = e.p;
    if (dirty) host.stroke = { ...s, tick: s.tick + 1 };
  }

  up(host: ToolHost): void {
    const s = host.stroke;
    const target = this.#target;
    this.#last = null;
    this.#target = null;
    if (!s) return;
    const area = maskArea(s.mask);
    if (target) {
      if (area === 0) host.deleteAnnotation(target, 'Erase mask');
      else host.changeGeometry(target, { rle: maskToRle(s.mask) }, this.#erase ? 'Erase' : 'Paint');
    } else if (area > 0) {
      host.createShape('mask', { rle: maskToRle(s.mask) }, 'Paint');
    }
    // The layer keeps showing the stroke until the saved mask replaces it.
  }

  key(): boolean {
    return false;
  }

  cancel(host: ToolHost): void {
    this.#last = null;
    this.#target = null;
    host.stroke = null;
  }
}
