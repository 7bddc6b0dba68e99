/**
 * The enterprise policy: what hospital IT can set, its validation, the safest
 * defaults, and how it combines with a user's settings.
 *
 * Keys (JSON file, macOS managed preferences and Windows registry values use
 * the same names; registry value names match case-insensitively):
 * - libraryLocation: absolute local path of the library folder. Relative
 *   paths, `..` segments, UNC/network paths (`\\server\share`, `//server`),
 *   device paths and control characters are refused.
 * - allowedExportFormats: the export formats users may choose, a subset of
 *   EXPORT_FORMATS (for example `["dicom-deid"]`: de-identified DICOM only).
 * - annotatorFromOsUser: true records the operating-system user as the
 *   annotator of labels (users cannot type another name).
 * - modelExport: whether trained models may be exported (tfjs, onnx).
 * - sampleData: whether the generated sample library may be created.
 * - modelPacksFolder: absolute local path of a folder of model packs IT pre-stages (one folder
 *   per pack with fovea-model.json and its ONNX files; each verified by SHA-256 at load, never
 *   fetched). Same path rules as libraryLocation.
 *
 * Every key is optional; a key that is present locks the matching setting
 * (see effectiveSettings). Unknown keys are reported as warnings and ignored.
 *
 * Pure TypeScript and valibot; no file or OS access (that is policy.ts).
 */
import { posix } from 'node:path';
import * as v from 'valibot';

/** Every export format Fovea knows. */
export const EXPORT_FORMATS = [
  'coco',
  'yolo',
  'voc',
  'csv',
  'masks',
  'nifti',
  'dicom-seg',
  'dicom-deid',
  'tfjs',
  'onnx',
  'report',
  /** Training export for PyTorch (`fovea export-training --target pytorch`). */
  'pytorch',
] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The keys a policy may set. */
export const POLICY_KEYS = ['libraryLocation', 'allowedExportFormats', 'annotatorFromOsUser', 'modelExport', 'sampleData', 'modelPacksFolder'] as const;
export type PolicyKey = (typeof POLICY_KEYS)[number];

export interface Policy {
  readonly libraryLocation?: string;
  readonly allowedExportFormats?: readonly ExportFormat[];
  readonly annotatorFromOsUser?: boolean;
  readonly modelExport?: boolean;
  readonly sampleData?: boolean;
  readonly modelPacksFolder?: string;
}

/**
 * What Fovea enforces when a policy exists but cannot be trusted (malformed,
 * hostile, unreadable): the most restrictive meaningful policy, because IT
 * evidently meant to restrict something and we cannot tell what.
 * - Exports: de-identified DICOM only (PS3.15 Annex E). Label formats (COCO,
 *   YOLO, VOC, CSV, masks, NIfTI, DICOM SEG) and reports carry file names,
 *   UIDs or series descriptions that can identify patients, so they are off.
 * - No model export: a model trained on patient data can memorise it.
 * - The annotator is the OS user: labels stay attributable (audit trail).
 * - No sample library: nothing is created that IT did not expect.
 * The library location is left as it is: there is no safe place to invent,
 * and moving a library silently would hide the user's data from them.
 */
export const SAFEST_DEFAULTS: Policy = Object.freeze({
  allowedExportFormats: Object.freeze(['dicom-deid'] as ExportFormat[]),
  annotatorFromOsUser: true,
  modelExport: false,
  sampleData: false,
});

/** A policy file larger than this is refused unread (a policy is a few hundred bytes). */
export const MAX_POLICY_BYTES = 1024 * 1024;
/** Longest accepted library path. */
export const MAX_PATH_CHARS = 4096;

/** Keys that are never a policy key and that a hostile file uses to reach prototypes. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/u;

/**
 * Why `path` cannot be a library location on `platform`, or null when it can.
 * Only local absolute paths: SQLite's WAL does not work on network file
 * systems, and a relative path would depend on the working directory.
 */
export function libraryLocationProblem(path: string, platform: NodeJS.Platform): string | null {
  if (path.length === 0) return 'is empty';
  if (path.length > MAX_PATH_CHARS) return `is longer than ${MAX_PATH_CHARS} characters`;
  if (CONTROL_CHARS.test(path)) return 'contains control characters';
  let rest: string[];
  if (platform === 'win32') {
    if (/^[\\/]{2}/.test(path)) return 'is a network (UNC) or device path; the library must be on a local disk';
    if (!/^[A-Za-z]:[\\/]/.test(path)) return 'is not an absolute path with a drive letter (such as D:\\Fovea\\library)';
    rest = path.slice(3).split(/[\\/]/);
  } else {
    if (path.startsWith('//')) return 'is a network path; the library must be on a local disk';
    if (!posix.isAbsolute(path)) return 'is not an absolute path (it must start with /)';
    rest = path.slice(1).split('/');
  }
  if (rest.some((s) => s === '..')) return 'contains ".." segments';
  // A trailing separator is fine; "." segments and doubled separators are not.
  if (rest.some((s, i) => s === '.' || (s === '' && i < rest.length - 1))) return 'is not a normalised path (it contains "." segments or doubled separators)';
  return null;
}

const ExportFormatSchema = v.picklist(EXPORT_FORMATS);

/** Type-level schema of each key (the library path is checked per platform afterwards). */
const KEY_SCHEMAS = {
  libraryLocation: v.string(),
  allowedExportFormats: v.pipe(v.array(v.string()), v.maxLength(EXPORT_FORMATS.length * 4)),
  annotatorFromOsUser: v.boolean(),
  modelExport: v.boolean(),
  sampleData: v.boolean(),
  modelPacksFolder: v.string(),
} satisfies Record<PolicyKey, v.GenericSchema>;

const EXPECTED: Record<PolicyKey, string> = {
  libraryLocation: 'an absolute path (text)',
  allowedExportFormats: `a list of export formats (${EXPORT_FORMATS.join(', ')})`,
  annotatorFromOsUser: 'true or false',
  modelExport: 'true or false',
  sampleData: 'true or false',
  modelPacksFolder: 'an absolute path (text)',
};

export function isPolicyKey(key: string): key is PolicyKey {
  return (POLICY_KEYS as readonly string[]).includes(key);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the text ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

export interface PolicyValidation {
  policy: Policy;
  errors: string[];
  warnings: string[];
}

/**
 * Validates a parsed policy document. `origin` names its source in every
 * message (a file path or a registry key). Errors mean the document cannot be
 * trusted as a whole; warnings are for things that are ignored.
 */
export function validatePolicyDocument(doc: unknown, origin: string, platform: NodeJS.Platform): PolicyValidation {
  const errors: string[] = [];
  const warnings: string[] = [];
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return { policy: {}, errors: [`${origin}: the policy must be an object of settings ({ ... }), not ${describe(doc)}.`], warnings };
  }
  const out: { -readonly [K in PolicyKey]?: Policy[K] } = {};
  for (const key of Object.keys(doc)) {
    const value = (doc as Record<string, unknown>)[key];
    if (FORBIDDEN_KEYS.has(key)) {
      errors.push(`${origin}: the key "${key}" is not allowed (it is used to tamper with programs, never a setting).`);
      continue;
    }
    if (!isPolicyKey(key)) {
      warnings.push(`${origin}: unknown key "${key}" ignored (known keys: ${POLICY_KEYS.join(', ')}).`);
      continue;
    }
    const parsed = v.safeParse(KEY_SCHEMAS[key], value);
    if (!parsed.success) {
      errors.push(`${origin}: "${key}" must be ${EXPECTED[key]}, not ${describe(value)}.`);
      continue;
    }
    switch (key) {
      case 'libraryLocation':
      case 'modelPacksFolder': {
        const path = parsed.output as string;
        const problem = libraryLocationProblem(path, platform);
        if (problem) errors.push(`${origin}: "${key}" ${JSON.stringify(path.length > 200 ? `${path.slice(0, 200)}...` : path)} ${problem}.`);
        else out[key] = path;
        break;
      }
      case 'allowedExportFormats': {
        const list = parsed.output as string[];
        const unknown = list.filter((f) => !v.is(ExportFormatSchema, f));
        if (unknown.length > 0) {
          errors.push(`${origin}: "allowedExportFormats" has unknown formats ${unknown.map((f) => JSON.stringify(f)).join(', ')} (known: ${EXPORT_FORMATS.join(', ')}).`);
        } else {
          out.allowedExportFormats = Object.freeze([...new Set(list as ExportFormat[])]);
        }
        break;
      }
      default:
        out[key] = parsed.output as boolean;
    }
  }
  return { policy: errors.length > 0 ? {} : Object.freeze(out), errors, warnings };
}

// ---------------------------------------------------------------------------
// Effective settings: policy wins
// ---------------------------------------------------------------------------

/** The settings a policy can lock. */
export interface PolicySettings {
  /** The library folder; null means the default (library-location.ts). */
  readonly libraryLocation: string | null;
  /** The name recorded as the annotator of labels; null means not set. */
  readonly annotatorName: string | null;
  /** The export formats offered. */
  readonly allowedExportFormats: readonly ExportFormat[];
  readonly modelExport: boolean;
  readonly sampleData: boolean;
}

export const DEFAULT_POLICY_SETTINGS: PolicySettings = Object.freeze({
  libraryLocation: null,
  annotatorName: null,
  allowedExportFormats: EXPORT_FORMATS,
  modelExport: true,
  sampleData: true,
});

export type SettingKey = keyof PolicySettings;

export interface EffectiveSettings {
  readonly settings: PolicySettings;
  /** Settings the user cannot change (shown read-only, with the policy value). */
  readonly locked: readonly SettingKey[];
}

/**
 * The settings in force: the user's, except where the policy says otherwise.
 * - libraryLocation, allowedExportFormats, modelExport, sampleData: a policy
 *   value replaces the user's and locks the setting.
 * - annotatorFromOsUser true: the annotator is `osUserName`, locked; false or
 *   absent: the user's own annotator name.
 */
export function effectiveSettings(user: Partial<PolicySettings>, policy: Policy, osUserName: string): EffectiveSettings {
  const locked: SettingKey[] = [];
  const pick = <K extends SettingKey>(key: K, policyValue: PolicySettings[K] | undefined): PolicySettings[K] => {
    if (policyValue !== undefined) {
      locked.push(key);
      return policyValue;
    }
    const own = user[key];
    return own === undefined ? DEFAULT_POLICY_SETTINGS[key] : (own as PolicySettings[K]);
  };
  const settings: PolicySettings = Object.freeze({
    libraryLocation: pick('libraryLocation', policy.libraryLocation),
    annotatorName: pick('annotatorName', policy.annotatorFromOsUser === true ? osUserName : undefined),
    allowedExportFormats: pick('allowedExportFormats', policy.allowedExportFormats),
    modelExport: pick('modelExport', policy.modelExport),
    sampleData: pick('sampleData', policy.sampleData),
  });
  return Object.freeze({ settings, locked: Object.freeze(locked) });
}
