/**
 * Charts of an evaluation report as a small display list (rectangles, lines,
 * polylines, text) in a fixed coordinate space, y pointing down. One chart is
 * built once and drawn twice: as inline SVG in the HTML report (`toSvg`) and
 * with PDFKit's vector operators in the PDF (pdf-report.ts), so both show the
 * same picture.
 *
 * The SVG is meant to sit inside an HTML page: no xmlns attribute (the HTML
 * parser puts <svg> in the SVG namespace itself, and the report must not
 * contain a single http: string), no external fonts, images or styles.
 *
 * Text widths are estimated (0.56 em per character, Helvetica-like) for
 * layout; the PDF measures them exactly when it anchors text.
 */

export type Shape =
  | { kind: 'rect'; x: number; y: number; width: number; height: number; fill: string; stroke?: string; strokeWidth?: number; title?: string }
  | { kind: 'line'; x1: number; y1: number; x2: number; y2: number; stroke: string; strokeWidth: number; dash?: [number, number] }
  | { kind: 'polyline'; points: [number, number][]; stroke: string; strokeWidth: number; dash?: [number, number] }
  | {
      kind: 'text';
      x: number;
      /** Baseline. */
      y: number;
      text: string;
      size: number;
      anchor: 'start' | 'middle' | 'end';
      fill: string;
      bold?: boolean;
      /** Degrees, around (x, y); -90 reads bottom to top. */
      rotate?: number;
    };

export interface Drawing {
  width: number;
  height: number;
  /** Accessible name (SVG <title>). */
  title: string;
  shapes: Shape[];
}

/** Colour-blind-friendly categorical palette (Okabe-Ito, then Tableau). */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000', '#4E79A7', '#F28E2B', '#59A14F', '#E15759'];
const AXIS = '#333333';
const GRID = '#e3e3e3';
const MUTED = '#666666';

export function colorOf(i: number): string {
  return PALETTE[i % PALETTE.length] as string;
}

/** Estimated width of a string in the chart's units (Helvetica-like average). */
export function textWidth(text: string, size: number): number {
  return text.length * size * 0.56;
}

/** Shorten a label to at most `max` characters (an ellipsis at the end). */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(1, max - 1))}…`;
}

/** "Nice" tick values covering [lo, hi] (about `count` of them). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi <= lo) hi = lo + 1;
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag) as number;
  const ticks: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toFixed(10)));
  if ((ticks[0] as number) > lo) ticks.unshift((ticks[0] as number) - step);
  if ((ticks[ticks.length - 1] as number) < hi) ticks.push((ticks[ticks.length - 1] as number) + step);
  return ticks;
}

function tickLabel(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const s = v.toFixed(Math.abs(v) < 1 ? 2 : 1);
  return s.replace(/0+$/u, '').replace(/\.$/u, '');
}

/** At most `max` points of a curve: every k-th, keeping both ends (a step curve keeps its shape at this density). */
export function thin(points: [number, number][], max = 600): [number, number][] {
  if (points.length <= max) return points;
  const k = Math.ceil(points.length / max);
  const out = points.filter((_, i) => i % k === 0);
  const last = points[points.length - 1] as [number, number];
  if (out[out.length - 1] !== last) out.push(last);
  return out;
}

interface Frame {
  left: number;
  top: number;
  width: number;
  height: number;
}

function axes(shapes: Shape[], f: Frame, xTicks: number[], yTicks: number[], sx: (v: number) => number, sy: (v: number) => number, xLabel: string, yLabel: string): void {
  for (const t of yTicks) {
    const y = sy(t);
    shapes.push({ kind: 'line', x1: f.left, y1: y, x2: f.left + f.width, y2: y, stroke: GRID, strokeWidth: 1 });
    shapes.push({ kind: 'text', x: f.left - 6, y: y + 4, text: tickLabel(t), size: 11, anchor: 'end', fill: MUTED });
  }
  for (const t of xTicks) {
    const x = sx(t);
    shapes.push({ kind: 'line', x1: x, y1: f.top, x2: x, y2: f.top + f.height, stroke: GRID, strokeWidth: 1 });
    shapes.push({ kind: 'text', x, y: f.top + f.height + 16, text: tickLabel(t), size: 11, anchor: 'middle', fill: MUTED });
  }
  shapes.push({ kind: 'rect', x: f.left, y: f.top, width: f.width, height: f.height, fill: 'none', stroke: AXIS, strokeWidth: 1 });
  shapes.push({ kind: 'text', x: f.left + f.width / 2, y: f.top + f.height + 36, text: xLabel, size: 12, anchor: 'middle', fill: AXIS });
  shapes.push({ kind: 'text', x: f.left - 40, y: f.top + f.height / 2, text: yLabel, size: 12, anchor: 'middle', fill: AXIS, rotate: -90 });
}

function legend(shapes: Shape[], x: number, y: number, entries: { name: string; color: string; dash?: [number, number] }[]): number {
  let cy = y;
  for (const e of entries) {
    shapes.push({ kind: 'line', x1: x, y1: cy - 4, x2: x + 22, y2: cy - 4, stroke: e.color, strokeWidth: 3, ...(e.dash ? { dash: e.dash } : {}) });
    shapes.push({ kind: 'text', x: x + 28, y: cy, text: e.name, size: 11, anchor: 'start', fill: AXIS });
    cy += 17;
  }
  return cy;
}

export interface CurveSeries {
  name: string;
  points: [number, number][];
  color?: string;
  dash?: [number, number];
}

export interface CurveChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: CurveSeries[];
  /** Axis ranges (default: [0, 1] each, as for ROC and PR curves). */
  xDomain?: [number, number];
  yDomain?: [number, number];
  /** Draw the chance diagonal (ROC). */
  diagonal?: boolean;
  /** Mark each point with a dot (short curves such as per-epoch losses). */
  markers?: boolean;
  /** Whole-number x ticks only (epochs). */
  integerX?: boolean;
}

/** Lines in a box with axes, grid and a legend on the right. */
export function curveChart(o: CurveChartOptions): Drawing {
  const shapes: Shape[] = [];
  const legendWidth = Math.min(260, Math.max(90, ...o.series.map((s) => textWidth(s.name, 11) + 40)));
  const f: Frame = { left: 64, top: 34, width: 340, height: 260 };
  const width = f.left + f.width + 24 + legendWidth;
  const height = Math.max(f.top + f.height + 48, 34 + o.series.length * 17 + 20);
  const [x0, x1] = o.xDomain ?? [0, 1];
  const [y0, y1] = o.yDomain ?? [0, 1];
  const xTicks = (o.xDomain ? niceTicks(x0, x1, 5).filter((t) => t >= x0 - 1e-9 && t <= x1 + 1e-9) : [0, 0.2, 0.4, 0.6, 0.8, 1]).filter((t) => !o.integerX || Number.isInteger(t));
  const yTicks = o.yDomain ? niceTicks(y0, y1, 5).filter((t) => t >= y0 - 1e-9 && t <= y1 + 1e-9) : [0, 0.2, 0.4, 0.6, 0.8, 1];
  const sx = (v: number) => f.left + ((v - x0) / (x1 - x0 || 1)) * f.width;
  const sy = (v: number) => f.top + f.height - ((v - y0) / (y1 - y0 || 1)) * f.height;
  shapes.push({ kind: 'text', x: f.left, y: 20, text: o.title, size: 14, anchor: 'start', fill: AXIS, bold: true });
  axes(shapes, f, xTicks, yTicks, sx, sy, o.xLabel, o.yLabel);
  if (o.diagonal) shapes.push({ kind: 'line', x1: sx(x0), y1: sy(y0), x2: sx(x1), y2: sy(y1), stroke: '#999999', strokeWidth: 1, dash: [4, 4] });
  o.series.forEach((s, i) => {
    const color = s.color ?? colorOf(i);
    const pts = thin(s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))).map(([x, y]) => [round(sx(x)), round(sy(y))] as [number, number]);
    if (pts.length === 1) {
      const [px, py] = pts[0] as [number, number];
      shapes.push({ kind: 'rect', x: px - 3, y: py - 3, width: 6, height: 6, fill: color });
    } else if (pts.length > 1) {
      shapes.push({ kind: 'polyline', points: pts, stroke: color, strokeWidth: 2, ...(s.dash ? { dash: s.dash } : {}) });
      if (o.markers) for (const [px, py] of pts) shapes.push({ kind: 'rect', x: px - 2.5, y: py - 2.5, width: 5, height: 5, fill: color });
    }
  });
  legend(
    shapes,
    f.left + f.width + 24,
    f.top + 12,
    o.series.map((s, i) => ({ name: s.name, color: s.color ?? colorOf(i), ...(s.dash ? { dash: s.dash } : {}) })),
  );
  return { width: round(width), height: round(height), title: o.title, shapes };
}

export interface BarGroup {
  name: string;
  /** One value per category; null is drawn as "n/a". */
  values: (number | null)[];
  color?: string;
}

export interface BarChartOptions {
  title: string;
  categories: string[];
  groups: BarGroup[];
  yLabel: string;
  /** Default [0, 1]. */
  yDomain?: [number, number];
  /** Values are counts: labels without decimals. */
  counts?: boolean;
}

/** Grouped vertical bars, one group of bars per category, value labels above the bars. */
export function barChart(o: BarChartOptions): Drawing {
  const shapes: Shape[] = [];
  const n = Math.max(1, o.categories.length);
  const perCat = Math.max(36, o.groups.length * 22 + 14);
  const longest = Math.max(0, ...o.categories.map((c) => textWidth(clip(c, 24), 11)));
  const rotateLabels = longest > perCat - 6;
  const bottom = rotateLabels ? Math.min(150, longest * 0.72 + 30) : 40;
  const f: Frame = { left: 64, top: 34 + (o.groups.length > 1 ? 18 : 0), width: Math.max(240, n * perCat), height: 220 };
  const width = f.left + f.width + 20;
  const height = f.top + f.height + bottom + 18;
  const [y0, y1] = o.yDomain ?? [0, 1];
  const yTicks = o.yDomain ? niceTicks(y0, y1, 5).filter((t) => t >= y0 - 1e-9 && t <= y1 + 1e-9) : [0, 0.2, 0.4, 0.6, 0.8, 1];
  const sy = (v: number) => f.top + f.height - ((Math.min(Math.max(v, y0), y1) - y0) / (y1 - y0 || 1)) * f.height;
  shapes.push({ kind: 'text', x: f.left, y: 20, text: o.title, size: 14, anchor: 'start', fill: AXIS, bold: true });
  for (const t of yTicks) {
    shapes.push({ kind: 'line', x1: f.left, y1: sy(t), x2: f.left + f.width, y2: sy(t), stroke: GRID, strokeWidth: 1 });
    shapes.push({ kind: 'text', x: f.left - 6, y: sy(t) + 4, text: tickLabel(t), size: 11, anchor: 'end', fill: MUTED });
  }
  shapes.push({ kind: 'text', x: f.left - 40, y: f.top + f.height / 2, text: o.yLabel, size: 12, anchor: 'middle', fill: AXIS, rotate: -90 });
  if (o.groups.length > 1) {
    let lx = f.left;
    o.groups.forEach((g, gi) => {
      const color = g.color ?? colorOf(gi);
      shapes.push({ kind: 'rect', x: lx, y: 30, width: 12, height: 12, fill: color });
      shapes.push({ kind: 'text', x: lx + 16, y: 40, text: g.name, size: 11, anchor: 'start', fill: AXIS });
      lx += textWidth(g.name, 11) + 36;
    });
  }
  const catWidth = f.width / n;
  const barWidth = Math.min(28, (catWidth - 10) / Math.max(1, o.groups.length));
  o.categories.forEach((cat, ci) => {
    const cx = f.left + ci * catWidth + catWidth / 2;
    const start = cx - (barWidth * o.groups.length) / 2;
    o.groups.forEach((g, gi) => {
      const v = g.values[ci] ?? null;
      const x = start + gi * barWidth;
      if (v === null || !Number.isFinite(v)) {
        shapes.push({ kind: 'text', x: x + barWidth / 2, y: f.top + f.height - 4, text: 'n/a', size: 9, anchor: 'middle', fill: MUTED });
        return;
      }
      const y = sy(v);
      shapes.push({ kind: 'rect', x: round(x + 1), y: round(y), width: round(barWidth - 2), height: round(f.top + f.height - y), fill: g.color ?? colorOf(gi), title: `${cat} ${g.name}: ${o.counts ? Math.round(v) : v.toFixed(3)}` });
      if (barWidth >= 18) shapes.push({ kind: 'text', x: x + barWidth / 2, y: y - 3, text: o.counts ? String(Math.round(v)) : v.toFixed(2), size: 9, anchor: 'middle', fill: AXIS });
    });
    const label = clip(cat, 24);
    if (rotateLabels) shapes.push({ kind: 'text', x: cx + 4, y: f.top + f.height + 10, text: label, size: 11, anchor: 'end', fill: AXIS, rotate: -45 });
    else shapes.push({ kind: 'text', x: cx, y: f.top + f.height + 16, text: label, size: 11, anchor: 'middle', fill: AXIS });
  });
  shapes.push({ kind: 'line', x1: f.left, y1: f.top + f.height, x2: f.left + f.width, y2: f.top + f.height, stroke: AXIS, strokeWidth: 1 });
  shapes.push({ kind: 'line', x1: f.left, y1: f.top, x2: f.left, y2: f.top + f.height, stroke: AXIS, strokeWidth: 1 });
  return { width: round(width), height: round(height), title: o.title, shapes };
}

/** A white-to-blue ramp for a share in [0, 1]. */
export function heat(share: number): string {
  const t = Math.min(1, Math.max(0, share));
  const c = (a: number, b: number) => Math.round(a + (b - a) * t).toString(16).padStart(2, '0');
  return `#${c(0xf7, 0x08)}${c(0xfb, 0x30)}${c(0xff, 0x6b)}`;
}

/**
 * Confusion matrix as a heat map: rows are the true class, columns the
 * predicted one; cell colour is the share of its row (recall on the
 * diagonal), cell text the count.
 */
export function confusionMatrixChart(labels: string[], matrix: number[][], title = 'Confusion matrix'): Drawing {
  const shapes: Shape[] = [];
  const k = labels.length;
  const cell = k <= 6 ? 56 : k <= 12 ? 38 : k <= 24 ? 24 : 14;
  const fontSize = cell >= 38 ? 12 : cell >= 24 ? 9 : 0;
  const labelMax = 18;
  const labelWidth = Math.max(30, ...labels.map((l) => textWidth(clip(l, labelMax), 11)));
  const left = 40 + labelWidth + 8;
  const top = 34 + labelWidth * 0.72 + 26;
  const width = left + k * cell + 20;
  const height = top + k * cell + 40;
  shapes.push({ kind: 'text', x: 10, y: 20, text: title, size: 14, anchor: 'start', fill: AXIS, bold: true });
  shapes.push({ kind: 'text', x: left + (k * cell) / 2, y: 40, text: 'Predicted class', size: 12, anchor: 'middle', fill: AXIS });
  shapes.push({ kind: 'text', x: 18, y: top + (k * cell) / 2, text: 'True class', size: 12, anchor: 'middle', fill: AXIS, rotate: -90 });
  for (let i = 0; i < k; i++) {
    const row = matrix[i] ?? [];
    const total = row.reduce((a, b) => a + b, 0);
    shapes.push({ kind: 'text', x: left - 6, y: top + i * cell + cell / 2 + 4, text: clip(labels[i] as string, labelMax), size: 11, anchor: 'end', fill: AXIS });
    for (let j = 0; j < k; j++) {
      const v = row[j] ?? 0;
      const share = total > 0 ? v / total : 0;
      const x = left + j * cell;
      const y = top + i * cell;
      shapes.push({ kind: 'rect', x, y, width: cell, height: cell, fill: heat(share), stroke: '#ffffff', strokeWidth: 1, title: `true ${labels[i]}, predicted ${labels[j]}: ${v}` });
      if (fontSize) shapes.push({ kind: 'text', x: x + cell / 2, y: y + cell / 2 + fontSize * 0.36, text: String(v), size: fontSize, anchor: 'middle', fill: share > 0.5 ? '#ffffff' : '#111111', bold: i === j });
    }
  }
  for (let j = 0; j < k; j++) {
    const x = left + j * cell + cell / 2;
    shapes.push({ kind: 'text', x: x + 4, y: top - 6, text: clip(labels[j] as string, labelMax), size: 11, anchor: 'start', fill: AXIS, rotate: -45 });
  }
  shapes.push({ kind: 'rect', x: left, y: top, width: k * cell, height: k * cell, fill: 'none', stroke: AXIS, strokeWidth: 1 });
  shapes.push({ kind: 'text', x: left, y: top + k * cell + 20, text: 'Colour: share of the true class (row); numbers: images.', size: 10, anchor: 'start', fill: MUTED });
  return { width: round(Math.max(width, left + textWidth('Colour: share of the true class (row); numbers: images.', 10) + 10)), height: round(height), title, shapes };
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}

/** Escape text for HTML/SVG content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/gu, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const FONT = 'Helvetica, Arial, sans-serif';

/** The drawing as an inline <svg> element for an HTML page (no xmlns: the HTML parser supplies it). */
export function toSvg(d: Drawing): string {
  const out: string[] = [];
  out.push(
    `<svg class="chart" role="img" viewBox="0 0 ${d.width} ${d.height}" width="${d.width}" height="${d.height}" font-family="${FONT}"><title>${escapeXml(d.title)}</title>`,
  );
  for (const s of d.shapes) {
    switch (s.kind) {
      case 'rect': {
        const stroke = s.stroke ? ` stroke="${s.stroke}" stroke-width="${s.strokeWidth ?? 1}"` : '';
        const body = s.title ? `><title>${escapeXml(s.title)}</title></rect>` : '/>';
        out.push(`<rect x="${s.x}" y="${s.y}" width="${s.width}" height="${s.height}" fill="${s.fill}"${stroke}${body}`);
        break;
      }
      case 'line':
        out.push(`<line x1="${round(s.x1)}" y1="${round(s.y1)}" x2="${round(s.x2)}" y2="${round(s.y2)}" stroke="${s.stroke}" stroke-width="${s.strokeWidth}"${s.dash ? ` stroke-dasharray="${s.dash.join(' ')}"` : ''}/>`);
        break;
      case 'polyline':
        out.push(
          `<polyline fill="none" stroke="${s.stroke}" stroke-width="${s.strokeWidth}" stroke-linejoin="round"${s.dash ? ` stroke-dasharray="${s.dash.join(' ')}"` : ''} points="${s.points.map(([x, y]) => `${x},${y}`).join(' ')}"/>`,
        );
        break;
      case 'text': {
        const anchor = s.anchor === 'start' ? '' : ` text-anchor="${s.anchor}"`;
        const rot = s.rotate ? ` transform="rotate(${s.rotate} ${round(s.x)} ${round(s.y)})"` : '';
        out.push(`<text x="${round(s.x)}" y="${round(s.y)}" font-size="${s.size}" fill="${s.fill}"${anchor}${s.bold ? ' font-weight="bold"' : ''}${rot}>${escapeXml(s.text)}</text>`);
        break;
      }
    }
  }
  out.push('</svg>');
  return out.join('');
}
