#!/usr/bin/python3
"""Reference numbers for the training loop (issue 19): binary metrics at a
decision threshold, and classification grouped per series / patient.

Usage:
    /usr/bin/python3 test/reference/sklearn_threshold.py < CASES.json > OUT.json

Input: {"threshold": [{"positive": [0/1...], "scores": [...], "thresholds": [t...]}],
        "grouped": [{"numClasses": K, "yTrue": [k...], "probabilities": [[...]...], "groups": [key...]}]}

threshold: per t, y_pred = scores >= t (scikit-learn's rule), and
    confusion_matrix(y, y_pred, labels=[0, 1]).ravel() -> tn, fp, fn, tp
    recall_score (sensitivity), precision_score, f1_score (zero_division=0),
    specificity = recall_score(1 - y, 1 - y_pred), accuracy_score.
grouped (numpy): per group (in first-appearance order) the mean probability row,
    the most frequent true class (np.bincount(...).argmax(): ties -> lowest);
    then accuracy_score, precision_recall_fscore_support(labels=range(K),
    zero_division=0), confusion_matrix, and roc_auc_score(y, p[:, 1]) for K == 2
    when both classes are present.
"""
import json
import sys

import numpy as np
import sklearn
from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support,
                             precision_score, recall_score, roc_auc_score)


def threshold_case(c):
    y = np.array(c["positive"], dtype=int)
    s = np.array(c["scores"], dtype=float)
    out = []
    for t in c["thresholds"]:
        p = (s >= t).astype(int)
        tn, fp, fn, tp = confusion_matrix(y, p, labels=[0, 1]).ravel()
        out.append({
            "threshold": t, "tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp),
            "sensitivity": float(recall_score(y, p, zero_division=0)),
            "specificity": float(recall_score(1 - y, 1 - p, zero_division=0)),
            "precision": float(precision_score(y, p, zero_division=0)),
            "f1": float(f1_score(y, p, zero_division=0)),
            "accuracy": float(accuracy_score(y, p)),
        })
    return out


def grouped_case(c):
    K = c["numClasses"]
    y = np.array(c["yTrue"], dtype=int)
    P = np.array(c["probabilities"], dtype=float)
    keys = c["groups"]
    order = list(dict.fromkeys(keys))
    gy, gp = [], []
    for k in order:
        idx = [i for i, g in enumerate(keys) if g == k]
        gp.append(P[idx].mean(axis=0))
        gy.append(int(np.bincount(y[idx], minlength=K).argmax()))
    gy = np.array(gy)
    gp = np.array(gp)
    pred = gp.argmax(axis=1)
    pr, rc, f1, sup = precision_recall_fscore_support(gy, pred, labels=list(range(K)), zero_division=0)
    auc = None
    if K == 2 and len(set(gy.tolist())) == 2:
        auc = float(roc_auc_score(gy, gp[:, 1]))
    return {
        "truth": gy.tolist(), "probabilities": gp.tolist(), "predicted": pred.tolist(),
        "accuracy": float(accuracy_score(gy, pred)),
        "precision": pr.tolist(), "recall": rc.tolist(), "f1": f1.tolist(), "support": sup.tolist(),
        "confusion": confusion_matrix(gy, pred, labels=list(range(K))).tolist(),
        "aucBinary": auc,
    }


data = json.load(sys.stdin)
json.dump({
    "sklearn": sklearn.__version__,
    "threshold": [threshold_case(c) for c in data["threshold"]],
    "grouped": [grouped_case(c) for c in data["grouped"]],
}, sys.stdout)
