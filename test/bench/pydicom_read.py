#!/usr/bin/env python3
"""Reference for the import benchmark: pydicom (+gdcm for compressed syntaxes)
reading the same files Fovea imports, in the same run. Prints JSON with the
time to read headers only and to read and decode every frame's pixels."""
import json
import sys
import time

import pydicom

paths = [l.strip() for l in open(sys.argv[1]) if l.strip()]
t0 = time.perf_counter()
for p in paths:
    pydicom.dcmread(p, stop_before_pixels=True)
t1 = time.perf_counter()
nbytes = 0
for p in paths:
    ds = pydicom.dcmread(p)
    arr = ds.pixel_array
    nbytes += arr.nbytes
t2 = time.perf_counter()
print(json.dumps({"files": len(paths), "headersSeconds": t1 - t0, "pixelsSeconds": t2 - t1, "decodedBytes": nbytes}))
