/**
 * `fovea import-labels FILE --format coco|yolo|voc|csv|masks|nifti|dicom-seg --dataset NAME
 *  [--classes LIST|MAP] [--map OLD=NEW,...] [--instances CLASS] [--author NAME] [--json]`: labels
 * made in other tools, applied to the dataset's images. Images or classes the dataset does not
 * know are reported (exit code 1 when label entries match no image); a source holding labels of
 * which nothing could be imported is an error that says why (exit 2).
 */
import { resolve } from 'node:path';
import { FoveaException } from '../../contract/result';
import { LABEL_FORMATS, parseRenameList, type LabelFormat, type ParseLabelOptions } from '../../core/labels';
import type { CliContext } from '../cli-context';
import { EXIT_OK, EXIT_PARTIAL, UsageError } from '../cli-context';
import { currentUser } from '../../core/os-user';

export const importLabelsHelp = [
  `fovea import-labels FILE --format ${LABEL_FORMATS.join('|')} --dataset NAME [--classes LIST|MAP] [--map OLD=NEW,...] [--instances CLASS] [--json]   labels from other tools`,
  '      --classes a,b,c           class names by index: YOLO class numbers, mask pixel values 0, 1, 2... (yolo, masks, nifti)',
  '      --classes "0=background,255=vessel"   class names by pixel value (masks, nifti; 0/255 masks need this or a classes.json beside them);',
  '                                values the map does not name are skipped and reported; a class named void/ignore/unlabelled/DontCare is a region to ignore',
  '      --map "PASpersonWalking=pedestrian,PASpersonStanding=pedestrian"   rename classes after reading, any format; several names to one merge them',
  '      --instances pedestrian    masks whose pixel value k is instance k of one class (Penn-Fudan PedMasks, instance-id PNGs): one mask per instance',
  '      --instances coded --classes "24=person,26=car,..."   values class*1000+k are instance k of that class (Cityscapes *_instanceIds.png);',
  '                                values below 1000 are regions of that class (crowd where the image has instances of it)',
].join('\n');
export const importLabelsOptions = {
  format: { type: 'string' },
  dataset: { type: 'string' },
  classes: { type: 'string' },
  map: { type: 'string' },
  instances: { type: 'string' },
  author: { type: 'string' },
} as const;

/** Formats whose files name classes by a number the file does not name (an index or a pixel value). */
const NUMBERED_FORMATS: readonly LabelFormat[] = ['yolo', 'masks', 'nifti'];

/** --classes as a list by index ("a,b") or a value=name map ("0=background,255=vessel"). */
export function parseClassesOption(text: string): string[] | Record<string, string> {
  const parts = text.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw new UsageError('--classes is empty');
  const mapped = parts.filter((p) => /^\d+\s*=/.test(p));
  if (mapped.length === 0) return parts;
  if (mapped.length !== parts.length) throw new UsageError(`--classes mixes value=name pairs and plain names ("${parts.find((p) => !/^\d+\s*=/.test(p))}"): use one form`);
  const map: Record<string, string> = {};
  for (const p of parts) {
    const eq = p.indexOf('=');
    const value = Number(p.slice(0, eq).trim());
    const name = p.slice(eq + 1).trim();
    if (!Number.isInteger(value) || value > 65535) throw new UsageError(`--classes: "${p}" needs a whole pixel value 0..65535 before "="`);
    if (!name) throw new UsageError(`--classes: "${p}" has no class name after "="`);
    if (String(value) in map) throw new UsageError(`--classes names value ${value} twice`);
    map[String(value)] = name;
  }
  return map;
}

export async function runImportLabels(ctx: CliContext, positionals: string[], values: Record<string, unknown>): Promise<number> {
  const [file] = positionals;
  if (!file || positionals.length > 1) throw new UsageError('give exactly one label file or folder');
  const format = values['format'] as string | undefined;
  if (!format || !(LABEL_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${LABEL_FORMATS.join(', ')}`);
  const name = values['dataset'] as string | undefined;
  if (!name) throw new UsageError('--dataset NAME is required');
  const options: ParseLabelOptions = {};
  const classesText = values['classes'] as string | undefined;
  if (classesText !== undefined) {
    if (!NUMBERED_FORMATS.includes(format as LabelFormat)) {
      throw new UsageError(`--classes names classes by index or pixel value (${NUMBERED_FORMATS.join(', ')}); ${format} files name their classes: rename or merge them with --map OLD=NEW`);
    }
    options.classes = parseClassesOption(classesText);
  }
  const instances = values['instances'] as string | undefined;
  if (instances !== undefined) {
    if (format !== 'masks') throw new UsageError('--instances applies to --format masks');
    if (!instances.trim()) throw new UsageError('--instances needs the class name of the instances (or "coded" with --classes)');
    const coded = instances.trim() === 'coded';
    if (coded && classesText === undefined) throw new UsageError('--instances coded needs --classes naming the class ids (e.g. "24=person,26=car")');
    if (!coded && classesText !== undefined) throw new UsageError('--instances CLASS gives every instance one class: leave out --classes (or use --instances coded)');
    options.maskMode = 'instance';
    if (!coded) options.instanceClass = instances.trim();
  }
  const mapText = values['map'] as string | undefined;
  if (mapText !== undefined) {
    try {
      options.renameClasses = parseRenameList(mapText);
    } catch (e) {
      if (e instanceof FoveaException) throw new UsageError(`--map: ${e.message}`);
      throw e;
    }
  }
  const core = ctx.core();
  const dataset = core.datasets.findByName(name);
  if (!dataset) throw new UsageError(`there is no dataset named "${name}"; import its images first with \`fovea import\``);
  const author = (values['author'] as string | undefined) ?? currentUser();
  const report = await core.importLabels(dataset.id, resolve(file), format as LabelFormat, author, options);
  if (ctx.json) ctx.jsonLine(report);
  else {
    ctx.out(
      `${report.annotationsCreated} annotations on ${report.matchedImages} of ${report.imagesInFile} images` +
        (report.annotationsSkipped ? ` (${report.annotationsSkipped} already present, skipped)` : '') +
        (report.labelledEmpty ? `; ${report.labelledEmpty} image(s) listed without labels, marked labelled (negatives)` : '') +
        (report.splitsAssigned ? `; ${report.splitsAssigned} split assignments` : '') + '.',
    );
    if (report.classesCreated.length) ctx.out(`New classes in "${dataset.name}": ${report.classesCreated.join(', ')}`);
    if (report.unmatchedImages.length) {
      ctx.out(`${report.unmatchedImages.length} label entries name images that are not in the dataset:`);
      for (const u of report.unmatchedImages.slice(0, 20)) ctx.out(`  ${u}`);
      if (report.unmatchedImages.length > 20) ctx.out(`  ... and ${report.unmatchedImages.length - 20} more (--json lists all)`);
    }
    for (const a of report.ambiguousImages.slice(0, 20)) ctx.out(`  ambiguous: ${a}`);
    for (const w of report.warnings.slice(0, 20)) ctx.out(`  warning: ${w}`);
    if (report.warnings.length > 20) ctx.out(`  ... and ${report.warnings.length - 20} more warnings (--json lists all)`);
  }
  return report.unmatchedImages.length || report.ambiguousImages.length ? EXIT_PARTIAL : EXIT_OK;
}
