/**
 * The store lint (fovea/sql-only-in-store): a Database's prepare/exec/transaction/pragma,
 * SQL text handed to prepare/exec, and importing better-sqlite3 fail outside
 * electron/core/store/; the same code inside store/ passes, and look-alikes
 * (RegExp#exec, a service's own prepare()) pass everywhere. Lints virtual files at
 * real paths with the repo's own ESLint config.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ESLint } from 'eslint';
import { REPO_ROOT } from '../../helpers/paths';

const eslint = new ESLint({ cwd: REPO_ROOT });
const RULE = 'fovea/sql-only-in-store';

async function sqlErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  const fatal = (result?.messages ?? []).filter((m) => m.fatal);
  assert.deepEqual(fatal, [], `${filePath} parses`);
  return (result?.messages ?? []).filter((m) => m.ruleId === RULE).map((m) => m.message);
}

const HEADER = "import type { Db } from '../store/library-db';\n";
const OFFENDING: [string, string][] = [
  ['plain db', 'export function f(db: Db): unknown { return db.prepare("SELECT 1").get(); }\n'],
  ['core.db', 'export function f(core: { db: Db }): unknown { return core.db.prepare("SELECT id FROM items").all(); }\n'],
  ['this.#db', 'export class S { readonly #db: Db; constructor(db: Db) { this.#db = db; } f(): void { this.#db.exec("VACUUM"); } }\n'],
  ['nested sources.db', 'export function f(job: { sources: { db: Db } }): void { job.sources.db.pragma("foreign_keys = ON"); }\n'],
  ['transaction', 'export function f(db: Db): void { db.transaction(() => undefined).immediate(); }\n'],
  ['SQL text on another name', 'export function f(conn: Db): unknown { return conn.prepare(`SELECT * FROM annotations WHERE id = ?`).get(1); }\n'],
];

test('a Database call or SQL text outside electron/core/store/ fails the lint', async () => {
  for (const file of ['electron/core/predict/x.ts', 'electron/cli/x.ts', 'electron/main/x.ts']) {
    for (const [what, code] of OFFENDING) {
      const errors = await sqlErrors(file, HEADER + code);
      assert.equal(errors.length, 1, `${file} ${what}: ${errors.join(' | ')}`);
      assert.match(errors[0] as string, /SQL lives in electron\/core\/store\//);
    }
  }
  const driver = await sqlErrors('electron/core/x.ts', "import Database from 'better-sqlite3';\nexport const open = (p: string) => new Database(p);\n");
  assert.deepEqual(driver, ['Only electron/core/store/ imports better-sqlite3.']);
});

test('the same code inside electron/core/store/ passes, and look-alikes pass anywhere', async () => {
  for (const [what, code] of OFFENDING) {
    assert.deepEqual(await sqlErrors('electron/core/store/x-repo.ts', "import type { Db } from './library-db';\n" + code), [], what);
  }
  assert.deepEqual(await sqlErrors('electron/core/store/x.ts', "import Database from 'better-sqlite3';\nexport const open = (p: string) => new Database(p);\n"), []);
  const lookAlikes = [
    'export const m = /^(\\d+)$/.exec("12");\n',
    'export function f(re: RegExp, s: string): unknown { return re.exec(s); }\n',
    'export async function f(svc: { prepare(b: Uint8Array): Promise<void> }, b: Uint8Array): Promise<void> { await svc.prepare(b); }\n',
  ];
  for (const code of lookAlikes) assert.deepEqual(await sqlErrors('electron/core/import/x.ts', code), [], code);
});
