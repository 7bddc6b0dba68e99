"""The three model families of the PyTorch hand-off (resources/export-templates/pytorch/train.py:
Classifier, UNet, Detector), exported to ONNX exactly as train.py's write_model_pack does (eval
mode, NHWC in, opset 13), for test/unit/native-models/onnx-warm-start.test.ts.

Usage: torch_family_onnx.py OUT_DIR SIZE CHANNELS CLASSES
Writes OUT_DIR/{classification,segmentation,detection}.onnx. Batch norms get random statistics
and affine parameters first, so the folding torch's exporter does (BN into the Conv before it)
is not an identity.
"""
import importlib.util
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("train", os.path.join(HERE, "..", "..", "resources", "export-templates", "pytorch", "train.py"))
train = importlib.util.module_from_spec(spec)
spec.loader.exec_module(train)


def main(out, size, channels, classes):
    torch.manual_seed(3)
    os.makedirs(out, exist_ok=True)
    for task in ("classification", "segmentation", "detection"):
        net = train.create_model({"inputSize": size, "channels": channels, "task": task}, classes)
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
                    m.running_mean.uniform_(-0.3, 0.3)
                    m.running_var.uniform_(0.5, 2.0)
        model = train.FoveaModel(net, task).eval()
        names = ["heatmap", "size", "offset"] if task == "detection" else ["probabilities"]
        torch.onnx.export(model, torch.zeros(1, size, size, channels), os.path.join(out, task + ".onnx"), input_names=["image"], output_names=names,
                          dynamic_axes={"image": {0: "batch"}, **{n: {0: "batch"} for n in names}}, opset_version=13)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
