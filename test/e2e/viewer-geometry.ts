/**
 * Where image pixels are on the page in the viewer, by cornerstone's documented canvas transform
 * (canvas = W/2 + scale * (image + translation - imageSize/2), no rotation or flip), computed from
 * the viewport's own attributes, never from the viewer's conversion code.
 */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';

export interface ViewTransform {
  box: { x: number; y: number; width: number; height: number };
  canvasW: number;
  canvasH: number;
  scale: number;
  tx: number;
  ty: number;
}

export async function viewTransform(page: Page): Promise<ViewTransform> {
  const vp = page.getByTestId('viewport');
  const canvas = vp.locator('canvas');
  const box = await canvas.boundingBox();
  assert.ok(box);
  const [canvasW, canvasH] = await canvas.evaluate((c: HTMLCanvasElement) => [c.width, c.height]);
  return {
    box,
    canvasW: canvasW as number,
    canvasH: canvasH as number,
    scale: Number(await vp.getAttribute('data-scale')),
    tx: Number(await vp.getAttribute('data-tx')),
    ty: Number(await vp.getAttribute('data-ty')),
  };
}

/** Where an image point is on the page. */
export function imageToPage(t: ViewTransform, x: number, y: number, iw: number, ih: number): { x: number; y: number } {
  const cx = t.canvasW / 2 + t.scale * (x + t.tx - iw / 2);
  const cy = t.canvasH / 2 + t.scale * (y + t.ty - ih / 2);
  return { x: t.box.x + (cx * t.box.width) / t.canvasW, y: t.box.y + (cy * t.box.height) / t.canvasH };
}
