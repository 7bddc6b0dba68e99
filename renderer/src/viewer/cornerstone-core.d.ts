/**
 * The part of cornerstone-core 2.6.1 Fovea uses, typed strictly
 * (@types/cornerstone-core's Image is loose). Only src/viewer/ imports it.
 */
declare module 'cornerstone-core' {
  export interface Point {
    x: number;
    y: number;
  }
  export interface Image {
    imageId: string;
    minPixelValue: number;
    maxPixelValue: number;
    slope: number;
    intercept: number;
    windowCenter: number;
    windowWidth: number;
    getPixelData(): ArrayLike<number>;
    rows: number;
    columns: number;
    height: number;
    width: number;
    color: boolean;
    rgba: boolean;
    columnPixelSpacing: number | undefined;
    rowPixelSpacing: number | undefined;
    invert: boolean;
    sizeInBytes: number;
  }
  export interface Viewport {
    scale: number;
    translation: Point;
    voi: { windowWidth: number; windowCenter: number };
    invert: boolean;
    pixelReplication: boolean;
    rotation: number;
    hflip: boolean;
    vflip: boolean;
  }
  export interface ImageLoadObject {
    promise: Promise<Image>;
    cancelFn?: () => void;
  }
  export interface CacheInfo {
    maximumSizeInBytes: number;
    cacheSizeInBytes: number;
    numberOfImagesCached: number;
  }
  interface Cornerstone {
    enable(element: HTMLElement, options?: Record<string, unknown>): void;
    disable(element: HTMLElement): void;
    displayImage(element: HTMLElement, image: Image, viewport?: Partial<Viewport>): void;
    loadAndCacheImage(imageId: string): Promise<Image>;
    registerImageLoader(scheme: string, loader: (imageId: string) => ImageLoadObject): void;
    getViewport(element: HTMLElement): Viewport | undefined;
    setViewport(element: HTMLElement, viewport: Partial<Viewport>): void;
    getDefaultViewportForImage(element: HTMLElement, image: Image): Viewport;
    resize(element: HTMLElement, forceFitToWindow?: boolean): void;
    pageToPixel(element: HTMLElement, pageX: number, pageY: number): Point;
    pixelToCanvas(element: HTMLElement, point: Point): Point;
    imageCache: {
      setMaximumSizeBytes(bytes: number): void;
      purgeCache(): void;
      getCacheInfo(): CacheInfo;
    };
    EVENTS: { IMAGE_RENDERED: string };
  }
  const cornerstone: Cornerstone;
  export default cornerstone;
}
