/**
 * An import worker: reads, hashes, decodes and thumbnails files and writes
 * their blobs, as the engine's thread asks (import-protocol.ts). Several
 * files may be in progress at once: while one waits for a decision, the
 * next is decoded. Started by file-preparer.ts, from source (under tsx) or
 * as fovea-import-worker.mjs beside the bundle (build/scripts/bundle-electron.mjs).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createDicomSupport } from './dicom-support';
import type { FromImportWorker, ImportWorkerData, ToImportWorker } from './import-protocol';
import { fileFailure, mayBeKnown, prepareBytes, readAndHash, writePreparedBlobs, type PreparedFile } from './prepare-file';

const port = parentPort;
if (port === null) throw new Error('import-worker.ts runs as a worker thread');
const { blobRoot, knownHashPrefixes } = workerData as ImportWorkerData;
const dicom = createDicomSupport();
const knownDirs = new Set<string>();

/** Files between their stages: waiting for the hash decision, or prepared and waiting for finish. */
const waiting = new Map<number, (itemId: number | null) => void>();
const prepared = new Map<number, PreparedFile>();

function send(message: FromImportWorker): void {
  port?.postMessage(message);
}

async function prepare(id: number, path: string, size: number): Promise<void> {
  // Decoding runs to its end without yielding; the messages already here (a 'finish' that starts
  // a blob write the engine's commit waits for) are handled first.
  await new Promise<void>((resolve) => setImmediate(resolve));
  try {
    const { bytes, sha256 } = readAndHash(path, size);
    // Most files are new: only a possible match waits for the engine's answer (a round trip).
    if (mayBeKnown(knownHashPrefixes, sha256)) {
      const known = new Promise<number | null>((resolve) => waiting.set(id, resolve));
      send({ type: 'hashed', id, sha256 });
      const itemId = await known;
      if (itemId !== null) {
        send({ type: 'stage', id, stage: { status: 'known', sha256, itemId } });
        return;
      }
    }
    const file = await prepareBytes(bytes, sha256, dicom);
    prepared.set(id, file);
    send({ type: 'stage', id, stage: { status: 'prepared', sha256, summary: file.summary } });
  } catch (e) {
    send({ type: 'stage', id, stage: { status: 'failed', failure: fileFailure(e) } });
  }
}

async function finish(id: number, write: boolean): Promise<void> {
  const file = prepared.get(id);
  prepared.delete(id);
  if (!write || file === undefined) {
    send({ type: 'done', id, result: null });
    return;
  }
  try {
    send({ type: 'done', id, result: await writePreparedBlobs(blobRoot, file, knownDirs) });
  } catch (e) {
    send({ type: 'done', id, result: fileFailure(e) });
  }
}

port.on('message', (m: ToImportWorker) => {
  switch (m.type) {
    case 'prepare':
      void prepare(m.id, m.path, m.size);
      break;
    case 'known':
      waiting.get(m.id)?.(m.itemId);
      waiting.delete(m.id);
      break;
    case 'finish':
      void finish(m.id, m.write);
      break;
  }
});
