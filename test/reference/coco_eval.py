#!/usr/bin/python3
"""
Reference box metrics for Fovea's tests, written for this repository because pycocotools cannot be
installed here (PyPI is unreachable; Debian has no python3-pycocotools package).

1. COCOeval, iouType 'bbox', useCats 1, default parameters: a port of the algorithm of
   cocodataset/cocoapi PythonAPI/pycocotools/cocoeval.py (commit 03ed8bd), step for step:
   _prepare (ignore = iscrowd), computeIoU (maskUtils.iou on boxes: crowd ground truth divides by
   the detection's area), evaluateImg per (category, area range, image) with maxDets[-1] detections
   sorted by score with a stable sort, ground truth with ignored ones last, the greedy matching
   loop, unmatched detections outside the area range ignored; accumulate (stable sort of all
   scores, cumulative tp/fp, precision envelope, np.searchsorted at the 101 recall thresholds);
   summarize's 12 numbers (mean of the entries > -1). Results are loaded as loadRes does for
   bbox: area = w * h, iscrowd 0, ids 1.. in file order.
2. Pascal VOC all-point AP: a port of py-faster-rcnn's lib/datasets/voc_eval.py (voc_eval with
   use_07_metric=False, voc_ap), which follows the VOC devkit's VOCevaldet: per class, detections
   by confidence (here a stable sort, as MATLAB's sort; voc_eval's np.argsort is not stable, which
   only matters for ties), each takes the ground truth of its image with the highest IoU (VOC's
   inclusive-pixel IoU: boxes given as continuous x, y, w, h are turned into xmin = x + 1,
   xmax = x + w, so the +1 terms give back the continuous IoU), > 0.5 and not yet taken: TP;
   taken: FP; otherwise FP. AP = sum of recall steps times the interpolated precision.
   VOC has no crowd regions; Fovea's extension, mirrored here: crowd annotations (iscrowd 1) are
   not boxes to match, and a detection that matched no box is neither TP nor FP when its
   intersection with a crowd region over its own area exceeds 0.5 (COCO's crowd overlap).

Input (stdin): {"gt": COCO instances dict, "dt": [ {image_id, category_id, bbox, score}, ... ]}.
Output (stdout): {"stats": [12 numbers], "voc": {"<category id>": AP or -1}, "vocMean": mean}.
"""
import json
import sys

import numpy as np


def box_iou(d, g, crowd):
    """maskUtils.iou for boxes [x, y, w, h]."""
    w = min(d[0] + d[2], g[0] + g[2]) - max(d[0], g[0])
    if w <= 0:
        return 0.0
    h = min(d[1] + d[3], g[1] + g[3]) - max(d[1], g[1])
    if h <= 0:
        return 0.0
    inter = w * h
    da = d[2] * d[3]
    union = da if crowd else da + g[2] * g[3] - inter
    return inter / union


def coco_eval(gt, dt):
    iou_thrs = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
    rec_thrs = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
    max_dets = [1, 10, 100]
    area_rng = [[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]]
    img_ids = sorted({im['id'] for im in gt['images']})
    cat_ids = sorted({c['id'] for c in gt['categories']})

    gts = {}
    for g in gt['annotations']:
        g = dict(g)
        g['ignore'] = bool(g.get('iscrowd', 0))
        gts.setdefault((g['image_id'], g['category_id']), []).append(g)
    dts = {}
    for i, d in enumerate(dt):
        d = dict(d)
        d['area'] = d['bbox'][2] * d['bbox'][3]
        d['id'] = i + 1
        d['iscrowd'] = 0
        dts.setdefault((d['image_id'], d['category_id']), []).append(d)

    def ious_of(img, cat):
        g = gts.get((img, cat), [])
        d = dts.get((img, cat), [])
        if not g and not d:
            return []
        order = np.argsort([-x['score'] for x in d], kind='mergesort')
        d = [d[i] for i in order][: max_dets[-1]]
        if not g or not d:
            return np.zeros((len(d), len(g)))
        return np.array([[box_iou(x['bbox'], y['bbox'], int(y['iscrowd'])) for y in g] for x in d])

    ious = {(i, c): ious_of(i, c) for i in img_ids for c in cat_ids}
    T = len(iou_thrs)

    def evaluate_img(img, cat, a_rng, max_det):
        g_all = gts.get((img, cat), [])
        d_all = dts.get((img, cat), [])
        if not g_all and not d_all:
            return None
        g_ig = [1 if (g['ignore'] or g['area'] < a_rng[0] or g['area'] > a_rng[1]) else 0 for g in g_all]
        gtind = np.argsort(g_ig, kind='mergesort')
        g = [g_all[i] for i in gtind]
        dtind = np.argsort([-x['score'] for x in d_all], kind='mergesort')
        d = [d_all[i] for i in dtind[0:max_det]]
        iscrowd = [int(o['iscrowd']) for o in g]
        iou = ious[img, cat]
        iou = iou[:, gtind] if len(iou) > 0 else iou
        G, D = len(g), len(d)
        gtm = np.zeros((T, G))
        dtm = np.zeros((T, D))
        gt_ig = np.array([g_ig[i] for i in gtind])
        dt_ig = np.zeros((T, D))
        if len(iou) != 0:
            for tind, t in enumerate(iou_thrs):
                for dind, det in enumerate(d):
                    best = min([t, 1 - 1e-10])
                    m = -1
                    for gind in range(G):
                        if gtm[tind, gind] > 0 and not iscrowd[gind]:
                            continue
                        if m > -1 and gt_ig[m] == 0 and gt_ig[gind] == 1:
                            break
                        if iou[dind, gind] < best:
                            continue
                        best = iou[dind, gind]
                        m = gind
                    if m == -1:
                        continue
                    dt_ig[tind, dind] = gt_ig[m]
                    dtm[tind, dind] = g[m]['id']
                    gtm[tind, m] = det['id']
        outside = np.array([x['area'] < a_rng[0] or x['area'] > a_rng[1] for x in d]).reshape((1, D))
        dt_ig = np.logical_or(dt_ig, np.logical_and(dtm == 0, np.repeat(outside, T, 0)))
        return {'dtMatches': dtm, 'dtScores': [x['score'] for x in d], 'gtIgnore': gt_ig, 'dtIgnore': dt_ig}

    evals = {(c, a, i): evaluate_img(i, c, area_rng[a], max_dets[-1]) for c in cat_ids for a in range(4) for i in img_ids}
    R, K, A, M = len(rec_thrs), len(cat_ids), 4, len(max_dets)
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    for k, c in enumerate(cat_ids):
        for a in range(A):
            for m, max_det in enumerate(max_dets):
                E = [evals[c, a, i] for i in img_ids]
                E = [e for e in E if e is not None]
                if not E:
                    continue
                scores = np.concatenate([e['dtScores'][0:max_det] for e in E])
                inds = np.argsort(-scores, kind='mergesort')
                dtm = np.concatenate([e['dtMatches'][:, 0:max_det] for e in E], axis=1)[:, inds]
                dt_ig = np.concatenate([e['dtIgnore'][:, 0:max_det] for e in E], axis=1)[:, inds]
                gt_ig = np.concatenate([e['gtIgnore'] for e in E])
                npig = np.count_nonzero(gt_ig == 0)
                if npig == 0:
                    continue
                tps = np.logical_and(dtm, np.logical_not(dt_ig))
                fps = np.logical_and(np.logical_not(dtm), np.logical_not(dt_ig))
                tp_sum = np.cumsum(tps, axis=1).astype(dtype=np.float64)
                fp_sum = np.cumsum(fps, axis=1).astype(dtype=np.float64)
                for t, (tp, fp) in enumerate(zip(tp_sum, fp_sum)):
                    nd = len(tp)
                    rc = tp / npig
                    pr = tp / (fp + tp + np.spacing(1))
                    q = np.zeros((R,))
                    recall[t, k, a, m] = rc[-1] if nd else 0
                    pr = pr.tolist()
                    q = q.tolist()
                    for i in range(nd - 1, 0, -1):
                        if pr[i] > pr[i - 1]:
                            pr[i - 1] = pr[i]
                    found = np.searchsorted(rc, rec_thrs, side='left')
                    for ri, pi in enumerate(found):
                        if pi >= nd:
                            break
                        q[ri] = pr[pi]
                    precision[t, :, k, a, m] = np.array(q)

    def summarize(ap, iou_thr=None, area=0, max_det=100):
        mind = max_dets.index(max_det)
        s = precision if ap else recall
        if iou_thr is not None:
            s = s[np.where(iou_thr == iou_thrs)[0]]
        s = s[:, :, :, area, mind] if ap else s[:, :, area, mind]
        return -1.0 if len(s[s > -1]) == 0 else float(np.mean(s[s > -1]))

    return [
        summarize(1), summarize(1, 0.5), summarize(1, 0.75), summarize(1, area=1), summarize(1, area=2), summarize(1, area=3),
        summarize(0, max_det=1), summarize(0, max_det=10), summarize(0), summarize(0, area=1), summarize(0, area=2), summarize(0, area=3),
    ]


def voc_ap(rec, prec):
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def voc_eval(gt, dt, cat, ovthresh=0.5):
    def xyxy(b):
        return [b[0] + 1.0, b[1] + 1.0, b[0] + b[2], b[1] + b[3]]

    recs = {}
    npos = 0
    crowds = {}
    for g in gt['annotations']:
        if g['category_id'] != cat:
            continue
        if g.get('iscrowd', 0):
            crowds.setdefault(g['image_id'], []).append(g['bbox'])
            continue
        r = recs.setdefault(g['image_id'], {'bbox': [], 'difficult': [], 'det': []})
        r['bbox'].append(xyxy(g['bbox']))
        r['difficult'].append(False)
        r['det'].append(False)
        npos += 1
    if npos == 0:
        return -1.0
    dets = [d for d in dt if d['category_id'] == cat]
    confidence = np.array([d['score'] for d in dets])
    order = np.argsort(-confidence, kind='mergesort')
    tp = np.zeros(len(dets))
    fp = np.zeros(len(dets))
    for di, j in enumerate(order):
        d = dets[j]
        bb = xyxy(d['bbox'])
        r = recs.get(d['image_id'])
        ovmax = -np.inf
        if r is not None and len(r['bbox']):
            BBGT = np.array(r['bbox'])
            ixmin = np.maximum(BBGT[:, 0], bb[0])
            iymin = np.maximum(BBGT[:, 1], bb[1])
            ixmax = np.minimum(BBGT[:, 2], bb[2])
            iymax = np.minimum(BBGT[:, 3], bb[3])
            iw = np.maximum(ixmax - ixmin + 1.0, 0.0)
            ih = np.maximum(iymax - iymin + 1.0, 0.0)
            inters = iw * ih
            uni = (bb[2] - bb[0] + 1.0) * (bb[3] - bb[1] + 1.0) + (BBGT[:, 2] - BBGT[:, 0] + 1.0) * (BBGT[:, 3] - BBGT[:, 1] + 1.0) - inters
            overlaps = inters / uni
            ovmax = np.max(overlaps)
            jmax = int(np.argmax(overlaps))
        if ovmax > ovthresh:
            if not r['difficult'][jmax]:
                if not r['det'][jmax]:
                    tp[di] = 1.0
                    r['det'][jmax] = True
                else:
                    fp[di] = 1.0
        elif not any(box_iou(d['bbox'], c, 1) > ovthresh for c in crowds.get(d['image_id'], [])):
            fp[di] = 1.0
    fp = np.cumsum(fp)
    tp = np.cumsum(tp)
    rec = tp / float(npos)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return voc_ap(rec, prec)


def main():
    data = json.load(sys.stdin)
    gt, dt = data['gt'], data['dt']
    stats = coco_eval(gt, dt)
    voc = {str(c['id']): voc_eval(gt, dt, c['id']) for c in gt['categories']}
    valid = [v for v in voc.values() if v > -1]
    json.dump({'stats': stats, 'voc': voc, 'vocMean': float(np.mean(valid)) if valid else -1.0}, sys.stdout)


if __name__ == '__main__':
    main()
