import type { ParsedDicom } from './parse-dicom';
import { NON_IMAGE_MODALITIES, SOP_CLASSES } from './sop-classes';

export type DicomClassification = { kind: 'image' } | { kind: 'skip'; reason: string };

const PIXEL_TAGS = ['7FE00010', '7FE00008', '7FE00009'];

/**
 * Decides whether a parsed object is an image Fovea imports, or something
 * else to skip with a reason a person understands ("RT Plan: radiotherapy
 * data without an image"). Known non-image SOP classes are skipped even if a
 * writer put pixel data in them; otherwise pixel data makes an image (RT
 * Dose and SEG included), its absence a skip.
 */
export function classifyDicom(parsed: ParsedDicom): DicomClassification {
  const sopClassUid = parsed.str('00080016') ?? parsed.str('00020002');
  const known = sopClassUid !== undefined ? SOP_CLASSES[sopClassUid] : undefined;
  if (known?.category === 'skip') {
    return { kind: 'skip', reason: `${known.name}: ${known.what ?? 'not an image'} (SOP Class ${sopClassUid ?? ''}).` };
  }
  if (parsed.has('00041220') || parsed.has('00041200')) {
    return { kind: 'skip', reason: 'DICOMDIR: an index of the files on a disc, not an image; open it to import the images it lists.' };
  }
  if (PIXEL_TAGS.some((t) => parsed.has(t))) return { kind: 'image' };

  const modality = parsed.str('00080060')?.toUpperCase();
  const byModality = modality !== undefined ? NON_IMAGE_MODALITIES[modality] : undefined;
  if (known !== undefined) {
    return { kind: 'skip', reason: `${known.name} without pixel data: the file holds no image (SOP Class ${sopClassUid ?? ''}).` };
  }
  if (byModality !== undefined) {
    return { kind: 'skip', reason: `Modality ${modality ?? ''}: ${byModality}.` };
  }
  const what = sopClassUid !== undefined ? `SOP Class ${sopClassUid}` : 'no SOP Class';
  return {
    kind: 'skip',
    reason: `No pixel data: the file holds no image (${what}${modality !== undefined ? `, modality ${modality}` : ''}).`,
  };
}
