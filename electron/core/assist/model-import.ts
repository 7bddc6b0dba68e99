/**
 * Bring your own model: an ONNX classifier, detector or segmenter becomes a model of the library
 * (<library>/models/<name>/: model.onnx, fovea-model.json, and a Fovea export's model-card.json),
 * usable by `fovea predict --model` and `fovea evaluate --model` like Fovea's own runs.
 *
 * What the model is comes from, in order: a manifest the user gives (--manifest, any part of the
 * contract's ModelManifestSchema), the model card of a Fovea export beside the file
 * (model-card.json), then the graph itself (model-layouts.ts); class names from the manifest,
 * --classes (one per line), the card, or Ultralytics' metadata. A model that does not fit is
 * refused with what was expected and what was found, before anything is written; one that ONNX
 * Runtime cannot load or run (an operator it lacks, a wrong shape) is refused with its message
 * after a trial run on a blank input.
 *
 * The copy is written into a temporary folder inside models/, hashed (the manifest records the
 * copy's SHA-256 and size), verified through the registry like any pack, and renamed into place:
 * a failed import leaves nothing. Audited ('model.import': name, task, decoder, hash; no paths).
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import * as v from 'valibot';
import { MANIFEST_FILE, type ImportedModel, type ModelManifest } from '../../contract/assist';
import type { AssistEngine, OnnxGraphInfo, OnnxModelRef } from '../../contract/assist-engine';
import { FoveaException } from '../../contract/result';
import type { AuditLog } from '../store/audit-log';
import { detectModel, isFoveaCard, PartialManifestSchema, type FoveaCardView, type PartialManifest } from './model-layouts';
import { importedModelsDir, type ModelRegistry, type VerifiedModel } from './model-registry';

const MAX_SIDE_FILE_BYTES = 4 * 1024 * 1024;
const MODEL_FILE = 'model.onnx';
const CARD_FILE = 'model-card.json';
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface ModelImportDeps {
  engine: Pick<AssistEngine, 'inspect' | 'run'>;
  registry: Pick<ModelRegistry, 'list' | 'load'>;
  audit: Pick<AuditLog, 'append'>;
  libraryDir: string;
  library: { readOnly: boolean; readOnlyReason: string | null };
}

export interface ModelImportRequest {
  path: string;
  name?: string;
  manifestPath?: string;
  classesPath?: string;
}

/** The engine's view of a verified single-file model. */
export function onnxModelRef(vm: VerifiedModel): OnnxModelRef {
  const m = vm.manifest;
  const file = vm.files['model'];
  if (!file || m.task === 'prompt-segmentation' || m.output.decoder === 'sam') {
    throw new FoveaException('UNSUPPORTED', `Model "${m.name}" is a ${m.task} model: it proposes masks from clicks, not predictions for a dataset.`);
  }
  const classes = m.classes ?? [];
  return {
    id: `${m.name}@${file.sha256.slice(0, 16)}`,
    file,
    inputName: m.input.name ?? 'input',
    layout: m.input.layout,
    inputWidth: m.input.width,
    inputHeight: m.input.height,
    channels: m.input.channels,
    decoder: m.output.decoder,
    numClasses: classes.length,
    ...(m.output.decoder === 'fovea'
      ? { fovea: { task: m.task, classNames: classes, inputSize: m.input.width, channels: m.input.channels, multiLabel: m.output.multiLabel } }
      : {}),
  };
}

function readSmall(path: string, what: string): string {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new FoveaException('IO', `Cannot read the ${what} ${path}: ${(e as Error).message}`);
  }
  if (!st.isFile()) throw new FoveaException('BAD_INPUT', `The ${what} ${path} is not a file.`);
  if (st.size > MAX_SIDE_FILE_BYTES) throw new FoveaException('TOO_LARGE', `The ${what} ${path} is larger than ${MAX_SIDE_FILE_BYTES} bytes.`);
  return readFileSync(path, 'utf8');
}

/** --classes: one name per line (blank lines and a trailing newline ignored). */
export function parseClassesFile(text: string, path: string): string[] {
  const names = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  if (names.length === 0) throw new FoveaException('BAD_INPUT', `${path} names no classes (one per line).`);
  if (new Set(names).size !== names.length) throw new FoveaException('BAD_INPUT', `${path} names a class twice.`);
  return names;
}

function readManifest(path: string): PartialManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(readSmall(path, 'manifest'));
  } catch (e) {
    if (e instanceof FoveaException) throw e;
    throw new FoveaException('BAD_INPUT', `The manifest ${path} is not JSON: ${(e as Error).message}`);
  }
  const r = v.safeParse(PartialManifestSchema, raw);
  if (!r.success) {
    const issues = r.issues.slice(0, 6).map((i) => `${i.path?.map((p) => String(p.key)).join('.') || '(top)'}: ${i.message}`);
    throw new FoveaException('VALIDATION', `The manifest ${path} does not fit Fovea's model manifest: ${issues.join('; ')}`);
  }
  return r.output;
}

function readCard(onnxPath: string): FoveaCardView | null {
  const p = join(dirname(onnxPath), CARD_FILE);
  if (!existsSync(p)) return null;
  try {
    const card = JSON.parse(readSmall(p, 'model card')) as unknown;
    return isFoveaCard(card) ? card : null;
  } catch {
    return null;
  }
}

function defaultName(path: string): string {
  const stem = basename(path).replace(/\.onnx$/i, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return stem.slice(0, 64) || 'model';
}

async function sha256Of(path: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  const { createReadStream } = await import('node:fs');
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function importModel(deps: ModelImportDeps, req: ModelImportRequest): Promise<ImportedModel> {
  if (deps.library.readOnly) throw new FoveaException('LIBRARY_READ_ONLY', deps.library.readOnlyReason ?? 'The library is read-only.');
  for (const p of [req.path, req.manifestPath, req.classesPath]) {
    if (p !== undefined && !isAbsolute(p)) throw new FoveaException('VALIDATION', `${p} is not an absolute path: give the full path of the file.`);
  }
  let st;
  try {
    st = statSync(req.path);
  } catch (e) {
    throw new FoveaException('IO', `Cannot read ${req.path}: ${(e as Error).message}`);
  }
  if (!st.isFile()) throw new FoveaException('BAD_INPUT', `${req.path} is not a file.`);
  let graph: OnnxGraphInfo;
  try {
    graph = await deps.engine.inspect(req.path);
  } catch (e) {
    throw new FoveaException('BAD_INPUT', `${req.path} is not a model Fovea can read: ${(e as Error).message}`);
  }
  const given = req.manifestPath ? readManifest(req.manifestPath) : null;
  const classes = req.classesPath ? parseClassesFile(readSmall(req.classesPath, 'class list'), req.classesPath) : null;
  const card = given?.output?.decoder && given.output.decoder !== 'fovea' ? null : readCard(req.path);
  const detected = detectModel(graph, given, card, classes);

  const name = req.name ?? given?.name ?? defaultName(req.path);
  if (!NAME_RE.test(name)) throw new FoveaException('VALIDATION', `"${name}" is not a model name: letters, digits, ".", "_" and "-", starting with a letter or digit, at most 64 characters (--name).`);
  const existing = (await deps.registry.list()).find((m) => m.name.toLowerCase() === name.toLowerCase());
  if (existing) throw new FoveaException('CONFLICT', `A ${existing.origin} model named "${existing.name}" exists already: choose another --name.`);

  const root = importedModelsDir(deps.libraryDir);
  mkdirSync(root, { recursive: true });
  const target = join(root, name);
  if (existsSync(target)) throw new FoveaException('CONFLICT', `${target} exists already: choose another --name.`);
  const tmp = join(root, `.import-${randomBytes(6).toString('hex')}`);
  mkdirSync(tmp);
  let vm: VerifiedModel | null = null;
  try {
    copyFileSync(req.path, join(tmp, MODEL_FILE));
    if (card) copyFileSync(join(dirname(req.path), CARD_FILE), join(tmp, CARD_FILE));
    const bytes = statSync(join(tmp, MODEL_FILE)).size;
    const sha256 = await sha256Of(join(tmp, MODEL_FILE));
    const manifest: ModelManifest = {
      fovea: 'model-pack',
      version: 1,
      name,
      ...detected.manifest,
      files: [{ role: 'model', name: MODEL_FILE, bytes, sha256 }],
      card: { ...(detected.manifest.card ?? {}), importedFrom: basename(req.path), importedAt: new Date().toISOString() },
    };
    writeFileSync(join(tmp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    const loaded = await deps.registry.load(tmp, 'imported');
    if (!('info' in loaded)) throw new FoveaException('INTERNAL', `The imported model failed its own verification: ${loaded.reason}`);
    // A trial run on a blank input: ONNX Runtime loads it, and the outputs decode as detected.
    const ref = onnxModelRef(loaded);
    try {
      await deps.engine.run(ref, new Float32Array(ref.channels * ref.inputWidth * ref.inputHeight), 1);
    } catch (e) {
      throw new FoveaException('UNSUPPORTED', `The model does not run as ${detected.manifest.output.decoder} on a ${ref.inputWidth}x${ref.inputHeight}x${ref.channels} ${ref.layout} input: ${(e as Error).message.split('\n')[0]}`);
    }
    renameSync(tmp, target);
    const placed = await deps.registry.load(target, 'imported');
    if (!('info' in placed)) throw new FoveaException('INTERNAL', `The imported model failed its verification after it was moved: ${placed.reason}`);
    vm = placed;
  } finally {
    if (!vm) rmSync(tmp, { recursive: true, force: true });
  }
  deps.audit.append({
    action: 'model.import',
    objectType: 'model',
    objectId: name,
    details: { task: vm.manifest.task, decoder: vm.manifest.output.decoder, sha256: vm.files['model']?.sha256, from: detected.from, classes: vm.info.classes.length },
  });
  return { model: vm.info, layoutFrom: detected.from, graph, warnings: detected.notes };
}
