/**
 * Reads a model file named by a verified manifest and checks that the bytes are the ones the
 * manifest promised (size and SHA-256) before anything runs them. The checked bytes are what
 * ONNX Runtime gets (a session is created from the buffer, not the path), so a file swapped after
 * the check is never run. Reading through Node's fs also works for files inside an Electron asar.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { OnnxFileRef } from '../../electron/contract/assist-engine';

export class ModelFileError extends Error {
  override readonly name = 'ModelFileError';
}

export async function readVerified(ref: OnnxFileRef): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(ref.path);
  } catch (e) {
    throw new ModelFileError(`cannot read the model file ${ref.path}: ${(e as Error).message}`);
  }
  if (bytes.byteLength !== ref.bytes) {
    throw new ModelFileError(`${ref.path} has ${bytes.byteLength} bytes; its manifest says ${ref.bytes}. The file was changed or replaced: it is not run.`);
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== ref.sha256.toLowerCase()) {
    throw new ModelFileError(`${ref.path} has SHA-256 ${sha}; its manifest says ${ref.sha256}. The file was changed or replaced: it is not run.`);
  }
  return bytes;
}
