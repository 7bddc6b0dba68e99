/**
 * Loads the enterprise policy that hospital IT sets for every user of a
 * workstation (keys, defaults and validation: policy-schema.ts).
 *
 * Where it is read from (later sources win per key):
 * - Linux:   /etc/fovea/policy.json
 * - macOS:   /Library/Application Support/Fovea/policy.json, then the managed
 *            preferences domain org.fovea.app
 *            (/Library/Managed Preferences/org.fovea.app.plist, written by
 *            an MDM profile; XML or binary plist)
 * - Windows: <ProgramData>\Fovea\policy.json, then the registry key
 *            HKLM\Software\Policies\Fovea (Group Policy / Intune), read with
 *            `reg query` (no native module). ProgramData is looked up in
 *            HKLM, never in the environment, which a user can change.
 *
 * Trust: a policy file counts only if administrators alone can change it:
 * on Linux and macOS it and its folder must be owned by root and not
 * writable by group or others (the target, for a symlink); on Windows the
 * file's owner must be SYSTEM, Administrators or TrustedInstaller (read with
 * PowerShell's Get-Acl). A file that fails this, or is larger than 1 MiB, is
 * not valid UTF-8/UTF-16 JSON (or plist), has wrong types, forbidden keys
 * (__proto__, constructor, prototype), an unsafe library path, or cannot be
 * read, makes the whole result the SAFEST_DEFAULTS, with an error that names
 * the file and the problem. No policy anywhere means no restrictions
 * (source 'none'). Unknown keys are warnings.
 *
 * All OS access goes through a PolicyHost, so tests run on any platform.
 */
import { execFile } from 'node:child_process';
import { lstat, open, realpath, stat } from 'node:fs/promises';
import { currentUser } from '../os-user';
import { parseXml, type XmlElement } from '../xml/read-xml';
import { posix, win32 } from 'node:path';
import {
  effectiveSettings,
  FORBIDDEN_KEYS,
  MAX_POLICY_BYTES,
  POLICY_KEYS,
  SAFEST_DEFAULTS,
  validatePolicyDocument,
  type EffectiveSettings,
  type Policy,
  type PolicyKey,
  type PolicySettings,
} from './policy-schema';

export * from './policy-schema';

// ---------------------------------------------------------------------------
// OS access
// ---------------------------------------------------------------------------

export interface PolicyStat {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  size: number;
  uid: number;
  mode: number;
}

export interface ExecResult {
  /** Exit code; null when the program could not be started or was killed. */
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Everything the loader asks of the operating system. */
export interface PolicyHost {
  platform: NodeJS.Platform;
  /** lstat; null when nothing is there (ENOENT, ENOTDIR). Other errors throw. */
  lstat(path: string): Promise<PolicyStat | null>;
  /** stat (follows symlinks); null when nothing is there. */
  stat(path: string): Promise<PolicyStat | null>;
  realpath(path: string): Promise<string>;
  /** Reads at most `maxBytes` bytes. */
  readFile(path: string, maxBytes: number): Promise<Buffer>;
  /** Runs a program without a shell. */
  execFile(file: string, args: readonly string[]): Promise<ExecResult>;
}

function missing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** The real operating system. */
export function nodePolicyHost(platform: NodeJS.Platform = process.platform): PolicyHost {
  return {
    platform,
    async lstat(path) {
      try {
        return await lstat(path);
      } catch (e) {
        if (missing(e)) return null;
        throw e;
      }
    },
    async stat(path) {
      try {
        return await stat(path);
      } catch (e) {
        if (missing(e)) return null;
        throw e;
      }
    },
    realpath: (path) => realpath(path),
    async readFile(path, maxBytes) {
      const handle = await open(path, 'r');
      try {
        const buffer = Buffer.alloc(maxBytes);
        let filled = 0;
        while (filled < maxBytes) {
          const { bytesRead } = await handle.read(buffer, filled, maxBytes - filled, filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        return buffer.subarray(0, filled);
      } finally {
        await handle.close();
      }
    },
    execFile(file, args) {
      return new Promise((resolve) => {
        execFile(
          file,
          [...args],
          { encoding: 'buffer', windowsHide: true, timeout: 15_000, maxBuffer: MAX_POLICY_BYTES, shell: false },
          (error, stdout, stderr) => {
            const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : null) : 0;
            resolve({ code, stdout: Buffer.from(stdout), stderr: Buffer.from(stderr).toString('utf8') });
          },
        );
      });
    },
  };
}

// ---------------------------------------------------------------------------
// Locations
// ---------------------------------------------------------------------------

export const LINUX_POLICY_FILE = '/etc/fovea/policy.json';
export const MAC_POLICY_FILE = '/Library/Application Support/Fovea/policy.json';
/** The managed preferences domain (an MDM configuration profile's PayloadType). */
export const MAC_MANAGED_DOMAIN = 'org.fovea.app';
export const MAC_MANAGED_PLIST = `/Library/Managed Preferences/${MAC_MANAGED_DOMAIN}.plist`;
export const WINDOWS_POLICY_KEY = 'HKLM\\Software\\Policies\\Fovea';
/** Used when ProgramData cannot be read from the registry. */
export const WINDOWS_DEFAULT_PROGRAMDATA = 'C:\\ProgramData';

/** Owners trusted for a Windows policy file: SYSTEM, Administrators, TrustedInstaller. */
export const WINDOWS_TRUSTED_OWNER_SIDS: ReadonlySet<string> = new Set([
  'S-1-5-18',
  'S-1-5-32-544',
  'S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464',
]);

export type PolicySourceKind = 'json' | 'plist' | 'registry';

export interface PolicySource {
  kind: PolicySourceKind;
  /** A file path, or the registry key. */
  location: string;
}

// ---------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------

export interface PolicyLoadResult {
  /**
   * 'none': no policy anywhere (no restrictions); 'policy': a valid policy;
   * 'safest-defaults': a policy exists but could not be trusted.
   */
  source: 'none' | 'policy' | 'safest-defaults';
  /** What to enforce. */
  policy: Policy;
  /** The sources that were found (read or refused). */
  sources: PolicySource[];
  /** Where each enforced key came from. */
  origins: Partial<Record<PolicyKey, string>>;
  /** Why the policy could not be trusted; non-empty exactly when source is 'safest-defaults'. */
  errors: string[];
  warnings: string[];
}

export interface SourceOutcome {
  found: boolean;
  policy: Policy;
  errors: string[];
  warnings: string[];
}

const NOT_FOUND: SourceOutcome = { found: false, policy: {}, errors: [], warnings: [] };

function failed(error: string): SourceOutcome {
  return { found: true, policy: {}, errors: [error], warnings: [] };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------------------
// Text decoding and JSON
// ---------------------------------------------------------------------------

/** UTF-8 (with or without BOM) or UTF-16 with a BOM; throws on invalid bytes. */
export function decodePolicyText(bytes: Uint8Array): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le', { fatal: true }).decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be', { fatal: true }).decode(bytes.subarray(2));
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}

/**
 * Parses a JSON policy. Keys that reach prototypes (__proto__, constructor,
 * prototype) anywhere in the document are refused: JSON.parse makes them
 * plain own properties, but nothing legitimate uses them.
 */
export function parsePolicyJson(text: string, origin: string, platform: NodeJS.Platform): SourceOutcome {
  if (text.trim() === '') return failed(`${origin}: the policy file is empty. Write {} for a policy without restrictions.`);
  const forbidden = new Set<string>();
  let doc: unknown;
  try {
    doc = JSON.parse(text, (key, value: unknown) => {
      if (FORBIDDEN_KEYS.has(key)) forbidden.add(key);
      return value;
    });
  } catch (e) {
    return failed(`${origin}: not valid JSON (${message(e)}).`);
  }
  if (forbidden.size > 0) {
    return failed(`${origin}: the key${forbidden.size > 1 ? 's' : ''} ${[...forbidden].map((k) => `"${k}"`).join(', ')} ${forbidden.size > 1 ? 'are' : 'is'} not allowed (used to tamper with programs, never a setting).`);
  }
  return { found: true, ...validatePolicyDocument(doc, origin, platform) };
}

// ---------------------------------------------------------------------------
// XML property lists (macOS managed preferences)
// ---------------------------------------------------------------------------

const PLIST_MAX_DEPTH = 16;
const PLIST_MAX_ARRAY = 10_000;
const PLIST_MAX_TAG_CHARS = 1024;
const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * Parses the XML property-list subset a managed preferences file uses: dict,
 * array, key, string, integer, real, true, false. No DTD internal subset, no
 * entity other than the five predefined ones and character references, no
 * CDATA, no processing instructions other than the XML declaration: whatever
 * else appears is an error, never expanded. Dicts come back as objects
 * without a prototype; duplicate and forbidden keys are errors.
 *
 * The XML itself is read by the project's one XML reader (core/xml, fast-xml-parser
 * with its safety rules); this function checks the plist's narrower subset around it:
 * the prolog (an external-only DOCTYPE, as Apple writes, is allowed here and nowhere
 * else), the markup the plist never needs, and the plist structure.
 */
export function parsePlistXml(text: string): unknown {
  const fail = (what: string): never => {
    throw new Error(what);
  };
  let pos = 0;
  const skipMisc = (): void => {
    for (;;) {
      const ws = /\s+/y;
      ws.lastIndex = pos;
      if (ws.test(text)) pos = ws.lastIndex;
      if (text.startsWith('<!--', pos)) {
        const end = text.indexOf('-->', pos + 4);
        if (end < 0) fail(`unterminated comment at character ${pos}`);
        pos = end + 3;
        continue;
      }
      return;
    }
  };

  // The prolog: XML declaration, comments, and at most a DOCTYPE without declarations.
  let src = text;
  skipMisc();
  const decl = /^<\?xml\s[^?]*\?>/.exec(text.slice(pos, pos + 512));
  if (decl) pos += decl[0].length;
  skipMisc();
  if (text.startsWith('<!DOCTYPE', pos)) {
    const end = text.indexOf('>', pos);
    if (end < 0) fail(`unterminated DOCTYPE at character ${pos}`);
    const doctype = text.slice(pos, end + 1);
    if (doctype.includes('[') || /<!ENTITY/i.test(doctype)) fail(`a DOCTYPE with declarations is not allowed (character ${pos})`);
    // Blanked (same length) for the shared reader, which refuses every DOCTYPE; this one
    // only names Apple's DTD and is never fetched.
    src = text.slice(0, pos) + ' '.repeat(doctype.length) + text.slice(end + 1);
    pos = end + 1;
  }
  skipMisc();
  if (text.startsWith('<?', pos) || text.startsWith('<!', pos)) fail(`unsupported markup at character ${pos}`);
  if (!text.startsWith('<', pos)) fail(`expected a tag (<plist>) at character ${pos}`);
  if (!/^<plist[\s/>]/.test(text.slice(pos, pos + 7))) fail(`expected <plist> at character ${pos}`);

  // Markup a plist never needs, refused before the reader sees it. Comments are blanked first
  // (they may mention anything); in `marked` they stay visible as "<" so that a comment inside
  // a text value is still refused, as it always was.
  const body = src.slice(pos);
  const blank = body.replace(/<!--[\s\S]*?-->/g, (m) => ' '.repeat(m.length));
  const marked = body.replace(/<!--[\s\S]*?-->/g, (m) => `<${' '.repeat(m.length - 1)}`);
  const at = (i: number): string => `at character ${pos + i}`;
  let m: RegExpExecArray | null;
  if ((m = /<!--/.exec(blank))) fail(`unterminated comment ${at(m.index)}`);
  if ((m = /<!\[CDATA\[/.exec(blank))) fail(`unexpected markup (a CDATA section) ${at(m.index)}`);
  if ((m = /<\?/.exec(blank))) fail(`unsupported markup (a processing instruction) ${at(m.index)}`);
  if ((m = /<!(?!--)/.exec(blank))) fail(`unsupported markup (a declaration) ${at(m.index)}`);
  // Every tag as the plist has always been read: a plain name, a few simple attributes without
  // "&" (they are ignored), no space in closing tags, a bounded length (which also bounds the
  // attribute count the library would otherwise collect).
  for (const t of blank.matchAll(/<(?:"[^"<]*"|'[^'<]*'|[^"'<>])*>?/g)) {
    const tagText = t[0];
    if (tagText.length > PLIST_MAX_TAG_CHARS) fail(`a tag longer than ${PLIST_MAX_TAG_CHARS} characters ${at(t.index ?? 0)}`);
    if (!/^<(?:\/[A-Za-z][A-Za-z0-9]*|[A-Za-z][A-Za-z0-9]*(?:\s+[A-Za-z][\w:.-]*\s*=\s*(?:"[^"<&]*"|'[^'<&]*'))*\s*\/?)>$/.test(tagText)) {
      fail(`expected a tag, found ${JSON.stringify(tagText.slice(0, 40))} ${at(t.index ?? 0)}`);
    }
  }
  if ((m = /<(?:string|key|integer|real)(?:\s(?:"[^"]*"|'[^']*'|[^"'>])*)?(?<!\/)>[^<]*<(?!\/)/.exec(marked))) fail(`unexpected markup in text ${at(m.index)}`);
  for (const e of blank.matchAll(/&([^;\s]{0,10});?/g)) {
    const [whole, name] = e as unknown as [string, string];
    if (!whole.endsWith(';')) fail(`bare "&" in text ${at(e.index ?? 0)}`);
    if (name in XML_ENTITIES) continue;
    const num = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(name);
    if (!num) fail(`entity &${name}; is not allowed ${at(e.index ?? 0)}`);
    const cp = num![1] !== undefined ? parseInt(num![1], 16) : parseInt(num![2]!, 10);
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp === 0) fail(`invalid character reference &${name}; ${at(e.index ?? 0)}`);
  }

  let root: XmlElement;
  try {
    // One level more than PLIST_MAX_DEPTH: <plist> itself. Bounded before the library's validator runs.
    root = parseXml(src, { maxDepth: PLIST_MAX_DEPTH + 1 });
  } catch (e) {
    const msg = message(e);
    if (/nested deeper than/.test(msg)) return fail(`nested too deeply (more than ${PLIST_MAX_DEPTH} levels)`);
    if (/second root|extra text/i.test(msg)) return fail(`content after </plist> (${msg})`);
    if (/does not close|never closed/.test(msg)) return fail(`unterminated element (${msg})`);
    return fail(msg);
  }

  const value = (el: XmlElement, depth: number): unknown => {
    if (depth > PLIST_MAX_DEPTH) fail('nested too deeply');
    const leaf = (): string => {
      if (el.children.length > 0) fail(`unexpected markup in <${el.name}>`);
      return el.text;
    };
    const noText = (): void => {
      if (el.text.trim() !== '') fail(`unexpected text in <${el.name}>`);
    };
    switch (el.name) {
      case 'true':
      case 'false':
        if (el.children.length > 0 || el.text.trim() !== '') fail(`<${el.name}> must be empty`);
        return el.name === 'true';
      case 'string':
        return leaf();
      case 'integer': {
        const s = leaf().trim();
        if (!/^[+-]?\d{1,15}$/.test(s)) fail(`invalid <integer> ${JSON.stringify(s)}`);
        return Number(s);
      }
      case 'real': {
        const s = leaf().trim();
        const n = Number(s);
        if (s === '' || !Number.isFinite(n)) fail(`invalid <real> ${JSON.stringify(s)}`);
        return n;
      }
      case 'array': {
        noText();
        if (el.children.length > PLIST_MAX_ARRAY) fail('array too long');
        return el.children.map((c) => value(c, depth + 1));
      }
      case 'dict': {
        noText();
        // The children keep document order, so each <key> pairs with the element after it.
        const dict = Object.create(null) as Record<string, unknown>;
        for (let i = 0; i < el.children.length; i += 2) {
          const k = el.children[i]!;
          if (k.name !== 'key') fail(`expected <key> in <dict>, found <${k.name}>`);
          if (k.children.length > 0) fail('unexpected markup in <key>');
          const key = k.text;
          if (FORBIDDEN_KEYS.has(key)) fail(`the key "${key}" is not allowed`);
          if (Object.prototype.hasOwnProperty.call(dict, key)) fail(`duplicate key "${key}"`);
          const v = el.children[i + 1];
          if (v === undefined) fail(`expected a value after <key>${key}</key>`);
          dict[key] = value(v!, depth + 1);
        }
        return dict;
      }
      default:
        return fail(`<${el.name}> is not supported in a Fovea policy`);
    }
  };

  if (root.name !== 'plist') fail('expected <plist>');
  if (root.text.trim() !== '') fail('unexpected text in <plist>');
  if (root.children.length !== 1) fail(`expected one value in <plist>, found ${root.children.length}`);
  return value(root.children[0]!, 1);
}

/** Parses a policy plist (XML text). */
export function parsePolicyPlist(text: string, origin: string, platform: NodeJS.Platform): SourceOutcome {
  let doc: unknown;
  try {
    doc = parsePlistXml(text);
  } catch (e) {
    return failed(`${origin}: not a valid XML property list (${message(e)}).`);
  }
  // MDM profiles may add their own bookkeeping keys to the domain; they are not Fovea's.
  if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) {
    const copy = Object.create(null) as Record<string, unknown>;
    for (const [k, v] of Object.entries(doc)) {
      if (/^(PayloadUUID|PayloadIdentifier|PayloadType|PayloadVersion|PayloadDisplayName|PayloadEnabled|PayloadOrganization|PayloadDescription)$/.test(k)) continue;
      copy[k] = v;
    }
    doc = copy;
  }
  return { found: true, ...validatePolicyDocument(doc, origin, platform) };
}

// ---------------------------------------------------------------------------
// Windows registry (reg query output)
// ---------------------------------------------------------------------------

export interface RegValue {
  name: string;
  type: string;
  data: string;
}

/**
 * Parses `reg query KEY` output: a line with the key, then one line per value
 * (`    Name    REG_TYPE    Data`, four-space separators; REG_MULTI_SZ items
 * joined by a literal `\0`). Subkey lines are returned separately.
 */
export function parseRegQuery(stdout: string, key: string): { values: RegValue[]; subkeys: string[] } {
  const values: RegValue[] = [];
  const subkeys: string[] = [];
  const keyLower = key.toLowerCase().replace(/^hklm\\/, 'hkey_local_machine\\');
  for (const line of stdout.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    if (/^HKEY_/i.test(line)) {
      if (line.trim().toLowerCase() !== keyLower) subkeys.push(line.trim());
      continue;
    }
    const m = /^ {4}(.*?) {4}(REG_[A-Z_]+)(?: {4}(.*))?$/.exec(line);
    if (m) values.push({ name: m[1]!, type: m[2]!, data: m[3] ?? '' });
  }
  return { values, subkeys };
}

/** Turns registry values into a policy document (types per key), then validates it. */
export function policyFromRegistry(parsed: { values: RegValue[]; subkeys: string[] }, origin: string, platform: NodeJS.Platform): SourceOutcome {
  const errors: string[] = [];
  const warnings: string[] = [];
  const doc = Object.create(null) as Record<string, unknown>;
  for (const sub of parsed.subkeys) warnings.push(`${origin}: subkey ${sub} ignored.`);
  for (const { name, type, data } of parsed.values) {
    const key = POLICY_KEYS.find((k) => k.toLowerCase() === name.toLowerCase());
    const where = `${origin}\\${name}`;
    if (!key) {
      warnings.push(`${origin}: unknown value "${name}" ignored.`);
      continue;
    }
    if (key in doc) {
      errors.push(`${where}: set twice.`);
      continue;
    }
    switch (key) {
      case 'libraryLocation':
      case 'modelPacksFolder':
        if (type === 'REG_SZ' || type === 'REG_EXPAND_SZ') {
          if (type === 'REG_EXPAND_SZ' && /%[^%]+%/.test(data)) {
            errors.push(`${where}: environment variables (${data}) are not expanded in a policy: users can change them. Write the path itself.`);
          } else doc[key] = data;
        } else errors.push(`${where}: must be REG_SZ (a path), not ${type}.`);
        break;
      case 'allowedExportFormats':
        if (type === 'REG_MULTI_SZ') doc[key] = data === '' ? [] : data.split('\\0').filter((s) => s !== '');
        else if (type === 'REG_SZ') doc[key] = data.split(/[,;\s]+/).filter((s) => s !== '');
        else errors.push(`${where}: must be REG_MULTI_SZ (one format per line) or REG_SZ (comma-separated), not ${type}.`);
        break;
      default:
        if (type === 'REG_DWORD' || type === 'REG_QWORD') {
          const n = /^0x[0-9a-f]+$/i.test(data) ? parseInt(data, 16) : NaN;
          if (n === 0 || n === 1) doc[key] = n === 1;
          else errors.push(`${where}: must be 0 or 1, not ${data}.`);
        } else errors.push(`${where}: must be REG_DWORD 0 or 1, not ${type}.`);
    }
  }
  if (errors.length > 0) return { found: true, policy: {}, errors, warnings };
  const validated = validatePolicyDocument(doc, origin, platform);
  return { found: true, ...validated, warnings: [...warnings, ...validated.warnings] };
}

async function regQuery(host: PolicyHost, key: string, value?: string): Promise<{ status: 'missing' } | { status: 'ok'; stdout: string } | { status: 'error'; error: string }> {
  const args = ['query', key, ...(value ? ['/v', value] : []), '/reg:64'];
  const r = await host.execFile('reg.exe', args);
  // reg.exe exits 1 with nothing on stdout when the key or value does not exist.
  if (r.code === 1 && r.stdout.length === 0) return { status: 'missing' };
  if (r.code !== 0) return { status: 'error', error: `reg query ${key} failed (${r.code === null ? 'could not run reg.exe' : `exit ${r.code}`}${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''})` };
  let stdout: string;
  try {
    stdout = new TextDecoder('utf-8', { fatal: true }).decode(r.stdout);
  } catch {
    return { status: 'error', error: `reg query ${key} printed text that is not UTF-8 (non-ASCII characters in a value?); use ASCII in registry policy values, or the JSON policy file` };
  }
  return { status: 'ok', stdout };
}

/** ProgramData from HKLM (never from the environment), or C:\ProgramData. */
export async function windowsProgramData(host: PolicyHost): Promise<string> {
  try {
    const pd = await regQuery(host, 'HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList', 'ProgramData');
    const root = await regQuery(host, 'HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion', 'SystemRoot');
    if (pd.status !== 'ok') return WINDOWS_DEFAULT_PROGRAMDATA;
    const value = parseRegQuery(pd.stdout, 'HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList').values.find((v) => v.name.toLowerCase() === 'programdata')?.data;
    if (!value) return WINDOWS_DEFAULT_PROGRAMDATA;
    const systemRoot = root.status === 'ok' ? parseRegQuery(root.stdout, 'HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion').values.find((v) => v.name.toLowerCase() === 'systemroot')?.data : undefined;
    const systemDrive = systemRoot && /^[A-Za-z]:/.test(systemRoot) ? systemRoot.slice(0, 2) : 'C:';
    const expanded = value.replace(/%SystemDrive%/gi, systemDrive).replace(/%SystemRoot%/gi, systemRoot ?? `${systemDrive}\\Windows`);
    return /^[A-Za-z]:\\/.test(expanded) && !expanded.includes('%') ? expanded : WINDOWS_DEFAULT_PROGRAMDATA;
  } catch {
    return WINDOWS_DEFAULT_PROGRAMDATA;
  }
}

// ---------------------------------------------------------------------------
// Reading one file source
// ---------------------------------------------------------------------------

export interface PolicyOptions {
  /** POSIX owners trusted for policy files and their folders (default: root only). */
  trustedUids?: readonly number[];
}

function writableByOthers(mode: number): boolean {
  return (mode & 0o022) !== 0;
}

/**
 * Why a POSIX file cannot be trusted, or null: the file (the target, for a
 * symlink) must be owned by a trusted uid and not writable by group or
 * others, and so must the folder holding it and, for a symlink, the folder
 * holding the link (whoever can write there can replace the link).
 */
async function posixTrustProblem(host: PolicyHost, file: string, trustedUids: readonly number[]): Promise<string | null> {
  const target = await host.realpath(file);
  const via = target !== file ? ` (a link to ${target})` : '';
  const st = await host.stat(target);
  if (!st) return 'disappeared while being read';
  if (!trustedUids.includes(st.uid)) return `is owned by uid ${st.uid}${via}; it must be owned by root (chown root:root)`;
  if (writableByOthers(st.mode)) return `is writable by users other than its owner${via} (mode ${(st.mode & 0o777).toString(8)}); use chmod 644`;
  const dirs = [...new Set([posix.dirname(file), posix.dirname(target)])];
  for (const dir of dirs) {
    const dirSt = await host.stat(dir);
    if (!dirSt) return `is in ${dir}, which cannot be examined`;
    if (!trustedUids.includes(dirSt.uid)) return `is in ${dir}, owned by uid ${dirSt.uid}${via}; the folder must be owned by root`;
    if (writableByOthers(dirSt.mode)) return `is in ${dir}, which users other than root can write to${via} (mode ${(dirSt.mode & 0o777).toString(8)}); use chmod 755`;
  }
  return null;
}

/** Why a Windows file cannot be trusted, or null. */
async function windowsTrustProblem(host: PolicyHost, file: string): Promise<string | null> {
  const literal = file.replace(/'/g, "''");
  const r = await host.execFile('powershell.exe', [
    '-NoProfile',
    '-NonInteractive',
    '-Command',
    `(Get-Acl -LiteralPath '${literal}').GetOwner([System.Security.Principal.SecurityIdentifier]).Value`,
  ]);
  const sid = r.code === 0 ? r.stdout.toString('utf8').trim() : '';
  if (!/^S-1-[0-9-]+$/.test(sid)) return `could not be checked: reading its owner with PowerShell failed (${r.code === null ? 'powershell.exe did not run' : `exit ${r.code}`})`;
  if (!WINDOWS_TRUSTED_OWNER_SIDS.has(sid)) return `is owned by ${sid}, not by Administrators or SYSTEM; an administrator must own it (icacls "${file}" /setowner *S-1-5-32-544)`;
  return null;
}

async function readFileSource(host: PolicyHost, source: PolicySource, options: PolicyOptions): Promise<SourceOutcome> {
  const { location } = source;
  let link: PolicyStat | null;
  try {
    link = await host.lstat(location);
  } catch (e) {
    return failed(`${location}: cannot be examined (${message(e)}).`);
  }
  if (!link) return NOT_FOUND;
  try {
    const st = await host.stat(location);
    if (!st) return failed(`${location}: is a link to nothing.`);
    if (!st.isFile()) return failed(`${location}: is not a regular file.`);
    if (st.size > MAX_POLICY_BYTES) return failed(`${location}: is ${st.size} bytes; a policy file may be at most ${MAX_POLICY_BYTES} bytes (1 MiB).`);
    const problem = host.platform === 'win32' ? await windowsTrustProblem(host, location) : await posixTrustProblem(host, location, options.trustedUids ?? [0]);
    if (problem) return failed(`${location}: not trusted: it ${problem}.`);
    const bytes = await host.readFile(location, MAX_POLICY_BYTES + 1);
    if (bytes.length > MAX_POLICY_BYTES) return failed(`${location}: is larger than ${MAX_POLICY_BYTES} bytes (1 MiB).`);
    if (source.kind === 'plist' && bytes.subarray(0, 8).toString('latin1') === 'bplist00') {
      return await readBinaryPlist(host, location);
    }
    let text: string;
    try {
      text = decodePolicyText(bytes);
    } catch {
      return failed(`${location}: is not UTF-8 or UTF-16 text.`);
    }
    return source.kind === 'plist' ? parsePolicyPlist(text, location, host.platform) : parsePolicyJson(text, location, host.platform);
  } catch (e) {
    return failed(`${location}: cannot be read (${message(e)}).`);
  }
}

/** Binary plists (what cfprefsd and MDM usually write) are converted with macOS's plutil. */
async function readBinaryPlist(host: PolicyHost, location: string): Promise<SourceOutcome> {
  const r = await host.execFile('/usr/bin/plutil', ['-convert', 'xml1', '-o', '-', location]);
  if (r.code !== 0) return failed(`${location}: binary property list that plutil could not convert (${r.code === null ? 'plutil did not run' : `exit ${r.code}`}).`);
  let text: string;
  try {
    text = decodePolicyText(r.stdout);
  } catch {
    return failed(`${location}: plutil printed text that is not UTF-8.`);
  }
  return parsePolicyPlist(text, location, host.platform);
}

async function readRegistrySource(host: PolicyHost, key: string): Promise<SourceOutcome> {
  const r = await regQuery(host, key);
  if (r.status === 'missing') return NOT_FOUND;
  if (r.status === 'error') return failed(`${key}: ${r.error}.`);
  return policyFromRegistry(parseRegQuery(r.stdout, key), key, host.platform);
}

/**
 * Reads one source (a file or the registry key). `found` is false when it
 * does not exist; otherwise errors say why it cannot be trusted.
 */
export async function readPolicySource(host: PolicyHost, source: PolicySource, options: PolicyOptions = {}): Promise<SourceOutcome> {
  try {
    return source.kind === 'registry' ? await readRegistrySource(host, source.location) : await readFileSource(host, source, options);
  } catch (e) {
    return failed(`${source.location}: cannot be read (${message(e)}).`);
  }
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

/** The sources for this host's platform, lowest precedence first. */
export async function policySources(host: PolicyHost): Promise<PolicySource[]> {
  switch (host.platform) {
    case 'win32':
      return [
        { kind: 'json', location: win32.join(await windowsProgramData(host), 'Fovea', 'policy.json') },
        { kind: 'registry', location: WINDOWS_POLICY_KEY },
      ];
    case 'darwin':
      return [
        { kind: 'json', location: MAC_POLICY_FILE },
        { kind: 'plist', location: MAC_MANAGED_PLIST },
      ];
    default:
      return [{ kind: 'json', location: LINUX_POLICY_FILE }];
  }
}

/**
 * Reads every policy source of this machine. Never throws: whatever goes
 * wrong with a policy that exists ends in SAFEST_DEFAULTS with an error.
 */
export async function loadPolicy(host: PolicyHost = nodePolicyHost(), options: PolicyOptions = {}): Promise<PolicyLoadResult> {
  const sources: PolicySource[] = [];
  const errors: string[] = [];
  const warnings: string[] = [];
  const merged: { -readonly [K in PolicyKey]?: Policy[K] } = {};
  const origins: Partial<Record<PolicyKey, string>> = {};
  let list: PolicySource[];
  try {
    list = await policySources(host);
  } catch (e) {
    list = [];
    errors.push(`The policy locations could not be determined (${message(e)}).`);
  }
  for (const source of list) {
    const outcome = await readPolicySource(host, source, options);
    if (!outcome.found) continue;
    sources.push(source);
    errors.push(...outcome.errors);
    warnings.push(...outcome.warnings);
    for (const [key, value] of Object.entries(outcome.policy) as [PolicyKey, never][]) {
      if (origins[key] !== undefined) warnings.push(`${source.location}: "${key}" overrides the value from ${origins[key]}.`);
      merged[key] = value;
      origins[key] = source.location;
    }
  }
  if (errors.length > 0) {
    const origin = 'safest defaults (the policy could not be trusted)';
    const safestOrigins: Partial<Record<PolicyKey, string>> = {};
    for (const key of Object.keys(SAFEST_DEFAULTS) as PolicyKey[]) safestOrigins[key] = origin;
    return {
      source: 'safest-defaults',
      policy: SAFEST_DEFAULTS,
      sources,
      origins: safestOrigins,
      errors,
      warnings,
    };
  }
  if (sources.length === 0) return { source: 'none', policy: {}, sources, origins: {}, errors, warnings };
  return { source: 'policy', policy: Object.freeze(merged), sources, origins, errors, warnings };
}


/** effectiveSettings with a loaded policy and this process's OS user. */
export function settingsUnderPolicy(user: Partial<PolicySettings>, loaded: Pick<PolicyLoadResult, 'policy'>, userName: string = currentUser()): EffectiveSettings {
  return effectiveSettings(user, loaded.policy, userName);
}
