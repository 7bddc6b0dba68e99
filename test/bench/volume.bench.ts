/**
 * `npm run bench -- volume`: MPR and the segment editor on a generated 512x512x300 CT
 * (0.8 x 0.8 x 2.5 mm, with the generator's lesion masks imported as a segment).
 *
 * - Loading the series into a volume, and the core process's peak memory (RSS and ArrayBuffers,
 *   sampled every 20 ms through the whole run).
 * - Each effect: its computation (preview) and saving (apply), repeated in rounds interleaved
 *   with the same operation done by numpy/scipy.ndimage on the same volume and masks
 *   (volume_reference.py, one process per round); median and range of each, and the ratio.
 *   Grow from seeds and fill between slices have no scipy counterpart: their own times only.
 * - MPR frame time while scrolling cached planes in headless Chromium (software rendering,
 *   through the loopback bridge to the real core), axial and coronal, against the 2-D viewer's
 *   stack scroll over the same series in the same session.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { VolumeEditResult, VolumeEffect, VolumeInfo, VolumePreviewSummary } from '../../electron/contract/volume';
import type { Core } from '../../electron/core/composition-root';
import { decodeRle, encodeMask } from '../../electron/core/labels/rle';
import { writeSyntheticCtStudies } from '../../electron/core/samples/synthetic-ct';
import { launchBrowser, screenshot } from '../e2e/browser';
import { startBridge } from '../harness/bridge-server';
import { tempCore } from '../helpers/temp-library';
import { report } from './bench-util';

const ROUNDS = Number(process.env['FOVEA_BENCH_ROUNDS'] ?? 3);
/** FOVEA_BENCH_PARTS=mpr: only the frame times (the effects take long on a 512x512x300 volume). */
const PARTS = (process.env['FOVEA_BENCH_PARTS'] ?? 'effects,mpr').split(',');
/** The browser waits generously: a loaded 2-core machine renders slowly. */
const WAIT = { timeout: 180_000 };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function range(xs: number[]): string {
  return `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`;
}

async function ok<T>(p: Promise<{ ok: boolean }>): Promise<T> {
  const r = (await p) as { ok: true; value: T } | { ok: false; error: { message: string } };
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/** A segment from the library rows, dense (slice, row, column), slices ascending along the normal. */
function dense(core: Core, seriesId: number, classId: number, dims: [number, number, number]): Uint8Array {
  const [nx, ny, nz] = dims;
  const out = new Uint8Array(nx * ny * nz);
  const items = core.db.prepare('SELECT id FROM items WHERE series_id = ? ORDER BY slice_position').pluck().all(seriesId) as number[];
  const rows = core.db.prepare("SELECT item_id AS itemId, geometry FROM annotations WHERE class_id = ? AND status = 'active' AND kind = 'mask'").all(classId) as { itemId: number; geometry: string }[];
  for (const r of rows) {
    const k = items.indexOf(r.itemId);
    const m = decodeRle((JSON.parse(r.geometry) as { rle: { size: [number, number]; counts: number[] } }).rle);
    out.set(m, k * nx * ny);
  }
  return out;
}

export async function runVolumeBench(size = Number(process.env['FOVEA_BENCH_SIZE'] ?? 512), slices = Number(process.env['FOVEA_BENCH_SLICES'] ?? 300)): Promise<void> {
  const t = tempCore();
  const core = t.core;
  let peakRss = 0;
  let peakBuffers = 0;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakBuffers = Math.max(peakBuffers, m.arrayBuffers);
  }, 20);
  try {
    const g0 = performance.now();
    const manifest = await writeSyntheticCtStudies(join(t.dir, 'ct'), { patients: 1, slicesPerSeries: slices, size, seed: 7 });
    const seriesDir = join(t.dir, 'ct', manifest.patients[0]?.series.dir ?? '');
    const files = readdirSync(seriesDir).filter((f) => f.endsWith('.dcm')).map((f) => join(seriesDir, f));
    const ds = core.datasets.create('bench', '');
    await core.importFiles({ datasetId: ds.id, paths: files });
    await core.importLabels(ds.id, join(seriesDir, 'masks'), 'masks', 'bench', { classes: ['background', 'lesion'] });
    process.stdout.write(`volume     generated and imported ${size}x${size}x${slices} in ${((performance.now() - g0) / 1000).toFixed(1)} s\n`);
    const seriesId = core.db.prepare('SELECT DISTINCT series_id FROM items WHERE dataset_id = ?').pluck().get(ds.id) as number;
    const cls = (name: string): number => core.annotations.ensureClass(ds.id, name);
    const [lesion, bone, seedA, seedB, interp, scratch] = ['lesion', 'bone', 'seedA', 'seedB', 'interp', 'scratch'].map(cls) as [number, number, number, number, number, number];
    core.annotatorSettings.set({ annotatorName: 'Bench' });

    // The peaks while the volume loads, apart from those of generating and importing the series.
    const before = process.memoryUsage();
    peakRss = before.rss;
    peakBuffers = before.arrayBuffers;
    const o0 = performance.now();
    const info = await ok<VolumeInfo>(core.dispatch('volume.open', { seriesId }));
    report({ bench: 'volume', metric: `load ${size}x${size}x${slices} series into a volume`, value: performance.now() - o0, unit: 'ms' });
    report({ bench: 'volume', metric: 'RSS growth while loading the volume (peak - before)', value: (peakRss - before.rss) / 2 ** 20, unit: 'MiB' });
    report({ bench: 'volume', metric: 'ArrayBuffer growth while loading the volume (peak - before)', value: (peakBuffers - before.arrayBuffers) / 2 ** 20, unit: 'MiB' });
    report({ bench: 'volume', metric: 'memory held for the volume (values + labels)', value: info.bytes / 2 ** 20, unit: 'MiB' });

    const seriesOf = { seriesId };
    const effect = async (e: VolumeEffect): Promise<{ preview: number; apply: number }> => {
      const p = await ok<VolumePreviewSummary>(core.dispatch('volume.preview', { ...seriesOf, effect: e }));
      const a0 = performance.now();
      await ok<VolumeEditResult>(core.dispatch('volume.apply', seriesOf));
      return { preview: p.ms, apply: performance.now() - a0 };
    };
    const undo = (): Promise<unknown> => ok(core.dispatch('volume.undo', seriesOf));

    // Inputs: the bone segment (threshold, kept), seeds around the first lesion, two discs to fill between.
    await effect({ effect: 'threshold', classId: bone, range: { min: 226, max: 3071 } });
    const l0 = manifest.patients[0]?.lesions[0];
    if (!l0) throw new Error('the generated patient has no lesion');
    const [lx, ly, lz] = l0.centerVoxel;
    const kz = info.views.axial.count - 1 - Math.round(lz);
    const disc = (cx: number, cy: number, r: number, w = size, h = size): { size: [number, number]; counts: number[] } => {
      const m = new Uint8Array(w * h);
      for (let y = Math.max(0, Math.floor(cy - r)); y <= Math.min(h - 1, Math.ceil(cy + r)); y++) for (let x = Math.max(0, Math.floor(cx - r)); x <= Math.min(w - 1, Math.ceil(cx + r)); x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) m[y * w + x] = 1;
      return encodeMask(m, h, w);
    };
    const paintTimes: number[] = [];
    for (const k of [kz - 1, kz, kz + 1].filter((k) => k >= 0 && k < slices)) {
      const p0 = performance.now();
      await ok(core.dispatch('volume.paint', { ...seriesOf, classId: seedA, plane: 'axial', index: k, mask: disc(lx, ly, 2) }));
      paintTimes.push(performance.now() - p0);
      await ok(core.dispatch('volume.paint', { ...seriesOf, classId: seedB, plane: 'axial', index: k, mask: disc(lx + l0.radiusVoxels[0] + 12, ly, 4) }));
    }
    const k0 = Math.floor(slices / 3);
    await ok(core.dispatch('volume.paint', { ...seriesOf, classId: interp, plane: 'axial', index: k0, mask: disc(size / 2, size / 2, size / 16) }));
    await ok(core.dispatch('volume.paint', { ...seriesOf, classId: interp, plane: 'axial', index: Math.min(slices - 1, k0 + 20), mask: disc(size / 2, size / 2, size / 8) }));
    const cor0 = performance.now();
    await ok(core.dispatch('volume.paint', { ...seriesOf, classId: scratch, plane: 'coronal', index: size >> 1, mask: disc(size / 2, slices / 2, 20, size, slices) }));
    report({ bench: 'volume', metric: 'brush stroke saved (axial disc, 1 slice), median', value: median(paintTimes), unit: 'ms' });
    report({ bench: 'volume', metric: 'brush stroke saved (coronal disc 20 px radius, over ~40 slices)', value: performance.now() - cor0, unit: 'ms' });

    // Reference input for scipy: HU from the files, and the masks as the library holds them.
    const dims = info.dims;
    const boneFile = join(t.dir, 'bone.u8');
    const lesionFile = join(t.dir, 'lesion.u8');
    const lesionDense = dense(core, seriesId, lesion, dims);
    writeFileSync(boneFile, dense(core, seriesId, bone, dims));
    writeFileSync(lesionFile, lesionDense);
    const [nx, ny] = dims;
    let box = [[Infinity, -1], [Infinity, -1], [Infinity, -1]] as [number, number][];
    lesionDense.forEach((v, i) => {
      if (!v) return;
      const c = [Math.floor(i / (nx * ny)), Math.floor(i / nx) % ny, i % nx];
      box = box.map(([a, b], d) => [Math.min(a, c[d] as number), Math.max(b, c[d] as number)]) as [number, number][];
    });
    const reach = [Math.ceil(2 / info.spacing[2]) + 1, Math.ceil(2 / info.spacing[1]) + 1, Math.ceil(2 / info.spacing[0]) + 1];
    const lesionBox = box.map(([a, b], d) => [Math.max(0, a - (reach[d] as number)), Math.min([slices, size, size][d] as number, b + 1 + (reach[d] as number))]);
    const refInput = join(t.dir, 'reference.json');
    writeFileSync(refInput, JSON.stringify({ files, dims, spacing: info.spacing, bone: boneFile, lesion: lesionFile, lesionBox }));

    const ops: { name: string; effect: VolumeEffect }[] = !PARTS.includes('effects') ? [] : [
      { name: 'threshold bone', effect: { effect: 'threshold', classId: scratch, range: { min: 226, max: 3071 } } },
      { name: 'islands keep-largest (bone)', effect: { effect: 'islands', classId: bone, mode: 'keep-largest' } },
      { name: 'margin grow 2 mm (lesions)', effect: { effect: 'margin', classId: lesion, mm: 2 } },
      { name: 'margin shrink 1 mm (bone)', effect: { effect: 'margin', classId: bone, mm: -1 } },
      { name: 'hollow 2 mm (bone)', effect: { effect: 'hollow', classId: bone, thicknessMm: 2 } },
      { name: 'median 3 mm (bone)', effect: { effect: 'smooth', classId: bone, method: 'median', kernelMm: 3 } },
      { name: 'opening 3 mm (bone)', effect: { effect: 'smooth', classId: bone, method: 'open', kernelMm: 3 } },
      { name: 'closing 3 mm (bone)', effect: { effect: 'smooth', classId: bone, method: 'close', kernelMm: 3 } },
      { name: 'logical union (bone, lesions)', effect: { effect: 'logical', classId: bone, operation: 'union', modifierClassId: lesion } },
      { name: 'grow from seeds (lesion vs surroundings)', effect: { effect: 'grow', classIds: [seedA, seedB] } },
      { name: 'fill between slices (20-slice gap)', effect: { effect: 'fill-between', classId: interp } },
    ];
    const ours = new Map<string, { preview: number[]; apply: number[]; undo: number[] }>();
    const theirs = new Map<string, number[]>();
    const statsMs: number[] = [];
    for (let round = 0; round < (ops.length ? ROUNDS : 0); round++) {
      for (const op of ops) {
        const r = await effect(op.effect);
        const u0 = performance.now();
        await undo();
        const entry = ours.get(op.name) ?? { preview: [], apply: [], undo: [] };
        entry.preview.push(r.preview);
        entry.apply.push(r.apply);
        entry.undo.push(performance.now() - u0);
        ours.set(op.name, entry);
      }
      const s0 = performance.now();
      await ok(core.dispatch('volume.stats', seriesOf));
      statsMs.push(performance.now() - s0);
      const py = spawnSync('/usr/bin/python3', [join(import.meta.dirname, 'volume_reference.py'), refInput], { encoding: 'utf8', maxBuffer: 16 << 20, timeout: 900_000 });
      if (py.status !== 0) throw new Error(`the scipy reference failed (apt-get install python3-scipy python3-pydicom): ${py.stderr}`);
      const ms = (JSON.parse(py.stdout) as { ms: Record<string, number> }).ms;
      for (const [k, v] of Object.entries(ms)) theirs.set(k, [...(theirs.get(k) ?? []), v]);
    }
    for (const op of ops) {
      const o = ours.get(op.name) as { preview: number[]; apply: number[]; undo: number[] };
      const ref = theirs.get(op.name);
      report({ bench: 'volume', metric: `${op.name}: compute (preview), median`, value: median(o.preview), unit: 'ms', note: `range ${range(o.preview)}` });
      report({ bench: 'volume', metric: `${op.name}: save (apply), median`, value: median(o.apply), unit: 'ms', note: `range ${range(o.apply)}; undo ${median(o.undo).toFixed(0)} ms` });
      if (ref) {
        report({ bench: 'volume', metric: `${op.name}: scipy/numpy, median`, value: median(ref), unit: 'ms', note: `range ${range(ref)}` });
        const ratios = o.preview.map((x, i) => (ref[i] as number) / x);
        report({ bench: 'volume', metric: `${op.name}: speed ratio Fovea / scipy`, value: median(ratios), unit: 'x', note: `range ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)} (>1: Fovea faster)` });
      }
    }
    const refStats = theirs.get('statistics (bone)') ?? [];
    if (statsMs.length) report({ bench: 'volume', metric: 'statistics of every segment, median', value: median(statsMs), unit: 'ms', note: `numpy (bone only) ${median(refStats).toFixed(0)} ms` });

    if (PARTS.includes('mpr')) await mprFrameTimes(core, ds.id, info);
  } finally {
    clearInterval(sampler);
    report({ bench: 'volume', metric: 'peak RSS of the process after the import (core + bench + browser bridge)', value: peakRss / 2 ** 20, unit: 'MiB' });
    report({ bench: 'volume', metric: 'peak ArrayBuffer memory of the process after the import', value: peakBuffers / 2 ** 20, unit: 'MiB' });
    t.cleanup();
  }
}

/** Steps one view (or the 2-D viewer) `steps` times through `span` cached planes; frames per second. */
async function scrollFps(page: Page, testId: string, steps: number, span: number): Promise<number> {
  return page.evaluate(
    async ([id, n, s]) => {
      const v = document.querySelector(`[data-testid="${id}"]`) as HTMLElement;
      const t0 = performance.now();
      for (let i = 0; i < (n as number); i++) {
        const before = v.getAttribute('data-render-count');
        window.dispatchEvent(new KeyboardEvent('keydown', { key: i % (2 * (s as number)) < (s as number) ? 'ArrowDown' : 'ArrowUp' }));
        const deadline = performance.now() + 60_000;
        while (v.getAttribute('data-render-count') === before) {
          if (performance.now() > deadline) throw new Error(`${id as string}: step ${i} did not render within 60 s`);
          await new Promise((r) => requestAnimationFrame(r));
        }
      }
      return ((n as number) / (performance.now() - t0)) * 1000;
    },
    [testId, steps, span] as const,
  );
}

async function mprFrameTimes(core: Core, datasetId: number, info: VolumeInfo): Promise<void> {
  const bridge = await startBridge(core);
  const browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
  try {
    await mprScroll(page, bridge.url, core, datasetId, info);
  } catch (e) {
    await screenshot(page, 'volume-bench-failure');
    throw e;
  } finally {
    await browser.close();
    await bridge.close();
  }
}

async function mprScroll(page: Page, url: string, core: Core, datasetId: number, info: VolumeInfo): Promise<void> {
  {
    await page.goto(url);
    await page.keyboard.press('Alt+4');
    const name = (core.db.prepare('SELECT name FROM datasets WHERE id = ?').pluck().get(datasetId) as string) ?? '';
    await page.getByTestId('browse-dataset').selectOption({ label: `${name} (${info.acquiredSlices})` }, WAIT);
    await page.locator('.cell[data-index="0"][data-item-id]:not([data-item-id=""])').waitFor(WAIT);
    await page.getByTestId('browse-grid').focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('viewer').waitFor(WAIT);
    const span = 40;
    // The 2-D viewer over the same series first (reference): load span slices, then scroll them.
    for (let i = 0; i < span; i++) await page.keyboard.press('ArrowDown');
    for (let i = 0; i < span; i++) await page.keyboard.press('ArrowUp');
    await page.waitForTimeout(500);
    const stack: number[] = [];
    const mpr: Record<string, number[]> = { axial: [], coronal: [] };
    const cold: number[] = [];
    await page.keyboard.press('q');
    await page.getByTestId('mpr-screen').waitFor(WAIT);
    for (const plane of ['axial', 'coronal'] as const) await page.waitForFunction((id) => Number(document.querySelector(`[data-testid="${id}"]`)?.getAttribute('data-render-count')) > 0, `mpr-${plane}`, WAIT);
    // Uncached planes: a request to the core per step.
    await page.getByTestId('mpr-coronal').hover();
    await page.mouse.wheel(0, 100);
    await page.keyboard.press('Home');
    await page.waitForFunction(() => document.querySelector('[data-testid="mpr-coronal"]')?.getAttribute('data-index') === '0', undefined, WAIT);
    // PageDown jumps 10 planes: past the 6 planes prefetched around the last one.
    const coldSteps = Math.min(20, Math.floor((info.views.coronal.count - 1) / 10));
    const c0 = performance.now();
    for (let i = 0; i < coldSteps; i++) {
      const before = await page.getByTestId('mpr-coronal').getAttribute('data-render-count');
      await page.keyboard.press('PageDown');
      await page.waitForFunction(([b]) => document.querySelector('[data-testid="mpr-coronal"]')?.getAttribute('data-render-count') !== b, [before] as const, WAIT);
    }
    cold.push((performance.now() - c0) / coldSteps);
    await page.keyboard.press('Escape');
    for (let round = 0; round < ROUNDS; round++) {
      // Interleaved: the 2-D viewer, then MPR axial and coronal, each over span cached planes.
      await page.getByTestId('viewer').waitFor(WAIT);
      stack.push(await scrollFps(page, 'viewport', 4 * span, span - 1));
      await page.keyboard.press('q');
      await page.getByTestId('mpr-screen').waitFor(WAIT);
      for (const plane of ['axial', 'coronal'] as const) {
        await page.waitForFunction((id) => Number(document.querySelector(`[data-testid="${id}"]`)?.getAttribute('data-render-count')) > 0, `mpr-${plane}`, WAIT);
        await page.getByTestId(`mpr-${plane}`).hover();
        await page.mouse.wheel(0, 100);
        await page.keyboard.press('Home');
        await page.waitForFunction((id) => document.querySelector(`[data-testid="${id}"]`)?.getAttribute('data-index') === '0', `mpr-${plane}`, WAIT);
        // Load span planes (and their labels) once, then measure over them.
        await scrollFps(page, `mpr-${plane}`, 2 * span, span);
        (mpr[plane] as number[]).push(await scrollFps(page, `mpr-${plane}`, 4 * span, span - 1));
      }
      await page.keyboard.press('Escape');
    }
    report({ bench: 'volume', metric: 'MPR coronal plane not yet cached: step to rendered frame', value: median(cold), unit: 'ms', note: `${info.dims[0]}x${info.dims[2]} picture cut by the core per step` });
    report({ bench: 'volume', metric: `2-D viewer stack scroll over ${span} cached slices (reference)`, value: median(stack), unit: 'fps', note: `range ${range(stack)}` });
    for (const plane of ['axial', 'coronal'] as const) {
      const fps = mpr[plane] as number[];
      report({ bench: 'volume', metric: `MPR ${plane} scroll over ${span} cached planes`, value: median(fps), unit: 'fps', goal: '60 fps', note: `range ${range(fps)}; frame ${(1000 / median(fps)).toFixed(1)} ms` });
      report({ bench: 'volume', metric: `MPR ${plane} / 2-D viewer scroll rate`, value: median(fps) / median(stack), unit: 'x' });
    }
  }
}
