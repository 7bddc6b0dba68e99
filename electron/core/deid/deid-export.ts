/**
 * Export format 'dicom-deid': the dataset's DICOM files de-identified by DICOM PS3.15 Annex E,
 * Basic Application Level Confidentiality Profile (see deidentify.ts), and its plain images
 * re-encoded without any metadata.
 *
 * job.options (all optional; the CLI maps its flags onto these names):
 *   retainLongitudinalDates       'none' (default) | 'full' | 'modified' (true means 'full'):
 *                                 keep dates and times / shift them by a per-patient number of days
 *                                 (Retain Longitudinal Temporal Information, Full or Modified Dates)
 *   retainPatientCharacteristics  boolean: keep sex, age, size, weight, ... (Retain Patient Characteristics)
 *   retainDeviceIdentity          boolean: keep station name, serial numbers, ... (Retain Device Identity)
 *   retainInstitutionIdentity     boolean: keep institution name, address, department (Retain Institution Identity)
 *   retainUids                    boolean: keep the original UIDs (Retain UIDs)
 *   retainSafePrivate             boolean: NOT supported; every private attribute is removed (a warning says so)
 *   cleanDescriptors              boolean: keep descriptions and comments with identifying values blanked out
 *   cleanStructuredContent        boolean: keep SR content and acquisition context, cleaned
 *   cleanGraphics                 boolean: keep graphic annotations, cleaned (overlays and curves are removed anyway)
 *   confirmBurnedIn               boolean: export files whose pixels may carry burned-in text; by default
 *                                 they are held back (ExportFormatResult.heldBack) and the decision audited
 *   pseudonymPrefix               string (letters, digits, '-', '_'; at most 12): patient pseudonyms are
 *                                 <prefix>0001, <prefix>0002, ... (default 'ANON-')
 *
 * Output layout, named only from NEW identifiers (never from source file or folder names):
 *   <pseudonym>/<study hash>/<series hash>/<new SOP Instance UID>.dcm
 *   images/item-<item id>.png                  plain images, re-encoded without EXIF/XMP/GPS/ICC
 * where the hashes are the first 16 hex digits of SHA-256 of the new Study / Series Instance UID.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { DEFAULT_PSEUDONYM_PREFIX, DEID_PROFILE_FLAGS, PSEUDONYM_PREFIX_PATTERN, PSEUDONYM_PREFIX_RULE } from '../../contract/deid-options';
import { FoveaException } from '../../contract/result';
import { AuditLog } from '../store/audit-log';
import { listExportBlobs, type ExportBlobRow } from '../store/export-repo';
import type { ExportFormatHandler, ExportFormatResult, ExportJob } from '../export/export-types';
import { DEFAULT_DEID_OPTIONS, DeidSession, deidentifyDicom, methodCodes, type DeidOptions } from './deidentify';
import { PS315_EDITION } from './ps315-table';

// retainSafePrivate is not offered (unsupported: a warning says so) but a CLI --option may name it.
const BOOLEAN_OPTIONS = [...DEID_PROFILE_FLAGS, 'retainSafePrivate', 'confirmBurnedIn'] as const;
const KNOWN_OPTIONS = new Set<string>([...BOOLEAN_OPTIONS, 'retainLongitudinalDates', 'pseudonymPrefix']);

export interface ParsedDeidOptions {
  deid: DeidOptions;
  pseudonymPrefix: string;
  /** Option names given that this format does not know (ignored; reported as a warning). */
  unknown: string[];
}

/** Validate job.options for this format. Throws BAD_INPUT with a message naming the bad option. */
export function parseDeidOptions(raw: Record<string, unknown>): ParsedDeidOptions {
  const deid: DeidOptions = { ...DEFAULT_DEID_OPTIONS };
  for (const name of BOOLEAN_OPTIONS) {
    const v = raw[name];
    if (v === undefined) continue;
    if (typeof v !== 'boolean') throw new FoveaException('BAD_INPUT', `The de-identification option ${name} must be true or false.`);
    deid[name] = v;
  }
  const dates = raw['retainLongitudinalDates'];
  if (dates !== undefined) {
    if (dates === true || dates === 'full') deid.retainLongitudinalDates = 'full';
    else if (dates === 'modified') deid.retainLongitudinalDates = 'modified';
    else if (dates === false || dates === 'none') deid.retainLongitudinalDates = 'none';
    else throw new FoveaException('BAD_INPUT', "The de-identification option retainLongitudinalDates must be 'none', 'full' or 'modified'.");
  }
  let pseudonymPrefix = DEFAULT_PSEUDONYM_PREFIX;
  const prefix = raw['pseudonymPrefix'];
  if (prefix !== undefined) {
    if (typeof prefix !== 'string' || !PSEUDONYM_PREFIX_PATTERN.test(prefix)) {
      throw new FoveaException('BAD_INPUT', `The de-identification option pseudonymPrefix must be ${PSEUDONYM_PREFIX_RULE}.`);
    }
    pseudonymPrefix = prefix;
  }
  return { deid, pseudonymPrefix, unknown: Object.keys(raw).filter((k) => !KNOWN_OPTIONS.has(k)) };
}

/**
 * The library's audit log: the dispatcher's sources carry it (LabelExportSources.audit); a caller
 * that passes bare ExportSources still gets the decision recorded, in the same hash chain.
 */
function auditLogOf(job: ExportJob): AuditLog {
  const audit = (job.sources as ExportJob['sources'] & { audit?: unknown }).audit;
  return audit instanceof AuditLog ? audit : new AuditLog(job.sources.db);
}

const shortHash = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 16);

export const exportDeidentified: ExportFormatHandler = async (job: ExportJob): Promise<ExportFormatResult> => {
  const parsed = parseDeidOptions(job.options);
  const options = parsed.deid;
  job.sources.datasets.get(job.datasetId); // NOT_FOUND for a dataset that does not exist
  const items = listExportBlobs(job.sources.db, job.datasetId, job.split);
  const session = new DeidSession({ pseudonymPrefix: parsed.pseudonymPrefix });
  const warnings: string[] = [];
  const heldBack: ExportFormatResult['heldBack'] = [];
  const confirmed: number[] = [];
  const failed: number[] = [];
  if (parsed.unknown.length > 0) warnings.push(`Unknown de-identification options ignored: ${parsed.unknown.join(', ')}.`);
  if (options.retainSafePrivate) warnings.push('Retain Safe Private is not supported: every private attribute was removed.');
  const fileWarnings = new Map<string, number>();
  let written = 0;

  for (let i = 0; i < items.length; i++) {
    if (job.signal?.aborted) throw new FoveaException('CANCELLED', 'The de-identified export was cancelled.');
    const item = items[i] as ExportBlobRow;
    let bytes: Buffer;
    try {
      bytes = job.sources.blobs.read(item.blob);
    } catch {
      heldBack.push({ itemId: item.id, reason: 'Its stored file is missing from the library (run `fovea check`).' });
      failed.push(item.id);
      job.onProgress?.(i + 1, items.length);
      continue;
    }
    if (item.kind === 'image') {
      // Decoded and re-encoded: sharp writes no metadata unless asked (no withMetadata()).
      const png = await sharp(bytes).png().toBuffer();
      await job.writer.write(`images/item-${item.id}.png`, png);
      written++;
    } else {
      let outcome;
      try {
        outcome = deidentifyDicom(bytes, options, session);
      } catch (e) {
        const message = e instanceof FoveaException ? e.message : 'an internal error';
        heldBack.push({ itemId: item.id, reason: `It could not be de-identified: ${message}` });
        failed.push(item.id);
        job.onProgress?.(i + 1, items.length);
        continue;
      }
      if (outcome.status === 'held-back') {
        heldBack.push({ itemId: item.id, reason: `Possible burned-in text: ${outcome.burnedIn.reason}. Check the pixels and confirm to export it.` });
      } else {
        if (outcome.burnedIn.suspect) confirmed.push(item.id);
        for (const w of outcome.report.warnings) fileWarnings.set(w, (fileWarnings.get(w) ?? 0) + 1);
        const path = `${outcome.pseudonym}/${shortHash(outcome.studyUid)}/${shortHash(outcome.seriesUid)}/${outcome.sopInstanceUid}.dcm`;
        await job.writer.write(path, outcome.bytes);
        written++;
      }
    }
    job.onProgress?.(i + 1, items.length);
  }
  for (const [w, n] of fileWarnings) {
    if (w.startsWith('Retain Safe Private')) continue;
    warnings.push(n > 1 ? `${w} (${n} files)` : w);
  }
  const burnedInHeld = heldBack.filter((h) => !failed.includes(h.itemId)).map((h) => h.itemId);
  if (failed.length > 0) warnings.push(`${failed.length} item(s) could not be exported; see the held-back list.`);

  // The burned-in decision is audited (item ids only, never a patient value).
  if (burnedInHeld.length > 0 || confirmed.length > 0) {
    const audit = auditLogOf(job);
    if (burnedInHeld.length > 0) {
      audit.append({
        action: 'export.deid.burned-in',
        objectType: 'dataset',
        objectId: job.datasetId,
        outcome: 'refused',
        details: { decision: 'held-back', itemIds: burnedInHeld, count: burnedInHeld.length },
      });
    }
    if (confirmed.length > 0) {
      audit.append({
        action: 'export.deid.burned-in',
        objectType: 'dataset',
        objectId: job.datasetId,
        outcome: 'ok',
        details: { decision: 'confirmed', itemIds: confirmed, count: confirmed.length },
      });
    }
  }

  return { format: 'dicom-deid', items: written, annotations: 0, warnings, heldBack };
};

/** What to put in the export manifest and the export's audit entry (no PHI). */
export function deidManifestMeta(raw: Record<string, unknown>): Record<string, unknown> {
  const { deid } = parseDeidOptions(raw);
  return {
    deidentification: {
      profile: 'DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile',
      tableEdition: PS315_EDITION,
      codes: methodCodes(deid).map(([code]) => code),
      burnedInConfirmed: deid.confirmBurnedIn,
    },
  };
}
