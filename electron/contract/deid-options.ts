/**
 * The de-identified DICOM export's options (PS3.15 Annex E profile options),
 * defined once: the request schema, the exporter's parser (which also reads
 * the CLI's --option pairs), and the renderer's choices use these.
 */
import * as v from 'valibot';

/** The profile options offered as yes/no choices (all off: the Basic Profile). */
export const DEID_PROFILE_FLAGS = [
  'retainPatientCharacteristics',
  'retainDeviceIdentity',
  'retainInstitutionIdentity',
  'retainUids',
  'cleanDescriptors',
  'cleanStructuredContent',
  'cleanGraphics',
] as const;
export type DeidProfileFlag = (typeof DEID_PROFILE_FLAGS)[number];

/** Dates and times: removed ('none', default), kept ('full'), or shifted per patient ('modified'). */
export const RETAIN_LONGITUDINAL_DATES = ['none', 'full', 'modified'] as const;
export type RetainLongitudinalDates = (typeof RETAIN_LONGITUDINAL_DATES)[number];

/** Patient pseudonyms are <prefix>0001, <prefix>0002, ... */
export const PSEUDONYM_PREFIX_PATTERN = /^[A-Za-z0-9_-]{1,12}$/u;
export const PSEUDONYM_PREFIX_RULE = '1 to 12 letters, digits, "-" or "_"';
export const DEFAULT_PSEUDONYM_PREFIX = 'ANON-';

const flag = v.optional(v.boolean());

/** 'export.start' deid: only what differs from the Basic Profile. */
export const deidOptionsSchema = v.strictObject({
  retainLongitudinalDates: v.optional(v.picklist(RETAIN_LONGITUDINAL_DATES)),
  ...(Object.fromEntries(DEID_PROFILE_FLAGS.map((f) => [f, flag])) as Record<DeidProfileFlag, typeof flag>),
  /** Export files whose pixels may carry burned-in text (the decision is audited). */
  confirmBurnedIn: flag,
  pseudonymPrefix: v.optional(v.pipe(v.string(), v.regex(PSEUDONYM_PREFIX_PATTERN, `A pseudonym prefix is ${PSEUDONYM_PREFIX_RULE}.`))),
});
export type DeidExportOptions = v.InferOutput<typeof deidOptionsSchema>;
