#!/usr/bin/python3
"""Small ONNX graphs with the exact input and output layouts of the common exports, for Fovea's
imported-model tests (no real YOLO weights can be downloaded here).

Usage:
    /usr/bin/python3 test/reference/make_onnx_layouts.py OUT_DIR > expected.json

Needs Debian's PyTorch 1.13 and onnx (apt-get install python3-torch python3-onnx).

Each graph is made with torch.onnx.export (opset 13) from a module whose outputs have the layout of
the family it stands for, and whose values are KNOWN: the detectors emit fixed boxes (a constant
plus 0 x the input, so the graph still reads its input), the classifier and the segmenter compute
from the image's colours. What Fovea must decode from each is printed as JSON on stdout:

  yolov8.onnx    input images [1, 3, 64, 64]; output0 [1, 4 + 3, 84] (84 = 8^2 + 4^2 + 2^2 anchor
                 cells of strides 8, 16, 32): cx, cy, w, h in input pixels, then class scores.
                 Ultralytics metadata: names, imgsz, stride, task.
  yolov5.onnx    input images [1, 3, 64, 64]; output0 [1, 3 x 84, 5 + 3]: cx, cy, w, h, objectness,
                 class scores (decoded, as YOLOv5's export). Metadata: names, stride.
  yolox.onnx     input images [1, 3, 64, 64]; output [1, 84, 5 + 3] RAW (YOLOX's default export):
                 x, y offsets in cells, log w, log h (stride units), objectness, class scores.
  classifier.onnx  input [batch, 3, 32, 32] (dynamic batch); output [batch, 4] logits of a linear
                 layer on the per-channel mean (a torchvision-style head): class 0 red, 1 green,
                 2 blue, 3 grey.
  segmenter.onnx input [1, 3, 32, 32]; output [1, 3, 16, 16] logits (half resolution): class 0
                 background (dark), 1 red, 2 blue, per pixel.
  two_inputs.onnx, bad_output.onnx, dynamic.onnx   models that must be refused at import.

In every detector, two boxes are the same object (class 1, IoU > 0.45, the weaker must be
suppressed by NMS), one is another class, and one scores below 0.25 (dropped at the default
threshold).
"""
import json
import math
import os
import sys

import torch
from torch import nn

W = H = 64
STRIDES = (8, 16, 32)
CELLS = sum((W // s) * (H // s) for s in STRIDES)  # 84
NAMES = ['person', 'car', 'dog']
NC = len(NAMES)

# Boxes (input pixels, centre and size), class, class score, objectness.
BOXES = [
    {'cx': 20.0, 'cy': 28.0, 'w': 16.0, 'h': 24.0, 'cls': 1, 'score': 0.9, 'obj': 0.95},
    {'cx': 21.0, 'cy': 29.0, 'w': 16.0, 'h': 24.0, 'cls': 1, 'score': 0.6, 'obj': 0.9},  # duplicate: suppressed
    {'cx': 48.0, 'cy': 40.0, 'w': 20.0, 'h': 12.0, 'cls': 2, 'score': 0.8, 'obj': 1.0},
    {'cx': 10.0, 'cy': 50.0, 'w': 8.0, 'h': 8.0, 'cls': 0, 'score': 0.1, 'obj': 1.0},  # under 0.25
]
# Each box's anchor: a stride-8 cell (row-major), the one its centre lies in, except the duplicate,
# which takes the next cell (two boxes cannot share an anchor; YOLOX offsets may leave their cell).
def cell_of(b):
    i = BOXES.index(b)
    return int(b['cy'] // 8) * (W // 8) + int(b['cx'] // 8) + (1 if i == 1 else 0)


class ConstantHead(nn.Module):
    """Outputs a fixed tensor, plus 0 x the input's mean so the graph depends on its input."""

    def __init__(self, value):
        super().__init__()
        self.register_buffer('value', value)

    def forward(self, x):
        return self.value + 0.0 * x.mean()


def export(module, example, path, input_names, output_names, dynamic_axes=None, metadata=None):
    module.eval()
    torch.onnx.export(module, example, path, opset_version=13, input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes or {})
    if metadata:
        import onnx
        m = onnx.load(path)
        for k, v in metadata.items():
            p = m.metadata_props.add()
            p.key = k
            p.value = v
        onnx.save(m, path)


def expected_boxes(score_of):
    """The boxes Fovea must decode (x, y, width, height in input pixels), best first."""
    kept = [BOXES[0], BOXES[2]]
    out = [{'x': b['cx'] - b['w'] / 2, 'y': b['cy'] - b['h'] / 2, 'width': b['w'], 'height': b['h'], 'classIndex': b['cls'], 'score': score_of(b)} for b in kept]
    return sorted(out, key=lambda b: -b['score'])


def yolov8(out_dir):
    v = torch.zeros(1, 4 + NC, CELLS)
    for b in BOXES:
        a = cell_of(b)
        v[0, 0:4, a] = torch.tensor([b['cx'], b['cy'], b['w'], b['h']])
        v[0, 4 + b['cls'], a] = b['score']
    export(ConstantHead(v), torch.zeros(1, 3, H, W), os.path.join(out_dir, 'yolov8.onnx'), ['images'], ['output0'],
           metadata={'names': str({i: n for i, n in enumerate(NAMES)}), 'imgsz': str([H, W]), 'stride': '32', 'task': 'detect', 'author': 'Fovea test'})
    return {'decoder': 'yolov8', 'boxes': expected_boxes(lambda b: b['score'])}


def yolov5(out_dir):
    v = torch.zeros(1, 3 * CELLS, 5 + NC)
    for i, b in enumerate(BOXES):
        a = 3 * cell_of(b) + (i % 3)
        v[0, a, 0:5] = torch.tensor([b['cx'], b['cy'], b['w'], b['h'], b['obj']])
        v[0, a, 5 + b['cls']] = b['score']
    export(ConstantHead(v), torch.zeros(1, 3, H, W), os.path.join(out_dir, 'yolov5.onnx'), ['images'], ['output0'],
           metadata={'names': str({i: n for i, n in enumerate(NAMES)}), 'stride': '32'})
    return {'decoder': 'yolov5', 'boxes': expected_boxes(lambda b: b['obj'] * b['score'])}


def yolox(out_dir):
    v = torch.zeros(1, CELLS, 5 + NC)
    for b in BOXES:
        a = cell_of(b)
        gx, gy = a % (W // 8), a // (W // 8)
        v[0, a, 0:5] = torch.tensor([b['cx'] / 8 - gx, b['cy'] / 8 - gy, math.log(b['w'] / 8), math.log(b['h'] / 8), b['obj']])
        v[0, a, 5 + b['cls']] = b['score']
    export(ConstantHead(v), torch.zeros(1, 3, H, W), os.path.join(out_dir, 'yolox.onnx'), ['images'], ['output'])
    return {'decoder': 'yolox', 'boxes': expected_boxes(lambda b: b['obj'] * b['score'])}


class ColourClassifier(nn.Module):
    """torchvision-style: global average pool, then a linear layer -> logits (no softmax)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        with torch.no_grad():
            # Inputs are ImageNet-normalised; a saturated channel scores its class.
            self.fc.weight.copy_(torch.tensor([[4.0, -2.0, -2.0], [-2.0, 4.0, -2.0], [-2.0, -2.0, 4.0], [-1.0, -1.0, -1.0]]))
            self.fc.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 0.0]))

    def forward(self, x):
        return self.fc(x.mean(dim=(2, 3)))


class ColourSegmenter(nn.Module):
    """Per-pixel logits at half resolution: 0 dark background, 1 red, 2 blue."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        with torch.no_grad():
            # Inputs are RGB / 255 (no mean/std): background wins unless a channel is bright.
            self.conv.weight.copy_(torch.tensor([[-4.0, -4.0, -4.0], [8.0, -4.0, -4.0], [-4.0, -4.0, 8.0]]).view(3, 3, 1, 1))
            self.conv.bias.copy_(torch.tensor([1.0, -1.0, -1.0]))
        self.pool = nn.AvgPool2d(2)

    def forward(self, x):
        return self.conv(self.pool(x))


class TwoInputs(nn.Module):
    def forward(self, a, b):
        return a.mean(dim=(2, 3)) + b.mean(dim=(2, 3))


class BadOutput(nn.Module):
    def forward(self, x):
        return torch.zeros(1, 7, 9) + x.mean()


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    expected = {'names': NAMES, 'inputSize': W, 'cells': CELLS}
    expected['yolov8'] = yolov8(out_dir)
    expected['yolov5'] = yolov5(out_dir)
    expected['yolox'] = yolox(out_dir)
    export(ColourClassifier(), torch.zeros(2, 3, 32, 32), os.path.join(out_dir, 'classifier.onnx'), ['input'], ['logits'], dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
    expected['classifier'] = {'decoder': 'classifier-logits', 'classes': ['red', 'green', 'blue', 'grey']}
    export(ColourSegmenter(), torch.zeros(1, 3, 32, 32), os.path.join(out_dir, 'segmenter.onnx'), ['input'], ['out'])
    expected['segmenter'] = {'decoder': 'segmentation-logits', 'classes': ['background', 'red', 'blue']}
    export(TwoInputs(), (torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8)), os.path.join(out_dir, 'two_inputs.onnx'), ['a', 'b'], ['y'])
    export(BadOutput(), torch.zeros(1, 3, 32, 32), os.path.join(out_dir, 'bad_output.onnx'), ['input'], ['y'])
    export(ColourClassifier(), torch.zeros(1, 3, 32, 32), os.path.join(out_dir, 'dynamic.onnx'), ['input'], ['logits'],
           dynamic_axes={'input': {0: 'batch', 2: 'height', 3: 'width'}, 'logits': {0: 'batch'}})
    json.dump(expected, sys.stdout, indent=1)


if __name__ == '__main__':
    main()
