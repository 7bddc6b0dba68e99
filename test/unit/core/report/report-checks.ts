/**
 * Checks shared by the report tests: the HTML is well formed and offline,
 * the PDF's text (poppler's pdftotext; the quick per-task checks read the
 * content streams themselves), and opening a file in Debian's Chromium with every
 * network request blocked and recorded.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import { requireTool } from '../../../helpers/reference-tools';
import { launchBrowser, screenshot } from '../../../e2e/browser';

const VOID = new Set(['area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr']);

/**
 * A strict reading of the report's HTML: every element that is opened is
 * closed in order (void elements and self-closed SVG elements aside), and
 * attribute values are quoted. Returns the element counts by name.
 */
export function parseHtmlStrict(html: string): Map<string, number> {
  const counts = new Map<string, number>();
  const stack: string[] = [];
  const body = html.replace(/^<!DOCTYPE html>\s*/u, '');
  assert.ok(body.length < html.length, 'no <!DOCTYPE html>');
  const tag = /<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z_:][a-zA-Z0-9_.:-]*(?:="[^"]*")?)*)\s*(\/?)>/gu;
  let m: RegExpExecArray | null;
  let last = 0;
  while ((m = tag.exec(body))) {
    const between = body.slice(last, m.index);
    assert.ok(!between.includes('<'), `unparsed markup near offset ${last}: ${JSON.stringify(between.slice(between.indexOf('<'), between.indexOf('<') + 60))}`);
    last = m.index + m[0].length;
    const [, closing, rawName, , selfClosing] = m;
    const name = (rawName as string).toLowerCase();
    if (closing) {
      const open = stack.pop();
      assert.equal(open, name, `</${name}> at offset ${m.index} closes <${open}>`);
      continue;
    }
    counts.set(name, (counts.get(name) ?? 0) + 1);
    if (selfClosing || VOID.has(name)) continue;
    if (name === 'style' || name === 'title') {
      const end = body.indexOf(`</${name}>`, last);
      assert.ok(end >= 0, `<${name}> never closed`);
      last = end + name.length + 3;
      tag.lastIndex = last;
      continue;
    }
    stack.push(name);
  }
  assert.ok(!body.slice(last).includes('<'), 'unparsed markup at the end');
  assert.deepEqual(stack, [], 'elements left open');
  return counts;
}

/** Everything in the HTML that could reach outside the file. Empty when it is self-contained. */
export function remoteReferences(html: string): string[] {
  const found: string[] = [];
  const patterns: [RegExp, string][] = [
    [/https?:/giu, 'http(s) URL'],
    [/\bsrc\s*=/giu, 'src attribute'],
    [/\bhref\s*=/giu, 'href attribute'],
    [/<script/giu, 'script element'],
    [/url\s*\(/giu, 'CSS url()'],
    [/@import/giu, 'CSS @import'],
    [/@font-face/giu, 'font face'],
    [/<(link|iframe|object|embed|img|image|use|foreignObject)\b/giu, 'embedding element'],
    [/\bon[a-z]+\s*=/giu, 'event handler attribute'],
    [/\/\/[a-z0-9-]+\.[a-z]{2,}/giu, 'protocol-relative URL'],
  ];
  for (const [re, what] of patterns) for (const m of html.matchAll(re)) found.push(`${what} at offset ${m.index}: ${html.slice(m.index, (m.index ?? 0) + 40)}`);
  return found;
}

function decodeHexString(hex: string): string {
  const bytes = Buffer.from(hex.replace(/\s+/gu, ''), 'hex');
  return bytes.toString('latin1');
}

/** Text of a PDF made by PDFKit: its content streams inflated, the strings of each TJ/Tj joined, one line per text object. */
export function pdfTextFromStreams(pdf: Buffer): string {
  const s = pdf.toString('latin1');
  const lines: string[] = [];
  const re = /stream\r?\n/gu;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    const start = m.index + m[0].length;
    const end = s.indexOf('endstream', start);
    if (end < 0) break;
    let content: string;
    try {
      content = inflateSync(pdf.subarray(start, end)).toString('latin1');
    } catch {
      continue; // not a deflated content stream
    }
    for (const bt of content.split(/\bBT\b/u).slice(1)) {
      const body = bt.split(/\bET\b/u)[0] ?? '';
      let line = '';
      for (const arr of body.matchAll(/\[((?:<[0-9a-fA-F\s]*>|[-\d.\s])*)\]\s*TJ|<([0-9a-fA-F\s]*)>\s*Tj/gu)) {
        if (arr[1] !== undefined) for (const h of arr[1].matchAll(/<([0-9a-fA-F\s]*)>/gu)) line += decodeHexString(h[1] as string);
        else line += decodeHexString(arr[2] as string);
      }
      if (line) lines.push(line);
    }
  }
  return lines.join('\n');
}

/** The PDF's text as poppler's pdftotext reads it (an independent PDF reader; the test fails without it). */
export function pdfText(pdfPath: string): { text: string; tool: string } {
  requireTool('poppler');
  const r = spawnSync('pdftotext', ['-layout', pdfPath, '-'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `pdftotext failed: ${r.error?.message ?? r.stderr}`);
  return { text: r.stdout, tool: 'pdftotext' };
}

export interface OpenedReport {
  /** Every request the page made, the report file included. */
  requests: string[];
  /** Requests that were aborted (anything but the file). */
  blocked: string[];
  /** Console errors and page errors (CSP violations show up there). */
  errors: string[];
  screenshot: string;
  pdfScreenshot: string | null;
  /** What the DOM holds after parsing. */
  dom: { title: string; svgs: number; tables: number; scripts: number; bodyText: string };
}

/**
 * Opens a local HTML file in Chromium with every request other than the file
 * itself aborted and recorded, and takes a full-page screenshot; then, when
 * `pdfPath` is given, a screenshot of that PDF in Chromium's own viewer (for a
 * person to look at: the viewer is an extension, so nothing is asserted there).
 */
export async function openOffline(htmlPath: string, name: string, pdfPath?: string): Promise<OpenedReport> {
  const url = pathToFileURL(htmlPath).href;
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, offline: true, javaScriptEnabled: true });
    const requests: string[] = [];
    const blocked: string[] = [];
    await context.route('**/*', (route) => {
      const u = route.request().url();
      if (u === url) return route.continue();
      blocked.push(u);
      return route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForTimeout(200);
    const dom = await page.evaluate(() => ({
      title: document.title,
      svgs: document.querySelectorAll('svg').length,
      tables: document.querySelectorAll('table').length,
      scripts: document.scripts.length,
      bodyText: document.body.innerText,
    }));
    const shot = await screenshot(page, name);
    await context.close();
    let pdfShot: string | null = null;
    if (pdfPath) {
      const viewer = await browser.newPage({ viewport: { width: 900, height: 1200 } });
      await viewer.goto(pathToFileURL(pdfPath).href).catch(() => undefined);
      await viewer.waitForTimeout(1000);
      pdfShot = await screenshot(viewer, `${name}-pdf`).catch(() => null);
    }
    return { requests, blocked, errors, screenshot: shot, pdfScreenshot: pdfShot, dom };
  } finally {
    await browser.close();
  }
}
