/**
 * `npm run bench [-- NAME...]`: the benchmarks, each measured against its
 * reference in the same run where the issue names one. Prints a table and
 * one "BENCH {json}" line per figure.
 */
import { runFuzzBench } from './fuzz.bench';
import { runImportBench } from './import.bench';
import { runLearningBench } from './learning.bench';
import { runTrainingBench } from './training.bench';
import { runViewerBench } from './viewer.bench';
import { runKernelBench } from './wasm-kernels.bench';
import { runSamBench } from './sam.bench';
import { runStoreBench } from './store.bench';
import { runVolumeBench } from './volume.bench';
import { runDataManagementBench } from './datamgmt.bench';
import { runClassificationRecipeBench } from './classification-recipe.bench';
import { runLearningTargetsBench } from './learning-targets.bench';

const benches: Record<string, () => Promise<void>> = {
  store: () => runStoreBench(),
  import: () => runImportBench(),
  fuzz: () => runFuzzBench(),
  kernels: () => runKernelBench(),
  training: () => runTrainingBench(),
  viewer: () => runViewerBench(),
  learning: () => runLearningBench(),
  sam: () => runSamBench(),
  volume: () => runVolumeBench(),
  datamgmt: () => runDataManagementBench(),
  clsrecipe: () => runClassificationRecipeBench(),
  targets: () => runLearningTargetsBench(),
};

// Options that take a value (the training bench's); their values are not bench names.
const VALUE_OPTIONS = new Set(['--rounds', '--backend', '--torch-device', '--epochs', '--seeds', '--first-seed', '--minutes', '--sets', '--override']);
const args = process.argv.slice(2);
const wanted = args.filter((a, i) => !a.startsWith('-') && !VALUE_OPTIONS.has(args[i - 1] ?? ''));
// 'targets' (issue 13's learning targets: 15 minutes a run, 3 seeds, 4 sets = 3 hours) runs only when named.
const names = wanted.length ? wanted : Object.keys(benches).filter((n) => n !== 'targets');
for (const name of names) {
  const bench = benches[name];
  if (!bench) {
    process.stderr.write(`unknown bench "${name}"; known: ${Object.keys(benches).join(', ')}\n`);
    process.exit(2);
  }
  await bench();
}
