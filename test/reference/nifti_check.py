#!/usr/bin/python3
"""Independent reading of NIfTI label volumes for Fovea's NIfTI tests (nibabel + pydicom).

Usage:
    /usr/bin/python3 test/reference/nifti_check.py < request.json

request: {"nifti": PATH, "queries": [{"dicom": PATH, "row": R, "col": C}, ...]}

For each query the DICOM pixel's centre is placed in the patient from the DICOM file itself
(pydicom: ImagePositionPatient + col * PixelSpacing[1] * row direction + row * PixelSpacing[0] *
column direction, in LPS), converted to RAS (x and y negated), and mapped into the volume with
the inverse of nibabel's affine. The answer gives that fractional voxel index, the world
position nibabel gives the nearest voxel, their distance in mm, and the voxel's value.
Prints one JSON document with the header facts (shape, dtype, codes, affines, zooms,
orientation codes, value counts) and the answers.
"""
import json
import sys

import nibabel as nib
import numpy as np
import pydicom
from nibabel.affines import apply_affine


def main():
    req = json.load(sys.stdin)
    img = nib.load(req["nifti"])
    data = np.asanyarray(img.dataobj)
    hdr = img.header
    affine = img.affine
    inv = np.linalg.inv(affine)
    values, counts = np.unique(data, return_counts=True)
    out = {
        "shape": list(data.shape),
        "dtype": str(data.dtype),
        "qformCode": int(hdr["qform_code"]),
        "sformCode": int(hdr["sform_code"]),
        "affine": affine.tolist(),
        "qform": hdr.get_qform().tolist(),
        "sform": hdr.get_sform().tolist(),
        "zooms": [float(z) for z in hdr.get_zooms()],
        "axcodes": list(nib.aff2axcodes(affine)),
        "intentCode": int(hdr["intent_code"]),
        "counts": {str(int(v)): int(c) for v, c in zip(values, counts)},
        "answers": [],
    }
    cache = {}
    for q in req.get("queries", []):
        path = q["dicom"]
        if path not in cache:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            cache[path] = (
                np.array([float(v) for v in ds.ImagePositionPatient]),
                np.array([float(v) for v in ds.ImageOrientationPatient]),
                np.array([float(v) for v in ds.PixelSpacing]),
            )
        ipp, iop, ps = cache[path]
        lps = ipp + q["col"] * ps[1] * iop[:3] + q["row"] * ps[0] * iop[3:]
        ras = lps * np.array([-1.0, -1.0, 1.0])
        vox = apply_affine(inv, ras)
        nearest = np.rint(vox).astype(int)
        inside = bool(np.all(nearest >= 0) and np.all(nearest < np.array(data.shape[:3])))
        world = apply_affine(affine, nearest)
        out["answers"].append(
            {
                "ras": ras.tolist(),
                "voxel": vox.tolist(),
                "distanceMm": float(np.linalg.norm(world - ras)),
                "value": int(data[tuple(nearest)]) if inside else None,
            }
        )
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
