/**
 * `npm run harness -- [--library DIR] [--port N]`: serve the renderer build
 * against the real core on 127.0.0.1 for manual testing in a browser.
 */
import { parseArgs } from 'node:util';
import { resolveLibraryDir } from '../../electron/core/app/library-location';
import { createCore } from '../../electron/core/composition-root';
import { createMlEngine } from '../../native-models/engine';
import { createAssistEngine } from '../../native-models/assist/assist-engine';
import { startBridge } from './bridge-server';

const { values } = parseArgs({ options: { library: { type: 'string' }, port: { type: 'string' } } });
const assist = createAssistEngine();
const core = createCore({ libraryDir: resolveLibraryDir(values.library), ml: createMlEngine(), assist });
const bridge = await startBridge(core, { port: values.port ? Number(values.port) : 5178 });
process.stdout.write(`Fovea harness: ${bridge.url}  (library ${core.library.path}; Ctrl-C to stop)\n`);
process.on('SIGINT', () => {
  void bridge.close().then(() => {
    core.close();
    void assist.dispose().then(() => process.exit(0));
  });
});
