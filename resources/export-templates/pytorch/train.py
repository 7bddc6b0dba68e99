#!/usr/bin/env python3
"""Train a Fovea-exported dataset with PyTorch, on one process or many (DDP), and write a model
Fovea can import (`fovea import-model output/model/model.onnx`).

Written by Fovea's `export-training --target pytorch`; needs only torch and torchvision (and the
numpy and Pillow they bring). No Fovea code. Runs unchanged as

    python train.py                                   # one process (GPU if there is one)
    torchrun --nnodes N --nproc_per_node G train.py   # DistributedDataParallel

DDP: NCCL on GPUs, gloo on CPU; a DistributedSampler shards the training split; the loss is
averaged over every rank; only rank 0 writes checkpoints, the model and the metrics. `--resume`
continues from output/checkpoints/last.pt (written after every epoch).

What it reproduces of Fovea (plan.json says which values this export holds):
- the model family: a compact CNN classifier (conv-BN-ReLU blocks, global average pooling,
  dropout, dense + softmax, or a sigmoid per class when dataset.json says multiLabel), a U-Net
  (batch norm, transposed-conv decoder, skips, softmax) or a CenterNet-style detector (per-class
  centre heatmap, log box size and centre offset at stride 4, decoded by 3x3 peak picking: Fovea's
  own decoding, so the ONNX imports with decoder 'fovea');
- the preprocessing: the normalisation into [0, 1], or MR's z-score per image (nnU-Net's rule: over
  the nonzero pixels when at least a quarter are exactly 0, else over the whole image; dataset.json
  says per image whether the PNG holds stored values or modality values, normalised here as Fovea
  does, or values Fovea already normalised), grey <-> RGB as BT.601 luma, 2.5-D input (the slice
  below, the slice and the slice above as 3 channels, in Fovea's order: by position along the slice
  normal, edge slices repeated; dataset.json lists each sample's neighbours), the letterbox (scale
  s = S / max(w, h), centred, padding 0; large images box-filtered by floor(max side / S) first;
  bilinear at pixel centres), masks nearest with
  255 = ignore outside the image; augmentation as one affine (flips, rotation, scale; one for all
  3 slices of a 2.5-D input) plus contrast/brightness jitter (unclamped on z-scores); the model
  card says the normalisation and the slices in Fovea's own words, so Fovea feeds the imported
  model the same input;
- the losses (cross-entropy; multi-label: binary cross-entropy per class and image, the class
  weights on the positive term; segmentation adds 1 - mean foreground soft Dice; detection:
  CenterNet's penalty-reduced focal loss + L1 on log size and offset, no heatmap loss inside
  crowd / void regions), Adam, the best checkpoint by validation loss, early stopping;
- the test metrics, computed as Fovea computes them (classification: sklearn's accuracy,
  precision/recall/F1 with zero_division=0, confusion matrix, one-vs-rest ROC AUC; multi-label:
  a class is predicted when its probability is >= 0.5, subset accuracy, per-class and macro
  precision/recall/F1, per-class [[tn, fp], [fn, tp]], per-class and macro ROC AUC and average
  precision;
  segmentation: per-class Dice/IoU over the image pixels, the prediction mapped back from the
  letterbox by nearest neighbour; detection: pycocotools' COCOeval matching and 101-point AP at
  IoU 0.50:0.05:0.95, crowd and void regions ignored, boxes mapped back to image pixels and
  clipped), so `fovea evaluate --model NAME --split test` on the imported model prints the same
  numbers (detection: within floating-point differences between PyTorch and ONNX Runtime).
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
IGNORE = 255


# ---------------------------------------------------------------------------- data

def linear_window(x, center, width):
    w = max(width, 1.0)
    if w <= 1:
        return (x > center - 0.5).astype(np.float32)
    return np.clip((x - (center - 0.5)) / (w - 1) + 0.5, 0.0, 1.0)


def read_png(path):
    """The PNG's samples as float64 [H, W, C] and the maximum its bit depth allows."""
    with Image.open(path) as im:
        mode = im.mode
        arr = np.asarray(im)
    if mode in ("I;16", "I;16B", "I"):
        return arr.astype(np.float64)[:, :, None], 65535.0
    if arr.ndim == 2:
        return arr.astype(np.float64)[:, :, None], 255.0
    return arr[:, :, :3].astype(np.float64), 255.0


ZSCORE_ZERO_FRACTION = 0.25  # sample-loader.ts ZSCORE_ZERO_FRACTION


def zscore(values, zero):
    """(x - mean) / std per channel, the population std (sample-loader.ts zscore). Grey: when at least a
    quarter of the pixels equal `zero` (the PNG value of a raw 0; None: no pixel is 0), over the other
    pixels, those staying 0 (nnU-Net's nonzero mask); else over all. Colour: each channel over all.
    A constant region gives 0."""
    out = np.zeros_like(values)
    channels = values.shape[2]
    for c in range(channels):
        v = values[:, :, c]
        keep = np.ones(v.shape, dtype=bool)
        if channels == 1 and zero is not None:
            zeros = int(np.count_nonzero(v == zero))
            if ZSCORE_ZERO_FRACTION * v.size <= zeros < v.size:
                keep = v != zero
        sel = v[keep]
        mean = sel.mean() if sel.size else 0.0
        std = sel.std() if sel.size else 0.0
        if std > 1e-12:
            out[:, :, c] = np.where(keep, (v - mean) / std, 0.0)
    return out


def normalise(values, maxv, sample, normalization):
    """Fovea's normalisation (sample-loader.ts) of an exported image: into [0, 1], or z-scores. dataset.json
    says per image what the PNG holds: 'normalised' (Fovea's values), 'stored' (a plain image's stored
    values; under z-score also a colour DICOM frame's display RGB) or 'modality' (z-score of greyscale
    DICOM: the modality values through png = a x + b, a < 0 for MONOCHROME1, whose z-scores Fovea
    negates; `zero` is the PNG value of a modality value 0)."""
    if sample["values"] == "normalised":
        return values / maxv
    kind = normalization["kind"]
    if kind == "zscore":
        return zscore(values, sample.get("zero") if sample["values"] == "modality" else 0.0)
    if sample["values"] == "modality":
        sys.exit("%s holds modality values, but the plan's normalisation is %s" % (sample["image"], kind))
    if kind == "window":
        return linear_window(values, float(normalization["center"]), float(normalization["width"]))
    if kind == "per-image":
        lo, hi = values.min(), values.max()
        return (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
    return values / maxv


def convert_channels(img, channels):
    if img.shape[2] == channels:
        return img
    if channels == 3:
        return np.repeat(img, 3, axis=2)
    return (0.299 * img[:, :, 0] + 0.587 * img[:, :, 1] + 0.114 * img[:, :, 2])[:, :, None]


def reduce_image(img, f):
    """Box filter by f; partial blocks at the right and bottom average what they have."""
    if f <= 1:
        return img
    h, w, c = img.shape
    H, W = -(-h // f), -(-w // f)
    pad = np.zeros((H * f, W * f, c))
    cnt = np.zeros((H * f, W * f, 1))
    pad[:h, :w] = img
    cnt[:h, :w] = 1
    s = pad.reshape(H, f, W, f, c).sum(axis=(1, 3))
    n = cnt.reshape(H, f, W, f, 1).sum(axis=(1, 3))
    return s / n


def reduce_mask(mask, f):
    """Each block's centre pixel (sample-loader.ts reduceClassMap)."""
    if f <= 1:
        return mask
    h, w = mask.shape
    half = f >> 1
    ys = np.minimum(h - 1, np.arange(-(-h // f)) * f + half)
    xs = np.minimum(w - 1, np.arange(-(-w // f)) * f + half)
    return mask[ys][:, xs]


def draw_augmentation(aug, rng):
    u = rng.random(6)
    return {
        "flip_h": aug["flipHorizontal"] and u[0] < 0.5,
        "flip_v": aug["flipVertical"] and u[1] < 0.5,
        "angle": math.radians(aug["rotateDegrees"] * (2 * u[2] - 1)),
        "scale": 1 + aug["scale"] * (2 * u[3] - 1),
        "contrast": 1 + aug["intensity"] * (2 * u[4] - 1),
        "brightness": aug["intensity"] * (2 * u[5] - 1),
    }


def letterbox(width, height, S):
    s = S / max(width, height)
    return s, (S - width * s) / 2, (S - height * s) / 2


def forward_affine(width, height, S, a):
    """Image -> input pixels: the letterbox, then the augmentation about the input centre."""
    s, px, py = letterbox(width, height, S)
    m = np.array([[s, 0, px], [0, s, py], [0, 0, 1]], dtype=np.float64)
    if a is None:
        return m
    c = S / 2
    k = a["scale"]
    fx = -k if a["flip_h"] else k
    fy = -k if a["flip_v"] else k
    cos, sin = math.cos(a["angle"]), math.sin(a["angle"])
    A = np.array([[cos * fx, -sin * fy, 0], [sin * fx, cos * fy, 0], [0, 0, 1]])
    T1 = np.array([[1, 0, -c], [0, 1, -c], [0, 0, 1]])
    T2 = np.array([[1, 0, c], [0, 1, c], [0, 0, 1]])
    return T2 @ A @ T1 @ m


def transform_boxes(boxes, fwd, S):
    """[x, y, w, h, class] in image pixels -> input pixels: the corners through the affine, their
    bounding box clipped to the input; boxes under 1 px dropped (sample-loader.ts transformBoxes)."""
    out = []
    for x, y, w, h, c in boxes:
        pts = fwd @ np.array([[x, x + w, x, x + w], [y, y, y + h, y + h], [1, 1, 1, 1]], dtype=np.float64)
        x0, y0 = max(0.0, pts[0].min()), max(0.0, pts[1].min())
        x1, y1 = min(float(S), pts[0].max()), min(float(S), pts[1].max())
        if x1 - x0 >= 1 and y1 - y0 >= 1:
            out.append((x0, y0, x1 - x0, y1 - y0, c))
    return out


STRIDE = 4  # the detector's output stride


def gaussian_radius(height, width, min_overlap=0.7):
    """CenterNet's radius (detector.ts gaussianRadius)."""
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1 * b1 - 4 * c1)) / 2
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + math.sqrt(b2 * b2 - 16 * c2)) / 2
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3 * b3 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def encode_detection(boxes, S, K):
    """One image's CenterNet targets on the S/4 grid (detector.ts encodeDetectionTargets): a gaussian
    per object peaking at 1 on its centre cell, log size and offset there; class -1 = a region whose
    cells carry no heatmap loss."""
    H = W = S // STRIDE
    heat = np.zeros((H, W, K), np.float32)
    size = np.zeros((H, W, 2), np.float32)
    offset = np.zeros((H, W, 2), np.float32)
    mask = np.zeros((H, W), np.float32)
    ignore = np.zeros((H, W), np.float32)
    for bx, by, bw, bh, cls in boxes:
        if cls == -1 and bw > 0 and bh > 0:
            x0, x1 = max(0, math.ceil(bx / STRIDE - 0.5)), min(W - 1, math.floor((bx + bw) / STRIDE - 0.5))
            y0, y1 = max(0, math.ceil(by / STRIDE - 0.5)), min(H - 1, math.floor((by + bh) / STRIDE - 0.5))
            if x1 >= x0 and y1 >= y0:
                ignore[y0:y1 + 1, x0:x1 + 1] = 1
            continue
        if not (bw > 0 and bh > 0) or not (0 <= cls < K):
            continue
        w, h = bw / STRIDE, bh / STRIDE
        cx = min(W - 1e-3, max(0.0, (bx + bw / 2) / STRIDE))
        cy = min(H - 1e-3, max(0.0, (by + bh / 2) / STRIDE))
        ix, iy = int(math.floor(cx)), int(math.floor(cy))
        r = max(0, int(math.floor(gaussian_radius(math.ceil(h), math.ceil(w)))))
        sigma = (2 * r + 1) / 6
        for dy in range(-r, r + 1):
            y = iy + dy
            if y < 0 or y >= H:
                continue
            for dx in range(-r, r + 1):
                x = ix + dx
                if 0 <= x < W:
                    heat[y, x, cls] = max(heat[y, x, cls], math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)))
        size[iy, ix] = (math.log(w), math.log(h))
        offset[iy, ix] = (cx - ix, cy - iy)
        mask[iy, ix] = 1
    return heat, size, offset, mask, ignore


def render(img, f, width, height, S, fwd, mask=None, augment=None, unbounded=False):
    """Resample the (reduced) image into S x S: bilinear, pixel centres, edges clamped, 0 outside;
    the mask nearest with 255 outside (sample-loader.ts renderSample). Intensity jitter: unclamped
    y = x * contrast + brightness on z-scores (`unbounded`), else clamped about 0.5."""
    inv = np.linalg.inv(fwd)
    q = np.arange(S) + 0.5
    qx, qy = np.meshgrid(q, q)
    px = inv[0, 0] * qx + inv[0, 1] * qy + inv[0, 2]
    py = inv[1, 0] * qx + inv[1, 1] * qy + inv[1, 2]
    inside = (px >= 0) & (px < width) & (py >= 0) & (py < height)
    h, w, _ = img.shape
    rx = px / f - 0.5
    ry = py / f - 0.5
    x0 = np.floor(rx)
    y0 = np.floor(ry)
    tx = rx - x0
    ty = ry - y0
    tx = np.where(x0 < 0, 0.0, tx)
    ty = np.where(y0 < 0, 0.0, ty)
    x0 = np.clip(x0, 0, w - 1).astype(np.int64)
    y0 = np.clip(y0, 0, h - 1).astype(np.int64)
    x1 = np.minimum(x0 + 1, w - 1)
    y1 = np.minimum(y0 + 1, h - 1)
    tx = tx[:, :, None]
    ty = ty[:, :, None]
    top = img[y0, x0] * (1 - tx) + img[y0, x1] * tx
    bottom = img[y1, x0] * (1 - tx) + img[y1, x1] * tx
    out = top * (1 - ty) + bottom * ty
    if augment is not None and (augment["contrast"] != 1 or augment["brightness"] != 0):
        if unbounded:
            out = out * augment["contrast"] + augment["brightness"]
        else:
            out = np.clip((out - 0.5) * augment["contrast"] + 0.5 + augment["brightness"], 0, 1)
    out = np.where(inside[:, :, None], out, 0.0).astype(np.float32)
    m = None
    if mask is not None:
        nx = np.clip(np.floor(px / f), 0, w - 1).astype(np.int64)
        ny = np.clip(np.floor(py / f), 0, h - 1).astype(np.int64)
        m = np.where(inside, mask[ny, nx], IGNORE).astype(np.int64)
    return out, m


def stack_slices(image_of, s, channels):
    """The sample's normalised image with `channels` channels. 2.5-D (dataset.json `neighbours`, into 3
    channels): [slice below, slice, slice above], each normalised on its own and made grey (BT.601
    luma); a neighbour of another size than the slice is replaced by the slice (sample-loader.ts
    decodeImage). The export lists the neighbours in Fovea's order: by Image Position (Patient) along
    the slice normal, the edge slice repeated at the ends of a series."""
    centre = image_of(s)
    if not s.get("neighbours") or channels != 3:
        return convert_channels(centre, channels)
    centre = convert_channels(centre, 1)
    below, above = (centre if n["image"] == s["image"] else convert_channels(image_of(n), 1) for n in s["neighbours"])
    below, above = (n if n.shape == centre.shape else centre for n in (below, above))
    return np.concatenate([below, centre, above], axis=2)


class ExportedDataset(torch.utils.data.Dataset):
    """One split of dataset.json; items are (image [S, S, C] float32, target)."""

    def __init__(self, meta, plan, split, train):
        self.samples = [s for s in meta["samples"] if s["split"] == split]
        self.plan = plan
        self.task = meta["task"]
        self.K = len(meta["classes"])
        self.multi_label = self.task == "classification" and bool(meta.get("multiLabel"))
        self.train = train
        self.epoch = 0
        if self.task == "detection":
            # annotations/<split>.json (COCO): objects (iscrowd 0, VOC difficult included, as Fovea
            # trains them) and regions to ignore (iscrowd 1: crowd and void), by image id.
            with open(os.path.join(HERE, "annotations", split + ".json"), encoding="utf-8") as fh:
                coco = json.load(fh)
            # Per image id, in the file's order: (x, y, w, h, class index, crowd, ignore).
            self.boxes = {im["id"]: [] for im in coco["images"]}
            for a in coco["annotations"]:
                x, y, w, h = a["bbox"]
                self.boxes[a["image_id"]].append((x, y, w, h, a["category_id"] - 1, bool(a.get("iscrowd")), bool(a.get("ignore"))))

    def __len__(self):
        return len(self.samples)

    def image_of(self, ref):
        """One exported image, normalised (its own channels)."""
        values, maxv = read_png(os.path.join(HERE, ref["image"]))
        return normalise(values, maxv, ref, self.plan["normalization"])

    def load(self, i):
        s = self.samples[i]
        plan = self.plan
        img = stack_slices(self.image_of, s, plan["channels"])
        S = plan["inputSize"]
        f = max(1, int(max(s["width"], s["height"]) // S))
        mask = None
        if self.task == "segmentation":
            with Image.open(os.path.join(HERE, s["mask"])) as im:
                mask = reduce_mask(np.asarray(im).astype(np.int64), f)
        return s, reduce_image(img, f), f, mask

    def __getitem__(self, i):
        s, img, f, mask = self.load(i)
        S = self.plan["inputSize"]
        a = None
        if self.train and self.plan.get("augment"):
            rng = np.random.default_rng([self.plan["seed"], self.epoch, s["item"], s["frame"]])
            a = draw_augmentation(self.plan["augment"], rng)
        x, m = render(img, f, s["width"], s["height"], S, forward_affine(s["width"], s["height"], S, a), mask, a, self.plan["normalization"]["kind"] == "zscore")
        if self.multi_label:  # multi-hot [K]
            y = torch.zeros(self.K, dtype=torch.float32)
            y[s["labels"]] = 1
            return torch.from_numpy(x), y
        if self.task == "classification":
            return torch.from_numpy(x), torch.tensor(s["labels"][0], dtype=torch.int64)
        if self.task == "detection":
            fwd = forward_affine(s["width"], s["height"], S, a)
            boxes = transform_boxes([(x, y, w, h, -1 if crowd else c) for x, y, w, h, c, crowd, _ in self.boxes[s["id"]]], fwd, S)
            return torch.from_numpy(x), tuple(torch.from_numpy(t) for t in encode_detection(boxes, S, self.K))
        return torch.from_numpy(x), torch.from_numpy(m)


# ---------------------------------------------------------------------------- models

class ConvBnRelu(nn.Sequential):
    def __init__(self, cin, cout, stride=1):
        # BN momentum 0.1 in PyTorch's convention is Fovea's 0.9 (Keras's convention); eps as Fovea's.
        super().__init__(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout, eps=1e-3, momentum=0.1), nn.ReLU(inplace=True))


def classifier_levels(S):
    return max(1, min(5, round(math.log2(S / 6))))


class Classifier(nn.Module):
    """Fovea's compact CNN classifier (native-models/models/classifier.ts)."""

    def __init__(self, S, C, K, base=16, dropout=0.3):
        super().__init__()
        layers = [ConvBnRelu(C, base)]
        filters = base
        for level in range(1, classifier_levels(S) + 1):
            nxt = min(256, base * 2 ** level)
            layers += [nn.MaxPool2d(2, 2, ceil_mode=True), ConvBnRelu(filters, nxt)]
            filters = nxt
        layers += [ConvBnRelu(filters, filters)]
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(filters, K)

    def forward(self, x):  # x [n, C, S, S] -> logits [n, K]
        return self.fc(self.dropout(self.features(x).mean(dim=(2, 3))))


class UNet(nn.Module):
    """Fovea's U-Net with batch norm (native-models/models/unet.ts): depth 3, 16 base filters."""

    def __init__(self, C, K, depth=3, base=16):
        super().__init__()
        self.enc = nn.ModuleList()
        cin = C
        for level in range(depth):
            f = base * 2 ** level
            self.enc.append(nn.Sequential(ConvBnRelu(cin, f), ConvBnRelu(f, f)))
            cin = f
        fb = base * 2 ** depth
        self.bottleneck = nn.Sequential(ConvBnRelu(cin, fb), ConvBnRelu(fb, fb), nn.Dropout(0.2))
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        cin = fb
        for level in reversed(range(depth)):
            f = base * 2 ** level
            self.up.append(nn.ConvTranspose2d(cin, f, 2, stride=2))
            self.dec.append(nn.Sequential(ConvBnRelu(2 * f, f), ConvBnRelu(f, f)))
            cin = f
        self.head = nn.Conv2d(cin, K, 1)

    def forward(self, x):  # x [n, C, S, S] -> logits [n, K, S, S]
        skips = []
        for enc in self.enc:
            x = enc(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for up, dec in zip(self.up, self.dec):
            x = dec(torch.cat([up(x), skips.pop()], dim=1))
        return self.head(x)


class Detector(nn.Module):
    """Fovea's CenterNet-style detector (native-models/models/detector.ts): stride-2 backbone to S/16,
    FPN-like top-down back to S/4, a shared head and three 1x1 outputs: per-class centre heatmap
    (sigmoid, bias -2.19 = prior 0.1), log(width), log(height) in cells, centre offset in its cell."""

    def __init__(self, C, K, f=16):
        super().__init__()
        self.stem = ConvBnRelu(C, f, 2)
        self.c2 = nn.Sequential(ConvBnRelu(f, 2 * f, 2), ConvBnRelu(2 * f, 2 * f))
        self.c3 = nn.Sequential(ConvBnRelu(2 * f, 4 * f, 2), ConvBnRelu(4 * f, 4 * f))
        self.c4 = nn.Sequential(ConvBnRelu(4 * f, 8 * f, 2), ConvBnRelu(8 * f, 8 * f))
        self.p3_reduce, self.p3_lateral, self.p3 = nn.Conv2d(8 * f, 4 * f, 1), nn.Conv2d(4 * f, 4 * f, 1), ConvBnRelu(4 * f, 4 * f)
        self.p2_reduce, self.p2_lateral, self.p2 = nn.Conv2d(4 * f, 2 * f, 1), nn.Conv2d(2 * f, 2 * f, 1), ConvBnRelu(2 * f, 2 * f)
        self.head = ConvBnRelu(2 * f, 2 * f)
        self.heatmap, self.size, self.offset = nn.Conv2d(2 * f, K, 1), nn.Conv2d(2 * f, 2, 1), nn.Conv2d(2 * f, 2, 1)

    def forward(self, x):  # x [n, C, S, S] -> heatmap [n, K, S/4, S/4], size and offset [n, 2, S/4, S/4]
        c2 = self.c2(self.stem(x))
        c3 = self.c3(c2)
        c4 = self.c4(c3)
        p3 = self.p3(F.interpolate(self.p3_reduce(c4), scale_factor=2, mode="nearest") + self.p3_lateral(c3))
        p2 = self.p2(F.interpolate(self.p2_reduce(p3), scale_factor=2, mode="nearest") + self.p2_lateral(c2))
        h = self.head(p2)
        return torch.sigmoid(self.heatmap(h)), self.size(h), self.offset(h)


class FoveaModel(nn.Module):
    """What the ONNX holds: Fovea's layout, NHWC image in, probabilities out (NHWC for masks;
    independent sigmoids for a multi-label classifier)."""

    def __init__(self, net, task, multi_label=False):
        super().__init__()
        self.net = net
        self.task = task
        self.multi_label = multi_label

    def forward(self, image):
        y = self.net(image.permute(0, 3, 1, 2))
        if self.task == "detection":  # Fovea's detector outputs, in its order: heatmap, size, offset (NHWC)
            return tuple(t.permute(0, 2, 3, 1) for t in y)
        if self.task == "classification":
            return torch.sigmoid(y) if self.multi_label else torch.softmax(y, dim=1)
        return torch.softmax(y, dim=1).permute(0, 2, 3, 1)


def create_model(plan, K):
    S, C = plan["inputSize"], plan["channels"]
    net = Classifier(S, C, K) if plan["task"] == "classification" else Detector(C, K) if plan["task"] == "detection" else UNet(C, K)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
    if isinstance(net, Detector):  # the heads as Fovea's: Glorot, zero bias, heatmap bias -2.19
        for m in (net.p3_reduce, net.p3_lateral, net.p2_reduce, net.p2_lateral, net.heatmap, net.size, net.offset):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
        nn.init.constant_(net.heatmap.bias, -2.19)
    return net


def detection_loss(out, target):
    """CenterNet's loss as Fovea's (detector.ts detectionLoss): penalty-reduced focal loss on the
    heatmap (alpha 2, beta 4, over the number of objects; no negative loss in ignored cells) + L1
    on log size and offset at object centres."""
    heat, size, offset = (t.permute(0, 2, 3, 1) for t in out)
    t_heat, t_size, t_offset, t_mask, t_ignore = target
    p = heat.clamp(1e-4, 1 - 1e-4)
    pos = (t_heat >= 1).float()
    neg = (1 - pos) * (1 - t_ignore[..., None])
    pos_loss = (torch.log(p) * (1 - p) ** 2 * pos).sum()
    neg_loss = (torch.log(1 - p) * p ** 2 * (1 - t_heat) ** 4 * neg).sum()
    focal = -(pos_loss + neg_loss) / pos.sum().clamp(min=1)
    n_reg = t_mask.sum() * 2 + 1e-4
    m = t_mask[..., None]
    return focal + ((size - t_size).abs() * m).sum() / n_reg + ((offset - t_offset).abs() * m).sum() / n_reg


def loss_of(task, logits, target, class_weights):
    if task == "detection":
        return detection_loss(logits, target)
    if task == "classification" and target.dim() == 2:  # multi-label: multi-hot targets
        # Fovea's: mean over images x classes of -(w_c y log p + (1 - y) log(1 - p)), p = sigmoid.
        return F.binary_cross_entropy_with_logits(logits, target, pos_weight=class_weights)
    if task == "classification":
        return F.cross_entropy(logits, target, weight=class_weights)
    K = logits.shape[1]
    valid = target != IGNORE
    ce = F.cross_entropy(logits, torch.where(valid, target, torch.zeros_like(target)), weight=class_weights, reduction="none")
    ce = (ce * valid).sum() / valid.sum().clamp(min=1)
    probs = torch.softmax(logits, dim=1) * valid[:, None]
    onehot = F.one_hot(torch.where(valid, target, torch.zeros_like(target)), K).permute(0, 3, 1, 2) * valid[:, None]
    inter = (probs * onehot).sum(dim=(0, 2, 3))
    dice = (2 * inter + 1) / (probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3)) + 1)
    return ce + (1 - dice[1:].mean())


# ---------------------------------------------------------------------------- metrics (as Fovea's)

def roc_auc(y, p):
    """Area under the ROC curve (ties averaged): sklearn's roc_auc_score; None without both classes."""
    pos = p[y]
    neg = p[~y]
    if len(pos) == 0 or len(neg) == 0:
        return None
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    allv = np.concatenate([pos, neg])[order]
    ranks = np.empty(len(allv))
    i = 0
    while i < len(allv):
        j = i
        while j + 1 < len(allv) and allv[j + 1] == allv[i]:
            j += 1
        ranks[i:j + 1] = (i + j) / 2 + 1
        i = j + 1
    r = np.empty(len(allv))
    r[order] = ranks
    return float((r[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def average_precision(y, p):
    """sklearn's average_precision_score (step integral over the PR curve, one point per distinct
    score); None without a positive example."""
    P = int(y.sum())
    if P == 0:
        return None
    order = np.argsort(-p, kind="mergesort")
    ys, ps = y[order], p[order]
    tps, fps = np.cumsum(ys), np.cumsum(~ys)
    last = np.r_[np.nonzero(np.diff(ps))[0], len(ps) - 1]
    tp, fp = tps[last].astype(np.float64), fps[last].astype(np.float64)
    precision, recall = tp / (tp + fp), tp / P
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def mean_defined(values):
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def multi_label_metrics(classes, truth, probs, threshold=0.5):
    """Fovea's multi-label metrics (classification-metrics.ts multiLabelClassificationMetrics):
    truth [n, K] bool, probs [n, K] sigmoids; a class is predicted when its probability >= 0.5."""
    pred = probs >= threshold
    n = len(truth)
    per, confusion = {}, {}
    for k, name in enumerate(classes):
        t, p = truth[:, k], pred[:, k]
        tp, fp, fn = int(np.sum(t & p)), int(np.sum(~t & p)), int(np.sum(t & ~p))
        tn = n - tp - fp - fn
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per[name] = {"precision": float(prec), "recall": float(rec), "f1": float(f1), "support": tp + fn}
        confusion[name] = [[tn, fp], [fn, tp]]
    scores = probs.astype(np.float64)
    auc = {name: roc_auc(truth[:, k], scores[:, k]) for k, name in enumerate(classes)}
    ap = {name: average_precision(truth[:, k], scores[:, k]) for k, name in enumerate(classes)}
    return {
        "task": "classification",
        "multiLabel": True,
        "n": int(n),
        "accuracy": float(np.mean(np.all(truth == pred, axis=1))) if n else 0.0,
        "macro": {m: float(np.mean([v[m] for v in per.values()])) for m in ("precision", "recall", "f1")},
        "perClass": per,
        "confusionMatrix": None,
        "multilabelConfusion": confusion,
        "auc": {"macro": mean_defined(auc.values()), "perClass": auc},
        "averagePrecision": {"macro": mean_defined(ap.values()), "perClass": ap},
    }


def classification_metrics(classes, truth, probs):
    K = len(classes)
    pred = probs.argmax(axis=1)
    cm = np.zeros((K, K), dtype=np.int64)
    for t, p in zip(truth, pred):
        cm[t, p] += 1
    per = {}
    for k, name in enumerate(classes):
        tp = cm[k, k]
        pp = cm[:, k].sum()
        sup = cm[k, :].sum()
        prec = tp / pp if pp else 0.0
        rec = tp / sup if sup else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per[name] = {"precision": float(prec), "recall": float(rec), "f1": float(f1), "support": int(sup)}
    auc = {name: roc_auc(truth == k, probs[:, k].astype(np.float64)) for k, name in enumerate(classes)}
    defined = [v for v in auc.values() if v is not None]
    macro_auc = auc[classes[1]] if K == 2 else (float(np.mean(defined)) if defined else None)
    return {
        "task": "classification",
        "multiLabel": False,
        "n": int(len(truth)),
        "accuracy": float((pred == truth).mean()) if len(truth) else 0.0,
        "macro": {m: float(np.mean([v[m] for v in per.values()])) for m in ("precision", "recall", "f1")},
        "perClass": per,
        "confusionMatrix": {"labels": list(classes), "matrix": cm.tolist()},
        "auc": {"macro": macro_auc, "perClass": auc},
    }


def segmentation_metrics(classes, counts, n):
    per = {}
    for k, name in enumerate(classes):
        tp, fp, fn = (float(counts[j][k]) for j in range(3))
        d = tp + fp + fn
        per[name] = {"dice": 2 * tp / (2 * tp + fp + fn) if d else None, "iou": tp / d if d else None, "truePositives": tp, "falsePositives": fp, "falseNegatives": fn}
    fg = [per[c] for c in classes[1:]]
    mean = lambda key: (float(np.mean([v[key] for v in fg if v[key] is not None])) if any(v[key] is not None for v in fg) else None)  # noqa: E731
    return {"task": "segmentation", "n": n, "dice": mean("dice"), "iou": mean("iou"), "perClass": per, "ignoredPixels": int(counts[3])}


TOP_K, MIN_SCORE = 100, 0.05  # native-models/models/index.ts DETECTION_TOP_K, DETECTION_MIN_SCORE


def decode_detections(heat, size, offset):
    """One image's boxes in input pixels from NHWC outputs [H, W, K], [H, W, 2], [H, W, 2] (detector.ts
    decodeDetections): cells equal to their 3x3 maximum are peaks; the top 100 over cells x classes
    (ties: lower index first) with score >= 0.05, highest first."""
    H, W, K = heat.shape
    pad = np.full((H + 2, W + 2, K), -np.inf, dtype=heat.dtype)
    pad[1:-1, 1:-1] = heat
    pooled = np.max([pad[dy:dy + H, dx:dx + W] for dy in range(3) for dx in range(3)], axis=0)
    peaks = np.where(pooled == heat, heat, 0).reshape(-1)
    order = np.argsort(-peaks, kind="stable")[: min(TOP_K, H * W * K)]
    max_log = math.log(2 * W)
    out = []
    for idx in order:
        score = float(peaks[idx])
        if not score >= MIN_SCORE:
            break
        cls = int(idx % K)
        cell = int(idx // K)
        cx, cy = cell % W, cell // W
        w = math.exp(min(max_log, float(size[cy, cx, 0]))) * STRIDE
        h = math.exp(min(max_log, float(size[cy, cx, 1]))) * STRIDE
        x = (cx + float(offset[cy, cx, 0])) * STRIDE
        y = (cy + float(offset[cy, cx, 1])) * STRIDE
        out.append((x - w / 2, y - h / 2, w, h, cls, score))
    return out


def box_to_image(b, width, height, S):
    """An input-pixel box back to image pixels through the letterbox, clipped; None when nothing is left."""
    s, px, py = letterbox(width, height, S)
    x0, y0 = max(0.0, (b[0] - px) / s), max(0.0, (b[1] - py) / s)
    x1, y1 = min(float(width), (b[0] + b[2] - px) / s), min(float(height), (b[1] + b[3] - py) / s)
    return (x0, y0, x1 - x0, y1 - y0) if x1 - x0 > 0 and y1 - y0 > 0 else None


def box_iou(d, g, crowd):
    w = min(d[0] + d[2], g[0] + g[2]) - max(d[0], g[0])
    if w <= 0:
        return 0.0
    h = min(d[1] + d[3], g[1] + g[3]) - max(d[1], g[1])
    if h <= 0:
        return 0.0
    i = w * h
    da = d[2] * d[3]
    return i / (da if crowd else da + g[2] * g[3] - i)


def coco_thresholds(start, stop, num):
    """numpy.linspace, as Fovea's linspace (the last value exactly `stop`)."""
    step = (stop - start) / (num - 1)
    out = [i * step + start for i in range(num)]
    out[-1] = stop
    return out


IOU_THRS = coco_thresholds(0.5, 0.95, 10)
REC_THRS = coco_thresholds(0.0, 1.0, 101)
MAX_DET = 100


def eval_image(dets, gts, k):
    """COCOeval.evaluateImg for one image and class (all areas, 100 detections): detections by score
    (stable), ground truth with the ignored (crowd, void, VOC difficult) last; each detection takes
    the free ground truth of highest IoU >= the threshold, a regular one before an ignored one."""
    g_all = [g for g in gts if g[4] == k]
    d_all = [d for d in dets if d[4] == k]
    if not g_all and not d_all:
        return None
    g_all = sorted(g_all, key=lambda g: 1 if (g[5] or g[6]) else 0)
    d_all = sorted(d_all, key=lambda d: -d[5])[:MAX_DET]
    g_ig = [g[5] or g[6] for g in g_all]
    crowd = [g[5] for g in g_all]
    ious = [[box_iou(d, g, c) for g, c in zip(g_all, crowd)] for d in d_all]
    matched, ignored = [], []
    for thr in IOU_THRS:
        gtm = [False] * len(g_all)
        dm, dig = [False] * len(d_all), [False] * len(d_all)
        for di, row in enumerate(ious):
            iou, m = min(thr, 1 - 1e-10), -1
            for gi in range(len(g_all)):
                if gtm[gi] and not crowd[gi]:
                    continue
                if m > -1 and not g_ig[m] and g_ig[gi]:
                    break
                if row[gi] < iou:
                    continue
                iou, m = row[gi], gi
            if m == -1:
                continue
            dig[di], dm[di], gtm[m] = g_ig[m], True, True
        matched.append(dm)
        ignored.append(dig)
    return {"scores": [d[5] for d in d_all], "matched": matched, "ignored": ignored, "npig": sum(1 for x in g_ig if not x)}


def accumulate(evals):
    """COCOeval.accumulate for one class: precision at the 101 recall points per threshold and the
    recall reached; None without (non-ignored) ground truth."""
    npig = sum(e["npig"] for e in evals)
    if not evals or npig == 0:
        return None
    scores = [s for e in evals for s in e["scores"]]
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    precision, recall = [], []
    for t in range(len(IOU_THRS)):
        dtm = [m for e in evals for m in e["matched"][t]]
        dig = [x for e in evals for x in e["ignored"][t]]
        tp = fp = 0
        rc, pr = [], []
        for i in order:
            if dtm[i] and not dig[i]:
                tp += 1
            if not dtm[i] and not dig[i]:
                fp += 1
            rc.append(tp / npig)
            pr.append(tp / (fp + tp + 2.220446049250313e-16))
        recall.append(rc[-1] if rc else 0.0)
        for i in range(len(pr) - 1, 0, -1):
            if pr[i] > pr[i - 1]:
                pr[i - 1] = pr[i]
        q, pi = [0.0] * len(REC_THRS), 0
        for r, thr in enumerate(REC_THRS):
            while pi < len(rc) and rc[pi] < thr:
                pi += 1
            if pi >= len(rc):
                break
            q[r] = pr[pi]
        precision.append(q)
    return precision, recall


def detection_metrics(classes, images):
    """COCO AP as Fovea's evaluation (core/evaluation/detection-metrics.ts cocoEvaluate): per class AP
    at IoU 0.5, 0.75 and over 0.50:0.05:0.95, recall with 100 detections; -1 for a class without
    ground truth, left out of the means. `images`: (detections, ground truth) in (item, frame) order;
    a detection is (x, y, w, h, class, score), a ground truth (x, y, w, h, class, crowd, ignore)."""
    per, ap50s, ap75s, aps = {}, [], [], []
    for k, name in enumerate(classes):
        evals = [e for e in (eval_image(d, g, k) for d, g in images) if e is not None]
        acc = accumulate(evals)
        ap50 = ap75 = ap = ar = -1.0
        if acc is not None:
            precision, recall = acc
            ap_at = [sum(p) / len(REC_THRS) for p in precision]
            ap50, ap75, ap, ar = ap_at[0], ap_at[5], sum(ap_at) / len(ap_at), sum(recall) / len(recall)
        per[name] = {"ap50": ap50, "ap75": ap75, "ap": ap, "ar100": ar,
                     "groundTruth": sum(1 for _, g in images for b in g if b[4] == k and not b[5] and not b[6]),
                     "detections": sum(1 for d, _ in images for b in d if b[4] == k)}
        ap50s.append(ap50)
        ap75s.append(ap75)
        aps.append(ap)
    mean = lambda xs: (sum(x for x in xs if x > -1) / sum(1 for x in xs if x > -1)) if any(x > -1 for x in xs) else -1.0  # noqa: E731
    return {"task": "detection", "n": len(images), "mAP50": mean(ap50s), "mAP75": mean(ap75s), "mAP": mean(aps), "perClass": per}


@torch.no_grad()
def evaluate_test(model, meta, plan, device, detections_out=None):
    """The test split scored as Fovea scores it (image pixels for masks and boxes). Detection: each
    image's boxes (image pixels) are appended to `detections_out` when given."""
    ds = ExportedDataset(meta, plan, "test", train=False)
    classes = meta["classes"]
    model.eval()
    S = plan["inputSize"]
    if meta["task"] == "detection":
        images = []
        for i in sorted(range(len(ds)), key=lambda j: (ds.samples[j]["item"], ds.samples[j]["frame"])):
            s = ds.samples[i]
            x, _ = ds[i]
            heat, size, offset = (t.cpu().numpy()[0] for t in model(x[None].to(device)))
            dets = []
            for b in decode_detections(heat, size, offset):
                box = box_to_image(b, s["width"], s["height"], S)
                if box is not None:
                    dets.append(box + b[4:])
            images.append((dets, ds.boxes[s["id"]]))
            if detections_out is not None:
                detections_out.append({"item": s["item"], "frame": s["frame"], "image": s["image"],
                                       "detections": [{"bbox": list(d[:4]), "classIndex": d[4], "class": classes[d[4]], "score": d[5]} for d in dets]})
        return detection_metrics(classes, images)
    if meta["task"] == "classification":
        truth, probs = [], []
        for i in range(len(ds)):
            x, y = ds[i]
            probs.append(model(x[None].to(device)).cpu().numpy()[0])
            truth.append(y.numpy() >= 0.5 if ds.multi_label else int(y))
        if ds.multi_label:
            return multi_label_metrics(classes, np.array(truth, dtype=bool).reshape(-1, len(classes)), np.array(probs, dtype=np.float32).reshape(-1, len(classes)))
        return classification_metrics(classes, np.array(truth, dtype=np.int64), np.array(probs, dtype=np.float32))
    K = len(classes)
    counts = [np.zeros(K), np.zeros(K), np.zeros(K), 0]
    for i in range(len(ds)):
        s = ds.samples[i]
        x, _ = ds[i]
        pred_in = model(x[None].to(device)).cpu().numpy()[0].argmax(axis=-1)
        with Image.open(os.path.join(HERE, s["mask"])) as im:
            truth = np.asarray(im).astype(np.int64)
        sc, px, py = letterbox(s["width"], s["height"], S)
        cols = np.clip(np.floor((np.arange(s["width"]) + 0.5) * sc + px), 0, S - 1).astype(np.int64)
        rows = np.clip(np.floor((np.arange(s["height"]) + 0.5) * sc + py), 0, S - 1).astype(np.int64)
        pred = pred_in[rows][:, cols]
        valid = truth != IGNORE
        counts[3] += int((~valid).sum())
        t, p = truth[valid], pred[valid]
        for k in range(K):
            counts[0][k] += np.sum((t == k) & (p == k))
            counts[1][k] += np.sum((t != k) & (p == k))
            counts[2][k] += np.sum((t == k) & (p != k))
    return segmentation_metrics(classes, counts, len(ds))


# ---------------------------------------------------------------------------- model pack

def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)


def write_model_pack(model, meta, plan, out_dir, metrics, info):
    """model.onnx, model-card.json (Fovea's card) and fovea-model.json (the pack manifest, with SHA-256)."""
    pack = os.path.join(out_dir, "model")
    os.makedirs(pack, exist_ok=True)
    S, C, task, classes = plan["inputSize"], plan["channels"], meta["task"], meta["classes"]
    multi = task == "classification" and bool(meta.get("multiLabel"))
    onnx_path = os.path.join(pack, "model.onnx")
    model = model.cpu().eval()
    # Detection: Fovea's three outputs in its order (its decoder reads them by position).
    names = ["heatmap", "size", "offset"] if task == "detection" else ["probabilities"]
    torch.onnx.export(model, torch.zeros(1, S, S, C), onnx_path + ".tmp", input_names=["image"], output_names=names,
                      dynamic_axes={"image": {0: "batch"}, **{n: {0: "batch"} for n in names}}, opset_version=13)
    os.replace(onnx_path + ".tmp", onnx_path)
    out_shape = [None, len(classes)] if task == "classification" else [None, S, S, len(classes)]
    G = S // STRIDE
    outputs = ([{"name": "heatmap", "shape": [None, G, G, len(classes)], "layout": "NHWC", "dtype": "float32"},
                {"name": "size", "shape": [None, G, G, 2], "layout": "NHWC", "dtype": "float32"},
                {"name": "offset", "shape": [None, G, G, 2], "layout": "NHWC", "dtype": "float32"}] if task == "detection" else
               [{"name": "probabilities", "shape": out_shape, "layout": "NC" if task == "classification" else "NHWC", "dtype": "float32"}])
    decoding = {
        "classification": "Each class independently: present when its probability >= 0.5." if multi else "argmax over the probabilities gives the class index into `classes`.",
        "segmentation": "argmax over the last axis gives each input pixel's class index; index 0 is background.",
        "detection": "CenterNet: heatmap cells equal to their 3x3 maximum are peaks; the top 100 (cells x classes) with score >= 0.05; "
                     "box centre (cell + offset) x 4, width and height exp(size) x 4 input pixels.",
    }[task]
    norm = plan["normalization"]
    card_words = plan.get("card") or {}
    card = {
        "fovea": "model-card",
        "version": 1,
        "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "foveaVersion": None,
        "task": task,
        "classes": classes,
        "multiLabel": multi,
        "model": {"format": "onnx", "architecture": plan["model"]["family"], "files": ["model.onnx"], "parameters": sum(p.numel() for p in model.parameters()), "checkpoint": "best"},
        # Fovea's own card words for this plan (model-export.ts, through plan.json): z-scores unbounded, 2.5-D slices.
        "input": dict({"name": "image", "shape": [None, S, S, C], "layout": "NHWC", "dtype": "float32", "channels": C, "channelOrder": "grey" if C == 1 else "RGB", "valueRange": [0, 1]}, **card_words.get("input", {})),
        "preprocessing": dict({"normalization": dict(norm, description=plan["normalizationDescription"]), "channels": plan["channelsDescription"]}, **card_words.get("preprocessing", {}),
                              letterbox={"size": S, "description": "Scale by s = %d / max(width, height) (bilinear, pixel centres at +0.5; large images first box-filtered by floor(max side / %d)), centre the image, pad the rest with 0 after normalisation." % (S, S)}),
        "outputs": outputs,
        "decoding": decoding,
        "training": {"trainedBy": "train.py (PyTorch %s)" % torch.__version__, "dataset": plan.get("dataset"), "epochs": plan["epochs"], **info},
        "metrics": {"test": metrics},
        "privacy": "No patient data: class names, counts and metrics only. The weights were learned from the exported images.",
    }
    write_json(os.path.join(pack, "model-card.json"), card)
    manifest = {
        "fovea": "model-pack",
        "version": 1,
        "name": plan.get("modelName", "pytorch-model"),
        "title": "%s %s model trained with PyTorch" % (plan.get("dataset") or "Fovea", task),
        "task": task,
        "classes": classes,
        "input": {"name": "image", "layout": "NHWC", "width": S, "height": S, "channels": C},
        "preprocessing": dict({"resize": "fovea", "normalization": norm}, **({"slices": "2.5d"} if plan.get("slices") == "2.5d" else {})),
        "output": {"decoder": "fovea", "multiLabel": multi},
        "license": {"name": "unknown", "notes": "Trained by the user on their own data; set the licence that applies."},
        "files": [{"role": "model", "name": "model.onnx", "bytes": os.path.getsize(onnx_path), "sha256": sha256_of(onnx_path)}],
    }
    write_json(os.path.join(pack, "fovea-model.json"), manifest)
    return pack


# ---------------------------------------------------------------------------- training

def emit(obj, prefix=""):
    """One JSON line in one write: lines of several ranks sharing a pipe never interleave."""
    sys.stdout.write(prefix + json.dumps(obj) + "\n")
    sys.stdout.flush()


def setup_distributed():
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
        local = int(os.environ.get("LOCAL_RANK", "0"))
        device = torch.device("cuda", local) if backend == "nccl" else torch.device("cpu")
        if device.type == "cuda":
            torch.cuda.set_device(device)
        return dist.get_rank(), world, device, backend
    return 0, 1, torch.device("cuda" if torch.cuda.is_available() else "cpu"), None


def to_device(y, device):
    """A target tensor, or detection's tuple of them."""
    return tuple(t.to(device) for t in y) if isinstance(y, (tuple, list)) else y.to(device)


def all_sum(values, device, world):
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if world > 1:
        dist.all_reduce(t)
    return t.tolist()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, help="epochs (default: the plan's)")
    ap.add_argument("--batch-size", type=int, help="per process (default: the plan's)")
    ap.add_argument("--lr", type=float, help="Adam learning rate (default: the plan's)")
    ap.add_argument("--input-size", type=int, help="input side in pixels (default: the plan's; the model card records it, so Fovea preprocesses the same way)")
    ap.add_argument("--out", default=os.path.join(HERE, "output"), help="checkpoints, model pack and metrics (default: ./output)")
    ap.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.pt")
    ap.add_argument("--workers", type=int, default=0, help="DataLoader worker processes per rank")
    ap.add_argument("--no-augment", action="store_true", help="train without the plan's augmentation")
    args = ap.parse_args()

    with open(os.path.join(HERE, "plan.json"), encoding="utf-8") as fh:
        plan = json.load(fh)
    with open(os.path.join(HERE, "dataset.json"), encoding="utf-8") as fh:
        meta = json.load(fh)
    if args.epochs is not None:
        plan["epochs"] = args.epochs
    if args.batch_size is not None:
        plan["batchSize"] = args.batch_size
    if args.lr is not None:
        plan["learningRate"] = args.lr
    if args.input_size is not None:
        plan["inputSize"] = args.input_size
    if plan["task"] == "segmentation" and plan["inputSize"] % 8:
        sys.exit("the U-Net's input size must be a multiple of 8 (got %d)" % plan["inputSize"])
    if plan["task"] == "detection" and (plan["inputSize"] % 16 or plan["inputSize"] < 32):
        sys.exit("the detector's input size must be a multiple of 16, at least 32 (got %d)" % plan["inputSize"])
    if args.no_augment:
        plan["augment"] = None

    rank, world, device, backend = setup_distributed()
    torch.manual_seed(plan["seed"])
    np.random.seed(plan["seed"])
    K = len(meta["classes"])
    task = meta["task"]
    net = create_model(plan, K).to(device)
    model = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None) if world > 1 else net
    opt = torch.optim.Adam(net.parameters(), lr=plan["learningRate"])
    weights = torch.tensor(plan["classWeights"], dtype=torch.float32, device=device) if plan.get("classWeights") else None

    train_ds = ExportedDataset(meta, plan, "train", train=True)
    val_ds = ExportedDataset(meta, plan, "val", train=False)
    if len(train_ds) == 0:
        sys.exit("dataset.json has no training images")
    sampler = torch.utils.data.distributed.DistributedSampler(train_ds, num_replicas=world, rank=rank, shuffle=True, seed=plan["seed"]) if world > 1 else None
    loader = torch.utils.data.DataLoader(train_ds, batch_size=plan["batchSize"], shuffle=sampler is None, sampler=sampler, num_workers=args.workers,
                                         generator=torch.Generator().manual_seed(plan["seed"]))
    val_sampler = torch.utils.data.distributed.DistributedSampler(val_ds, num_replicas=world, rank=rank, shuffle=False) if world > 1 and len(val_ds) else None
    val_loader = torch.utils.data.DataLoader(val_ds, batch_size=plan["batchSize"], sampler=val_sampler, num_workers=args.workers) if len(val_ds) else None

    ckpt_dir = os.path.join(args.out, "checkpoints")
    start, best, best_epoch, stale = 0, float("inf"), None, 0
    last = os.path.join(ckpt_dir, "last.pt")
    if args.resume:
        if not os.path.exists(last):
            sys.exit("--resume: %s does not exist" % last)
        ck = torch.load(last, map_location=device)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        start, best, best_epoch, stale = ck["epoch"] + 1, ck["best"], ck["bestEpoch"], ck["stale"]
        if rank == 0:
            emit({"event": "resumed", "afterEpoch": ck["epoch"] + 1, "nextEpoch": ck["epoch"] + 2})
    if rank == 0:
        os.makedirs(ckpt_dir, exist_ok=True)
        emit({"event": "start", "task": task, "world": world, "backend": backend, "device": str(device), "train": len(train_ds), "val": len(val_ds), "epochs": plan["epochs"]})

    patience = plan.get("earlyStoppingPatience") or 0
    for epoch in range(start, plan["epochs"]):
        model.train()
        train_ds.epoch = epoch
        if sampler is not None:
            sampler.set_epoch(epoch)
        local_loss, local_n = 0.0, 0
        for x, y in loader:
            x, y = x.to(device), to_device(y, device)
            opt.zero_grad()
            loss = loss_of(task, model(x.permute(0, 3, 1, 2)), y, weights)
            loss.backward()
            opt.step()
            local_loss += float(loss) * len(x)
            local_n += len(x)
        emit({"event": "rank-epoch", "rank": rank, "epoch": epoch + 1, "samples": local_n, "loss": local_loss / max(local_n, 1)})
        tl, tn = all_sum([local_loss, local_n], device, world)
        val_loss = None
        if val_loader is not None:
            model.eval()
            vl, vn = 0.0, 0
            with torch.no_grad():
                for x, y in val_loader:
                    x, y = x.to(device), to_device(y, device)
                    vl += float(loss_of(task, model(x.permute(0, 3, 1, 2)), y, weights)) * len(x)
                    vn += len(x)
            vl, vn = all_sum([vl, vn], device, world)
            val_loss = vl / max(vn, 1)
        score = val_loss if val_loss is not None else tl / max(tn, 1)
        improved = score < best
        if improved:
            best, best_epoch, stale = score, epoch + 1, 0
        else:
            stale += 1
        if rank == 0:
            state = {"model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch, "best": best, "bestEpoch": best_epoch, "stale": stale, "plan": plan}
            torch.save(state, last + ".tmp")
            os.replace(last + ".tmp", last)
            if improved:
                torch.save({"model": net.state_dict(), "epoch": epoch}, os.path.join(ckpt_dir, "best.pt.tmp"))
                os.replace(os.path.join(ckpt_dir, "best.pt.tmp"), os.path.join(ckpt_dir, "best.pt"))
            emit({"event": "epoch", "epoch": epoch + 1, "loss": tl / max(tn, 1), "samples": int(tn), "valLoss": val_loss, "best": improved})
            emit({"event": "checkpoint", "rank": rank, "epoch": epoch + 1, "path": os.path.relpath(last, args.out)})
        if world > 1:
            dist.barrier()
        if patience and stale >= patience:
            if rank == 0:
                emit({"event": "early-stop", "epoch": epoch + 1, "bestEpoch": best_epoch})
            break

    if rank == 0:
        best_path = os.path.join(ckpt_dir, "best.pt")
        net.load_state_dict(torch.load(best_path if os.path.exists(best_path) else last, map_location=device)["model"])
        export = FoveaModel(net, task, train_ds.multi_label).to(device)
        detections = [] if task == "detection" else None
        metrics = evaluate_test(export, meta, plan, device, detections)
        write_json(os.path.join(args.out, "test-metrics.json"), metrics)
        if detections is not None:  # the boxes behind the AP, per test image, in image pixels
            write_json(os.path.join(args.out, "test-detections.json"), detections)
        pack = write_model_pack(export, meta, plan, args.out, metrics, {"bestEpoch": best_epoch, "processes": world, "backend": backend or "single"})
        emit({"event": "model", "path": os.path.relpath(pack, HERE)})
        emit(metrics, "TEST_METRICS ")
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
