"""Reference for the ONNX warm start (test/unit/core/training/onnx-warm-start.test.ts): the weights
of an ONNX model's weighted nodes, read with the onnx package and put in TF.js layouts with numpy.

Usage: onnx_initializers.py MODEL.onnx
Prints one JSON object: "conv": per Conv node in graph order, its weights transposed from ONNX's
[out, in, kh, kw] to TF.js's [kh, kw, in, out] (flat, row-major) with the dims, and its bias (an
Identity of an initializer followed, as torch shares equal constants); "dense": per Gemm node its
weights as [in, out] (transposed when transB) and its bias. Values are float32 printed exactly.
"""
import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def main(path):
    g = onnx.load(path).graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for n in g.node:
        if n.op_type == "Identity" and n.input[0] in consts:
            consts[n.output[0]] = consts[n.input[0]]
    out = {"conv": [], "dense": []}
    for n in g.node:
        bias = consts.get(n.input[2]) if len(n.input) > 2 else None
        if n.op_type == "Conv":
            w = consts[n.input[1]].astype(np.float32)
            hwio = np.transpose(w, (2, 3, 1, 0))
            out["conv"].append({"node": n.name, "dims": list(hwio.shape), "kernel": hwio.reshape(-1).astype(float).tolist(), "bias": None if bias is None else bias.astype(float).tolist()})
        elif n.op_type == "Gemm":
            w = consts[n.input[1]].astype(np.float32)
            trans_b = next((a.i for a in n.attribute if a.name == "transB"), 0)
            io = w.T if trans_b else w
            out["dense"].append({"node": n.name, "dims": list(io.shape), "kernel": io.reshape(-1).astype(float).tolist(), "bias": None if bias is None else bias.astype(float).tolist()})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
