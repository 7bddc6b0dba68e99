// Lint, including the layering rules (after VS Code's code-layering rule):
// - only electron/main and electron/preload may import 'electron';
// - shipped code (electron/, renderer/, native-models/) never imports network
//   modules (http, https, net, tls, dns, dgram, http2) nor Electron's `net`;
// - electron/contract imports nothing of ours and no node: modules;
// - the renderer reaches the backend only through the contract's types;
// - native-models imports only the contract from electron/; the core never imports
//   native-models (the ML engine is injected by main, the CLI and the tests);
// - SQL lives in electron/core/store/ (repositories with typed rows): elsewhere a
//   Database's prepare/exec/transaction/pragma and importing better-sqlite3 fail
//   (fovea/sql-only-in-store below).
import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const NETWORK_MODULES = ['http', 'https', 'net', 'tls', 'dns', 'dgram', 'http2'].flatMap((m) => [m, `node:${m}`]);
const networkPaths = NETWORK_MODULES.map((name) => ({
  name,
  message: 'No network code in anything Fovea ships: privacy is the product.',
}));
const electronPath = {
  name: 'electron',
  message: "Only electron/main and electron/preload may import 'electron'; the core runs in plain Node.",
};
const electronNet = {
  name: 'electron',
  importNames: ['net', 'autoUpdater', 'crashReporter', 'netLog'],
  message: 'No network, updater or crash-upload code in Fovea.',
};

/** Build a no-restricted-imports rule from paths and regex patterns. */
function restrict(paths, patterns = []) {
  return ['error', { paths, patterns }];
}

export const layeringRules = {
  shipped: restrict([...networkPaths, electronPath]),
  electronShell: restrict([...networkPaths, electronNet]),
  contract: restrict([...networkPaths, electronPath], [
    { regex: '^node:', message: 'The contract is pure TypeScript: no node: modules.' },
    { regex: '^\\.\\./', message: 'The contract imports nothing of ours outside electron/contract.' },
  ]),
  core: restrict([...networkPaths, electronPath], [
    { regex: '(^|/)(main|preload|cli)(/|$)', message: 'core/ must not import the Electron shell or the CLI.' },
    { regex: '(^|/)renderer/', message: 'core/ must not import the renderer.' },
    { regex: '(^|/)native-models(/|$)', message: 'core/ gets the ML engine injected (contract/ml.ts MlEngine); it never imports native-models.' },
    { regex: '^@tensorflow/', message: 'core/ never imports TensorFlow.js; that is native-models\' job.' },
  ]),
  renderer: restrict([...networkPaths, electronPath], [
    { regex: '^node:', message: 'The renderer runs in a sandboxed page: no node: modules.' },
    { regex: '/electron/(core|main|preload|cli)(/|$)', message: 'The renderer talks to the backend only through src/lib/api.ts and the contract.' },
  ]),
  nativeModels: restrict([...networkPaths, electronPath], [
    { regex: '/electron/(core|main|preload|cli)(/|$)', message: 'native-models imports only electron/contract.' },
    { regex: '(^|/)renderer/', message: 'native-models must not import the renderer.' },
  ]),
};

const SQL_MESSAGE =
  'SQL lives in electron/core/store/: call (or add) a repository function there that takes the Database and returns typed rows.';
const DB_METHODS = new Set(['prepare', 'exec', 'transaction', 'pragma', 'backup', 'function', 'aggregate', 'loadExtension']);
const DB_NAME = /^(db|database|sqlite)$/i;
const SQL_TEXT = /^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|PRAGMA|WITH|BEGIN|COMMIT|VACUUM|ATTACH)\b/i;

/** The name a receiver goes by: `db`, `this.#db`, `core.db`, `job.sources.db` all end in "db". */
function receiverName(node) {
  if (node.type === 'Identifier') return node.name;
  if (node.type === 'MemberExpression' && !node.computed && (node.property.type === 'Identifier' || node.property.type === 'PrivateIdentifier')) return node.property.name;
  return null;
}

/** The literal text of a string or template literal argument, else null. */
function literalText(node) {
  if (!node) return null;
  if (node.type === 'Literal' && typeof node.value === 'string') return node.value;
  if (node.type === 'TemplateLiteral') return node.quasis.map((q) => q.value.cooked ?? '').join(' ');
  return null;
}

/**
 * A Database method (prepare, exec, transaction, pragma, ...) called on a receiver named like a
 * database, or prepare/exec given SQL text, outside electron/core/store/; and better-sqlite3
 * imported there. Without type information the receiver's name is the signal, as in the code
 * base (`db`, `this.#db`, `core.db`); SQL text catches any other name.
 */
export const sqlOnlyInStore = {
  meta: { type: 'problem', schema: [], messages: { sql: SQL_MESSAGE, driver: 'Only electron/core/store/ imports better-sqlite3.' } },
  create(context) {
    return {
      CallExpression(node) {
        const callee = node.callee;
        if (callee.type !== 'MemberExpression' || callee.computed || callee.property.type !== 'Identifier') return;
        const method = callee.property.name;
        if (!DB_METHODS.has(method)) return;
        const receiver = receiverName(callee.object);
        const sql = (method === 'prepare' || method === 'exec') && SQL_TEXT.test(literalText(node.arguments[0]) ?? '');
        if ((receiver !== null && DB_NAME.test(receiver)) || sql) context.report({ node, messageId: 'sql' });
      },
      ImportDeclaration(node) {
        if (node.source.value === 'better-sqlite3') context.report({ node, messageId: 'driver' });
      },
    };
  },
};

export default tseslint.config(
  {
    ignores: ['node_modules/', 'dist/', 'out/', 'test-results/', '.electron-native/', 'coverage/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs['flat/recommended'],
  {
    languageOptions: { globals: { ...globals.node }, ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'off',
    },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      globals: { ...globals.browser },
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] },
    },
  },
  { files: ['renderer/**/*.{ts,svelte}'], languageOptions: { globals: { ...globals.browser } } },
  { files: ['electron/**/*.ts'], rules: { 'no-restricted-imports': layeringRules.shipped } },
  { files: ['electron/core/**/*.ts'], rules: { 'no-restricted-imports': layeringRules.core } },
  { files: ['electron/contract/**/*.ts'], rules: { 'no-restricted-imports': layeringRules.contract } },
  { files: ['electron/main/**/*.ts', 'electron/preload/**/*.ts'], rules: { 'no-restricted-imports': layeringRules.electronShell } },
  { files: ['renderer/src/**/*.{ts,svelte}'], rules: { 'no-restricted-imports': layeringRules.renderer } },
  { files: ['native-models/**/*.ts'], rules: { 'no-restricted-imports': layeringRules.nativeModels } },
  {
    files: ['electron/**/*.ts', 'native-models/**/*.ts', 'renderer/src/**/*.{ts,svelte}'],
    ignores: ['electron/core/store/**'],
    plugins: { fovea: { rules: { 'sql-only-in-store': sqlOnlyInStore } } },
    rules: { 'fovea/sql-only-in-store': 'error' },
  },
  {
    files: ['test/harness/bridge-client.js'],
    languageOptions: { globals: { ...globals.browser } },
  },
);
