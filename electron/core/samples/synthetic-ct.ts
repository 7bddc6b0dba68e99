// A synthetic CT-like chest series per patient, written as real Part-10 DICOM files,
// with per-slice lesion masks, for Fovea's sample library and the test fixtures.
//
// The anatomy is a phantom scaled to the image (not to a real chest): at the default
// 0.8 mm pixel spacing a 128-pixel slice is a 10 cm field of view. Lesions are spheres
// sized in millimetres (3-10 mm radius), so they stay 4-25 pixels across whatever the
// image size, which is what a small demo model needs to see them.
//
// Pixel encoding (one choice, kept everywhere): stored value = HU + 1024, stored as
// signed 16-bit (PixelRepresentation 1, BitsStored 16), RescaleIntercept -1024,
// RescaleSlope 1. A reader that skips the rescale is off by 1024 HU (easy to catch in
// tests); noise in air dips below 0 stored, so signed decoding is exercised as well.
//
// Everything is derived from the seed: pixel values, UIDs (2.25.<UUIDv5 as integer>),
// dates. No clock, no random UUIDs: the same seed gives byte-identical files.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { createRandom, type SeededRandom } from './seeded-random';
import { dcmjs, el, type DcmDict } from '../dicom/dcmjs';

export interface SyntheticCtOptions {
  patients: number;
  slicesPerSeries: number;
  /** Rows = Columns. */
  size: number;
  seed: number;
  /** Default 0.8 mm. */
  pixelSpacingMm?: number;
  /** Also the z step between slices. Default 2.5 mm. */
  sliceThicknessMm?: number;
  /** Standard deviation of the Gaussian noise in HU. Default 10. */
  noiseHu?: number;
  /**
   * The z (mm, LPS) of each slice, head first, when the slices are NOT evenly spaced (a missing
   * slice, a change of table increment): one per slice. Default: evenly spaced by sliceThicknessMm.
   */
  slicePositionsMm?: number[];
  /**
   * Gantry tilt in degrees (default 0): the image planes lean about the patient's left-right axis
   * (ImageOrientationPatient column direction [0, cos t, sin t]) while the table moves along z, so
   * consecutive slices are sheared, as a tilted CT gantry acquires them.
   */
  gantryTiltDeg?: number;
}

export type Vec3 = [number, number, number];

export interface SyntheticCtLesion {
  /** 0-based index within the patient. */
  index: number;
  /** Column, row (pixel centres are integers) and slice index (0-based); fractional. */
  centerVoxel: Vec3;
  /** Patient coordinates (LPS, mm), consistent with ImagePositionPatient. */
  centerMm: Vec3;
  radiusMm: number;
  /** Radius in columns, rows and slices. */
  radiusVoxels: Vec3;
  /** Intended mean HU inside the lesion (noise is added on top). */
  hu: number;
  /** hu minus the soft-tissue value it sits in. */
  contrastHu: number;
  /** 0-based slice indices where this lesion has at least one voxel. */
  sliceIndices: number[];
  voxelCount: number;
}

export interface SyntheticCtSlice {
  /** 0-based, top (superior) first. */
  index: number;
  instanceNumber: number;
  sopInstanceUid: string;
  /** Relative to the output folder, '/'-separated. */
  file: string;
  /** 8-bit PNG, 0 background, 1 lesion. Relative to the output folder. */
  mask: string;
  imagePositionPatient: Vec3;
  sliceLocation: number;
  lesionPixels: number;
}

export interface SyntheticCtSeries {
  seriesInstanceUid: string;
  seriesNumber: number;
  seriesDescription: string;
  frameOfReferenceUid: string;
  /** Relative to the output folder. */
  dir: string;
  rows: number;
  columns: number;
  /** [row spacing, column spacing] as in DICOM PixelSpacing. */
  pixelSpacingMm: [number, number];
  sliceThicknessMm: number;
  slices: SyntheticCtSlice[];
}

export interface SyntheticCtPatient {
  patientId: string;
  patientName: string;
  studyInstanceUid: string;
  studyDate: string;
  /** Series-level class for classification. */
  label: 'lesion' | 'normal';
  lesions: SyntheticCtLesion[];
  series: SyntheticCtSeries;
}

export interface SyntheticCtManifest {
  kind: 'fovea-synthetic-ct';
  version: 1;
  seed: number;
  options: BaseCtOptions & Pick<SyntheticCtOptions, 'slicePositionsMm' | 'gantryTiltDeg'>;
  encoding: {
    sopClassUid: string;
    transferSyntaxUid: string;
    bitsAllocated: 16;
    bitsStored: 16;
    highBit: 15;
    pixelRepresentation: 1;
    rescaleIntercept: number;
    rescaleSlope: 1;
    storedValue: 'HU + 1024';
  };
  masks: { format: 'png'; bitDepth: 8; classes: Record<string, string> };
  /** Relative to the output folder: patient_id,series_instance_uid,series_dir,label,lesion_count. */
  labelsFile: string;
  patients: SyntheticCtPatient[];
}

/** The options every series has (the geometry variations are optional and stay absent by default). */
type BaseCtOptions = Required<Omit<SyntheticCtOptions, 'slicePositionsMm' | 'gantryTiltDeg'>>;

export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
const RESCALE_INTERCEPT = -1024;
const MANIFEST_KIND = 'fovea-synthetic-ct';

// Tissue values (HU). Chosen near textbook values so the default 40/400 window looks right.
export const CT_TISSUE_HU = {
  air: -1000,
  lung: -850,
  fat: -100,
  soft: 40,
  blood: 45,
  liver: 60,
  canal: 15,
  bone: 700,
} as const;
type Tissue = keyof typeof CT_TISSUE_HU;

/** The lesion mask's class map (also written as classes.json). */
export const CT_MASK_CLASSES: Record<string, string> = { '0': 'background', '1': 'lesion' };

// ---------------------------------------------------------------------------------
// UIDs: UUIDv5 (name-based, SHA-1) under a fixed namespace, as 2.25.<integer>
// (ISO/IEC 9834-8 / DICOM PS3.5 B.2). Name-based so they are reproducible.

/** A fixed namespace for Fovea's synthetic data (itself a random UUID, chosen once). */
const UID_NAMESPACE = Buffer.from('6f1c2b0e9d3a4e5f8a7b1c2d3e4f5a6b', 'hex');

export function syntheticUid(name: string): string {
  const hash = createHash('sha1').update(UID_NAMESPACE).update(name, 'utf8').digest();
  const bytes = Buffer.from(hash.subarray(0, 16));
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50; // version 5
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 4122 variant
  return `2.25.${BigInt(`0x${bytes.toString('hex')}`).toString(10)}`;
}


/** DS is at most 16 characters: round to 4 decimals and drop trailing zeros (and "-0"). */
function ds(value: number): string {
  const r = Math.round(value * 1e4) / 1e4;
  return String(Object.is(r, -0) ? 0 : r);
}


// ---------------------------------------------------------------------------------
// The phantom.

interface Ellipse {
  cx: number;
  cy: number;
  rx: number;
  ry: number;
}
function inEllipse(e: Ellipse, x: number, y: number): boolean {
  const dx = (x - e.cx) / e.rx;
  const dy = (y - e.cy) / e.ry;
  return dx * dx + dy * dy <= 1;
}
function scaled(e: Ellipse, s: number): Ellipse {
  return { cx: e.cx, cy: e.cy, rx: e.rx * s, ry: e.ry * s };
}

interface Anatomy {
  body: Ellipse;
  /** Inside the fat layer. */
  inner: Ellipse;
  lungs: [Ellipse, Ellipse];
  heart: Ellipse;
  liver: Ellipse;
  aorta: Ellipse;
  vertebra: Ellipse;
  canal: Ellipse;
  spinous: Ellipse;
  ribs: { angle: number; phase: number; r: number }[];
  ribRing: Ellipse;
  /** Slices between rib bands, in mm. */
  ribPeriodMm: number;
}

function makeAnatomy(rng: SeededRandom, size: number): Anatomy {
  const cx = size / 2 + rng.normal(0, 0.01 * size);
  const cy = size / 2 + 0.02 * size + rng.normal(0, 0.01 * size);
  const body = { cx, cy, rx: size * 0.42 * rng.uniform(0.93, 1.03), ry: size * 0.3 * rng.uniform(0.92, 1.05) };
  const fat = size * rng.uniform(0.025, 0.045);
  const inner = { cx, cy, rx: body.rx - fat, ry: body.ry - fat };
  const lung = (side: number): Ellipse => ({
    cx: cx + side * size * 0.19 * rng.uniform(0.95, 1.05),
    cy: cy - 0.015 * size,
    rx: size * 0.13 * rng.uniform(0.92, 1.06),
    ry: body.ry * 0.68 * rng.uniform(0.92, 1.04),
  });
  const ribs: Anatomy['ribs'] = [];
  // Image angles: 0 = patient left (right of the image), 90 = posterior (down).
  // No ribs over the sternum (-90) nor the spine (90).
  for (const base of [-150, -120, -60, -30, 0, 25, 155, 180, 205]) {
    ribs.push({ angle: ((base + rng.uniform(-8, 8)) * Math.PI) / 180, phase: rng.next(), r: size * rng.uniform(0.014, 0.022) });
  }
  return {
    body,
    inner,
    lungs: [lung(-1), lung(1)],
    heart: { cx: cx + size * 0.04, cy: cy - size * 0.05, rx: size * 0.11, ry: size * 0.1 },
    // Patient right = image left.
    liver: { cx: cx - size * 0.12, cy: cy + size * 0.02, rx: size * 0.22, ry: body.ry * 0.7 },
    aorta: { cx: cx + size * 0.09, cy: cy + body.ry * 0.25, rx: size * 0.03, ry: size * 0.03 },
    vertebra: { cx, cy: cy + body.ry * 0.42, rx: size * 0.055, ry: size * 0.05 },
    canal: { cx, cy: cy + body.ry * 0.42 + size * 0.07, rx: size * 0.022, ry: size * 0.02 },
    spinous: { cx, cy: cy + body.ry * 0.42 + size * 0.11, rx: size * 0.014, ry: size * 0.03 },
    ribs,
    ribRing: { cx, cy, rx: inner.rx - size * 0.022, ry: inner.ry - size * 0.022 },
    ribPeriodMm: rng.uniform(14, 20),
  };
}

/** How the organs change from apex (0) to base (1) of the slab. */
function zShape(zf: number): { lung: number; heart: number; liver: number } {
  return {
    lung: 0.55 + 0.45 * Math.sin(Math.PI * (0.15 + 0.75 * zf)),
    heart: Math.min(1, Math.max(0, (zf - 0.25) / 0.3)),
    liver: Math.min(1, Math.max(0, (zf - 0.7) / 0.3)),
  };
}

interface SliceGeometry {
  zf: number;
  zMm: number;
}

function tissueAt(a: Anatomy, g: SliceGeometry, x: number, y: number): Tissue {
  if (!inEllipse(a.body, x, y)) return 'air';
  if (!inEllipse(a.inner, x, y)) return 'fat';
  const shape = zShape(g.zf);
  // Bone and canal first: nothing overrides them.
  if (inEllipse(a.canal, x, y)) return 'canal';
  if (inEllipse(a.vertebra, x, y) || inEllipse(a.spinous, x, y)) return 'bone';
  for (const rib of a.ribs) {
    // Ribs run obliquely, so a rib shows in bands of slices and drifts along the wall.
    const band = (g.zMm / a.ribPeriodMm + rib.phase) % 1;
    if (band > 0.45) continue;
    const angle = rib.angle + (band - 0.22) * 0.25;
    const rx = a.ribRing.cx + a.ribRing.rx * Math.cos(angle);
    const ry = a.ribRing.cy + a.ribRing.ry * Math.sin(angle);
    const dx = x - rx;
    const dy = y - ry;
    if (dx * dx + dy * dy <= rib.r * rib.r) return 'bone';
  }
  if (inEllipse(a.aorta, x, y)) return 'blood';
  if (shape.heart > 0 && inEllipse(scaled(a.heart, 0.6 + 0.4 * shape.heart), x, y)) return 'blood';
  if (shape.liver > 0 && inEllipse(scaled(a.liver, shape.liver), x, y)) return 'liver';
  for (const lung of a.lungs) if (inEllipse(scaled(lung, shape.lung), x, y)) return 'lung';
  return 'soft';
}

interface PlannedLesion {
  cx: number;
  cy: number;
  /** Fractional slice index. */
  cz: number;
  radiusMm: number;
  hu: number;
  contrastHu: number;
}

const SOFT_TISSUES: ReadonlySet<Tissue> = new Set<Tissue>(['soft', 'blood', 'liver']);

function planLesions(
  rng: SeededRandom,
  anatomy: Anatomy,
  count: number,
  o: BaseCtOptions,
  geometry: (slice: number) => SliceGeometry,
): PlannedLesion[] {
  const n = o.slicesPerSeries;
  const slabMm = n * o.sliceThicknessMm;
  const fovMm = o.size * o.pixelSpacingMm;
  // Keep whole spheres inside the slab and well inside the body.
  const maxR = Math.max(1.5 * o.pixelSpacingMm, Math.min(10, 0.45 * slabMm, 0.12 * fovMm));
  const minR = Math.min(3, maxR);
  const lesions: PlannedLesion[] = [];
  for (let k = 0; k < count; k++) {
    const radiusMm = rng.uniform(minR, maxR);
    const rPx = radiusMm / o.pixelSpacingMm;
    const rSl = radiusMm / o.sliceThicknessMm;
    const zLo = Math.min(rSl - 0.5, (n - 1) / 2);
    const zHi = Math.max(n - 0.5 - rSl, (n - 1) / 2);
    let placed: PlannedLesion | null = null;
    // Prefer a site wholly in soft tissue (the +60..+120 HU contrast is meant against
    // soft tissue); after many misses accept any site inside the body wall.
    for (let attempt = 0; attempt < 400 && !placed; attempt++) {
      const strict = attempt < 300;
      const cz = rng.uniform(zLo, zHi);
      const cx = rng.uniform(anatomy.inner.cx - anatomy.inner.rx, anatomy.inner.cx + anatomy.inner.rx);
      const cy = rng.uniform(anatomy.inner.cy - anatomy.inner.ry, anatomy.inner.cy + anatomy.inner.ry);
      const g = geometry(Math.round(cz));
      let ok = true;
      for (let s = 0; s <= 12 && ok; s++) {
        const angle = (s / 12) * 2 * Math.PI;
        const rr = s === 12 ? 0 : rPx + 1;
        const t = tissueAt(anatomy, g, cx + rr * Math.cos(angle), cy + rr * Math.sin(angle));
        ok = strict ? SOFT_TISSUES.has(t) : t !== 'air' && t !== 'fat' && t !== 'bone' && t !== 'canal';
      }
      for (const other of lesions) {
        const d = Math.hypot(
          (cx - other.cx) * o.pixelSpacingMm,
          (cy - other.cy) * o.pixelSpacingMm,
          (cz - other.cz) * o.sliceThicknessMm,
        );
        if (d < radiusMm + other.radiusMm + 2) ok = false;
      }
      if (ok) {
        const contrastHu = Math.round(rng.uniform(60, 120));
        placed = { cx, cy, cz, radiusMm, hu: CT_TISSUE_HU.soft + contrastHu, contrastHu };
      }
    }
    if (placed) lesions.push(placed);
  }
  return lesions;
}

// ---------------------------------------------------------------------------------

async function encodeMaskPng(mask: Uint8Array, width: number, height: number): Promise<Buffer> {
  // Fixed zlib settings: the bytes must not change between runs.
  // toColourspace('b-w'): without it sharp writes a one-channel raw buffer as RGB.
  return sharp(mask, { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png({ compressionLevel: 6, adaptiveFiltering: false, palette: false })
    .toBuffer();
}

/**
 * Refuse to write into a folder that holds anything but an earlier run of this
 * generator; clear such an earlier run so stale files never mix with new ones.
 */
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
  // Mark the folder as ours before the first file, so that a run that fails half-way
  // can still be cleared by the next one.
  await writeFile(join(outDir, 'manifest.json'), `${JSON.stringify({ kind, complete: false })}\n`);
}

function checkOptions(o: BaseCtOptions, variation: Pick<SyntheticCtOptions, 'slicePositionsMm' | 'gantryTiltDeg'>): void {
  const positiveInt = (name: string, v: number, max: number): void => {
    if (!Number.isInteger(v) || v < 1 || v > max) throw new RangeError(`${name} must be an integer in 1..${max}, got ${v}`);
  };
  positiveInt('patients', o.patients, 999);
  positiveInt('slicesPerSeries', o.slicesPerSeries, 9999);
  if (!Number.isInteger(o.size) || o.size < 16 || o.size > 1024) throw new RangeError(`size must be an integer in 16..1024, got ${o.size}`);
  if (!Number.isFinite(o.seed)) throw new RangeError('seed must be a finite number');
  for (const [name, v] of [['pixelSpacingMm', o.pixelSpacingMm], ['sliceThicknessMm', o.sliceThicknessMm]] as const) {
    if (!(v > 0 && v < 100)) throw new RangeError(`${name} must be in (0, 100), got ${v}`);
  }
  if (!(o.noiseHu >= 0 && o.noiseHu < 500)) throw new RangeError(`noiseHu must be in [0, 500), got ${o.noiseHu}`);
  const z = variation.slicePositionsMm;
  if (z !== undefined) {
    if (z.length !== o.slicesPerSeries) throw new RangeError(`slicePositionsMm needs ${o.slicesPerSeries} positions, got ${z.length}`);
    for (let i = 1; i < z.length; i++) {
      if (!((z[i - 1] ?? 0) > (z[i] ?? 0))) throw new RangeError('slicePositionsMm must fall strictly (head first)');
    }
  }
  const tilt = variation.gantryTiltDeg;
  if (tilt !== undefined && !(Math.abs(tilt) < 45)) throw new RangeError(`gantryTiltDeg must be within (-45, 45), got ${tilt}`);
}

function dateFromDays(days: number): string {
  const d = new Date(Date.UTC(2021, 0, 1) + days * 86_400_000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}`;
}

/**
 * Write `patients` synthetic chest CT studies (one axial series each) into outDir:
 *   <outDir>/SYNTH-001/CT_AXIAL/IM0001.dcm ...            Part-10, Explicit VR Little Endian
 *   <outDir>/SYNTH-001/CT_AXIAL/masks/IM0001.png ...      8-bit, 0 background / 1 lesion
 *   <outDir>/labels.csv, classes.json, manifest.json
 * About half the patients (at least one when there are two or more) have 1-3 lesions.
 */
/** `onSlice(done, total)` follows the work slice by slice (the sample library's progress bar). */
export async function writeSyntheticCtStudies(outDir: string, options: SyntheticCtOptions, onSlice?: (done: number, total: number) => void): Promise<SyntheticCtManifest> {
  const o: BaseCtOptions = {
    patients: options.patients,
    slicesPerSeries: options.slicesPerSeries,
    size: options.size,
    seed: options.seed,
    pixelSpacingMm: options.pixelSpacingMm ?? 0.8,
    sliceThicknessMm: options.sliceThicknessMm ?? 2.5,
    noiseHu: options.noiseHu ?? 10,
  };
  // Geometry variations (uneven spacing, gantry tilt) take another path; without them the output
  // is byte for byte what it always was.
  const variation = {
    ...(options.slicePositionsMm !== undefined ? { slicePositionsMm: options.slicePositionsMm.map((z) => Number(ds(z))) } : {}),
    ...(options.gantryTiltDeg ? { gantryTiltDeg: options.gantryTiltDeg } : {}),
  };
  checkOptions(o, variation);
  await prepareOutDir(outDir, MANIFEST_KIND);

  const root = createRandom(`ct/${o.seed}`);
  // Balanced labels: shuffle a half-and-half list so a classifier sees both classes.
  const withLesion = root.shuffle(Array.from({ length: o.patients }, (_, i) => i < Math.ceil(o.patients / 2)));
  const n = o.slicesPerSeries;
  const T = o.sliceThicknessMm;
  const ps = o.pixelSpacingMm;
  const size = o.size;
  // Positions go through the DS text once, so the manifest holds exactly what the files say.
  const x0 = Number(ds(-((size - 1) / 2) * ps));
  const y0 = x0;
  const zTop = ((n - 1) / 2) * T;
  const positions = variation.slicePositionsMm;
  const geometry = (slice: number): SliceGeometry =>
    positions
      ? { zf: n > 1 ? (zTop - (positions[slice] ?? 0)) / ((n - 1) * T) : 0.5, zMm: positions[slice] ?? 0 }
      : { zf: n > 1 ? slice / (n - 1) : 0.5, zMm: Number(ds(zTop - slice * T)) };
  const tilt = ((variation.gantryTiltDeg ?? 0) * Math.PI) / 180;
  // Column direction of a tilted plane (LPS): rows lean towards the head by sin(tilt) per mm.
  // Through the DS text once, so that the pixels follow exactly the orientation the files state.
  const colDir: Vec3 = [0, Number(ds(Math.cos(tilt))), Number(ds(Math.sin(tilt)))];
  const zfOf = (zMm: number): number => (n > 1 ? (zTop - zMm) / ((n - 1) * T) : 0.5);
  /** Distance in mm along z from slice i's plane (at row r) to a lesion centre. */
  const lesionDz = (i: number, r: number, l: PlannedLesion): number =>
    positions || tilt !== 0 ? geometry(i).zMm + r * ps * colDir[2] - (zTop - l.cz * T) : (i - l.cz) * T;
  const implementationUid = syntheticUid('fovea/synthetic-ct/implementation');

  const patients: SyntheticCtPatient[] = [];
  for (let p = 0; p < o.patients; p++) {
    const rng = root.fork(`patient/${p}`);
    const anatomy = makeAnatomy(rng, size);
    const lesionCount = withLesion[p] ? rng.int(1, 3) : 0;
    const planned = planLesions(rng, anatomy, lesionCount, o, geometry);
    const num = String(p + 1).padStart(3, '0');
    const patientId = `SYNTH-${num}`;
    const patientName = `SYNTH^PATIENT^${num}`;
    // A geometry variation is another series (other UIDs) of the same phantom.
    const variant = positions || tilt !== 0 ? `/positions=${positions?.join(',') ?? ''}/tilt=${variation.gantryTiltDeg ?? 0}` : '';
    const uidBase = `fovea/synthetic-ct/seed=${o.seed}/patient=${p}${variant}`;
    const studyUid = syntheticUid(`${uidBase}/study`);
    const seriesUid = syntheticUid(`${uidBase}/series/1`);
    const forUid = syntheticUid(`${uidBase}/frame-of-reference`);
    const studyDate = dateFromDays(rng.int(0, 1200));
    const studyTime = `${String(rng.int(7, 18)).padStart(2, '0')}${String(rng.int(0, 59)).padStart(2, '0')}00`;
    const seriesDir = `${patientId}/CT_AXIAL`;
    const seriesDescription = `SYNTHETIC CHEST AXIAL ${ds(T)}mm${positions ? ' UNEVEN' : ''}${tilt !== 0 ? ` TILT ${ds(variation.gantryTiltDeg ?? 0)}` : ''}`;
    await mkdir(join(outDir, seriesDir, 'masks'), { recursive: true });

    const lesions: SyntheticCtLesion[] = planned.map((l, index) => ({
      index,
      centerVoxel: [l.cx, l.cy, l.cz],
      centerMm: [x0 + l.cx * ps, y0 + l.cy * ps, zTop - l.cz * T],
      radiusMm: l.radiusMm,
      radiusVoxels: [l.radiusMm / ps, l.radiusMm / ps, l.radiusMm / T],
      hu: l.hu,
      contrastHu: l.contrastHu,
      sliceIndices: [],
      voxelCount: 0,
    }));

    const slices: SyntheticCtSlice[] = [];
    const hu = new Float32Array(size * size);
    const stored = new Int16Array(size * size);
    const mask = new Uint8Array(size * size);
    for (let i = 0; i < n; i++) {
      const g = geometry(i);
      const srng = rng.fork(`slice/${i}`);
      if (tilt === 0) {
        for (let y = 0; y < size; y++) {
          for (let x = 0; x < size; x++) hu[y * size + x] = CT_TISSUE_HU[tissueAt(anatomy, g, x, y)];
        }
      } else {
        // A tilted plane cuts the phantom obliquely: row r lies at y = r*cos(t), z = z_i + r*sin(t)*ps.
        for (let y = 0; y < size; y++) {
          const zMm = g.zMm + y * ps * colDir[2];
          const gy: SliceGeometry = { zf: zfOf(zMm), zMm };
          for (let x = 0; x < size; x++) hu[y * size + x] = CT_TISSUE_HU[tissueAt(anatomy, gy, x, y * colDir[1])];
        }
      }
      // Lung vessels: small bright dots, so "round and bright" alone does not mean lesion.
      const shape = zShape(g.zf);
      for (const lung of anatomy.lungs) {
        const l = scaled(lung, shape.lung);
        for (let v = 0; v < 8; v++) {
          const vx = srng.uniform(l.cx - l.rx, l.cx + l.rx);
          const vy = srng.uniform(l.cy - l.ry, l.cy + l.ry);
          const vr = srng.uniform(0.6, 1.6);
          const vHu = srng.uniform(-150, 30);
          for (let y = Math.max(0, Math.floor(vy - vr)); y <= Math.min(size - 1, Math.ceil(vy + vr)); y++) {
            for (let x = Math.max(0, Math.floor(vx - vr)); x <= Math.min(size - 1, Math.ceil(vx + vr)); x++) {
              if ((x - vx) ** 2 + (y - vy) ** 2 <= vr * vr && tissueAt(anatomy, g, x, y) === 'lung') hu[y * size + x] = vHu;
            }
          }
        }
      }
      mask.fill(0);
      let lesionPixels = 0;
      for (const [k, l] of planned.entries()) {
        let yLo: number;
        let yHi: number;
        let rPx: number;
        if (tilt === 0) {
          const dzMm = lesionDz(i, 0, l);
          const r2 = l.radiusMm * l.radiusMm - dzMm * dzMm;
          if (r2 < 0) continue;
          rPx = Math.sqrt(r2) / ps;
          yLo = Math.floor(l.cy - rPx);
          yHi = Math.ceil(l.cy + rPx);
        } else {
          // Every row of a tilted plane is at another z: test whole rows, bounded by the radius.
          rPx = l.radiusMm / ps;
          yLo = 0;
          yHi = size - 1;
        }
        let count = 0;
        for (let y = Math.max(0, yLo); y <= Math.min(size - 1, yHi); y++) {
          const dzMm = lesionDz(i, y, l);
          // Row y sits at y*cos(t) in the phantom's in-plane frame (cos(0) = 1).
          const dyMm = (y * colDir[1] - l.cy) * ps;
          for (let x = Math.max(0, Math.floor(l.cx - rPx)); x <= Math.min(size - 1, Math.ceil(l.cx + rPx)); x++) {
            // Voxel centre inside the sphere, measured in mm: the mask and the HU agree exactly.
            if (((x - l.cx) * ps) ** 2 + dyMm ** 2 + dzMm * dzMm <= l.radiusMm * l.radiusMm) {
              const idx = y * size + x;
              hu[idx] = l.hu;
              if (mask[idx] === 0) lesionPixels++;
              mask[idx] = 1;
              count++;
            }
          }
        }
        const lesion = lesions[k];
        if (lesion && count > 0) {
          lesion.sliceIndices.push(i);
          lesion.voxelCount += count;
        }
      }
      for (let j = 0; j < hu.length; j++) {
        const v = Math.round((hu[j] ?? 0) + (o.noiseHu > 0 ? srng.normal(0, o.noiseHu) : 0)) - RESCALE_INTERCEPT;
        stored[j] = Math.max(-32768, Math.min(32767, v));
      }

      const instanceNumber = i + 1;
      const name = `IM${String(instanceNumber).padStart(4, '0')}`;
      const sopUid = syntheticUid(`${uidBase}/series/1/instance/${instanceNumber}`);
      const ipp: Vec3 = [x0, y0, g.zMm];
      const pixelBytes = new ArrayBuffer(stored.length * 2);
      const view = new DataView(pixelBytes);
      for (let j = 0; j < stored.length; j++) view.setInt16(j * 2, stored[j] ?? 0, true);

      const meta: DcmDict = {
        '00020001': el('OB', new Uint8Array([0, 1]).buffer),
        '00020002': el('UI', CT_IMAGE_STORAGE),
        '00020003': el('UI', sopUid),
        '00020010': el('UI', EXPLICIT_VR_LITTLE_ENDIAN),
        '00020012': el('UI', implementationUid),
        '00020013': el('SH', 'FOVEA_SYNTH_1'),
      };
      const dict = new (dcmjs().data.DicomDict)(meta);
      dict.dict = {
        '00080008': el('CS', 'DERIVED', 'SECONDARY', 'AXIAL'),
        '00080016': el('UI', CT_IMAGE_STORAGE),
        '00080018': el('UI', sopUid),
        '00080020': el('DA', studyDate),
        '00080021': el('DA', studyDate),
        '00080023': el('DA', studyDate),
        '00080030': el('TM', studyTime),
        '00080031': el('TM', studyTime),
        '00080033': el('TM', studyTime),
        '00080050': el('SH'),
        '00080060': el('CS', 'CT'),
        '00080070': el('LO', 'Fovea (synthetic)'),
        '00080090': el('PN'),
        '00081030': el('LO', 'SYNTHETIC CHEST CT'),
        '0008103E': el('LO', seriesDescription),
        '00081090': el('LO', 'fovea-synthetic-ct'),
        '00100010': el('PN', { Alphabetic: patientName }),
        '00100020': el('LO', patientId),
        '00100030': el('DA'),
        '00100040': el('CS', 'O'),
        '00104000': el('LT', 'Synthetic data generated by Fovea. Not a real person.'),
        '00180015': el('CS', 'CHEST'),
        '00180050': el('DS', ds(T)),
        '00180060': el('DS', '120'),
        '00185100': el('CS', 'HFS'),
        '0020000D': el('UI', studyUid),
        '0020000E': el('UI', seriesUid),
        '00200010': el('SH', '1'),
        '00200011': el('IS', '1'),
        '00200012': el('IS', '1'),
        '00200013': el('IS', String(instanceNumber)),
        '00200032': el('DS', ds(ipp[0]), ds(ipp[1]), ds(ipp[2])),
        '00200037': el('DS', '1', '0', '0', '0', ds(colDir[1]), ds(colDir[2])),
        '00200052': el('UI', forUid),
        '00201040': el('LO'),
        '00201041': el('DS', ds(g.zMm)),
        '00280002': el('US', 1),
        '00280004': el('CS', 'MONOCHROME2'),
        '00280010': el('US', size),
        '00280011': el('US', size),
        '00280030': el('DS', ds(ps), ds(ps)),
        '00280100': el('US', 16),
        '00280101': el('US', 16),
        '00280102': el('US', 15),
        '00280103': el('US', 1),
        '00281050': el('DS', '40'),
        '00281051': el('DS', '400'),
        '00281052': el('DS', String(RESCALE_INTERCEPT)),
        '00281053': el('DS', '1'),
        '00281054': el('LO', 'HU'),
        '00282110': el('CS', '00'),
        '7FE00010': el('OW', pixelBytes),
      };
      const file = `${seriesDir}/${name}.dcm`;
      const maskFile = `${seriesDir}/masks/${name}.png`;
      await writeFile(join(outDir, file), Buffer.from(dict.write()));
      await writeFile(join(outDir, maskFile), await encodeMaskPng(mask, size, size));
      onSlice?.(p * n + i + 1, o.patients * n);
      slices.push({
        index: i,
        instanceNumber,
        sopInstanceUid: sopUid,
        file,
        mask: maskFile,
        imagePositionPatient: ipp,
        sliceLocation: g.zMm,
        lesionPixels,
      });
    }

    patients.push({
      patientId,
      patientName,
      studyInstanceUid: studyUid,
      studyDate,
      label: lesions.length > 0 ? 'lesion' : 'normal',
      lesions,
      series: {
        seriesInstanceUid: seriesUid,
        seriesNumber: 1,
        seriesDescription,
        frameOfReferenceUid: forUid,
        dir: seriesDir,
        rows: size,
        columns: size,
        pixelSpacingMm: [ps, ps],
        sliceThicknessMm: T,
        slices,
      },
    });
  }

  const labelsFile = 'labels.csv';
  const csv = ['patient_id,series_instance_uid,series_dir,label,lesion_count'];
  for (const p of patients) csv.push([p.patientId, p.series.seriesInstanceUid, p.series.dir, p.label, p.lesions.length].join(','));
  await writeFile(join(outDir, labelsFile), `${csv.join('\n')}\n`);
  await writeFile(join(outDir, 'classes.json'), `${JSON.stringify(CT_MASK_CLASSES, null, 2)}\n`);

  const manifest: SyntheticCtManifest = {
    kind: MANIFEST_KIND,
    version: 1,
    seed: o.seed,
    options: { ...o, ...variation },
    encoding: {
      sopClassUid: CT_IMAGE_STORAGE,
      transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN,
      bitsAllocated: 16,
      bitsStored: 16,
      highBit: 15,
      pixelRepresentation: 1,
      rescaleIntercept: RESCALE_INTERCEPT,
      rescaleSlope: 1,
      storedValue: 'HU + 1024',
    },
    masks: { format: 'png', bitDepth: 8, classes: CT_MASK_CLASSES },
    labelsFile,
    patients,
  };
  await writeFile(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
