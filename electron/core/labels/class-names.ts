/**
 * What a class's NAME means to Fovea, decided in one place so the importers, training and
 * evaluation treat it alike:
 *
 * - Background names (background, bg, none, __background__, _background_): pixel value / class
 *   "nothing here". Mask importers do not store them; segmentation maps them to index 0.
 * - Ignore names (void, ignore, ignored, unlabelled, unlabeled, DontCare, "don't care"): a REGION
 *   to leave out, not a class to learn. Importers keep these regions as annotations of that class
 *   (so the library knows where they are); training gives them no loss (segmentation paints them
 *   255, detection boxes are not targets) and evaluation gives them no score (truth 255 in
 *   segmentation; in detection a region that detections of any class may fall on without counting,
 *   matched as COCOeval matches crowd regions). Examples: DRIVE outside the field of view, CamVid's
 *   class 11, KITTI's DontCare boxes. COCO crowd regions (iscrowd) are treated the same way.
 */

const BACKGROUND_NAMES = new Set(['background', 'bg', 'none', '__background__', '_background_']);
const IGNORE_NAME = /^(void|ignore|ignored|unlabel+ed|don'?t ?care|dontcare)$/iu;

/** True for names that mean "no object here" (background). */
export function isBackgroundName(name: string): boolean {
  return BACKGROUND_NAMES.has(name.trim().toLowerCase());
}

/** True for names that mark a region to ignore (void, ignore, unlabelled, DontCare...). */
export function isIgnoreClassName(name: string): boolean {
  return IGNORE_NAME.test(name.trim());
}

/** Item statuses that say a person labelled the image (an image without shapes is then a labelled negative). */
export const LABELLED_STATUSES: readonly string[] = ['done', 'needs_review', 'approved'];
