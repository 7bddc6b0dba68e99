#!/usr/bin/python3
"""Reference classification metrics from scikit-learn, for Fovea's evaluation tests.

Usage:
    /usr/bin/python3 test/reference/sklearn_metrics.py [CASES.json] > OUT.json

Reads the cases (JSON, from the file or stdin):
    {"cases": [{"name": str, "multiLabel": bool, "numClasses": K,
                "yTrue": [class index, ...]          (single-label)
                         | [[0/1 x K], ...]          (multi-label),
                "probabilities": [[p_0 .. p_K-1], ...],
                "threshold": 0.5                     (multi-label only)}]}
and writes, per case, what scikit-learn computes (labels = range(K),
zero_division=0):
    accuracy                  accuracy_score
    precision/recall/f1/support  precision_recall_fscore_support(average=None)
    macro {precision, recall, f1}  precision_recall_fscore_support(average='macro')
    confusion                 confusion_matrix (single-label) or
                              multilabel_confusion_matrix (multi-label)
    auc [per class]           roc_auc_score(y == k, p[:, k]); null where
                              sklearn raises (only one class present)
    aucMacro                  single-label K > 2: roc_auc_score(multi_class='ovr',
                              average='macro', labels=range(K)) when every class
                              has an AUC; K == 2: roc_auc_score(y, p[:, 1]);
                              multi-label: roc_auc_score(Y, P, average='macro')
                              when defined. Otherwise the mean of the defined
                              per-class values, and "aucMacroSource": "mean-of-defined"
                              (sklearn itself raises there).
    roc [per class]           roc_curve(y == k, p[:, k]): fpr, tpr, thresholds
                              (the first threshold, max + 1 or inf by version,
                              is written as null)
    pr [per class]            precision_recall_curve: precision, recall, thresholds
                              (null for a class without positives)
    ap [per class]            average_precision_score(y == k, p[:, k]) (null
                              without positives: sklearn gives 0 with a warning)

Exit status 3 with a message on stderr when scikit-learn is not installed
(Debian: apt-get install python3-sklearn).
"""

import json
import sys
import warnings

try:
    import numpy as np
    import sklearn
    from sklearn import metrics
except ImportError as e:  # pragma: no cover
    sys.stderr.write(f"scikit-learn is not available ({e}); install python3-sklearn\n")
    sys.exit(3)

warnings.simplefilter("ignore")


def listf(a):
    return [float(x) for x in a]


def one_case(case):
    K = int(case["numClasses"])
    labels = list(range(K))
    P = np.array(case["probabilities"], dtype=np.float64).reshape(-1, K)
    multi = bool(case.get("multiLabel", False))
    out = {"name": case["name"]}
    if multi:
        Y = np.array(case["yTrue"], dtype=np.int64).reshape(-1, K)
        thr = float(case.get("threshold", 0.5))
        pred = (P >= thr).astype(np.int64)
        out["accuracy"] = float(metrics.accuracy_score(Y, pred))
        p, r, f, s = metrics.precision_recall_fscore_support(Y, pred, average=None, zero_division=0)
        mp, mr, mf, _ = metrics.precision_recall_fscore_support(Y, pred, average="macro", zero_division=0)
        out["confusion"] = metrics.multilabel_confusion_matrix(Y, pred).tolist()
        cols = [Y[:, k] for k in labels]
    else:
        y = np.array(case["yTrue"], dtype=np.int64)
        pred = np.argmax(P, axis=1)
        out["accuracy"] = float(metrics.accuracy_score(y, pred))
        p, r, f, s = metrics.precision_recall_fscore_support(y, pred, labels=labels, average=None, zero_division=0)
        mp, mr, mf, _ = metrics.precision_recall_fscore_support(y, pred, labels=labels, average="macro", zero_division=0)
        out["confusion"] = metrics.confusion_matrix(y, pred, labels=labels).tolist()
        cols = [(y == k).astype(np.int64) for k in labels]
    out["precision"], out["recall"], out["f1"] = listf(p), listf(r), listf(f)
    out["support"] = [int(x) for x in s]
    out["macro"] = {"precision": float(mp), "recall": float(mr), "f1": float(mf)}

    auc, roc, pr, ap = [], [], [], []
    for k in labels:
        yk, sk = cols[k], P[:, k]
        try:
            a = float(metrics.roc_auc_score(yk, sk))
            fpr, tpr, th = metrics.roc_curve(yk, sk)
            roc.append({"fpr": listf(fpr), "tpr": listf(tpr), "thresholds": [None] + listf(th[1:])})
        except ValueError:
            a = None
            roc.append(None)
        auc.append(a)
        if yk.sum() > 0:
            pk, rk, tk = metrics.precision_recall_curve(yk, sk)
            pr.append({"precision": listf(pk), "recall": listf(rk), "thresholds": listf(tk)})
            ap.append(float(metrics.average_precision_score(yk, sk)))
        else:
            pr.append(None)
            ap.append(None)
    out["auc"], out["roc"], out["pr"], out["ap"] = auc, roc, pr, ap

    defined = [a for a in auc if a is not None]
    out["aucMacroSource"] = "sklearn"
    try:
        if multi:
            out["aucMacro"] = float(metrics.roc_auc_score(Y, P, average="macro"))
        elif K == 2:
            out["aucMacro"] = float(metrics.roc_auc_score(y, P[:, 1]))
        else:
            out["aucMacro"] = float(metrics.roc_auc_score(y, P, multi_class="ovr", average="macro", labels=labels))
    except ValueError:
        out["aucMacroSource"] = "mean-of-defined"
        out["aucMacro"] = float(np.mean(defined)) if defined and not (K == 2 and not multi) else None
    return out


def main():
    text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
    cases = json.loads(text)["cases"]
    json.dump({"sklearn": sklearn.__version__, "numpy": np.__version__, "cases": [one_case(c) for c in cases]}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
