// Synthetic road scenes with exact ground truth, for Fovea's sample library and the
// test fixtures: images, COCO boxes, a per-image class and per-pixel masks.
//
// Drawing is a tiny rasteriser of our own (no canvas package: it would be a native
// dependency for a few rectangles). A pixel belongs to a shape when its centre lies
// inside it; there is no anti-aliasing, so every image pixel has exactly one class
// and one owner, and boxes computed from the owner buffer are exact. Objects are
// painted far to near (painter's algorithm), so nearer ones occlude farther ones, and
// each box is tight around the object's *visible* pixels (as COCO boxes are: they
// derive from the visible segmentation).
//
// Perspective: a flat road toward a vanishing point on the horizon. With t the
// fraction of the way from the horizon to the bottom edge, the ground at t is 1/t
// times farther than at the bottom, so sizes scale with t.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { createRandom, type SeededRandom } from './seeded-random';

export interface SyntheticRoadOptions {
  count: number;
  width: number;
  height: number;
  seed: number;
  /** Image format. Default 'png' (lossless); masks are always PNG. */
  format?: 'png' | 'jpeg';
}

/** Semantic mask values (index = value in masks/*.png). */
export const ROAD_CLASSES = [
  'background',
  'road',
  'car',
  'pedestrian',
  'sign',
  'sidewalk',
  'building',
  'vegetation',
  'sky',
  'pole',
] as const;
export type RoadClass = (typeof ROAD_CLASSES)[number];
const C = Object.fromEntries(ROAD_CLASSES.map((name, i) => [name, i])) as Record<RoadClass, number>;

export type RoadCategoryName = 'car' | 'pedestrian' | 'sign';
export interface CocoCategory {
  id: number;
  name: RoadCategoryName;
  supercategory: string;
}
export const ROAD_CATEGORIES: readonly CocoCategory[] = [
  { id: 1, name: 'car', supercategory: 'vehicle' },
  { id: 2, name: 'pedestrian', supercategory: 'person' },
  { id: 3, name: 'sign', supercategory: 'traffic' },
];
const CATEGORY_ID: Record<RoadCategoryName, number> = { car: 1, pedestrian: 2, sign: 3 };
/** The semantic class value of each box category. */
export const ROAD_CATEGORY_CLASS: Record<RoadCategoryName, number> = { car: C.car, pedestrian: C.pedestrian, sign: C.sign };

/** Fewer visible pixels than this and an object gets no box (its pixels keep their class). */
export const MIN_VISIBLE_PIXELS = 12;

export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  /** [x, y, width, height] in pixels, covering whole pixels: x..x+w-1 are inside. */
  bbox: [number, number, number, number];
  /** Visible pixel count. */
  area: number;
  iscrowd: 0;
  /** Uncompressed RLE (column-major), as pycocotools reads it. */
  segmentation: { counts: number[]; size: [number, number] };
}
export interface CocoImage {
  id: number;
  /** Relative to the folder of annotations.coco.json. */
  file_name: string;
  width: number;
  height: number;
}
export interface CocoDataset {
  info: { description: string; version: string; year: number; contributor: string };
  licenses: { id: number; name: string; url: string }[];
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: CocoCategory[];
}

export interface SyntheticRoadObject {
  annotationId: number;
  category: RoadCategoryName;
  /** Value of this object's pixels in instances/*.png (1..255). */
  instanceValue: number;
  bbox: [number, number, number, number];
  area: number;
}
export interface SyntheticRoadImage {
  id: number;
  /** Paths relative to the output folder, '/'-separated. */
  file: string;
  /** Semantic mask: 8-bit PNG, values index ROAD_CLASSES. */
  mask: string;
  /** Instance mask: 8-bit PNG, 0 none, else SyntheticRoadObject.instanceValue. */
  instances: string;
  width: number;
  height: number;
  /** Image-level class for classification. */
  label: 'pedestrian' | 'no_pedestrian';
  objects: SyntheticRoadObject[];
}
export interface SyntheticRoadManifest {
  kind: 'fovea-synthetic-road';
  version: 1;
  seed: number;
  options: Required<SyntheticRoadOptions>;
  classes: Record<string, string>;
  categories: readonly CocoCategory[];
  /** Relative to the output folder. */
  annotationsFile: string;
  /** file,label,has_car,has_pedestrian,has_sign */
  classificationFile: string;
  images: SyntheticRoadImage[];
}

const MANIFEST_KIND = 'fovea-synthetic-road';

// ---------------------------------------------------------------------------------
// The rasteriser.

type RGB = [number, number, number];
type Point = [number, number];
/** Either a solid fill that sets class and owner, or a shade that only darkens. */
type Paint = { rgb: RGB; cls: number; inst: number } | { shade: number };

class Raster {
  readonly rgb: Float32Array;
  readonly cls: Uint8Array;
  readonly inst: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.rgb = new Float32Array(width * height * 3);
    this.cls = new Uint8Array(width * height);
    this.inst = new Uint8Array(width * height);
  }

  /** Pixels of row y whose centres x+0.5 lie in [xl, xr]. */
  private span(y: number, xl: number, xr: number, p: Paint): void {
    if (y < 0 || y >= this.height) return;
    const a = Math.max(0, Math.ceil(xl - 0.5));
    const b = Math.min(this.width - 1, Math.floor(xr - 0.5));
    const rgb = this.rgb;
    if ('shade' in p) {
      for (let j = (y * this.width + a) * 3; j <= (y * this.width + b) * 3 + 2; j++) rgb[j] = (rgb[j] ?? 0) * p.shade;
      return;
    }
    const [cr, cg, cb] = p.rgb;
    for (let x = a; x <= b; x++) {
      const i = y * this.width + x;
      rgb[i * 3] = cr;
      rgb[i * 3 + 1] = cg;
      rgb[i * 3 + 2] = cb;
    }
    if (b >= a) {
      this.cls.fill(p.cls, y * this.width + a, y * this.width + b + 1);
      this.inst.fill(p.inst, y * this.width + a, y * this.width + b + 1);
    }
  }

  private rows(y0: number, y1: number): [number, number] {
    return [Math.max(0, Math.ceil(y0 - 0.5)), Math.min(this.height - 1, Math.floor(y1 - 0.5))];
  }

  rect(x0: number, y0: number, x1: number, y1: number, p: Paint): void {
    const [a, b] = this.rows(Math.min(y0, y1), Math.max(y0, y1));
    for (let y = a; y <= b; y++) this.span(y, Math.min(x0, x1), Math.max(x0, x1), p);
  }

  ellipse(cx: number, cy: number, rx: number, ry: number, p: Paint): void {
    if (rx <= 0 || ry <= 0) return;
    const [a, b] = this.rows(cy - ry, cy + ry);
    for (let y = a; y <= b; y++) {
      const dy = (y + 0.5 - cy) / ry;
      if (dy * dy > 1) continue;
      const half = rx * Math.sqrt(1 - dy * dy);
      this.span(y, cx - half, cx + half, p);
    }
  }

  /** Even-odd scanline fill; fine for the convex and simple shapes drawn here. */
  polygon(points: readonly Point[], p: Paint): void {
    if (points.length < 3) return;
    let minY = Infinity;
    let maxY = -Infinity;
    for (const [, y] of points) {
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
    }
    const [a, b] = this.rows(minY, maxY);
    const xs: number[] = [];
    for (let y = a; y <= b; y++) {
      const yc = y + 0.5;
      xs.length = 0;
      for (let i = 0; i < points.length; i++) {
        const [x1, y1] = points[i] as Point;
        const [x2, y2] = points[(i + 1) % points.length] as Point;
        if (y1 <= yc !== y2 <= yc) xs.push(x1 + ((yc - y1) / (y2 - y1)) * (x2 - x1));
      }
      xs.sort((u, v) => u - v);
      for (let k = 0; k + 1 < xs.length; k += 2) this.span(y, xs[k] as number, xs[k + 1] as number, p);
    }
  }

  line(x0: number, y0: number, x1: number, y1: number, width: number, p: Paint): void {
    const len = Math.hypot(x1 - x0, y1 - y0);
    if (len === 0) return;
    const nx = ((y0 - y1) / len) * (width / 2);
    const ny = ((x1 - x0) / len) * (width / 2);
    this.polygon(
      [
        [x0 + nx, y0 + ny],
        [x1 + nx, y1 + ny],
        [x1 - nx, y1 - ny],
        [x0 - nx, y0 - ny],
      ],
      p,
    );
  }
}

// ---------------------------------------------------------------------------------
// Scenes.

const fill = (rgb: RGB, cls: number, inst = 0): Paint => ({ rgb, cls, inst });
const jitter = (rng: SeededRandom, c: RGB, amount: number): RGB => [
  c[0] + rng.uniform(-amount, amount),
  c[1] + rng.uniform(-amount, amount),
  c[2] + rng.uniform(-amount, amount),
];
const lerp = (a: number, b: number, t: number): number => a + (b - a) * t;

const CAR_COLOURS: RGB[] = [
  [200, 30, 30],
  [30, 60, 160],
  [230, 230, 230],
  [25, 25, 28],
  [120, 120, 125],
  [200, 170, 40],
  [40, 120, 70],
  [170, 90, 30],
];
const CLOTHES: RGB[] = [
  [40, 40, 90],
  [150, 30, 40],
  [30, 30, 30],
  [200, 200, 190],
  [60, 110, 60],
  [210, 130, 40],
  [90, 60, 120],
];
const SKIN: RGB[] = [
  [235, 195, 160],
  [200, 150, 110],
  [140, 95, 65],
  [90, 60, 40],
];

interface Geometry {
  w: number;
  h: number;
  horizon: number;
  vx: number;
  /** Road centre at the bottom edge. */
  bx: number;
  topHalf: number;
  bottomHalf: number;
  sidewalk: number;
  /** Pixels per metre at t = 1. */
  ppm1: number;
}
const yAt = (g: Geometry, t: number): number => g.horizon + t * (g.h - g.horizon);
const roadCentre = (g: Geometry, t: number): number => lerp(g.vx, g.bx, t);
const roadHalf = (g: Geometry, t: number): number => lerp(g.topHalf, g.bottomHalf, t);
/** x of a point `f` of the way across the road (0 left edge, 1 right edge; <0 or >1 beside it). */
const acrossRoad = (g: Geometry, t: number, f: number): number => roadCentre(g, t) + (2 * f - 1) * roadHalf(g, t);

interface Item {
  /** Depth key: bigger is nearer, painted later. */
  t: number;
  draw(r: Raster, inst: number): void;
  category: RoadCategoryName | null;
}

function drawCar(rng: SeededRandom, g: Geometry, t: number, x: number): Item['draw'] {
  const ppm = g.ppm1 * t;
  const w = 1.8 * ppm * rng.uniform(0.9, 1.12);
  const h = 1.45 * ppm * rng.uniform(0.9, 1.15);
  const y = yAt(g, t);
  const body = jitter(rng, rng.pick(CAR_COLOURS), 12);
  const glass: RGB = jitter(rng, [55, 70, 85], 10);
  const tyre: RGB = [18, 18, 20];
  const light: RGB = rng.bool(0.5) ? [220, 30, 30] : [240, 230, 190];
  const cabinTop = rng.uniform(0.65, 0.8);
  return (r, inst) => {
    // Shadow on the road first: it darkens whatever is under the car.
    r.ellipse(x, y - 0.02 * h, 0.62 * w, 0.08 * h, { shade: 0.55 });
    const car = (c: RGB): Paint => fill(c, C.car, inst);
    r.rect(x - 0.46 * w, y - 0.22 * h, x - 0.26 * w, y, car(tyre));
    r.rect(x + 0.26 * w, y - 0.22 * h, x + 0.46 * w, y, car(tyre));
    r.rect(x - w / 2, y - 0.62 * h, x + w / 2, y - 0.12 * h, car(body));
    r.polygon(
      [
        [x - 0.42 * w, y - 0.6 * h],
        [x + 0.42 * w, y - 0.6 * h],
        [x + 0.34 * w, y - h * cabinTop - 0.2 * h],
        [x - 0.34 * w, y - h * cabinTop - 0.2 * h],
      ],
      car(body),
    );
    r.polygon(
      [
        [x - 0.36 * w, y - 0.63 * h],
        [x + 0.36 * w, y - 0.63 * h],
        [x + 0.3 * w, y - h * cabinTop - 0.15 * h],
        [x - 0.3 * w, y - h * cabinTop - 0.15 * h],
      ],
      car(glass),
    );
    r.rect(x - 0.48 * w, y - 0.52 * h, x - 0.36 * w, y - 0.42 * h, car(light));
    r.rect(x + 0.36 * w, y - 0.52 * h, x + 0.48 * w, y - 0.42 * h, car(light));
    r.rect(x - 0.15 * w, y - 0.3 * h, x + 0.15 * w, y - 0.22 * h, car([230, 230, 220]));
  };
}

function drawPedestrian(rng: SeededRandom, g: Geometry, t: number, x: number): Item['draw'] {
  const ppm = g.ppm1 * t;
  const h = 1.72 * ppm * rng.uniform(0.85, 1.1);
  const y = yAt(g, t);
  const skin = jitter(rng, rng.pick(SKIN), 8);
  const top = jitter(rng, rng.pick(CLOTHES), 15);
  const legs = jitter(rng, rng.pick(CLOTHES), 15);
  const stride = rng.uniform(0, 0.12) * h;
  const facing = rng.bool() ? 1 : -1;
  return (r, inst) => {
    const ped = (c: RGB): Paint => fill(c, C.pedestrian, inst);
    const legW = Math.max(1, 0.07 * h);
    r.line(x - 0.04 * h, y - 0.48 * h, x - 0.04 * h - stride * facing, y, legW, ped(legs));
    r.line(x + 0.04 * h, y - 0.48 * h, x + 0.04 * h + stride * facing, y, legW, ped(legs));
    r.rect(x - 0.11 * h, y - 0.82 * h, x + 0.11 * h, y - 0.45 * h, ped(top));
    const armW = Math.max(1, 0.05 * h);
    r.line(x - 0.12 * h, y - 0.8 * h, x - 0.14 * h + stride * 0.6 * facing, y - 0.5 * h, armW, ped(top));
    r.line(x + 0.12 * h, y - 0.8 * h, x + 0.14 * h - stride * 0.6 * facing, y - 0.5 * h, armW, ped(top));
    r.ellipse(x, y - 0.9 * h, 0.065 * h, 0.08 * h, ped(skin));
  };
}

function drawSign(rng: SeededRandom, g: Geometry, t: number, x: number): Item['draw'] {
  const ppm = g.ppm1 * t;
  const y = yAt(g, t);
  const poleH = rng.uniform(2.0, 2.6) * ppm;
  const face = rng.uniform(0.7, 0.95) * ppm;
  const kind = rng.pick(['prohibitory', 'warning', 'mandatory'] as const);
  return (r, inst) => {
    // The pole is its own class and owns no box: sign boxes cover the face only.
    r.rect(x - Math.max(0.5, 0.04 * ppm), y - poleH, x + Math.max(0.5, 0.04 * ppm), y, fill([110, 110, 115], C.pole));
    const cy = y - poleH - face / 2 + 0.05 * ppm;
    const sign = (c: RGB): Paint => fill(c, C.sign, inst);
    if (kind === 'warning') {
      const tri = (s: number): Point[] => [
        [x, cy - (face / 2) * s],
        [x + (face / 2) * s, cy + (face / 2) * s * 0.8],
        [x - (face / 2) * s, cy + (face / 2) * s * 0.8],
      ];
      r.polygon(tri(1), sign([200, 25, 30]));
      r.polygon(tri(0.65), sign([245, 240, 230]));
    } else if (kind === 'prohibitory') {
      r.ellipse(x, cy, face / 2, face / 2, sign([200, 25, 30]));
      r.ellipse(x, cy, face * 0.36, face * 0.36, sign([245, 240, 230]));
      r.rect(x - face * 0.15, cy - face * 0.12, x + face * 0.15, cy + face * 0.12, sign([30, 30, 30]));
    } else {
      r.ellipse(x, cy, face / 2, face / 2, sign([30, 80, 180]));
      r.line(x - face * 0.2, cy + face * 0.2, x + face * 0.2, cy - face * 0.2, Math.max(1, face * 0.12), sign([240, 240, 240]));
    }
  };
}

function drawTree(rng: SeededRandom, g: Geometry, t: number, x: number): Item['draw'] {
  const ppm = g.ppm1 * t;
  const y = yAt(g, t);
  const trunkH = rng.uniform(1.8, 3) * ppm;
  const crown = rng.uniform(1.2, 2.2) * ppm;
  const green = jitter(rng, [50, 110, 45], 20);
  return (r) => {
    r.rect(x - 0.15 * ppm, y - trunkH, x + 0.15 * ppm, y, fill([90, 65, 40], C.vegetation));
    r.ellipse(x, y - trunkH - crown * 0.7, crown * 0.85, crown, fill(green, C.vegetation));
    r.ellipse(x - crown * 0.3, y - trunkH - crown * 0.9, crown * 0.4, crown * 0.35, fill(jitter(rng, green, 10), C.vegetation));
  };
}

interface RenderedScene {
  rgb: Uint8Array;
  cls: Uint8Array;
  inst: Uint8Array;
  objects: { category: RoadCategoryName; instanceValue: number; bbox: [number, number, number, number]; area: number }[];
}

/** Standard-normal values, 2^18 of them, drawn once per run from the seed. */
function noiseTable(rng: SeededRandom): Float32Array {
  const table = new Float32Array(1 << 18);
  for (let i = 0; i < table.length; i++) table[i] = rng.normal();
  return table;
}

function renderScene(rng: SeededRandom, w: number, h: number, noise: Float32Array): RenderedScene {
  const r = new Raster(w, h);
  const lanes = rng.int(2, 4);
  const laneM = 3.5;
  const g: Geometry = {
    w,
    h,
    horizon: h * rng.uniform(0.36, 0.5),
    vx: w * rng.uniform(0.38, 0.62),
    bx: w * rng.uniform(0.4, 0.6),
    topHalf: w * rng.uniform(0.005, 0.02),
    // Narrow enough that the sidewalks (where signs and most pedestrians are) stay in view.
    bottomHalf: w * rng.uniform(0.32, 0.5),
    sidewalk: rng.uniform(0.25, 0.45),
    ppm1: 0,
  };
  g.ppm1 = (2 * g.bottomHalf) / (lanes * laneM);

  // Sky: a vertical gradient whose colours set the time of day.
  const skies: [RGB, RGB][] = [
    [
      [70, 125, 200],
      [175, 205, 235],
    ],
    [
      [140, 145, 155],
      [195, 198, 202],
    ],
    [
      [70, 65, 120],
      [235, 160, 110],
    ],
  ];
  const [skyTop, skyBottom] = rng.pick(skies);
  for (let y = 0; y < Math.ceil(g.horizon); y++) {
    const k = y / g.horizon;
    r.rect(0, y, w, y + 1, fill([lerp(skyTop[0], skyBottom[0], k), lerp(skyTop[1], skyBottom[1], k), lerp(skyTop[2], skyBottom[2], k)], C.sky));
  }
  r.rect(0, g.horizon, w, h, fill(jitter(rng, rng.pick<RGB>([[95, 120, 60], [120, 110, 85], [85, 100, 70]]), 10), C.background));

  // Buildings: facades parallel to the road, beyond the sidewalks, receding to the horizon.
  for (const side of [-1, 1]) {
    let t0 = rng.uniform(0.02, 0.05);
    while (t0 < 1.3) {
      const t1 = t0 * rng.uniform(1.4, 2.2);
      if (rng.bool(0.8)) {
        const heightM = rng.uniform(6, 22);
        const f = side < 0 ? -g.sidewalk - rng.uniform(0.05, 0.3) : 1 + g.sidewalk + rng.uniform(0.05, 0.3);
        const corner = (t: number, up: number): Point => [acrossRoad(g, t, f), yAt(g, t) - up * heightM * g.ppm1 * t];
        const colour = jitter(rng, rng.pick<RGB>([[170, 150, 130], [140, 140, 150], [190, 180, 160], [120, 90, 80]]), 15);
        const facade: Point[] = [corner(t0, 0), corner(t1, 0), corner(t1, 1), corner(t0, 1)];
        r.polygon(facade, fill(colour, C.building));
        // Windows: a grid in facade coordinates (u along the road, v up).
        const windowColour = jitter(rng, [60, 75, 95], 15);
        const floors = Math.max(1, Math.floor(heightM / 3));
        const columns = rng.int(2, 5);
        for (let fl = 0; fl < floors; fl++) {
          for (let c = 0; c < columns; c++) {
            const u0 = (c + 0.25) / columns;
            const u1 = (c + 0.75) / columns;
            const v0 = (fl + 0.3) / floors;
            const v1 = (fl + 0.75) / floors;
            const at = (u: number, v: number): Point => corner(lerp(t0, t1, u), v);
            r.polygon([at(u0, v0), at(u1, v0), at(u1, v1), at(u0, v1)], fill(windowColour, C.building));
          }
        }
      }
      t0 = t1;
    }
  }

  // Sidewalks, then the road over them.
  const sidewalkColour = jitter(rng, [165, 160, 150], 12);
  const poly = (f0: number, f1: number): Point[] => [
    [acrossRoad(g, 0, f0), yAt(g, 0)],
    [acrossRoad(g, 0, f1), yAt(g, 0)],
    [acrossRoad(g, 1.5, f1), yAt(g, 1.5)],
    [acrossRoad(g, 1.5, f0), yAt(g, 1.5)],
  ];
  r.polygon(poly(-g.sidewalk, 0), fill(sidewalkColour, C.sidewalk));
  r.polygon(poly(1, 1 + g.sidewalk), fill(sidewalkColour, C.sidewalk));
  const asphalt = jitter(rng, [80, 80, 84], 12);
  r.polygon(poly(0, 1), fill(asphalt, C.road));

  // Lane markings, part of the road class. Dashes are evenly spaced in distance (1/t).
  const paint: RGB = [235, 235, 225];
  const markM = 0.15;
  const edge = (f: number): void => {
    r.polygon(
      [
        [acrossRoad(g, 0, f) - 0.01, yAt(g, 0)],
        [acrossRoad(g, 0, f) + 0.01, yAt(g, 0)],
        [acrossRoad(g, 1.5, f) + markM * g.ppm1 * 0.75, yAt(g, 1.5)],
        [acrossRoad(g, 1.5, f) - markM * g.ppm1 * 0.75, yAt(g, 1.5)],
      ],
      fill(paint, C.road),
    );
  };
  edge(0.02);
  edge(0.98);
  const period = rng.uniform(0.5, 0.9);
  const dash = period * rng.uniform(0.35, 0.55);
  const phase = rng.uniform(0, period);
  for (let lane = 1; lane < lanes; lane++) {
    const f = lane / lanes;
    for (let d = 0.6 + phase; d < 40; d += period) {
      const tn = 1 / d;
      const tf = 1 / (d + dash);
      const half = (t: number): number => (markM / 2) * g.ppm1 * t;
      r.polygon(
        [
          [acrossRoad(g, tn, f) - half(tn), yAt(g, tn)],
          [acrossRoad(g, tn, f) + half(tn), yAt(g, tn)],
          [acrossRoad(g, tf, f) + half(tf), yAt(g, tf)],
          [acrossRoad(g, tf, f) - half(tf), yAt(g, tf)],
        ],
        fill(paint, C.road),
      );
    }
  }

  // Objects and trees, far to near.
  const items: Item[] = [];
  // Smallest depth at which a thing of `sizeM` metres is still `px` pixels.
  const tFor = (sizeM: number, px: number): number => Math.min(0.9, px / (sizeM * g.ppm1));
  const carCount = rng.int(0, 5);
  // Distance along the road in metres, taking the bottom edge as ~6 m ahead. Two cars
  // in one lane keep a car's length apart: occlusion yes, cars inside cars no.
  const ahead = (t: number): number => 6 / t;
  const placedCars: { lane: number; t: number }[] = [];
  for (let k = 0; k < carCount; k++) {
    for (let attempt = 0; attempt < 20; attempt++) {
      const t = rng.uniform(tFor(1.8, 9), 1.1);
      const lane = rng.int(0, lanes - 1);
      if (placedCars.some((c) => c.lane === lane && Math.abs(ahead(c.t) - ahead(t)) < 5.5)) continue;
      placedCars.push({ lane, t });
      const x = acrossRoad(g, t, (lane + 0.5 + rng.uniform(-0.12, 0.12)) / lanes);
      items.push({ t, category: 'car', draw: drawCar(rng, g, t, x) });
      break;
    }
  }
  const pedCount = rng.bool(0.5) ? rng.int(1, 3) : 0;
  for (let k = 0; k < pedCount; k++) {
    const t = rng.uniform(tFor(1.7, 14), 1.0);
    // Mostly on a sidewalk, sometimes crossing the road.
    const f = rng.bool(0.75)
      ? rng.bool()
        ? -rng.uniform(0.1, 0.9) * g.sidewalk
        : 1 + rng.uniform(0.1, 0.9) * g.sidewalk
      : rng.uniform(0.1, 0.9);
    items.push({ t, category: 'pedestrian', draw: drawPedestrian(rng, g, t, acrossRoad(g, t, f)) });
  }
  const signCount = rng.int(0, 2);
  for (let k = 0; k < signCount; k++) {
    const t = rng.uniform(tFor(0.8, 7), 1.05);
    const f = rng.bool() ? -g.sidewalk * rng.uniform(0.15, 0.6) : 1 + g.sidewalk * rng.uniform(0.15, 0.6);
    items.push({ t, category: 'sign', draw: drawSign(rng, g, t, acrossRoad(g, t, f)) });
  }
  const treeCount = rng.int(0, 4);
  for (let k = 0; k < treeCount; k++) {
    const t = rng.uniform(0.08, 1);
    const f = rng.bool() ? -g.sidewalk * rng.uniform(0.85, 1.1) : 1 + g.sidewalk * rng.uniform(0.85, 1.1);
    items.push({ t, category: null, draw: drawTree(rng, g, t, acrossRoad(g, t, f)) });
  }
  // Stable sort by depth; ties keep creation order, so the result is deterministic.
  items.sort((a, b) => a.t - b.t);
  const owners: RoadCategoryName[] = [];
  for (const item of items) {
    if (item.category) {
      owners.push(item.category);
      item.draw(r, owners.length); // at most 5 + 3 + 2 objects: fits in 8 bits
    } else {
      item.draw(r, 0);
    }
  }

  // Boxes from the owner buffer, i.e. from the pixels that stayed visible.
  const n = owners.length;
  const minX = new Array<number>(n + 1).fill(Infinity);
  const minY = new Array<number>(n + 1).fill(Infinity);
  const maxX = new Array<number>(n + 1).fill(-1);
  const maxY = new Array<number>(n + 1).fill(-1);
  const area = new Array<number>(n + 1).fill(0);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const k = r.inst[y * w + x] ?? 0;
      if (k === 0) continue;
      area[k] = (area[k] ?? 0) + 1;
      if (x < (minX[k] ?? Infinity)) minX[k] = x;
      if (x > (maxX[k] ?? -1)) maxX[k] = x;
      if (y < (minY[k] ?? Infinity)) minY[k] = y;
      if (y > (maxY[k] ?? -1)) maxY[k] = y;
    }
  }
  // Renumber the kept objects 1..m in painting order; drop the nearly hidden ones.
  const remap = new Uint8Array(n + 1);
  const objects: RenderedScene['objects'] = [];
  for (let k = 1; k <= n; k++) {
    if ((area[k] ?? 0) < MIN_VISIBLE_PIXELS) continue;
    const value = objects.length + 1;
    remap[k] = value;
    const x0 = minX[k] ?? 0;
    const y0 = minY[k] ?? 0;
    objects.push({
      category: owners[k - 1] as RoadCategoryName,
      instanceValue: value,
      bbox: [x0, y0, (maxX[k] ?? 0) - x0 + 1, (maxY[k] ?? 0) - y0 + 1],
      area: area[k] ?? 0,
    });
  }
  for (let i = 0; i < r.inst.length; i++) r.inst[i] = remap[r.inst[i] ?? 0] ?? 0;

  // Lighting and sensor noise, so a model cannot key on exact colours.
  const gain = rng.uniform(0.72, 1.2);
  const tint: RGB = [rng.uniform(0.93, 1.07), rng.uniform(0.93, 1.07), rng.uniform(0.93, 1.07)];
  const gx = rng.uniform(-0.25, 0.25);
  const gy = rng.uniform(-0.15, 0.15);
  const sigma = rng.uniform(2, 7);
  // Noise comes from the shared table, read from a random start with a random odd
  // stride (a permutation of the table): a fresh Gaussian per pixel was most of the
  // generation time.
  const mask = noise.length - 1;
  let lumaAt = rng.int(0, mask);
  const lumaStep = rng.int(0, mask >> 1) * 2 + 1;
  let chromaAt = rng.int(0, mask);
  const chromaStep = rng.int(0, mask >> 1) * 2 + 1;
  const out = new Uint8Array(w * h * 3);
  const rgb = r.rgb;
  for (let y = 0; y < h; y++) {
    const fy = gain * (1 + gy * (y / h - 0.5));
    for (let x = 0; x < w; x++) {
      const light = fy * (1 + gx * (x / w - 0.5));
      const luma = sigma * (noise[lumaAt] ?? 0);
      lumaAt = (lumaAt + lumaStep) & mask;
      const i = (y * w + x) * 3;
      for (let c = 0; c < 3; c++) {
        // Chroma noise: about +-2 levels per channel.
        const v = (rgb[i + c] ?? 0) * light * (tint[c] ?? 1) + luma + 1.2 * (noise[chromaAt] ?? 0);
        chromaAt = (chromaAt + chromaStep) & mask;
        out[i + c] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
      }
    }
  }
  return { rgb: out, cls: r.cls, inst: r.inst, objects };
}

/** COCO uncompressed RLE: run lengths over the column-major mask, starting with a 0-run. */
function rleOf(inst: Uint8Array, w: number, h: number, value: number): number[] {
  const counts: number[] = [];
  let current = 0;
  let run = 0;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      const bit = inst[y * w + x] === value ? 1 : 0;
      if (bit === current) run++;
      else {
        counts.push(run);
        current = bit;
        run = 1;
      }
    }
  }
  counts.push(run);
  return counts;
}

// ---------------------------------------------------------------------------------

async function prepareOutDir(outDir: string, kind: string): Promise<void> {
  if (existsSync(outDir)) {
    const entries = await readdir(outDir);
    if (entries.length > 0) {
      let previousKind: unknown;
      try {
        previousKind = (JSON.parse(await readFile(join(outDir, 'manifest.json'), 'utf8')) as { kind?: unknown }).kind;
      } catch {
        previousKind = undefined;
      }
      if (previousKind !== kind) {
        throw new Error(`refusing to write sample data into ${outDir}: not empty and not an earlier ${kind} output`);
      }
      for (const e of entries) await rm(join(outDir, e), { recursive: true, force: true });
    }
  }
  await mkdir(outDir, { recursive: true });
  // Mark the folder as ours first, so a run that fails half-way can be cleared by the next.
  await writeFile(join(outDir, 'manifest.json'), `${JSON.stringify({ kind, complete: false })}\n`);
}

function checkOptions(o: Required<SyntheticRoadOptions>): void {
  if (!Number.isInteger(o.count) || o.count < 1 || o.count > 99_999) throw new RangeError(`count must be an integer in 1..99999, got ${o.count}`);
  for (const [name, v] of [['width', o.width], ['height', o.height]] as const) {
    if (!Number.isInteger(v) || v < 32 || v > 4096) throw new RangeError(`${name} must be an integer in 32..4096, got ${v}`);
  }
  if (!Number.isFinite(o.seed)) throw new RangeError('seed must be a finite number');
  if (o.format !== 'png' && o.format !== 'jpeg') throw new RangeError(`format must be png or jpeg, got ${String(o.format)}`);
}

// Fixed encoder settings: the bytes must be identical between runs.
function encodeGrey(data: Uint8Array, w: number, h: number): Promise<Buffer> {
  // toColourspace('b-w'): without it sharp writes a one-channel raw buffer as RGB.
  return sharp(data, { raw: { width: w, height: h, channels: 1 } })
    .toColourspace('b-w')
    .png({ compressionLevel: 6, adaptiveFiltering: false, palette: false })
    .toBuffer();
}
function encodeRgb(data: Uint8Array, w: number, h: number, format: 'png' | 'jpeg'): Promise<Buffer> {
  const s = sharp(data, { raw: { width: w, height: h, channels: 3 } });
  return format === 'png'
    ? s.png({ compressionLevel: 3, adaptiveFiltering: false, palette: false }).toBuffer()
    : s.jpeg({ quality: 90, chromaSubsampling: '4:2:0', mozjpeg: false }).toBuffer();
}

/**
 * Write `count` road scenes into outDir:
 *   images/scene_0001.png        the picture (or .jpg)
 *   masks/scene_0001.png         semantic classes (ROAD_CLASSES), 8-bit
 *   instances/scene_0001.png     object ids (0 none), 8-bit, matching the manifest
 *   annotations.coco.json        boxes (car, pedestrian, sign), file_name relative to it
 *   classification.csv           file,label,has_car,has_pedestrian,has_sign
 *   classes.json, manifest.json
 * Scene i depends only on (seed, i).
 */
/** `onImage(done, total)` follows the scenes as they are written (the sample library's progress bar). */
export async function writeSyntheticRoadScenes(outDir: string, options: SyntheticRoadOptions, onImage?: (done: number, total: number) => void): Promise<SyntheticRoadManifest> {
  const o: Required<SyntheticRoadOptions> = {
    count: options.count,
    width: options.width,
    height: options.height,
    seed: options.seed,
    format: options.format ?? 'png',
  };
  checkOptions(o);
  await prepareOutDir(outDir, MANIFEST_KIND);
  for (const sub of ['images', 'masks', 'instances']) await mkdir(join(outDir, sub), { recursive: true });

  const root = createRandom(`road/${o.seed}`);
  const noise = noiseTable(root.fork('noise'));
  const ext = o.format === 'png' ? 'png' : 'jpg';
  const images: SyntheticRoadImage[] = [];
  const coco: CocoDataset = {
    info: { description: 'Fovea synthetic road scenes', version: '1', year: 2024, contributor: 'Fovea sample-data generator' },
    licenses: [{ id: 1, name: 'Synthetic data generated by Fovea; no third-party content', url: '' }],
    images: [],
    annotations: [],
    categories: ROAD_CATEGORIES.map((c) => ({ ...c })),
  };
  const csv = ['file,label,has_car,has_pedestrian,has_sign'];

  // Encoding runs on sharp's threads; keep a few scenes in flight so rendering (on
  // this thread) overlaps with it, without holding hundreds of buffers at once.
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let written = 0;
  for (let i = 0; i < o.count; i++) {
    const scene = renderScene(root.fork(`scene/${i}`), o.width, o.height, noise);
    const id = i + 1;
    const stem = `scene_${String(id).padStart(4, '0')}`;
    const file = `images/${stem}.${ext}`;
    const mask = `masks/${stem}.png`;
    const instances = `instances/${stem}.png`;
    const objects: SyntheticRoadObject[] = [];
    for (const obj of scene.objects) {
      const annotationId = coco.annotations.length + 1;
      coco.annotations.push({
        id: annotationId,
        image_id: id,
        category_id: CATEGORY_ID[obj.category],
        bbox: obj.bbox,
        area: obj.area,
        iscrowd: 0,
        segmentation: { counts: rleOf(scene.inst, o.width, o.height, obj.instanceValue), size: [o.height, o.width] },
      });
      objects.push({ annotationId, ...obj });
    }
    const has = (c: RoadCategoryName): boolean => objects.some((ob) => ob.category === c);
    const label = has('pedestrian') ? 'pedestrian' : 'no_pedestrian';
    images.push({ id, file, mask, instances, width: o.width, height: o.height, label, objects });
    coco.images.push({ id, file_name: file, width: o.width, height: o.height });
    csv.push([file, label, has('car') ? 1 : 0, has('pedestrian') ? 1 : 0, has('sign') ? 1 : 0].join(','));

    const job: Promise<void> = (async () => {
      const [img, sem, ins] = await Promise.all([
        encodeRgb(scene.rgb, o.width, o.height, o.format),
        encodeGrey(scene.cls, o.width, o.height),
        encodeGrey(scene.inst, o.width, o.height),
      ]);
      await Promise.all([
        writeFile(join(outDir, file), img),
        writeFile(join(outDir, mask), sem),
        writeFile(join(outDir, instances), ins),
      ]);
      onImage?.(++written, o.count);
    })()
      .catch((e: unknown) => {
        failure ??= e;
      })
      .finally(() => inFlight.delete(job));
    inFlight.add(job);
    if (inFlight.size >= 4) await Promise.race(inFlight);
    if (failure !== undefined) break;
  }
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure;

  const classes = Object.fromEntries(ROAD_CLASSES.map((name, i) => [String(i), name]));
  await writeFile(join(outDir, 'annotations.coco.json'), `${JSON.stringify(coco)}\n`);
  await writeFile(join(outDir, 'classification.csv'), `${csv.join('\n')}\n`);
  await writeFile(join(outDir, 'classes.json'), `${JSON.stringify(classes, null, 2)}\n`);
  const manifest: SyntheticRoadManifest = {
    kind: MANIFEST_KIND,
    version: 1,
    seed: o.seed,
    options: o,
    classes,
    categories: ROAD_CATEGORIES,
    annotationsFile: 'annotations.coco.json',
    classificationFile: 'classification.csv',
    images,
  };
  await writeFile(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
