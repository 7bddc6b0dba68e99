/**
 * The project's one XML reader: fast-xml-parser (a kept, widely used and fuzzed library) behind
 * the safety rules below. Used for Pascal VOC annotations (labels/parse-voc.ts) and for macOS
 * managed-preference property lists (policy/policy.ts), which add their own, narrower subset.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { FoveaException } from '../../contract/result';

// Safety rules: no DOCTYPE or ENTITY declaration at all (refused before parsing, so external
// entities and expansion bombs cannot happen: the library would otherwise read internal DTD entities),
// entity references limited to the five predefined ones and numeric character references
// (decoded here; the library is told to leave entities alone), nesting bounded, and the
// library's own well-formedness check (XMLValidator) before the tree is built.

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The element's own text (direct text and CDATA, entities decoded), not its children's. */
  text: string;
}

const MAX_XML_DEPTH = 256;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function xmlError(message: string, line?: number): FoveaException {
  return new FoveaException('BAD_INPUT', `Malformed XML${line !== undefined ? ` (line ${line})` : ''}: ${message}`);
}

function lineAt(src: string, at: number): number {
  return src.slice(0, at).split('\n').length;
}

/** Decodes the predefined entities and numeric references; anything else is refused. */
function decodeEntities(s: string, line?: number): string {
  if (!s.includes('&')) return s;
  return s.replace(/&([^;&\s]{0,12});?/g, (whole, ent: string) => {
    if (!whole.endsWith(';')) throw xmlError('a bare "&" (write &amp;)', line);
    const pre = PREDEFINED[ent];
    if (pre !== undefined) return pre;
    const num = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(ent);
    if (num) {
      const code = num[1] !== undefined ? parseInt(num[1], 16) : Number(num[2]);
      if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) throw xmlError(`character reference &${ent}; is not a character`, line);
      return String.fromCodePoint(code);
    }
    throw xmlError(`unknown entity &${ent}; (only &lt; &gt; &amp; &quot; &apos; and numeric references are read)`, line);
  });
}

/**
 * Refuses declarations, unclosed comments, CDATA sections and processing instructions (the
 * library's validator reports those as an unclosed element), and nesting deeper than
 * maxDepth, in one linear scan before the library sees the text: its validator slows down
 * with depth (5.5 s for a million open tags measured here), so depth must be bounded first.
 * Anything else malformed is left to the validator.
 */
function checkMarkup(src: string, maxDepth: number): void {
  const decl = /<!(DOCTYPE|ENTITY)/i.exec(src);
  if (decl) {
    throw new FoveaException(
      'BAD_INPUT',
      `XML with a ${(decl[1] as string).toUpperCase()} declaration is refused: annotation files do not need one, and it can pull in outside files or expand without bound.`,
    );
  }
  let depth = 0;
  for (let at = src.indexOf('<'); at >= 0; at = src.indexOf('<', at + 1)) {
    const skipTo = (open: string, close: string, what: string): boolean => {
      if (!src.startsWith(open, at)) return false;
      const end = src.indexOf(close, at + open.length);
      if (end < 0) throw xmlError(what, lineAt(src, at));
      at = end + close.length - 1;
      return true;
    };
    if (skipTo('<!--', '-->', 'an unclosed comment') || skipTo('<![CDATA[', ']]>', 'an unclosed CDATA section') || skipTo('<?', '?>', 'an unclosed processing instruction')) continue;
    if (src.startsWith('<!', at)) throw new FoveaException('BAD_INPUT', 'XML with a markup declaration is refused: annotation files do not need one.');
    if (src[at + 1] === '/') {
      depth--;
      continue;
    }
    // The tag's end, outside quoted attribute values; a tag left open is the validator's to report.
    let q = '';
    let j = at + 1;
    for (; j < src.length; j++) {
      const c = src[j] as string;
      if (q) {
        if (c === q) q = '';
      } else if (c === '"' || c === "'") q = c;
      else if (c === '>' || c === '<') break;
    }
    if (src[j] !== '>') continue;
    if (src[j - 1] !== '/' && ++depth > maxDepth) throw xmlError(`elements nested deeper than ${maxDepth}`, lineAt(src, at));
    at = j;
  }
}

/** The validator's finding in this reader's words (the hostile-input tests name them). */
function validatorError(err: { code: string; msg: string; line?: number }): FoveaException {
  const { msg, line } = err;
  let m: RegExpExecArray | null;
  if ((m = /^Expected closing tag '([^']*)' .* instead of closing tag '([^']*)'/.exec(msg))) return xmlError(`</${m[2]}> does not close <${m[1]}>`, line);
  if ((m = /^Closing tag '([^']*)' doesn't have proper opening tag/.exec(msg))) return xmlError(`</${m[1]}> does not close <(nothing)>`, line);
  if ((m = /^Attribute '([^']*)' is without value/.exec(msg))) return xmlError(`attribute ${m[1]}'s value is not quoted`, line);
  if ((m = /^Unclosed tag '([^']*)'/.exec(msg))) return xmlError(`<${m[1]}> is never closed`, line);
  if (/^Multiple possible root nodes/.test(msg)) return xmlError('a second root element', line);
  if (/^Start tag expected/.test(msg)) return xmlError('no root element');
  return xmlError(msg.replace(/\.$/u, ''), line);
}

const XML_PARSER = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: false,
  htmlEntities: false,
  cdataPropName: '#cdata',
  maxNestedTags: MAX_XML_DEPTH,
});

type OrderedNode = Record<string, unknown> & { ':@'?: Record<string, string> };

export interface ParseXmlOptions {
  /** Deepest element nesting accepted (at most, and by default, MAX_XML_DEPTH). */
  maxDepth?: number;
}

/** Parses an XML document into its root element. Throws BAD_INPUT on anything malformed or unsafe. */
export function parseXml(text: string, options: ParseXmlOptions = {}): XmlElement {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  checkMarkup(src, Math.min(options.maxDepth ?? MAX_XML_DEPTH, MAX_XML_DEPTH));
  if (src.trim() === '') throw new FoveaException('BAD_INPUT', 'Malformed XML: no root element.');
  // Entity references first (outside comments and CDATA): the library's own message for a bare
  // "&" says less, and unknown entities it would let through.
  const outsideRaw = src.replace(/<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>/g, (m) => m.replace(/[^\n]/g, ' '));
  // The line is worked out only for a refused reference: counting lines for every reference
  // made a file full of "&amp;" quadratic.
  for (const m of outsideRaw.matchAll(/&[^<>\s]{0,13}/g)) {
    const ref = m[0].includes(';') ? m[0].slice(0, m[0].indexOf(';') + 1) : m[0];
    try {
      decodeEntities(ref);
    } catch {
      decodeEntities(ref, lineAt(src, m.index ?? 0));
    }
  }
  const valid = XMLValidator.validate(src);
  if (valid !== true) throw validatorError(valid.err);
  let nodes: OrderedNode[];
  try {
    nodes = XML_PARSER.parse(src) as OrderedNode[];
  } catch (e) {
    if (/nested tags/i.test((e as Error).message)) throw xmlError(`elements nested deeper than ${MAX_XML_DEPTH}`);
    throw xmlError((e as Error).message);
  }
  const elements = nodes.filter((n) => !Object.keys(n).some((k) => k.startsWith('?')) && !('#text' in n));
  if (elements.length === 0) throw new FoveaException('BAD_INPUT', 'Malformed XML: no root element.');
  if (elements.length > 1) throw xmlError('a second root element');
  // Iterative conversion: nesting is bounded, but no recursion is needed either.
  const convert = (node: OrderedNode): XmlElement => {
    const name = Object.keys(node).find((k) => k !== ':@') as string;
    const attrs: Record<string, string> = {};
    for (const [k, v] of Object.entries(node[':@'] ?? {})) attrs[k] = decodeEntities(String(v));
    return { name, attrs, children: [], text: '' };
  };
  const root = convert(elements[0] as OrderedNode);
  const stack: { el: XmlElement; node: OrderedNode }[] = [{ el: root, node: elements[0] as OrderedNode }];
  while (stack.length > 0) {
    const { el, node } = stack.pop() as { el: XmlElement; node: OrderedNode };
    for (const child of (node[el.name] as OrderedNode[] | undefined) ?? []) {
      if ('#text' in child) el.text += decodeEntities(String(child['#text']));
      else if ('#cdata' in child) el.text += ((child['#cdata'] as { '#text'?: unknown }[]) ?? []).map((c) => String(c['#text'] ?? '')).join('');
      else if (!Object.keys(child).some((k) => k.startsWith('?'))) {
        const c = convert(child);
        el.children.push(c);
        stack.push({ el: c, node: child });
      }
    }
  }
  return root;
}
