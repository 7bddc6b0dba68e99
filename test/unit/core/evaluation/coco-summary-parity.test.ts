/**
 * The 12 numbers of COCOeval.summarize() (AP, AP50, AP75, AP small/medium/large, AR@1/10/100, AR
 * small/medium/large) and Pascal VOC's all-point AP@0.5, against test/reference/coco_eval.py: a
 * port of pycocotools' COCOeval (bbox) and of py-faster-rcnn's voc_eval (pycocotools itself cannot
 * be installed here: PyPI is unreachable and Debian has no package). Seeded random cases with
 * objects of every size range, crowd regions, tied scores, images without ground truth, classes
 * without detections and more than 100 detections on one image.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { cocoEvaluate, type DetectionImage } from '../../../../electron/core/evaluation/detection-metrics';
import { createRandom } from '../../../../electron/core/samples/seeded-random';
import { REPO_ROOT } from '../../../helpers/paths';

const PYTHON = '/usr/bin/python3';
const KEYS = ['AP', 'AP50', 'AP75', 'APsmall', 'APmedium', 'APlarge', 'AR1', 'AR10', 'AR100', 'ARsmall', 'ARmedium', 'ARlarge'] as const;

interface Reference {
  stats: number[];
  voc: Record<string, number>;
  vocMean: number;
}

/** Runs the reference on the same boxes; fails with the install command when numpy is missing. */
export function referenceScores(images: readonly DetectionImage[], classNames: readonly string[]): Reference {
  const gt = {
    images: images.map((_, i) => ({ id: i + 1, width: 1000, height: 1000 })),
    categories: classNames.map((n, k) => ({ id: k + 1, name: n })),
    annotations: images.flatMap((im, i) =>
      im.groundTruth.map((g) => ({ image_id: i + 1, category_id: g.classIndex + 1, bbox: [g.x, g.y, g.width, g.height], area: g.area ?? g.width * g.height, iscrowd: g.crowd ? 1 : 0 })),
    ).map((a, j) => ({ id: j + 1, ...a })),
  };
  const dt = images.flatMap((im, i) => im.detections.map((d) => ({ image_id: i + 1, category_id: d.classIndex + 1, bbox: [d.x, d.y, d.width, d.height], score: d.score })));
  const run = spawnSync(PYTHON, [join(REPO_ROOT, 'test', 'reference', 'coco_eval.py')], { input: JSON.stringify({ gt, dt }), encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(run.status, 0, `the reference failed (install it with: apt-get install python3-numpy): ${run.stderr}`);
  return JSON.parse(run.stdout) as Reference;
}

function randomCase(seed: string): { images: DetectionImage[]; classNames: string[] } {
  const r = createRandom(seed);
  const classNames = ['person', 'car', 'sign', 'bike'];
  const sizes = [[4, 20], [20, 40], [40, 90], [90, 300]] as const;
  const images: DetectionImage[] = [];
  for (let i = 0; i < 14; i++) {
    const groundTruth: DetectionImage['groundTruth'][number][] = [];
    const detections: DetectionImage['detections'][number][] = [];
    const nGt = i % 5 === 4 ? 0 : Math.floor(r.next() * 7);
    for (let j = 0; j < nGt; j++) {
      const [lo, hi] = sizes[Math.floor(r.next() * 4)] as readonly [number, number];
      const w = lo + r.next() * (hi - lo);
      const h = lo + r.next() * (hi - lo);
      const g = { x: r.next() * 600, y: r.next() * 600, width: w, height: h, classIndex: Math.floor(r.next() * 3) };
      const crowd = r.next() < 0.08;
      groundTruth.push({ ...g, ...(crowd ? { crowd: true } : {}), ...(r.next() < 0.3 ? { area: w * h * (0.4 + 0.5 * r.next()) } : {}) });
      // A detection near most objects, some twice (duplicates), with coarse scores (ties).
      for (let k = 0; k < (r.next() < 0.2 ? 2 : 1); k++) {
        if (r.next() < 0.15) continue;
        const jx = (r.next() - 0.5) * w * 0.5;
        const jy = (r.next() - 0.5) * h * 0.5;
        detections.push({ x: g.x + jx, y: g.y + jy, width: w * (0.8 + 0.4 * r.next()), height: h * (0.8 + 0.4 * r.next()), classIndex: r.next() < 0.9 ? g.classIndex : Math.floor(r.next() * 3), score: Math.round(r.next() * 20) / 20 });
      }
    }
    // False positives anywhere, of every size; image 6 gets more than 100.
    const nFp = i === 6 ? 130 : Math.floor(r.next() * 4);
    for (let j = 0; j < nFp; j++) {
      const [lo, hi] = sizes[Math.floor(r.next() * 4)] as readonly [number, number];
      detections.push({ x: r.next() * 700, y: r.next() * 700, width: lo + r.next() * (hi - lo), height: lo + r.next() * (hi - lo), classIndex: Math.floor(r.next() * 3), score: Math.round(r.next() * 100) / 100 });
    }
    images.push({ groundTruth, detections });
  }
  return { images, classNames };
}

test('COCO 12-number summary and VOC all-point AP equal the reference ports on random boxes of every size', () => {
  let worst = 0;
  for (const seed of ['a', 'b', 'c', 'd']) {
    const { images, classNames } = randomCase(seed);
    const ours = cocoEvaluate(images, classNames);
    const ref = referenceScores(images, classNames);
    KEYS.forEach((k, i) => {
      const d = Math.abs(ours.cocoSummary[k] - (ref.stats[i] as number));
      worst = Math.max(worst, d);
      assert.ok(d < 1e-12, `seed ${seed} ${k}: Fovea ${ours.cocoSummary[k]}, reference ${ref.stats[i]}`);
    });
    assert.ok([ours.cocoSummary.APsmall, ours.cocoSummary.APmedium, ours.cocoSummary.APlarge].every((v) => v > 0), 'every range has objects');
    classNames.forEach((n, k) => {
      const want = ref.voc[String(k + 1)] as number;
      const got = ours.perClass[n]?.vocAp50 as number;
      worst = Math.max(worst, Math.abs(got - want));
      assert.ok(Math.abs(got - want) < 1e-12, `seed ${seed} VOC AP ${n}: Fovea ${got}, reference ${want}`);
    });
    assert.ok(Math.abs(ours.vocAP50 - ref.vocMean) < 1e-12, `seed ${seed} VOC mean`);
    assert.equal(ours.perClass['bike']?.vocAp50, -1, 'a class without ground truth has no VOC AP');
    // The summary's AP, AP50, AP75 and AR are the headline numbers.
    assert.equal(ours.cocoSummary.AP, ours.mAP);
    assert.equal(ours.cocoSummary.AR100, ours.mAR100);
  }
  process.stdout.write(`# COCO summary and VOC AP vs the reference ports: max |diff| ${worst.toExponential(2)} over 4 random cases\n`);
});
