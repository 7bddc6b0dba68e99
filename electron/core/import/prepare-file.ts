/**
 * One file's work before the library decides anything about it: read and
 * hash, then decode (a DICOM file's every frame, a plain image), make the
 * thumbnail, and on request write the blob files (fsynced). Touches no
 * database: it runs in an import worker (import-worker.ts) or, for small
 * imports, in the calling thread, with the same results.
 */
import { readFileSync } from 'node:fs';
import type { ImportOutcome } from '../../contract/domain';
import { FoveaException } from '../../contract/result';
import { sha256, writeBlobFilesAsync } from '../store/blob-store';
import type { DicomHierarchy, NewItem } from '../store/item-store';
import { readPlainImage, sniffPlainImage } from './plain-image';

/** Largest single file read into memory. */
export const MAX_FILE_BYTES = 4 * 1024 ** 3 - 1;

/**
 * 'DICM' at offset 128. Checked before image magic numbers: the 128-byte
 * preamble of a Part-10 file may hold a TIFF header (dual-personality files).
 */
export function isPart10(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

/** The indexed attributes of a DICOM item, before the library gives it ids and blobs. */
export type PreparedDicomItem = Omit<NewItem, 'datasetId' | 'blobSha256' | 'sourceSha256' | 'thumbSha256' | 'seriesId' | 'sourceName' | 'kind'>;

/** What a DICOM file becomes before it is committed; provided by the dicom module. */
export type PreparedDicom =
  | { kind: 'skip'; reason: string }
  | { kind: 'image'; item: PreparedDicomItem; hierarchy: DicomHierarchy; thumbnail: Buffer };

export interface DicomSupport {
  /** Whether the bytes look like DICOM (Part 10 or a raw data set). */
  looksLikeDicom(bytes: Uint8Array): boolean;
  /** Parse, classify, check declared sizes, decode every frame and make a thumbnail. Throws FoveaException. */
  prepare(bytes: Uint8Array): Promise<PreparedDicom>;
}

/** A prepared file as the deciding thread sees it: no pixel or file bytes, only what rows need. */
export type PreparedSummary =
  | { kind: 'image'; width: number; height: number; channels: number }
  | { kind: 'dicom'; item: PreparedDicomItem; hierarchy: DicomHierarchy }
  | { kind: 'skip'; dicom: boolean; reason: string };

/** A blob written and fsynced, to be registered with the row that references it. */
export interface WrittenBlob {
  sha256: string;
  size: number;
  mediaType: string;
}

export interface WrittenFile {
  blob: WrittenBlob;
  thumbnail: WrittenBlob;
}

/** Why a file was not imported, as the report says it. */
export interface FileFailure {
  outcome: Extract<ImportOutcome, 'skipped' | 'failed'>;
  code: string;
  reason: string;
}

/** The one mapping from a thrown error to a file's outcome (UNSUPPORTED: skipped; anything else: failed). */
export function fileFailure(e: unknown): FileFailure {
  if (e instanceof FoveaException) return { outcome: e.code === 'UNSUPPORTED' ? 'skipped' : 'failed', code: e.code, reason: e.message };
  return { outcome: 'failed', code: 'INTERNAL', reason: `unexpected error: ${(e as Error)?.message ?? String(e)}` };
}

export function readAndHash(path: string, size: number): { bytes: Uint8Array; sha256: string } {
  if (size > MAX_FILE_BYTES) throw new FoveaException('TOO_LARGE', `The file is ${(size / 1024 ** 3).toFixed(1)} GiB; Fovea imports files up to 4 GiB.`);
  const bytes = readFileSync(path);
  return { bytes, sha256: sha256(bytes) };
}

/** A file decoded and thumbnailed, holding the bytes its blobs will be written from. */
export interface PreparedFile {
  summary: PreparedSummary;
  /** The blob and thumbnail bytes (absent for a skipped file). */
  blobs?: { blob: Uint8Array; blobSha256: string; blobType: string; thumbnail: Uint8Array };
}

/** The first 64 bits of a hex SHA-256, as the known-hash filter holds them. */
export function hashPrefix(sha256hex: string): bigint {
  return BigInt(`0x${sha256hex.slice(0, 16)}`);
}

/** A sorted, shared array of hash prefixes (see ImportWorkerData.knownHashPrefixes). */
export function hashPrefixFilter(hashes: readonly string[]): BigUint64Array {
  const prefixes = new BigUint64Array(new SharedArrayBuffer(Math.max(1, hashes.length) * 8), 0, hashes.length);
  hashes.forEach((h, i) => (prefixes[i] = hashPrefix(h)));
  return prefixes.sort();
}

export function mayBeKnown(prefixes: BigUint64Array, sha256hex: string): boolean {
  const p = hashPrefix(sha256hex);
  let lo = 0;
  let hi = prefixes.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = prefixes[mid] ?? 0n;
    if (v === p) return true;
    if (v < p) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** Decodes one file's bytes. Throws FoveaException for bad input (see fileFailure). */
export async function prepareBytes(bytes: Uint8Array, sourceSha256: string, dicom: DicomSupport): Promise<PreparedFile> {
  if (!isPart10(bytes) && sniffPlainImage(bytes.subarray(0, 32))) {
    const img = await readPlainImage(bytes);
    return {
      summary: { kind: 'image', width: img.width, height: img.height, channels: img.channels },
      blobs: { blob: img.png, blobSha256: sha256(img.png), blobType: 'image/png', thumbnail: img.thumbnail },
    };
  }
  if (!dicom.looksLikeDicom(bytes)) {
    return { summary: { kind: 'skip', dicom: false, reason: 'not DICOM and not an image Fovea reads (PNG, JPEG, TIFF, BMP, GIF, WebP)' } };
  }
  const prepared = await dicom.prepare(bytes);
  if (prepared.kind === 'skip') return { summary: { kind: 'skip', dicom: true, reason: prepared.reason } };
  return {
    summary: { kind: 'dicom', item: prepared.item, hierarchy: prepared.hierarchy },
    blobs: { blob: bytes, blobSha256: sourceSha256, blobType: 'application/dicom', thumbnail: prepared.thumbnail },
  };
}

/**
 * Writes a prepared file's blob and thumbnail under the library's blob
 * folder, then fsyncs both before renaming them into place, all off the thread.
 */
export async function writePreparedBlobs(blobRoot: string, file: PreparedFile, knownDirs?: Set<string>): Promise<WrittenFile> {
  const b = file.blobs;
  if (b === undefined) throw new Error('a skipped file has no blobs to write');
  const thumbSha = sha256(b.thumbnail);
  await writeBlobFilesAsync(
    blobRoot,
    [
      { bytes: b.blob, hash: b.blobSha256 },
      { bytes: b.thumbnail, hash: thumbSha },
    ],
    knownDirs,
  );
  return {
    blob: { sha256: b.blobSha256, size: b.blob.length, mediaType: b.blobType },
    thumbnail: { sha256: thumbSha, size: b.thumbnail.length, mediaType: 'image/jpeg' },
  };
}
