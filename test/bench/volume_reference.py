"""Reference timings for `npm run bench -- volume`: the segment editor's effects done with
numpy/scipy.ndimage on the same volume (HU from pydicom) and the same input masks.

argv[1]: JSON {files, dims: [nx, ny, nz], spacing: [sx, sy, sz], bone: path, lesion: path,
lesionBox: [[z0, z1], [y0, y1], [x0, x1]]}; masks are raw uint8 (nz, ny, nx).
Prints {"loadSeconds": s, "ms": {op: ms}} for one run of each op (single thread).
"""
import json
import math
import sys
import time

import numpy as np
import pydicom
from scipy import ndimage

spec = json.load(open(sys.argv[1]))
nx, ny, nz = spec['dims']
sx, sy, sz = spec['spacing']
sampling = (sz, sy, sx)

t0 = time.perf_counter()
slices = [pydicom.dcmread(f) for f in spec['files']]
iop = np.array([float(v) for v in slices[0].ImageOrientationPatient])
normal = np.cross(iop[:3], iop[3:])
slices.sort(key=lambda d: float(np.array([float(v) for v in d.ImagePositionPatient]) @ normal))
hu = np.stack([d.pixel_array.astype(np.int16) for d in slices]).astype(np.float32) * float(slices[0].RescaleSlope) + float(slices[0].RescaleIntercept)
load_seconds = time.perf_counter() - t0
bone = np.fromfile(spec['bone'], dtype=np.uint8).reshape(nz, ny, nx).astype(bool)
lesion = np.fromfile(spec['lesion'], dtype=np.uint8).reshape(nz, ny, nx).astype(bool)
(z0, z1), (y0, y1), (x0, x1) = spec['lesionBox']
lesion_box = lesion[z0:z1, y0:y1, x0:x1]


def ball(r):
    rz, ry, rx = (int(math.ceil(r / s)) for s in sampling)
    zz, yy, xx = np.meshgrid(np.arange(-rz, rz + 1), np.arange(-ry, ry + 1), np.arange(-rx, rx + 1), indexing='ij')
    return np.sqrt((zz * sz) ** 2 + (yy * sy) ** 2 + (xx * sx) ** 2) <= r


def kernel_voxels(mm, s):
    return 2 * max(0, int(math.floor((mm / s - 1) / 2 + 0.5))) + 1


def largest(a):
    lab, _ = ndimage.label(a)
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return lab == int(np.argmax(sizes))


ops = {
    'threshold bone': lambda: (hu >= 226) & (hu <= 3071),
    'islands keep-largest (bone)': lambda: largest(bone),
    'margin grow 2 mm (lesions)': lambda: ndimage.distance_transform_edt(~lesion_box, sampling=sampling) <= 2,
    'margin shrink 1 mm (bone)': lambda: bone & ~(ndimage.distance_transform_edt(np.pad(bone, 1), sampling=sampling)[1:-1, 1:-1, 1:-1] <= 1),
    'hollow 2 mm (bone)': lambda: bone & (ndimage.distance_transform_edt(np.pad(bone, 1), sampling=sampling)[1:-1, 1:-1, 1:-1] <= 2),
    'median 3 mm (bone)': lambda: ndimage.median_filter(bone.astype(np.uint8), size=(kernel_voxels(3, sz), kernel_voxels(3, sy), kernel_voxels(3, sx)), mode='constant'),
    'opening 3 mm (bone)': lambda: ndimage.binary_opening(bone, structure=ball(1.5)),
    'closing 3 mm (bone)': lambda: ndimage.binary_closing(bone, structure=ball(1.5)),
    'logical union (bone, lesions)': lambda: bone | lesion,
    'statistics (bone)': lambda: (int(bone.sum()), float(hu[bone].mean()), float(hu[bone].min()), float(hu[bone].max())),
}
out = {}
for name, fn in ops.items():
    t = time.perf_counter()
    fn()
    out[name] = (time.perf_counter() - t) * 1000
print(json.dumps({'loadSeconds': load_seconds, 'ms': out}))
