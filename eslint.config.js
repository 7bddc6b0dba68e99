// Lint, including the layering rules (after VS Code's code-layering rule):
// - only electron/main and electron/preload may import 'electron';
// - shipped code (electron/, renderer/, native-models/) never imports network
//   modules (http, https, net, tls, dns, dgram, http2) nor Electron's `net`;
// - electron/contract imports nothing of ours and no node: modules;
// - the renderer reaches the backend only through the contract's types;
// - native-models imports only the contract from electron/; the core never imports
//   native-models (the ML engine is injected by main, the CLI and the tests).
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
    files: ['test/harness/bridge-client.js'],
    languageOptions: { globals: { ...globals.browser } },
  },
);
