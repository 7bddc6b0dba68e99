/**
 * The enterprise policy loader: valid, missing, malformed and hostile policy
 * files on each platform, through a fake PolicyHost (an in-memory file system
 * and fake `reg query` / PowerShell / plutil output), plus one pass through
 * the real file system.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { after, describe, test } from 'node:test';
import { EXPORT_FORMATS } from '../../../../electron/contract/export-formats';
import {
  LINUX_POLICY_FILE,
  MAC_MANAGED_PLIST,
  MAC_POLICY_FILE,
  MAX_POLICY_BYTES,
  SAFEST_DEFAULTS,
  WINDOWS_POLICY_KEY,
  effectiveSettings,
  libraryLocationProblem,
  loadPolicy,
  nodePolicyHost,
  parsePlistXml,
  parseRegQuery,
  readPolicySource,
  settingsUnderPolicy,
  type ExecResult,
  type PolicyHost,
  type PolicyStat,
} from '../../../../electron/core/policy/policy';

// ---------------------------------------------------------------------------
// A fake host
// ---------------------------------------------------------------------------

interface FakeEntry {
  data?: string | Buffer;
  link?: string;
  dir?: boolean;
  uid?: number;
  mode?: number;
  /** readFile throws this instead. */
  readError?: string;
}

interface FakeHost extends PolicyHost {
  reads: string[];
  execs: { file: string; args: readonly string[] }[];
}

type ExecFake = (file: string, args: readonly string[]) => ExecResult | undefined;

function ok(stdout: string | Buffer): ExecResult {
  return { code: 0, stdout: Buffer.isBuffer(stdout) ? stdout : Buffer.from(stdout, 'utf8'), stderr: '' };
}
const REG_MISSING: ExecResult = { code: 1, stdout: Buffer.alloc(0), stderr: 'ERROR: The system was unable to find the specified registry key or value.' };

function fakeHost(platform: NodeJS.Platform, entries: Record<string, FakeEntry>, exec: ExecFake = () => undefined): FakeHost {
  const sep = platform === 'win32' ? '\\' : '/';
  const dirname = (p: string): string => (platform === 'win32' ? p.slice(0, p.lastIndexOf('\\')) || p : posix.dirname(p));
  const entry = (p: string): FakeEntry | null => {
    if (entries[p]) return entries[p]!;
    // Folders that hold something exist, owned by root, 755.
    if (Object.keys(entries).some((k) => k.startsWith(p + sep))) return { dir: true };
    return null;
  };
  const toStat = (e: FakeEntry, isLink: boolean): PolicyStat => ({
    isFile: () => !isLink && !e.dir && e.link === undefined,
    isDirectory: () => !isLink && e.dir === true,
    isSymbolicLink: () => isLink,
    size: e.data === undefined ? 0 : Buffer.byteLength(e.data),
    uid: e.uid ?? 0,
    mode: e.mode ?? (e.dir ? 0o40755 : 0o100644),
  });
  const follow = (p: string, depth = 0): string => {
    const e = entry(p);
    if (e?.link === undefined) return p;
    if (depth > 8) throw Object.assign(new Error('ELOOP'), { code: 'ELOOP' });
    const target = e.link.startsWith('/') || /^[A-Za-z]:/.test(e.link) ? e.link : `${dirname(p)}${sep}${e.link}`;
    return follow(platform === 'win32' ? target : posix.normalize(target), depth + 1);
  };
  const host: FakeHost = {
    platform,
    reads: [],
    execs: [],
    lstat: async (p) => {
      const e = entry(p);
      return e ? toStat(e, e.link !== undefined) : null;
    },
    stat: async (p) => {
      const e = entry(follow(p));
      return e ? toStat(e, false) : null;
    },
    realpath: async (p) => {
      const r = follow(p);
      if (!entry(r)) throw Object.assign(new Error(`ENOENT: ${r}`), { code: 'ENOENT' });
      return r;
    },
    readFile: async (p, max) => {
      host.reads.push(p);
      const e = entry(follow(p));
      if (!e || e.data === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      if (e.readError) throw Object.assign(new Error(e.readError), { code: e.readError.split(':')[0] });
      const b = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data, 'utf8');
      return b.subarray(0, max);
    },
    execFile: async (file, args) => {
      host.execs.push({ file, args });
      return exec(file, args) ?? { code: null, stdout: Buffer.alloc(0), stderr: `${file}: not found` };
    },
  };
  return host;
}

const linux = (data: string | Buffer, extra: Partial<FakeEntry> = {}, more: Record<string, FakeEntry> = {}): FakeHost =>
  fakeHost('linux', { [LINUX_POLICY_FILE]: { data, ...extra }, ...more });

const FULL = {
  libraryLocation: '/srv/fovea/library',
  allowedExportFormats: ['dicom-deid', 'coco'],
  annotatorFromOsUser: true,
  modelExport: false,
  sampleData: false,
};

// ---------------------------------------------------------------------------
// Linux JSON: valid and missing
// ---------------------------------------------------------------------------

describe('policy file on Linux (/etc/fovea/policy.json)', () => {
  test('no policy file: no restrictions', async () => {
    const r = await loadPolicy(fakeHost('linux', {}));
    assert.equal(r.source, 'none');
    assert.deepEqual(r.policy, {});
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.sources, []);
  });

  test('a valid policy is enforced as written, with where each key came from', async () => {
    const r = await loadPolicy(linux(JSON.stringify(FULL)));
    assert.equal(r.source, 'policy');
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings, []);
    assert.deepEqual({ ...r.policy, allowedExportFormats: [...(r.policy.allowedExportFormats ?? [])] }, FULL);
    assert.equal(r.origins.modelExport, LINUX_POLICY_FILE);
    assert.deepEqual(r.sources, [{ kind: 'json', location: LINUX_POLICY_FILE }]);
  });

  test('{} is a policy without restrictions', async () => {
    const r = await loadPolicy(linux('{}'));
    assert.equal(r.source, 'policy');
    assert.deepEqual(r.policy, {});
  });

  test('unknown keys are warnings, not errors', async () => {
    const r = await loadPolicy(linux(JSON.stringify({ modelExport: false, telemetry: true })));
    assert.equal(r.source, 'policy');
    assert.equal(r.policy.modelExport, false);
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]!, /\/etc\/fovea\/policy\.json: unknown key "telemetry" ignored/);
  });

  test('UTF-8 with a BOM and UTF-16 with a BOM are read (Notepad writes both)', async () => {
    const json = JSON.stringify({ modelExport: false });
    const bom8 = await loadPolicy(linux(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)])));
    assert.equal(bom8.policy.modelExport, false);
    const utf16 = await loadPolicy(linux(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(json, 'utf16le')])));
    assert.equal(utf16.source, 'policy');
    assert.equal(utf16.policy.modelExport, false);
  });

  test('duplicate formats are collapsed', async () => {
    const r = await loadPolicy(linux(JSON.stringify({ allowedExportFormats: ['coco', 'coco', 'dicom-deid'] })));
    assert.deepEqual([...(r.policy.allowedExportFormats ?? [])], ['coco', 'dicom-deid']);
  });
});

// ---------------------------------------------------------------------------
// Malformed
// ---------------------------------------------------------------------------

/** Asserts the result is the safest defaults with one error mentioning `where` and matching `why`. */
function assertSafest(r: Awaited<ReturnType<typeof loadPolicy>>, where: string, why: RegExp): void {
  assert.equal(r.source, 'safest-defaults', `expected safest defaults, got ${r.source}: ${JSON.stringify(r)}`);
  assert.deepEqual(r.policy, SAFEST_DEFAULTS);
  assert.ok(r.errors.length >= 1);
  assert.ok(
    r.errors.some((e) => e.includes(where) && why.test(e)),
    `no error naming ${where} and matching ${why}: ${JSON.stringify(r.errors)}`,
  );
}

describe('malformed policies give a clear error and the safest defaults', () => {
  const cases: [string, string | Buffer, RegExp][] = [
    ['invalid JSON', '{ "modelExport": false, }', /not valid JSON/],
    ['truncated JSON', '{ "modelExport": ', /not valid JSON/],
    ['an empty file', '', /empty/],
    ['whitespace only', '  \n ', /empty/],
    ['a list at the top', '["dicom-deid"]', /must be an object/],
    ['null at the top', 'null', /must be an object/],
    ['a string at the top', '"hello"', /must be an object/],
    ['a boolean as text', JSON.stringify({ modelExport: 'false' }), /"modelExport" must be true or false, not the text "false"/],
    ['a number for a boolean', JSON.stringify({ sampleData: 0 }), /"sampleData" must be true or false/],
    ['formats as one string', JSON.stringify({ allowedExportFormats: 'dicom-deid' }), /"allowedExportFormats" must be a list of export formats/],
    ['an unknown format', JSON.stringify({ allowedExportFormats: ['dicom-deid', 'pdf'] }), /unknown formats "pdf"/],
    ['a number in the formats', JSON.stringify({ allowedExportFormats: ['coco', 7] }), /"allowedExportFormats" must be a list/],
    ['a library path that is a number', JSON.stringify({ libraryLocation: 42 }), /"libraryLocation" must be an absolute path/],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), /not UTF-8 or UTF-16/],
  ];
  for (const [name, data, why] of cases) {
    test(name, async () => assertSafest(await loadPolicy(linux(data)), LINUX_POLICY_FILE, why));
  }

  test('one bad key discards the whole file (IT meant something; we cannot tell what)', async () => {
    const r = await loadPolicy(linux(JSON.stringify({ libraryLocation: '/srv/lib', modelExport: 'no' })));
    assertSafest(r, LINUX_POLICY_FILE, /modelExport/);
    assert.equal(r.policy.libraryLocation, undefined);
  });

  test('the safest defaults: de-identified DICOM export only, no model export, OS user as annotator, no sample data', () => {
    assert.deepEqual([...(SAFEST_DEFAULTS.allowedExportFormats ?? [])], ['dicom-deid']);
    assert.equal(SAFEST_DEFAULTS.modelExport, false);
    assert.equal(SAFEST_DEFAULTS.annotatorFromOsUser, true);
    assert.equal(SAFEST_DEFAULTS.sampleData, false);
    assert.equal(SAFEST_DEFAULTS.libraryLocation, undefined);
    assert.ok(Object.isFrozen(SAFEST_DEFAULTS));
  });

  test('an unreadable file is an error, not "no policy"', async () => {
    const r = await loadPolicy(linux('{}', { readError: 'EACCES: permission denied' }));
    assertSafest(r, LINUX_POLICY_FILE, /cannot be read \(EACCES/);
  });

  test('a folder where the file should be is an error', async () => {
    const r = await loadPolicy(fakeHost('linux', { [LINUX_POLICY_FILE]: { dir: true } }));
    assertSafest(r, LINUX_POLICY_FILE, /not a regular file/);
  });
});

// ---------------------------------------------------------------------------
// Hostile
// ---------------------------------------------------------------------------

describe('hostile policies are refused', () => {
  test('a file over 1 MiB is refused without being read', async () => {
    const host = linux(Buffer.alloc(MAX_POLICY_BYTES + 1, 0x20));
    const r = await loadPolicy(host);
    assertSafest(r, LINUX_POLICY_FILE, /at most 1048576 bytes/);
    assert.deepEqual(host.reads, []);
  });

  test('__proto__, constructor and prototype keys are refused, at any depth, and pollute nothing', async () => {
    for (const text of [
      '{"__proto__": {"modelExport": true, "polluted": true}}',
      '{"modelExport": false, "constructor": {"prototype": {"polluted": true}}}',
      '{"allowedExportFormats": [{"__proto__": {"polluted": true}}]}',
    ]) {
      const r = await loadPolicy(linux(text));
      assertSafest(r, LINUX_POLICY_FILE, /not allowed/);
      assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
      assert.equal((Object.prototype as Record<string, unknown>)['modelExport'], undefined);
    }
  });

  test('deeply nested JSON is an error, not a crash', async () => {
    const deep = `{"x": ${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    const r = await loadPolicy(linux(deep));
    assert.equal(r.source, 'safest-defaults');
  });

  test('unsafe library locations are refused', async () => {
    for (const [path, why] of [
      ['relative/library', /not an absolute path/],
      ['./library', /not an absolute path/],
      ['~/library', /not an absolute path/],
      ['//server/share/library', /network path/],
      ['/srv/../home/user/library', /"\.\." segments/],
      ['/srv//library', /not a normalised path/],
      ['/srv/./library', /not a normalised path/],
      ['/srv/lib\u0000rary', /control characters/],
      ['/srv/\u202Eyrarbil', /control characters/],
      ['', /is empty/],
      [`/${'a'.repeat(5000)}`, /longer than 4096/],
    ] as const) {
      const r = await loadPolicy(linux(JSON.stringify({ libraryLocation: path })));
      assertSafest(r, LINUX_POLICY_FILE, why);
    }
    assert.equal(libraryLocationProblem('/srv/fovea/library/', 'linux'), null);
    assert.equal(libraryLocationProblem('/', 'linux'), null);
  });

  test('Windows library locations: drive-letter paths only, no UNC or device paths', () => {
    assert.equal(libraryLocationProblem('D:\\Fovea\\library', 'win32'), null);
    assert.equal(libraryLocationProblem('D:/Fovea/library', 'win32'), null);
    assert.match(libraryLocationProblem('\\\\server\\share\\lib', 'win32') ?? '', /UNC/);
    assert.match(libraryLocationProblem('\\\\?\\C:\\lib', 'win32') ?? '', /\(UNC\) or device/);
    assert.match(libraryLocationProblem('//server/share', 'win32') ?? '', /UNC/);
    assert.match(libraryLocationProblem('C:lib', 'win32') ?? '', /drive letter/);
    assert.match(libraryLocationProblem('\\lib', 'win32') ?? '', /drive letter/);
    assert.match(libraryLocationProblem('D:\\Fovea\\..\\Windows', 'win32') ?? '', /"\.\."/);
    assert.match(libraryLocationProblem('/srv/lib', 'win32') ?? '', /drive letter/);
  });

  test('a file that users other than root can change is not a policy', async () => {
    assertSafest(await loadPolicy(linux('{}', { uid: 1000 })), LINUX_POLICY_FILE, /owned by uid 1000; it must be owned by root/);
    assertSafest(await loadPolicy(linux('{}', { mode: 0o100666 })), LINUX_POLICY_FILE, /writable by users other than its owner \(mode 666\)/);
    assertSafest(await loadPolicy(linux('{}', { mode: 0o100664 })), LINUX_POLICY_FILE, /writable by users other than its owner/);
    assertSafest(
      await loadPolicy(linux('{}', {}, { '/etc/fovea': { dir: true, mode: 0o40777 } })),
      LINUX_POLICY_FILE,
      /is in \/etc\/fovea, which users other than root can write to/,
    );
    assertSafest(await loadPolicy(linux('{}', {}, { '/etc/fovea': { dir: true, uid: 1000 } })), LINUX_POLICY_FILE, /\/etc\/fovea, owned by uid 1000/);
  });

  test('a symlink to a file a user controls is refused; one to a root-owned file is followed', async () => {
    const toHome = fakeHost('linux', {
      [LINUX_POLICY_FILE]: { link: '/home/eve/policy.json' },
      '/home/eve/policy.json': { data: '{}', uid: 1000 },
    });
    assertSafest(await loadPolicy(toHome), LINUX_POLICY_FILE, /owned by uid 1000 \(a link to \/home\/eve\/policy\.json\)/);

    const toTmp = fakeHost('linux', {
      [LINUX_POLICY_FILE]: { link: '/tmp/policy.json' },
      '/tmp/policy.json': { data: '{}' },
      '/tmp': { dir: true, mode: 0o41777 },
    });
    assertSafest(await loadPolicy(toTmp), LINUX_POLICY_FILE, /is in \/tmp, which users other than root can write to/);

    const managed = fakeHost('linux', {
      [LINUX_POLICY_FILE]: { link: '../../nix/store/abc-fovea-policy/policy.json' },
      '/nix/store/abc-fovea-policy/policy.json': { data: JSON.stringify({ modelExport: false }) },
    });
    const r = await loadPolicy(managed);
    assert.equal(r.source, 'policy', JSON.stringify(r.errors));
    assert.equal(r.policy.modelExport, false);

    const dangling = fakeHost('linux', { [LINUX_POLICY_FILE]: { link: '/nowhere/policy.json' } });
    assertSafest(await loadPolicy(dangling), LINUX_POLICY_FILE, /link to nothing/);
  });
});

// ---------------------------------------------------------------------------
// Windows: registry and %ProgramData%
// ---------------------------------------------------------------------------

const CRLF = '\r\n';
function regOutput(key: string, lines: string[]): string {
  return [``, key, ...lines.map((l) => `    ${l}`), ``, ``].join(CRLF);
}
const POLICY_KEY_OUT = 'HKEY_LOCAL_MACHINE\\Software\\Policies\\Fovea';
const PROFILE_LIST = 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList';
const CURRENT_VERSION = 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion';

interface WinSetup {
  policyKey?: ExecResult;
  programData?: string;
  owner?: string;
  files?: Record<string, FakeEntry>;
}

function windows(setup: WinSetup): FakeHost {
  return fakeHost('win32', setup.files ?? {}, (file, args) => {
    if (file === 'reg.exe') {
      const key = args[1] ?? '';
      if (key === WINDOWS_POLICY_KEY) return setup.policyKey ?? REG_MISSING;
      if (key.endsWith('ProfileList')) {
        return setup.programData ? ok(regOutput(PROFILE_LIST, [`ProgramData    REG_EXPAND_SZ    ${setup.programData}`])) : REG_MISSING;
      }
      if (key.endsWith('CurrentVersion')) return ok(regOutput(CURRENT_VERSION, ['SystemRoot    REG_SZ    C:\\WINDOWS']));
    }
    if (file === 'powershell.exe') return setup.owner === undefined ? undefined : ok(`${setup.owner}\r\n`);
    return undefined;
  });
}

describe('policy on Windows (HKLM\\Software\\Policies\\Fovea and %ProgramData%\\Fovea\\policy.json)', () => {
  test('reg query output is parsed: REG_SZ, REG_MULTI_SZ, REG_DWORD, names in any case', async () => {
    const host = windows({
      policyKey: ok(
        regOutput(POLICY_KEY_OUT, [
          'LibraryLocation    REG_SZ    D:\\Fovea Library',
          'AllowedExportFormats    REG_MULTI_SZ    dicom-deid\\0coco\\0yolo',
          'annotatorfromosuser    REG_DWORD    0x1',
          'ModelExport    REG_DWORD    0x0',
        ]),
      ),
    });
    const r = await loadPolicy(host);
    assert.deepEqual(r.errors, []);
    assert.equal(r.source, 'policy');
    assert.equal(r.policy.libraryLocation, 'D:\\Fovea Library');
    assert.deepEqual([...(r.policy.allowedExportFormats ?? [])], ['dicom-deid', 'coco', 'yolo']);
    assert.equal(r.policy.annotatorFromOsUser, true);
    assert.equal(r.policy.modelExport, false);
    assert.equal(r.origins.libraryLocation, WINDOWS_POLICY_KEY);
    const regCall = host.execs.find((e) => e.file === 'reg.exe' && e.args[1] === WINDOWS_POLICY_KEY);
    assert.deepEqual(regCall?.args, ['query', WINDOWS_POLICY_KEY, '/reg:64']);
  });

  test('no key and no file: no restrictions', async () => {
    const r = await loadPolicy(windows({}));
    assert.equal(r.source, 'none');
    assert.deepEqual(r.errors, []);
  });

  test('REG_SZ lists, unknown values and subkeys', async () => {
    const r = await loadPolicy(
      windows({
        policyKey: ok(
          regOutput(POLICY_KEY_OUT, ['AllowedExportFormats    REG_SZ    dicom-deid, csv', 'Telemetry    REG_DWORD    0x1']) +
            `${POLICY_KEY_OUT}\\Extra${CRLF}`,
        ),
      }),
    );
    assert.equal(r.source, 'policy');
    assert.deepEqual([...(r.policy.allowedExportFormats ?? [])], ['dicom-deid', 'csv']);
    assert.ok(r.warnings.some((w) => /unknown value "Telemetry"/.test(w)));
    assert.ok(r.warnings.some((w) => /subkey .*Extra ignored/.test(w)));
  });

  test('bad registry values give the safest defaults', async () => {
    const cases: [string, RegExp][] = [
      ['ModelExport    REG_DWORD    0x2', /ModelExport: must be 0 or 1/],
      ['ModelExport    REG_SZ    false', /ModelExport: must be REG_DWORD 0 or 1, not REG_SZ/],
      ['LibraryLocation    REG_EXPAND_SZ    %USERPROFILE%\\Fovea', /environment variables .* are not expanded/],
      ['LibraryLocation    REG_SZ    \\\\fileserver\\radiology\\fovea', /UNC/],
      ['LibraryLocation    REG_DWORD    0x1', /must be REG_SZ/],
      ['AllowedExportFormats    REG_MULTI_SZ    dicom-deid\\0pdf', /unknown formats "pdf"/],
      ['AllowedExportFormats    REG_BINARY    00FF', /REG_MULTI_SZ/],
    ];
    for (const [line, why] of cases) {
      assertSafest(await loadPolicy(windows({ policyKey: ok(regOutput(POLICY_KEY_OUT, [line])) })), WINDOWS_POLICY_KEY, why);
    }
    const twice = await loadPolicy(windows({ policyKey: ok(regOutput(POLICY_KEY_OUT, ['ModelExport    REG_DWORD    0x0', 'modelexport    REG_DWORD    0x1'])) }));
    assertSafest(twice, WINDOWS_POLICY_KEY, /set twice/);
  });

  test('reg.exe failing, or printing text that is not UTF-8, is an error (fail closed)', async () => {
    assertSafest(await loadPolicy(windows({ policyKey: { code: null, stdout: Buffer.alloc(0), stderr: 'spawn reg.exe ENOENT' } })), WINDOWS_POLICY_KEY, /could not run reg\.exe/);
    assertSafest(await loadPolicy(windows({ policyKey: { code: 5, stdout: Buffer.alloc(0), stderr: 'ERROR: Access is denied.' } })), WINDOWS_POLICY_KEY, /exit 5: ERROR: Access is denied/);
    const cp850 = Buffer.concat([Buffer.from(`${POLICY_KEY_OUT}\r\n    LibraryLocation    REG_SZ    D:\\Biblioth`), Buffer.from([0x8a]), Buffer.from('que\r\n')]);
    assertSafest(await loadPolicy(windows({ policyKey: ok(cp850) })), WINDOWS_POLICY_KEY, /not UTF-8/);
  });

  test('the JSON file is found through ProgramData from HKLM, never from the environment', async () => {
    const file = 'D:\\ProgramData\\Fovea\\policy.json';
    const host = windows({ programData: '%SystemDrive%\\..\\D:', files: {} });
    // An unusable registry value falls back to C:\ProgramData.
    assert.equal((await loadPolicy(host)).source, 'none');
    const r = await loadPolicy(
      windows({ programData: 'D:\\ProgramData', owner: 'S-1-5-32-544', files: { [file]: { data: JSON.stringify({ sampleData: false }) } } }),
    );
    assert.equal(r.source, 'policy', JSON.stringify(r.errors));
    assert.equal(r.policy.sampleData, false);
    assert.equal(r.origins.sampleData, file);
    const std = await loadPolicy(
      windows({ programData: '%SystemDrive%\\ProgramData', owner: 'S-1-5-18', files: { 'C:\\ProgramData\\Fovea\\policy.json': { data: '{"modelExport": false}' } } }),
    );
    assert.equal(std.policy.modelExport, false);
  });

  test('the registry wins over the JSON file, key by key', async () => {
    const file = 'C:\\ProgramData\\Fovea\\policy.json';
    const r = await loadPolicy(
      windows({
        programData: '%SystemDrive%\\ProgramData',
        owner: 'S-1-5-32-544',
        files: { [file]: { data: JSON.stringify({ modelExport: true, sampleData: false }) } },
        policyKey: ok(regOutput(POLICY_KEY_OUT, ['ModelExport    REG_DWORD    0x0'])),
      }),
    );
    assert.equal(r.source, 'policy');
    assert.equal(r.policy.modelExport, false);
    assert.equal(r.policy.sampleData, false);
    assert.equal(r.origins.modelExport, WINDOWS_POLICY_KEY);
    assert.equal(r.origins.sampleData, file);
    assert.ok(r.warnings.some((w) => /"modelExport" overrides the value from C:\\ProgramData/.test(w)));
  });

  test('a policy file not owned by Administrators or SYSTEM is refused (users can create files in ProgramData)', async () => {
    const file = 'C:\\ProgramData\\Fovea\\policy.json';
    const files = { [file]: { data: '{}' } };
    assertSafest(await loadPolicy(windows({ owner: 'S-1-5-21-1004336348-1177238915-682003330-1001', files })), file, /owned by S-1-5-21-.*not by Administrators or SYSTEM/);
    assertSafest(await loadPolicy(windows({ files })), file, /could not be checked: reading its owner with PowerShell failed/);
  });

  test('parseRegQuery keeps names with spaces and empty data', () => {
    const out = regOutput(POLICY_KEY_OUT, ['Library Location    REG_SZ    ', '(Default)    REG_SZ    (value not set)']);
    const { values } = parseRegQuery(out, WINDOWS_POLICY_KEY);
    assert.deepEqual(values[0], { name: 'Library Location', type: 'REG_SZ', data: '' });
    assert.equal(values[1]?.name, '(Default)');
  });
});

// ---------------------------------------------------------------------------
// macOS: managed preferences (plist) and the JSON file
// ---------------------------------------------------------------------------

const PLIST_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n';
function plist(body: string): string {
  return `${PLIST_HEAD}<plist version="1.0">\n${body}\n</plist>\n`;
}

describe('policy on macOS (managed preferences org.fovea.app and the JSON file)', () => {
  const managed = plist(`<dict>
  <!-- pushed by the MDM -->
  <key>PayloadUUID</key><string>5D1E2F00-0000-4000-8000-000000000000</string>
  <key>libraryLocation</key><string>/Users/Shared/Fovea &amp; Co/library</string>
  <key>allowedExportFormats</key>
  <array>
    <string>dicom-deid</string>
    <string>nifti</string>
  </array>
  <key>modelExport</key><false/>
  <key>annotatorFromOsUser</key><true/>
</dict>`);

  test('an XML managed preferences file is enforced; MDM bookkeeping keys are ignored', async () => {
    const r = await loadPolicy(fakeHost('darwin', { [MAC_MANAGED_PLIST]: { data: managed } }));
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.warnings, []);
    assert.equal(r.source, 'policy');
    assert.equal(r.policy.libraryLocation, '/Users/Shared/Fovea & Co/library');
    assert.deepEqual([...(r.policy.allowedExportFormats ?? [])], ['dicom-deid', 'nifti']);
    assert.equal(r.policy.modelExport, false);
    assert.equal(r.policy.annotatorFromOsUser, true);
    assert.equal(r.origins.modelExport, MAC_MANAGED_PLIST);
  });

  test('a binary plist is converted with plutil', async () => {
    const host = fakeHost('darwin', { [MAC_MANAGED_PLIST]: { data: Buffer.from('bplist00\u0000\u0001binary') } }, (file, args) =>
      file === '/usr/bin/plutil' && args.includes('xml1') ? ok(plist('<dict><key>sampleData</key><false/></dict>')) : undefined,
    );
    const r = await loadPolicy(host);
    assert.equal(r.source, 'policy', JSON.stringify(r.errors));
    assert.equal(r.policy.sampleData, false);
    assert.deepEqual(host.execs[0]?.args, ['-convert', 'xml1', '-o', '-', MAC_MANAGED_PLIST]);
    const broken = fakeHost('darwin', { [MAC_MANAGED_PLIST]: { data: Buffer.from('bplist00garbage') } }, () => ({ code: 1, stdout: Buffer.alloc(0), stderr: 'bad' }));
    assertSafest(await loadPolicy(broken), MAC_MANAGED_PLIST, /plutil could not convert/);
  });

  test('managed preferences win over the JSON file', async () => {
    const r = await loadPolicy(
      fakeHost('darwin', {
        [MAC_POLICY_FILE]: { data: JSON.stringify({ modelExport: true, sampleData: false }) },
        [MAC_MANAGED_PLIST]: { data: plist('<dict><key>modelExport</key><false/></dict>') },
      }),
    );
    assert.equal(r.policy.modelExport, false);
    assert.equal(r.policy.sampleData, false);
    assert.equal(r.origins.sampleData, MAC_POLICY_FILE);
    assert.equal(r.origins.modelExport, MAC_MANAGED_PLIST);
  });

  test('hostile or unsupported plists are refused: entities, DTD subsets, CDATA, data, duplicate and prototype keys', async () => {
    const cases: [string, RegExp][] = [
      [
        `<?xml version="1.0"?>\n<!DOCTYPE plist [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<plist version="1.0"><dict><key>libraryLocation</key><string>&x;</string></dict></plist>`,
        /DOCTYPE with declarations/,
      ],
      [plist('<dict><key>libraryLocation</key><string>&x;</string></dict>'), /entity &x; is not allowed/],
      [plist('<dict><key>libraryLocation</key><string><![CDATA[/srv]]></string></dict>'), /unexpected markup/],
      [plist('<dict><key>modelExport</key><data>AAAA</data></dict>'), /<data> is not supported/],
      [plist('<dict><key>modelExport</key><false/><key>modelExport</key><true/></dict>'), /duplicate key "modelExport"/],
      [plist('<dict><key>__proto__</key><dict><key>polluted</key><true/></dict></dict>'), /"__proto__" is not allowed/],
      [plist('<dict><key>modelExport</key><string>false</string></dict>'), /"modelExport" must be true or false/],
      [plist('<array><string>dicom-deid</string></array>'), /must be an object/],
      [plist('<dict><key>modelExport</key><false/>'), /expected|unterminated/],
      [plist(`${'<array>'.repeat(40)}${'</array>'.repeat(40)}`), /nested too deeply/],
      ['not xml at all', /expected a tag/],
      [plist('<dict/>') + '<plist/>', /content after/],
    ];
    for (const [data, why] of cases) {
      const r = await loadPolicy(fakeHost('darwin', { [MAC_MANAGED_PLIST]: { data } }));
      assertSafest(r, MAC_MANAGED_PLIST, why);
    }
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  test('the plist parser decodes the predefined entities and character references, and nothing else', () => {
    assert.deepEqual(parsePlistXml(plist('<array><string>a&lt;b&gt;c&quot;d&apos;e&#233;&#x1F600;</string><integer>-3</integer><real>2.5</real><string/></array>')), [
      'a<b>c"d\'eé😀',
      -3,
      2.5,
      '',
    ]);
    const dict = parsePlistXml(plist('<dict><key>a</key><true/></dict>')) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(dict), null);
    assert.throws(() => parsePlistXml(plist('<string>&#0;</string>')), /invalid character reference/);
    assert.throws(() => parsePlistXml(plist('<string>a & b</string>')), /bare "&"/);
  });

  test('the plist parser refuses hostile input early, before the XML library builds a tree', () => {
    // Sizes near MAX_POLICY_BYTES (1 MiB), the most a policy file may hold.
    assert.throws(() => parsePlistXml(plist('<array>'.repeat(150_000) + '</array>'.repeat(150_000))), /nested too deeply/);
    assert.throws(() => parsePlistXml(plist('<array>'.repeat(150_000))), /nested too deeply/);
    assert.throws(() => parsePlistXml(plist(`<dict ${'a="1" '.repeat(170_000)}/>`)), /tag longer than 1024/);
    assert.throws(() => parsePlistXml(plist(`<dict ${'a'.repeat(1_000_000)}`)), /tag longer than 1024/);
    assert.throws(() => parsePlistXml(plist(`<array>${'<true/>'.repeat(10_001)}</array>`)), /array too long/);
    assert.throws(
      () => parsePlistXml(`<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><plist><string>&b;</string></plist>`),
      /DOCTYPE with declarations/,
    );
    assert.throws(() => parsePlistXml(plist('<array><!ENTITY x "y"></array>')), /unsupported markup/);
    assert.throws(() => parsePlistXml(plist('<array><?x y?></array>')), /unsupported markup/);
    assert.throws(() => parsePlistXml('<plist><dict/></plist><!DOCTYPE plist SYSTEM "x">'), /unsupported markup/);
    assert.throws(() => parsePlistXml(plist(`<dict><!-- ${'x'.repeat(1_000_000)}</dict>`)), /unterminated comment/);
    assert.throws(() => parsePlistXml(plist('<string>a<!-- hidden -->b</string>')), /unexpected markup in text/);
    assert.throws(() => parsePlistXml(plist('<string>&#xD800;</string>')), /invalid character reference/);
    assert.throws(() => parsePlistXml(plist('<string>&#1114112;</string>')), /entity|invalid character reference/);
    // A forbidden key spelled with a character reference is still the forbidden key.
    assert.throws(() => parsePlistXml(plist('<dict><key>__proto&#95;_</key><dict><key>polluted</key><true/></dict></dict>')), /"__proto__" is not allowed/);
    assert.throws(() => parsePlistXml(plist('<dict><key>constructor</key><true/></dict>')), /"constructor" is not allowed/);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    // Stricter than XML, as this reader always was: no "&" in attribute values, no space in a closing tag.
    assert.throws(() => parsePlistXml(plist('<dict><key a="&amp;">k</key><true/></dict>')), /expected a tag/);
    assert.throws(() => parsePlistXml(plist('<string>a</string >')), /expected a tag/);
    // Key order pairs keys with values; comments between them are allowed.
    assert.deepEqual(
      { ...(parsePlistXml(plist('<dict><!-- c --><key>b</key><integer>2</integer><key>a</key><array><true/><false/></array></dict>')) as object) },
      { b: 2, a: [true, false] },
    );
    assert.throws(() => parsePlistXml(plist('<dict><key>a</key></dict>')), /expected a value/);
    assert.throws(() => parsePlistXml(plist('<dict><string>a</string><true/></dict>')), /expected <key>/);
    assert.throws(() => parsePlistXml(plist('<dict>text<key>a</key><true/></dict>')), /unexpected text/);
  });
});

// ---------------------------------------------------------------------------
// Effective settings
// ---------------------------------------------------------------------------

describe('effectiveSettings: the policy wins and says what is locked', () => {
  const user = {
    libraryLocation: '/home/ana/my-library',
    annotatorName: 'Dr. Who',
    allowedExportFormats: ['coco', 'onnx'] as const,
    modelExport: true,
    sampleData: true,
  };

  test('no policy: the user\'s settings, nothing locked', () => {
    const e = effectiveSettings(user, {}, 'ana');
    assert.deepEqual(e.locked, []);
    assert.equal(e.settings.libraryLocation, '/home/ana/my-library');
    assert.equal(e.settings.annotatorName, 'Dr. Who');
    const defaults = effectiveSettings({}, {}, 'ana');
    assert.deepEqual([...defaults.settings.allowedExportFormats], [...EXPORT_FORMATS]);
    assert.equal(defaults.settings.libraryLocation, null);
  });

  test('policy values replace the user\'s and lock them; the annotator is the OS user', () => {
    const e = effectiveSettings(user, { libraryLocation: '/srv/fovea', allowedExportFormats: ['dicom-deid'], modelExport: false, annotatorFromOsUser: true }, 'ana');
    assert.equal(e.settings.libraryLocation, '/srv/fovea');
    assert.deepEqual([...e.settings.allowedExportFormats], ['dicom-deid']);
    assert.equal(e.settings.modelExport, false);
    assert.equal(e.settings.annotatorName, 'ana');
    assert.equal(e.settings.sampleData, true);
    assert.deepEqual([...e.locked].sort(), ['allowedExportFormats', 'annotatorName', 'libraryLocation', 'modelExport']);
    assert.ok(Object.isFrozen(e.settings));
  });

  test('annotatorFromOsUser false leaves the name to the user', () => {
    const e = effectiveSettings(user, { annotatorFromOsUser: false }, 'ana');
    assert.equal(e.settings.annotatorName, 'Dr. Who');
    assert.deepEqual(e.locked, []);
  });

  test('under the safest defaults', async () => {
    const loaded = await loadPolicy(linux('{ broken'));
    const e = settingsUnderPolicy(user, loaded, 'ana');
    assert.deepEqual([...e.settings.allowedExportFormats], ['dicom-deid']);
    assert.equal(e.settings.modelExport, false);
    assert.equal(e.settings.sampleData, false);
    assert.equal(e.settings.annotatorName, 'ana');
    assert.equal(e.settings.libraryLocation, '/home/ana/my-library');
    assert.ok(!e.locked.includes('libraryLocation'));
  });
});

// ---------------------------------------------------------------------------
// The real file system (POSIX)
// ---------------------------------------------------------------------------

describe('policy files on the real file system', { skip: process.platform === 'win32' ? 'POSIX permissions' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fovea-policy-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const me = process.getuid?.() ?? 0;
  const host = nodePolicyHost('linux');
  const opts = { trustedUids: [me] };

  test('a valid file, a missing file, a world-writable file, a symlink', async () => {
    const file = join(dir, 'policy.json');
    writeFileSync(file, JSON.stringify({ modelExport: false, libraryLocation: '/srv/fovea' }));
    chmodSync(file, 0o644);
    const good = await readPolicySource(host, { kind: 'json', location: file }, opts);
    assert.deepEqual(good.errors, []);
    assert.equal(good.found, true);
    assert.equal(good.policy.modelExport, false);

    const none = await readPolicySource(host, { kind: 'json', location: join(dir, 'absent.json') }, opts);
    assert.equal(none.found, false);

    chmodSync(file, 0o666);
    const writable = await readPolicySource(host, { kind: 'json', location: file }, opts);
    assert.match(writable.errors.join(), /writable by users other than its owner/);
    chmodSync(file, 0o644);

    const link = join(dir, 'link.json');
    symlinkSync(file, link);
    const viaLink = await readPolicySource(host, { kind: 'json', location: link }, opts);
    assert.deepEqual(viaLink.errors, []);
    assert.equal(viaLink.policy.libraryLocation, '/srv/fovea');

    const notMine = await readPolicySource(host, { kind: 'json', location: file }, { trustedUids: [me + 1] });
    assert.match(notMine.errors.join(), new RegExp(`owned by uid ${me}`));
  });
});
