#!/usr/bin/python3
"""Reference for the import benchmark: pydicom (+gdcm for compressed syntaxes)
reading and decoding the files Fovea imports, in the same run. Prints JSON
with the time to dcmread each file and decode all of its frames
(pixel_array), measured inside the script: the interpreter's start and the
imports are not counted."""
import json
import sys
import time

import pydicom

paths = [line.strip() for line in open(sys.argv[1]) if line.strip()]
t0 = time.perf_counter()
nbytes = 0
for p in paths:
    ds = pydicom.dcmread(p)
    nbytes += ds.pixel_array.nbytes
seconds = time.perf_counter() - t0
print(json.dumps({"files": len(paths), "seconds": seconds, "decodedBytes": nbytes}))
