// A node:test reporter that sums each file's top-level test durations (seconds) and writes them as
// JSON at the end. test/run.mjs uses it when FOVEA_TEST_DURATIONS names a folder; the totals become
// test/durations.json, which test/run.mjs reads to start the longest files first (so two cores do
// not end on one long file alone). A stale table only orders files worse; it never changes results.
import { relative } from 'node:path';

export default async function* durations(source) {
  const perFile = {};
  for await (const event of source) {
    if ((event.type === 'test:pass' || event.type === 'test:fail') && event.data.nesting === 0 && event.data.file) {
      const ms = event.data.details?.duration_ms ?? 0;
      const file = relative(process.cwd(), event.data.file);
      perFile[file] = (perFile[file] ?? 0) + ms / 1000;
    }
  }
  const rounded = Object.entries(perFile)
    .sort(([, a], [, b]) => b - a)
    .map(([file, s]) => [file, Math.round(s * 10) / 10]);
  yield `${JSON.stringify(Object.fromEntries(rounded), null, 1)}\n`;
}
