#!/usr/bin/python3
"""Reference values of Fovea's kept measurements (electron/core/measure/measure-values.ts).

Usage:
    /usr/bin/python3 test/reference/measure_check.py INPUT.json

INPUT.json: {"file": DICOM path, "frame": 0, "measurements": [{"kind", "points": [[x, y], ...]}, ...]}
Prints a JSON list, one object per measurement, with the fields of MeasurementValues.

Independent of Fovea: pixels decoded by pydicom, modality values by pydicom's apply_modality_lut
(HU for CT), pixel spacing from PixelSpacing ([row, column]). Conventions (contract/measure.ts):
pixel (c, r) has its centre at (c + 0.5, r + 0.5) and is in a region when that centre lies inside
the shape; rectangle and ellipse include the boundary; freehand uses the even-odd rule with
half-open edges. Area is the shape's geometric area; SD is the sample SD (ddof=1).
"""
import json
import math
import sys

import numpy as np
import pydicom
from pydicom.pixel_data_handlers.util import apply_modality_lut


def values_of(ds, frame):
    arr = ds.pixel_array
    if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1:
        arr = arr[frame]
    if int(getattr(ds, "SamplesPerPixel", 1)) != 1:
        return None, arr.shape[0], arr.shape[1]
    return np.asarray(apply_modality_lut(arr, ds), dtype=np.float64), arr.shape[0], arr.shape[1]


def region_mask(kind, pts, rows, cols):
    cy, cx = np.mgrid[0:rows, 0:cols].astype(np.float64) + 0.5
    xs = pts[:, 0]
    ys = pts[:, 1]
    x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
    if kind == "rectangle":
        return (cx >= x0) & (cx <= x1) & (cy >= y0) & (cy <= y1), (x1 - x0) * (y1 - y0)
    if kind == "ellipse":
        a = (x1 - x0) / 2
        b = (y1 - y0) / 2
        ex = (x0 + x1) / 2
        ey = (y0 + y1) / 2
        if a <= 0 or b <= 0:
            return np.zeros((rows, cols), dtype=bool), math.pi * a * b
        return ((cx - ex) / a) ** 2 + ((cy - ey) / b) ** 2 <= 1, math.pi * a * b
    # freehand: even-odd crossings of a ray to +x
    inside = np.zeros((rows, cols), dtype=bool)
    n = len(pts)
    for i in range(n):
        xi, yi = pts[i]
        xj, yj = pts[i - 1]
        crosses = (yi > cy) != (yj > cy)
        with np.errstate(divide="ignore", invalid="ignore"):
            xint = xi + (cy - yi) * (xj - xi) / (yj - yi)
        inside ^= crosses & (cx < xint)
    area = 0.5 * abs(float(np.dot(xs, np.roll(ys, -1)) - np.dot(np.roll(xs, -1), ys)))
    return inside, area


def main():
    spec = json.load(open(sys.argv[1]))
    ds = pydicom.dcmread(spec["file"])
    values, rows, cols = values_of(ds, spec.get("frame", 0))
    ps = getattr(ds, "PixelSpacing", None)
    sy, sx = (float(ps[0]), float(ps[1])) if ps else (1.0, 1.0)
    unit = "mm" if ps else "px"
    out = []
    for m in spec["measurements"]:
        pts = np.asarray(m["points"], dtype=np.float64)
        r = {"unit": unit, "length": None, "angle": None, "area": None, "pixels": None, "mean": None, "sd": None, "min": None, "max": None}
        if m["kind"] == "length":
            d = (pts[1] - pts[0]) * [sx, sy]
            r["length"] = float(np.hypot(d[0], d[1]))
        elif m["kind"] == "angle":
            u = (pts[0] - pts[1]) * [sx, sy]
            v = (pts[2] - pts[1]) * [sx, sy]
            cos = float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)))
            r["angle"] = math.degrees(math.acos(max(-1.0, min(1.0, cos))))
        else:
            mask, area = region_mask(m["kind"], pts, rows, cols)
            r["area"] = area * sx * sy
            r["pixels"] = int(mask.sum())
            if values is not None and mask.any():
                sel = values[mask]
                r["mean"] = float(sel.mean())
                r["sd"] = float(sel.std(ddof=1)) if sel.size > 1 else None
                r["min"] = float(sel.min())
                r["max"] = float(sel.max())
        out.append(r)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
