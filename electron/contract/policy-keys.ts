/**
 * The keys an IT policy may set, and the type of each value, defined once:
 * the policy reader (file, plist, registry), its validation and messages,
 * and the read-only view the app shows all derive from these.
 */
import type { ExportFormat } from './export-formats';

export const POLICY_KEYS = ['libraryLocation', 'allowedExportFormats', 'annotatorFromOsUser', 'modelExport', 'sampleData', 'modelPacksFolder'] as const;
export type PolicyKey = (typeof POLICY_KEYS)[number];

/** Each key's value once validated (a Record over PolicyKey: a new key must be typed here). */
export interface PolicyValues {
  /** Absolute local path of the library. */
  libraryLocation: string;
  allowedExportFormats: readonly ExportFormat[];
  /** The annotator is the OS user, locked. */
  annotatorFromOsUser: boolean;
  modelExport: boolean;
  sampleData: boolean;
  /** Absolute local path of a folder of model packs IT pre-stages. */
  modelPacksFolder: string;
}

/** A policy: every key optional; a key that is present locks the matching setting. */
export type PolicyDocument = { readonly [K in PolicyKey]?: PolicyValues[K] };
