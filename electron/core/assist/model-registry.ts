/**
 * The models Fovea can run for model help, each a folder with a manifest (fovea-model.json, the
 * contract's ModelManifestSchema) and its ONNX files, from three places:
 *   1. built-in: resources/models/ of the app (shipped inside the installer);
 *   2. policy: the folder IT names with the policy key modelPacksFolder (pre-staged packs);
 *   3. imported: <library>/models/ (`fovea import-model`, the app's import).
 * Nothing is ever fetched: a model is usable only when every file is there.
 *
 * Verification at load: the manifest must validate, every file must exist in the pack folder with
 * the size and SHA-256 the manifest gives (computed by streaming, off the event loop, and
 * remembered per path, size and modification time), and the pack must fit its task (a
 * prompt-segmentation pack has an encoder and a decoder and decodes with 'sam'; a classifier,
 * detector or segmenter has one model file and its classes). A pack that fails is listed as
 * refused with the reason and never run. The engine checks the bytes again as it loads them, so a
 * file replaced after this check is not run either (native-models/assist/verified-file.ts).
 *
 * Built-in packs only may name a file by an npm package path (`package`): in a development
 * checkout the files stay in node_modules; build/scripts/dist.mjs copies them into the pack. A
 * name can be taken once: built-in first, then policy, then imported; a later one with a taken
 * name is refused ("shadowed"), so IT's or a user's pack can never stand in for a shipped one.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as v from 'valibot';
import { MANIFEST_FILE, ModelManifestSchema, type ModelInfo, type ModelManifest, type ModelOrigin } from '../../contract/assist';
import type { OnnxFileRef } from '../../contract/assist-engine';
import { FoveaException } from '../../contract/result';
import { foveaPackageRoot } from '../app/versions';

const MAX_MANIFEST_BYTES = 1024 * 1024;

/** The built-in packs' folder: resources/models under the app root (null when the app has none). */
export function builtInModelsDir(): string | null {
  const root = foveaPackageRoot();
  const dir = root ? join(root.dir, 'resources', 'models') : null;
  return dir && existsSync(dir) ? dir : null;
}

/** The imported models' folder of a library. */
export function importedModelsDir(libraryDir: string): string {
  return join(libraryDir, 'models');
}

export interface ModelRoot {
  dir: string;
  origin: ModelOrigin;
}

/** A verified model: its manifest and files, ready for the engine. */
export interface VerifiedModel {
  info: ModelInfo;
  manifest: ModelManifest;
  /** By role ('model', 'encoder', 'decoder'). */
  files: Record<string, OnnxFileRef>;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Why a manifest does not fit its task, or null. */
export function taskProblem(m: ModelManifest): string | null {
  const roles = m.files.map((f) => f.role);
  if (new Set(m.files.map((f) => f.name)).size !== m.files.length) return 'two files have the same name';
  if (new Set(roles).size !== roles.length) return 'two files have the same role';
  if (m.task === 'prompt-segmentation') {
    if (!roles.includes('encoder') || !roles.includes('decoder') || roles.length !== 2) return 'a prompt-segmentation pack has exactly an "encoder" and a "decoder" file';
    if (m.output.decoder !== 'sam') return 'a prompt-segmentation pack decodes with "sam"';
    if (m.preprocessing.resize !== 'longest-side') return 'a prompt-segmentation pack resizes with "longest-side"';
    if (m.input.width !== m.input.height) return 'a prompt-segmentation input is square';
    return null;
  }
  if (roles.length !== 1 || roles[0] !== 'model') return `a ${m.task} model has exactly one file, role "model"`;
  if (m.output.decoder === 'sam' || m.preprocessing.resize === 'longest-side') return `a ${m.task} model cannot use Segment Anything's decoding or resize`;
  const classes = m.classes ?? [];
  if (classes.length === 0) return `a ${m.task} model needs its class names ("classes")`;
  if (new Set(classes).size !== classes.length) return 'its class names repeat';
  const d = m.output.decoder;
  const fits: Record<string, readonly string[]> = {
    classification: ['classifier-logits', 'classifier-probabilities', 'classifier-sigmoid', 'fovea'],
    detection: ['yolov5', 'yolov8', 'yolox', 'fovea'],
    segmentation: ['segmentation-logits', 'segmentation-probabilities', 'fovea'],
  };
  if (!(fits[m.task] ?? []).includes(d)) return `the decoder "${d}" does not give ${m.task} outputs (use one of ${(fits[m.task] ?? []).join(', ')})`;
  if ((d === 'fovea') !== (m.preprocessing.resize === 'fovea')) return 'Fovea\'s decoding and Fovea\'s preprocessing go together';
  return null;
}

function emptyInfo(folder: string, origin: ModelOrigin, name: string, reason: string): ModelInfo {
  return { name, title: name, task: 'classification', origin, folder, status: 'refused', reason, classes: [], decoder: null, input: null, license: null, files: [], card: null };
}

export class ModelRegistry {
  readonly #roots: () => ModelRoot[];
  /** SHA-256 by path, size and mtime (hashing 40 MB takes ~0.1 s: once per process and change). */
  readonly #hashes = new Map<string, { size: number; mtimeMs: number; sha256: string }>();
  readonly #require = createRequire(import.meta.url);

  /** `roots` is read on every listing (a policy folder or library may appear later). */
  constructor(roots: () => ModelRoot[]) {
    this.#roots = roots;
  }

  async #hash(path: string, size: number, mtimeMs: number): Promise<string> {
    const hit = this.#hashes.get(path);
    if (hit && hit.size === size && hit.mtimeMs === mtimeMs) return hit.sha256;
    const sha256 = await sha256File(path);
    this.#hashes.set(path, { size, mtimeMs, sha256 });
    return sha256;
  }

  #resolveFile(folder: string, origin: ModelOrigin, f: ModelManifest['files'][number]): string | null {
    const inPack = join(folder, f.name);
    if (existsSync(inPack)) return inPack;
    if (origin !== 'built-in' || !f.package) return null;
    try {
      return this.#require.resolve(f.package);
    } catch {
      return null;
    }
  }

  /** Loads and verifies one pack folder (see the file header). */
  async load(folder: string, origin: ModelOrigin): Promise<VerifiedModel | ModelInfo> {
    const dirName = folder.split(/[\\/]/).pop() ?? folder;
    const manifestPath = join(folder, MANIFEST_FILE);
    let raw: unknown;
    try {
      const st = statSync(manifestPath);
      if (st.size > MAX_MANIFEST_BYTES) return emptyInfo(folder, origin, dirName, `${MANIFEST_FILE} is larger than ${MAX_MANIFEST_BYTES} bytes`);
      raw = JSON.parse(readFileSync(manifestPath, 'utf8'));
    } catch (e) {
      return emptyInfo(folder, origin, dirName, `${MANIFEST_FILE} cannot be read: ${(e as Error).message}`);
    }
    const parsed = v.safeParse(ModelManifestSchema, raw);
    if (!parsed.success) {
      const issues = parsed.issues.slice(0, 5).map((i) => `${i.path?.map((p) => String(p.key)).join('.') || '(top)'}: ${i.message}`);
      return emptyInfo(folder, origin, dirName, `${MANIFEST_FILE} is not a valid model manifest: ${issues.join('; ')}`);
    }
    const m = parsed.output;
    const base: ModelInfo = {
      name: m.name,
      title: m.title ?? m.name,
      task: m.task,
      origin,
      folder,
      status: 'ok',
      reason: null,
      classes: [...(m.classes ?? [])],
      decoder: m.output.decoder,
      input: { width: m.input.width, height: m.input.height, channels: m.input.channels, layout: m.input.layout },
      license: m.license.name,
      files: m.files.map((f) => ({ name: f.name, bytes: f.bytes, sha256: f.sha256, path: null })),
      card: m.card ?? null,
    };
    const refuse = (reason: string): ModelInfo => ({ ...base, status: 'refused', reason });
    const problem = taskProblem(m);
    if (problem) return refuse(problem);
    const files: Record<string, OnnxFileRef> = {};
    for (const [i, f] of m.files.entries()) {
      const path = this.#resolveFile(folder, origin, f);
      if (!path) return refuse(`its file ${f.name} is missing from ${folder}${origin === 'built-in' && f.package ? ` (and from the package ${f.package})` : ''}`);
      let st;
      try {
        st = statSync(path);
      } catch (e) {
        return refuse(`its file ${path} cannot be read: ${(e as Error).message}`);
      }
      if (!st.isFile()) return refuse(`${path} is not a file`);
      if (st.size !== f.bytes) return refuse(`${path} has ${st.size} bytes; the manifest says ${f.bytes}: the file was changed or replaced`);
      const sha = await this.#hash(path, st.size, st.mtimeMs);
      if (sha !== f.sha256) return refuse(`${path} has SHA-256 ${sha}; the manifest says ${f.sha256}: the file was changed or replaced`);
      files[f.role] = { path, sha256: f.sha256, bytes: f.bytes };
      (base.files[i] as ModelInfo['files'][number]).path = path;
    }
    return { info: base, manifest: m, files };
  }

  /** Every model of every root, verified; a refused one with its reason. */
  async list(): Promise<ModelInfo[]> {
    return (await this.#all()).map((x) => ('info' in x ? x.info : x));
  }

  async #all(): Promise<(VerifiedModel | ModelInfo)[]> {
    const out: (VerifiedModel | ModelInfo)[] = [];
    const taken = new Map<string, ModelOrigin>();
    for (const root of this.#roots()) {
      let names: string[];
      try {
        names = readdirSync(root.dir, { withFileTypes: true })
          .filter((e) => e.isDirectory())
          .map((e) => e.name)
          .sort();
      } catch {
        continue; // a root that does not exist (yet) holds no model
      }
      for (const name of names) {
        const folder = join(root.dir, name);
        if (!existsSync(join(folder, MANIFEST_FILE))) continue;
        const loaded = await this.load(folder, root.origin);
        const info = 'info' in loaded ? loaded.info : loaded;
        const first = taken.get(info.name);
        if (first !== undefined) {
          out.push({ ...info, status: 'refused', reason: `the name "${info.name}" is already taken by a ${first} model` });
          continue;
        }
        taken.set(info.name, root.origin);
        out.push(loaded);
      }
    }
    return out;
  }

  /** The verified model named `name`; NOT_FOUND, or UNSUPPORTED with the reason it was refused. */
  async get(name: string): Promise<VerifiedModel> {
    const all = await this.#all();
    // The first of a name wins (later ones are refused as shadowed).
    const hit = all.find((x) => ('info' in x ? x.info.name : x.name) === name);
    if (!hit) {
      const names = all.map((x) => ('info' in x ? x.info.name : x.name));
      throw new FoveaException('NOT_FOUND', `There is no model named "${name}"${names.length ? ` (models: ${names.join(', ')})` : ''}. See fovea models.`);
    }
    if (!('info' in hit)) throw new FoveaException('UNSUPPORTED', `Model "${name}" cannot be used: ${hit.reason}.`);
    return hit;
  }
}
