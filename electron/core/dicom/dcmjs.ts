/**
 * dcmjs (the well-kept DICOM reader/writer Fovea uses to WRITE DICOM: the synthetic sample CT, DICOM
 * SEG and de-identified files; and whose PS3.6 data dictionary Fovea reads) ships no type declarations: this is the small typed slice of its API
 * that Fovea uses, loaded through createRequire (the bundles keep packages external, so it resolves
 * from node_modules at run time, as a static import would), once.
 */
import { createRequire } from 'node:module';

/** One element of a dcmjs dataset (denaturalised form: keys are 8-hex-digit tags). */
export interface DcmElement {
  vr: string;
  Value?: unknown[];
  _rawValue?: unknown;
}
export type DcmDict = Record<string, DcmElement>;

export interface DcmjsDicomDict {
  meta: DcmDict;
  dict: DcmDict;
  write(options?: { allowInvalidVRLength?: boolean }): ArrayBuffer;
}

/** One data dictionary entry; `vr` may be dcmjs's code for a context-dependent VR ('xs', 'ox', 'lt', 'up', 'na'). */
export interface DcmjsDictionaryEntry {
  tag: string;
  vr: string;
  vm: string;
  /** The keyword, prefixed 'RETIRED_' for retired attributes. */
  name: string;
}

export interface Dcmjs {
  data: {
    DicomMetaDictionary: {
      /** Looked up by 'GGGGEEEE' (upper-case hex) or '(GGGG,EEEE)'; repeating groups included. Not enumerable. */
      dictionary: Readonly<Record<string, DcmjsDictionaryEntry | undefined>>;
    };
    DicomDict: new (meta: DcmDict) => DcmjsDicomDict;
    DicomMessage: { readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): DcmjsDicomDict };
  };
}

let dcmjsModule: Dcmjs | null = null;

export function dcmjs(): Dcmjs {
  dcmjsModule ??= createRequire(import.meta.url)('dcmjs') as Dcmjs;
  return dcmjsModule;
}

/** An element with its values. */
export const el = (vr: string, ...values: unknown[]): DcmElement & { Value: unknown[] } => ({ vr, Value: values });
