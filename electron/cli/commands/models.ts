/**
 * Model help from the command line:
 *   fovea segment --image FILE [--frame N] [--point X,Y[,+|-]]... [--box X0,Y0,X1,Y1] --out MASK.png [--window C,W] [--model NAME] [--json]
 *     a mask from clicks and/or a box (image pixel coordinates of the image as Fovea stores it:
 *     EXIF orientation applied; DICOM at its own window unless --window), written as a 0/255 PNG
 *     at the image's size; --json: score (the model's IoU estimate), area, encode and decode ms.
 *   fovea models [--json]
 *     the model packs (shipped, staged by IT) and imported models, each verified, with the reason
 *     a refused one cannot be used.
 *   fovea import-model FILE.onnx [--name NAME] [--manifest M.json] [--classes NAMES.txt] [--json]
 *     an ONNX classifier, detector or segmenter into the library (see core/assist/model-import.ts).
 * `fovea predict --model` and `fovea evaluate --model` are in predict.ts and evaluate.ts and call
 * runPredictModel / runEvaluateModel here.
 */
import { resolve } from 'node:path';
import type { PromptPoint } from '../../contract/assist-engine';
import type { SplitName } from '../../contract/ml';
import { evaluateWithModel, predictWithModel, type ModelEvaluation } from '../../core/assist/model-predict';
import { importModel } from '../../core/assist/model-import';
import type { CliContext } from '../cli-context';
import { EXIT_OK, EXIT_PARTIAL, UsageError } from '../cli-context';
import { interruptible } from '../interrupt';
import { ProgressBar } from '../progress-bar';
import { withItemNames } from '../../core/store/item-names';

export const segmentHelp = 'fovea segment --image FILE [--frame N] [--point X,Y[,+|-]]... [--box X0,Y0,X1,Y1] --out MASK.png [--window C,W] [--model NAME] [--json]';
export const segmentOptions = {
  image: { type: 'string' },
  frame: { type: 'string' },
  point: { type: 'string', multiple: true },
  box: { type: 'string' },
  out: { type: 'string' },
  window: { type: 'string' },
  model: { type: 'string' },
} as const;

export const modelsHelp = 'fovea models [--json]          model packs and imported models, verified';

export const importModelHelp = 'fovea import-model FILE.onnx [--name NAME] [--manifest M.json] [--classes NAMES.txt] [--json]';
export const importModelOptions = {
  name: { type: 'string' },
  manifest: { type: 'string' },
  classes: { type: 'string' },
} as const;

function numbers(text: string, count: number[], what: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const values = parts.map(Number);
  if (!count.includes(parts.length) || values.some((v) => !Number.isFinite(v))) throw new UsageError(`${what} must be ${count.map((c) => `${c} numbers`).join(' or ')} separated by commas, not "${text}"`);
  return values;
}

/** "X,Y", "X,Y,+" or "X,Y,-". */
export function parsePoint(text: string): PromptPoint {
  const parts = text.split(',').map((s) => s.trim());
  const sign = parts.length === 3 ? parts[2] : '+';
  if (sign !== '+' && sign !== '-') throw new UsageError(`--point ${text}: the third part is + (on the object) or - (not on it)`);
  const [x, y] = numbers(parts.slice(0, 2).join(','), [2], '--point X,Y');
  return { x: x as number, y: y as number, positive: sign === '+' };
}

export async function runSegment(ctx: CliContext, positionals: string[], values: Record<string, unknown>): Promise<number> {
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const image = values['image'] as string | undefined;
  const out = values['out'] as string | undefined;
  if (!image) throw new UsageError('--image FILE is required');
  if (!out) throw new UsageError('--out MASK.png is required');
  const frame = values['frame'] === undefined ? 0 : Number(values['frame']);
  if (!Number.isInteger(frame) || frame < 0) throw new UsageError('--frame takes a frame number from 0');
  const points = ((values['point'] as string[] | undefined) ?? []).map(parsePoint);
  let box: { x: number; y: number; width: number; height: number } | null = null;
  if (values['box'] !== undefined) {
    const [x0, y0, x1, y1] = numbers(values['box'] as string, [4], '--box X0,Y0,X1,Y1') as [number, number, number, number];
    if (!(x1 > x0 && y1 > y0)) throw new UsageError('--box X0,Y0,X1,Y1 needs X1 > X0 and Y1 > Y0');
    box = { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
  }
  if (points.length === 0 && !box) throw new UsageError('give at least one --point or a --box');
  let window: { center: number; width: number } | undefined;
  if (values['window'] !== undefined) {
    const [center, width] = numbers(values['window'] as string, [2], '--window C,W') as [number, number];
    if (!(width > 0)) throw new UsageError('--window C,W needs a width above 0');
    window = { center, width };
  }
  const core = ctx.core();
  const r = await core.clickSegment.segmentFile(resolve(image), frame, window, { points, box }, values['model'] as string | undefined);
  const sharp = (await import('sharp')).default;
  const grey = Buffer.alloc(r.width * r.height);
  for (let i = 0; i < grey.length; i++) grey[i] = r.mask[i] ? 255 : 0;
  const outPath = resolve(out);
  await sharp(grey, { raw: { width: r.width, height: r.height, channels: 1 } }).toColourspace('b-w').png().toFile(outPath);
  const summary = { image: resolve(image), kind: r.kind, frame, width: r.width, height: r.height, model: r.model, score: r.score, area: r.area, encodeMs: r.encodeMs, decodeMs: r.decodeMs, out: outPath };
  if (ctx.json) ctx.jsonLine(summary);
  else {
    ctx.out(`Mask of ${r.area} pixel(s) of ${r.width}x${r.height} written to ${outPath} (${r.model}, score ${r.score.toFixed(3)}).`);
    ctx.out(`  encode ${r.encodeMs === null ? 'cached' : `${r.encodeMs.toFixed(0)} ms`}, decode ${r.decodeMs.toFixed(0)} ms`);
  }
  return EXIT_OK;
}

export async function runModels(ctx: CliContext): Promise<number> {
  const list = await ctx.core().models.list();
  if (ctx.json) {
    ctx.jsonLine(list);
    return EXIT_OK;
  }
  if (list.length === 0) ctx.out('No model packs or imported models.');
  for (const m of list) {
    ctx.out(`${m.status === 'ok' ? '+' : '-'} ${m.name.padEnd(20)} ${m.task.padEnd(20)} ${m.origin.padEnd(9)} ${m.status === 'ok' ? 'verified' : 'REFUSED'}  licence: ${m.license ?? 'unknown'}`);
    ctx.out(`    ${m.title}${m.classes.length ? `; ${m.classes.length} class(es): ${m.classes.slice(0, 8).join(', ')}${m.classes.length > 8 ? ', ...' : ''}` : ''}`);
    if (m.input) ctx.out(`    input ${m.input.layout} ${m.input.channels}x${m.input.height}x${m.input.width}, decoder ${m.decoder}; ${m.folder}`);
    if (m.reason) ctx.out(`    refused: ${m.reason}`);
  }
  return list.some((m) => m.status !== 'ok') ? EXIT_PARTIAL : EXIT_OK;
}

export async function runImportModel(ctx: CliContext, positionals: string[], values: Record<string, unknown>): Promise<number> {
  if (positionals.length !== 1) throw new UsageError('give one ONNX file: fovea import-model FILE.onnx');
  const core = ctx.core();
  const r = await importModel(
    core.modelImportDeps(),
    {
      path: resolve(positionals[0] as string),
      ...(values['name'] !== undefined ? { name: values['name'] as string } : {}),
      ...(values['manifest'] !== undefined ? { manifestPath: resolve(values['manifest'] as string) } : {}),
      ...(values['classes'] !== undefined ? { classesPath: resolve(values['classes'] as string) } : {}),
    },
  );
  if (ctx.json) ctx.jsonLine(r);
  else {
    const m = r.model;
    ctx.out(`Imported "${m.name}": ${m.task}, ${m.classes.length} class(es), decoder ${m.decoder} (layout from the ${r.layoutFrom}), input ${m.input?.layout} ${m.input?.channels}x${m.input?.height}x${m.input?.width}.`);
    ctx.out(`  classes: ${m.classes.slice(0, 20).join(', ')}${m.classes.length > 20 ? ', ...' : ''}`);
    ctx.out(`  stored in ${m.folder}`);
    for (const w of r.warnings) ctx.out(`  note: ${w}`);
  }
  return EXIT_OK;
}

/** --map MODEL=DATASET (repeatable; MODEL= leaves a class out). */
export function parseClassMap(values: readonly string[] | undefined): Record<string, string> | undefined {
  if (!values?.length) return undefined;
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    if (i <= 0) throw new UsageError(`--map takes MODEL_CLASS=DATASET_CLASS, not "${v}"`);
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

/** `fovea predict --model NAME --dataset D [--map A=B]... [--only-unlabeled] [--min-score S]`. */
export async function runPredictModel(ctx: CliContext, values: Record<string, unknown>): Promise<number> {
  const name = values['model'] as string;
  const datasetName = values['dataset'] as string | undefined;
  if (!datasetName) throw new UsageError('--model needs --dataset NAME (the images to predict)');
  const core = ctx.core();
  const dataset = core.datasets.findByName(datasetName);
  if (!dataset) throw new UsageError(`there is no dataset named "${datasetName}"`);
  const minScore = values['min-score'] === undefined ? undefined : Number(values['min-score']);
  if (minScore !== undefined && !(minScore >= 0 && minScore <= 1)) throw new UsageError('--min-score must be a number from 0 to 1');
  const classMap = parseClassMap(values['map'] as string[] | undefined);
  const interrupt = interruptible(ctx, 'Stopping after the current batch');
  const bar = !ctx.json && ctx.isTty ? new ProgressBar() : null;
  try {
    const report = await predictWithModel(core.modelPredictDeps(), name, {
      datasetId: dataset.id,
      ...(classMap ? { classMap } : {}),
      onlyUnlabeled: values['only-unlabeled'] === true,
      ...(minScore !== undefined ? { minScore } : {}),
      signal: interrupt.signal,
      onProgress: (done, total) => bar?.update(total ? done / total : 1, `${done}/${total} images`),
    });
    bar?.done();
    if (ctx.json) ctx.jsonLine({ type: 'done', ...report });
    else {
      ctx.out(`Model ${report.model} predicted ${report.images} image(s) of "${dataset.name}" in ${report.seconds.toFixed(1)} s: ${report.proposed} proposed annotation(s), ${report.replaced} earlier proposal(s) replaced.`);
      for (const [from, to] of Object.entries(report.classMap)) ctx.out(`  ${from} -> ${to ?? '(left out: no such class in the dataset; --map it)'}`);
      for (const f of withItemNames(core.db, report.failures.slice(0, 20))) ctx.out(`  could not read ${f.name} (item ${f.itemId}) frame ${f.frameIndex}: ${f.message}`);
    }
    return report.failures.length ? EXIT_PARTIAL : EXIT_OK;
  } finally {
    bar?.done();
    interrupt.release();
  }
}

/** `fovea evaluate --model NAME --dataset D [--split S] [--map A=B]...`. */
export async function runEvaluateModel(ctx: CliContext, values: Record<string, unknown>, split: SplitName | 'all' | undefined): Promise<ModelEvaluation> {
  const name = values['model'] as string;
  const datasetName = values['dataset'] as string | undefined;
  if (!datasetName) throw new UsageError('--model needs --dataset NAME (the labels to score against)');
  const core = ctx.core();
  const dataset = core.datasets.findByName(datasetName);
  if (!dataset) throw new UsageError(`there is no dataset named "${datasetName}"`);
  const classMap = parseClassMap(values['map'] as string[] | undefined);
  return evaluateWithModel(core.modelPredictDeps(), name, {
    datasetId: dataset.id,
    ...(split && split !== 'all' ? { split } : {}),
    ...(classMap ? { classMap } : {}),
    onProgress: (done, total) => {
      if (!ctx.json && ctx.isTty) process.stderr.write(`\rpredicting image ${done}/${total}`);
    },
  });
}
