"""Reference losses for test/unit/native-models/classification-recipe.test.ts.

Reads {"cases": [{"logits": [[...]], "target": [[...]] | [i, ...], "eps": e, "multi": bool}]} on
stdin and prints {"losses": [...]}: PyTorch's CrossEntropyLoss(label_smoothing=eps) over the logits
(target: class indices, or probabilities for soft targets), or for multi-label the mean binary
cross-entropy of sigmoid(logits) against targets smoothed towards 0.5, y(1 - eps) + eps/2 (what
timm's BinaryCrossEntropy(smoothing=eps) does for sigmoid targets: y(1 - eps) + eps/2 for 2 "classes").
"""
import json
import sys

import torch

cases = json.load(sys.stdin)["cases"]
out = []
for c in cases:
    logits = torch.tensor(c["logits"], dtype=torch.float64)
    eps = float(c["eps"])
    if c["multi"]:
        y = torch.tensor(c["target"], dtype=torch.float64)
        y = y * (1 - eps) + eps / 2
        out.append(float(torch.nn.BCEWithLogitsLoss()(logits, y)))
    else:
        t = c["target"]
        target = torch.tensor(t, dtype=torch.long) if isinstance(t[0], int) else torch.tensor(t, dtype=torch.float64)
        out.append(float(torch.nn.CrossEntropyLoss(label_smoothing=eps)(logits, target)))
print(json.dumps({"losses": out}))
