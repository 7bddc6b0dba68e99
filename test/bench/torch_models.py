#!/usr/bin/env python3
"""PyTorch reference for test/bench/training.bench.ts: the same architectures
as native-models/models/classifier.ts and unet.ts (layer for layer, same
filter counts, batch norm without conv bias, same losses), trained with Adam
on random data and timed on the CPU.

Threads: FOVEA_TORCH_THREADS intra-op threads (default 1; 1 inter-op thread),
the same count Fovea is given in the same comparison. Device: FOVEA_TORCH_DEVICE
(default cpu; cuda for test/bench/gpu-check.sh, timed with synchronisation).
PyTorch runs NCHW (its native CPU layout); TF.js runs NHWC (its only layout).

Usage: torch_models.py classifier|unet SIZE CHANNELS CLASSES BATCH TRAIN_STEPS INFER_STEPS
Prints one JSON object: params, train_img_s, infer_img_s, torch, threads.
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import os

THREADS = int(os.environ.get("FOVEA_TORCH_THREADS", "1"))
DEVICE = os.environ.get("FOVEA_TORCH_DEVICE", "cpu")
torch.set_num_threads(THREADS)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass
torch.manual_seed(0)

# Keras/TF.js batch norm momentum 0.9 == PyTorch momentum 0.1; epsilon 1e-3 as in blocks.ts.
def conv_bn_relu(cin, cout, stride=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout, eps=1e-3, momentum=0.1),
        nn.ReLU(inplace=True),
    )


def classifier_levels(size):
    return max(1, min(5, round(math.log2(size / 6))))


class Classifier(nn.Module):
    """classifier.ts: stem conv, L x (maxpool, conv doubling filters), head conv, GAP, dropout 0.3, dense."""

    def __init__(self, size, channels, classes, base=16):
        super().__init__()
        layers = [conv_bn_relu(channels, base)]
        f = base
        for level in range(1, classifier_levels(size) + 1):
            nf = min(256, base * 2 ** level)
            layers += [nn.MaxPool2d(2, 2, ceil_mode=True), conv_bn_relu(f, nf)]
            f = nf
        layers.append(conv_bn_relu(f, f))
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(0.3)
        self.fc = nn.Linear(f, classes)

    def forward(self, x):
        x = self.features(x).mean(dim=(2, 3))
        return self.fc(self.dropout(x))  # logits; softmax is in the loss / at inference


class Unet(nn.Module):
    """unet.ts: 2 x conv-BN-ReLU per level, maxpool down, ConvTranspose 2x2/2 up + concat, 1x1 conv."""

    def __init__(self, channels, classes, depth=3, base=16):
        super().__init__()
        self.enc = nn.ModuleList()
        c = channels
        for level in range(depth):
            f = base * 2 ** level
            self.enc.append(nn.Sequential(conv_bn_relu(c, f), conv_bn_relu(f, f)))
            c = f
        fb = base * 2 ** depth
        self.bottleneck = nn.Sequential(conv_bn_relu(c, fb), conv_bn_relu(fb, fb), nn.Dropout(0.2))
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        c = fb
        for level in reversed(range(depth)):
            f = base * 2 ** level
            self.up.append(nn.ConvTranspose2d(c, f, 2, stride=2))
            self.dec.append(nn.Sequential(conv_bn_relu(2 * f, f), conv_bn_relu(f, f)))
            c = f
        self.out = nn.Conv2d(c, classes, 1)

    def forward(self, x):
        skips = []
        for block in self.enc:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            x = dec(torch.cat([up(x), skip], dim=1))
        return self.out(x)  # logits


def seg_loss(logits, onehot):
    """unet.ts segmentationLoss: softmax cross-entropy + (1 - mean soft Dice over foreground)."""
    p = logits.softmax(1)
    ce = -(onehot * F.log_softmax(logits, 1)).sum(1).mean()
    inter = (p * onehot).sum((0, 2, 3))
    dice = (2 * inter + 1) / (p.sum((0, 2, 3)) + onehot.sum((0, 2, 3)) + 1)
    return ce + 1 - dice[1:].mean()


def count_params(model):
    # TF.js countParams() includes batch norm's moving mean and variance.
    n = sum(p.numel() for p in model.parameters())
    n += sum(b.numel() for name, b in model.named_buffers() if name.endswith(("running_mean", "running_var")))
    return n


def main():
    task, size, channels, classes, batch, train_steps, infer_steps = sys.argv[1], *map(int, sys.argv[2:8])
    model = (Classifier(size, channels, classes) if task == "classifier" else Unet(channels, classes)).to(DEVICE)
    x = torch.randn(batch, channels, size, size, device=DEVICE)
    sync = torch.cuda.synchronize if DEVICE.startswith("cuda") else (lambda: None)
    if task == "classifier":
        y = torch.randint(0, classes, (batch,), device=DEVICE)
        loss_fn = lambda out: F.cross_entropy(out, y)
    else:
        onehot = F.one_hot(torch.randint(0, classes, (batch, size, size), device=DEVICE), classes).permute(0, 3, 1, 2).float()
        loss_fn = lambda out: seg_loss(out, onehot)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x))
        loss.backward()
        opt.step()
        return loss.item()

    model.train()
    for _ in range(2):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(train_steps):
        step()
    sync()
    train_s = time.perf_counter() - t0

    model.eval()
    with torch.no_grad():
        out = model(x)
        if task == "unet":
            out.softmax(1)
        t0 = time.perf_counter()
        for _ in range(infer_steps):
            out = model(x)
            out = out.softmax(1)
        sync()
        infer_s = time.perf_counter() - t0

    print(json.dumps({
        "params": count_params(model),
        "train_img_s": batch * train_steps / train_s,
        "infer_img_s": batch * infer_steps / infer_s,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": DEVICE,
    }))


if __name__ == "__main__":
    main()
