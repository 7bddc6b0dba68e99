/**
 * The report model as a PDF, drawn with PDFKit: the same tables, and the
 * same charts as the HTML report, drawn from the same display lists
 * (svg-charts.ts) with PDF vector operators, so they stay sharp at any zoom.
 *
 * Fonts: only the standard Helvetica faces, which every PDF reader has (the
 * PDF names them; no font file is read from the system or the network).
 * They cover Windows-1252 text: any other character (a class name in
 * another script) is written as '?' rather than as a wrong glyph.
 * A4 portrait; a table that does not fit continues on the next page with its
 * header repeated; a chart too wide for the page is scaled down.
 * PDFKit (and fontkit behind it) is loaded on first use, not when the app or
 * the CLI starts (a few hundred milliseconds).
 */
import type PDFKitDocument from 'pdfkit';
import type { ReportModel, ReportTable } from './report-model';
import type { Drawing, Shape } from './svg-charts';

type Doc = PDFKit.PDFDocument;

const MARGIN = 48;
const FONT = 'Helvetica';
const BOLD = 'Helvetica-Bold';
/** Helvetica's ascender (AFM), PDFKit places text by its top; charts give the baseline. */
const ASCENDER = 0.718;

const WIN_ANSI_EXTRA = new Set([...'€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ']);

/** Text the standard fonts can show (Windows-1252); other characters become '?'. */
export function pdfSafe(text: string): string {
  let out = '';
  for (const ch of text.normalize('NFC')) {
    const c = ch.codePointAt(0) as number;
    out += (c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xff) || WIN_ANSI_EXTRA.has(ch) ? ch : c < 0x20 ? ' ' : '?';
  }
  return out;
}

class Layout {
  readonly doc: Doc;
  y: number;
  constructor(doc: Doc) {
    this.doc = doc;
    this.y = MARGIN;
  }
  get width(): number {
    return this.doc.page.width - 2 * MARGIN;
  }
  get bottom(): number {
    return this.doc.page.height - MARGIN - 14;
  }
  /** Start a new page unless `height` fits below the current position. */
  ensure(height: number): void {
    if (this.y + height > this.bottom && this.y > MARGIN) {
      this.doc.addPage();
      this.y = MARGIN;
    }
  }
  text(text: string, size: number, options: { bold?: boolean; color?: string; gap?: number } = {}): void {
    const doc = this.doc;
    doc.font(options.bold ? BOLD : FONT).fontSize(size).fillColor(options.color ?? '#1a1a1a');
    const h = doc.heightOfString(pdfSafe(text), { width: this.width });
    this.ensure(h);
    doc.text(pdfSafe(text), MARGIN, this.y, { width: this.width });
    this.y += h + (options.gap ?? 4);
  }
}

function drawShape(doc: Doc, s: Shape): void {
  switch (s.kind) {
    case 'rect': {
      if (s.fill === 'none' && !s.stroke) return;
      doc.rect(s.x, s.y, s.width, s.height);
      if (s.fill !== 'none' && s.stroke) doc.lineWidth(s.strokeWidth ?? 1).fillAndStroke(s.fill, s.stroke);
      else if (s.fill !== 'none') doc.fill(s.fill);
      else doc.lineWidth(s.strokeWidth ?? 1).stroke(s.stroke as string);
      return;
    }
    case 'line':
      if (s.dash) doc.dash(s.dash[0], { space: s.dash[1] });
      doc.moveTo(s.x1, s.y1).lineTo(s.x2, s.y2).lineWidth(s.strokeWidth).stroke(s.stroke);
      if (s.dash) doc.undash();
      return;
    case 'polyline': {
      const [first, ...rest] = s.points;
      if (!first) return;
      if (s.dash) doc.dash(s.dash[0], { space: s.dash[1] });
      doc.moveTo(first[0], first[1]);
      for (const [x, y] of rest) doc.lineTo(x, y);
      doc.lineJoin('round').lineWidth(s.strokeWidth).stroke(s.stroke);
      if (s.dash) doc.undash();
      return;
    }
    case 'text': {
      const text = pdfSafe(s.text);
      doc.font(s.bold ? BOLD : FONT).fontSize(s.size).fillColor(s.fill);
      const w = doc.widthOfString(text);
      const dx = s.anchor === 'middle' ? -w / 2 : s.anchor === 'end' ? -w : 0;
      doc.save();
      if (s.rotate) doc.rotate(s.rotate, { origin: [s.x, s.y] });
      doc.text(text, s.x + dx, s.y - ASCENDER * s.size, { lineBreak: false });
      doc.restore();
      return;
    }
  }
}

/** A chart at the current position, scaled to the page width if wider. */
function chartScale(l: Layout, d: Drawing): number {
  return Math.min(1, l.width / d.width, (l.bottom - MARGIN) / d.height);
}

function drawChart(l: Layout, d: Drawing): void {
  const scale = chartScale(l, d);
  const h = d.height * scale;
  l.ensure(h + 8);
  const doc = l.doc;
  doc.save();
  doc.translate(MARGIN, l.y);
  doc.scale(scale);
  for (const s of d.shapes) drawShape(doc, s);
  doc.restore();
  l.y += h + 12;
}

/** A table with a header row, repeated at the top of each page it runs onto. */
function drawTable(l: Layout, t: ReportTable, options: { header?: boolean } = {}): void {
  const header = options.header !== false;
  const doc = l.doc;
  const pad = 4;
  let size = 9;
  const cells = (header ? [t.columns, ...t.rows] : t.rows).map((r) => r.map(pdfSafe));
  const measure = (fontSize: number) =>
    t.columns.map((_, i) =>
      Math.max(
        ...cells.map((r, ri) => {
          doc.font((header && ri === 0) || i === 0 ? BOLD : FONT).fontSize(fontSize);
          return doc.widthOfString(r[i] ?? '') + 2 * pad;
        }),
      ),
    );
  let widths = measure(size);
  while (widths.reduce((a, b) => a + b, 0) > l.width && size > 6) widths = measure(--size);
  const total = widths.reduce((a, b) => a + b, 0);
  if (total > l.width) widths = widths.map((w) => (w * l.width) / total); // still too wide: cells are clipped
  const rowH = size + 2 * pad + 2;

  l.ensure(16 + rowH * Math.min(4, cells.length) + 4); // the title stays with the first rows
  l.text(t.title, 10, { bold: true, gap: 3 });
  const row = (r: string[], header: boolean, shade: boolean) => {
    let x = MARGIN;
    if (header || shade) {
      doc.rect(MARGIN, l.y, widths.reduce((a, b) => a + b, 0), rowH).fill(header ? '#e8eef4' : '#f7f9fb');
    }
    r.forEach((cell, i) => {
      const w = widths[i] as number;
      doc.font(header || i === 0 ? BOLD : FONT).fontSize(size).fillColor('#1a1a1a');
      const numeric = t.numeric[i] && !header;
      doc.save();
      doc.rect(x, l.y, w, rowH).clip();
      const tw = doc.widthOfString(cell);
      doc.text(cell, numeric ? x + w - pad - tw : x + pad, l.y + pad + 1, { lineBreak: false });
      doc.restore();
      x += w;
    });
    doc.moveTo(MARGIN, l.y + rowH).lineTo(x, l.y + rowH).lineWidth(0.5).stroke('#c8d0d8');
    l.y += rowH;
  };
  if (header) row(cells[0] as string[], true, false);
  cells.slice(header ? 1 : 0).forEach((r, i) => {
    if (l.y + rowH > l.bottom) {
      doc.addPage();
      l.y = MARGIN;
      if (header) row(cells[0] as string[], true, false);
    }
    row(r, false, i % 2 === 1);
  });
  l.y += 4;
  if (t.note) l.text(t.note, 8, { color: '#555555', gap: 8 });
  else l.y += 6;
}

/** The report as PDF bytes. */
export async function renderPdfReport(model: ReportModel): Promise<Buffer> {
  const created = new Date(model.generatedAt);
  const PDFDocument: typeof PDFKitDocument = (await import('pdfkit')).default;
  const doc = new PDFDocument({
    size: 'A4',
    margin: MARGIN,
    bufferPages: true,
    font: FONT,
    info: {
      Title: pdfSafe(model.title),
      Subject: pdfSafe(model.subtitle),
      Creator: 'Fovea',
      Producer: 'Fovea',
      CreationDate: Number.isNaN(created.getTime()) ? new Date() : created,
    },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((resolve, reject) => {
    doc.on('end', () => resolve());
    doc.on('error', reject);
  });

  const l = new Layout(doc);
  l.text(model.title, 20, { bold: true, gap: 2 });
  l.text(model.subtitle, 11, { color: '#444444', gap: 2 });
  l.text(`Generated by Fovea at ${model.generatedAt}. No patient data: images are named by their library item id.`, 8, { color: '#666666', gap: 10 });
  doc.moveTo(MARGIN, l.y).lineTo(MARGIN + l.width, l.y).lineWidth(1.5).stroke('#0072B2');
  l.y += 10;

  l.text('Summary', 14, { bold: true, gap: 6 });
  drawTable(l, { title: 'Metrics', columns: ['Metric', 'Value'], rows: model.metrics.map((m) => [m.label, m.value]), numeric: [false, true] });
  drawTable(l, { title: 'Run', columns: ['', ''], rows: model.facts.map(([k, v]) => [k, v]), numeric: [false, false] }, { header: false });
  if (model.notes.length) {
    l.text('Notes', 10, { bold: true, gap: 3 });
    for (const n of model.notes) l.text(`• ${n}`, 9, { gap: 2 });
    l.y += 6;
  }
  for (const s of model.sections) {
    // The heading stays with its first block (a chart whole, else a few lines).
    const first = s.blocks[0];
    l.ensure(30 + (first?.kind === 'chart' ? first.drawing.height * chartScale(l, first.drawing) : 60));
    l.y += 6;
    l.text(s.title, 14, { bold: true, gap: 6 });
    for (const b of s.blocks) {
      if (b.kind === 'table') drawTable(l, b.table);
      else if (b.kind === 'chart') drawChart(l, b.drawing);
      else l.text(b.text, 9, { gap: 8 });
    }
  }

  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    doc.font(FONT).fontSize(8).fillColor('#666666');
    const footer = pdfSafe(`${model.title} - page ${i + 1} of ${range.count}`);
    // Inside the bottom margin: PDFKit would otherwise start a new page.
    const bottomMargin = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    doc.text(footer, MARGIN, doc.page.height - MARGIN + 10, { lineBreak: false });
    doc.page.margins.bottom = bottomMargin;
  }
  doc.end();
  await ended;
  return Buffer.concat(chunks);
}
