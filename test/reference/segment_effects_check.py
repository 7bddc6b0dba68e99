"""Direct references for Fovea's segment editor effects (electron/core/volume/effects).

Input (JSON, argv[1]): {files: DICOM paths of the series, dims: [nx, ny, nz], spacing: [sx, sy, sz],
cases: [{name, effect, inputs: {segment: path}, outputs: {segment: path}}], stats: [...],
lesions: the generator's lesion list, lesionClass}. Volumes are raw uint8 files, shape (nz, ny, nx),
slices ascending along the slice normal (the order of the DICOM files sorted by position).

Each effect is recomputed here from the inputs with numpy/scipy (and the HU values from pydicom),
independently of Fovea's code:
  threshold      HU in [min, max]
  islands        scipy.ndimage.label (6-connected) -> largest / size >= N / the one at the voxel
  margin         distance_transform_edt(sampling) <= r (grow) or > r inside (shrink, outside = background)
  hollow         inside and distance to the background <= t
  median         scipy.ndimage.median_filter(size=(kz, ky, kx), mode='constant')
  open / close   scipy.ndimage binary_opening / binary_closing with the ball of radius kernel/2 mm,
                 on an array padded with background
  logical        numpy boolean operations
  grow           per-segment Dijkstra (heapq) on 6-neighbours with cost |dHU| + 1, label = argmin
                 over segments of (cost, order); in the box of the seeds grown by max(3, ceil(size/5))
  fill-between   recursive morphological median {d(p, A and B) < d(p, not (A or B))} (2-D EDT in mm)
Prints {"failures": [...], "checked": [...], "notes": [...]}.
"""
import heapq
import json
import math
import sys

import numpy as np
import pydicom
from scipy import ndimage

spec = json.load(open(sys.argv[1]))
nx, ny, nz = spec['dims']
sx, sy, sz = spec['spacing']
sampling = (sz, sy, sx)


def load(path):
    return np.fromfile(path, dtype=np.uint8).reshape(nz, ny, nx).astype(bool)


# HU volume from the DICOM files, sorted along the normal.
slices = [pydicom.dcmread(f) for f in spec['files']]
iop = np.array([float(v) for v in slices[0].ImageOrientationPatient])
normal = np.cross(iop[:3], iop[3:])
slices.sort(key=lambda d: float(np.array([float(v) for v in d.ImagePositionPatient]) @ normal))
hu = np.stack([d.pixel_array.astype(np.float64) * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in slices])
assert hu.shape == (nz, ny, nx), hu.shape

failures = []
checked = []
notes = []


def within(d, r):
    return d <= r * (1 + 5e-7) + 1e-9


def ball(r):
    rz, ry, rx = (int(math.ceil(r / s)) for s in sampling)
    zz, yy, xx = np.meshgrid(np.arange(-rz, rz + 1), np.arange(-ry, ry + 1), np.arange(-rx, rx + 1), indexing='ij')
    return within(np.sqrt((zz * sz) ** 2 + (yy * sy) ** 2 + (xx * sx) ** 2), r)


def padded(a, p):
    return np.pad(a, p, constant_values=False)


def edt_inside(a):
    """Distance (mm) from each voxel of a to the nearest background voxel, outside the array counting as background."""
    return ndimage.distance_transform_edt(padded(a, 1), sampling=sampling)[1:-1, 1:-1, 1:-1]


def kernel_voxels(mm, s):
    return 2 * max(0, int(math.floor((mm / s - 1) / 2 + 0.5))) + 1


def grow_reference(seeds, order):
    """argmin over segments of (cheapest path cost, order) in the box of the seeds."""
    any_seed = np.zeros((nz, ny, nx), dtype=bool)
    for s in seeds:
        any_seed |= s
    idx = np.argwhere(any_seed)
    lo = idx.min(axis=0)
    hi = idx.max(axis=0) + 1
    ext = hi - lo
    g = np.maximum(3, np.ceil(ext / 5).astype(int))
    lo = np.maximum(0, lo - g)
    hi = np.minimum([nz, ny, nx], hi + g)
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    vals = hu[box]
    shape = vals.shape
    best = np.full(shape, np.inf)
    label = np.zeros(shape, dtype=int)
    for k, s in enumerate(seeds):
        dist = np.full(shape, np.inf)
        heap = []
        for p in np.argwhere(s[box]):
            p = tuple(int(v) for v in p)
            dist[p] = 0
            heap.append((0.0, p))
        heapq.heapify(heap)
        while heap:
            d, p = heapq.heappop(heap)
            if d > dist[p]:
                continue
            for ax in range(3):
                for step in (-1, 1):
                    q = list(p)
                    q[ax] += step
                    if q[ax] < 0 or q[ax] >= shape[ax]:
                        continue
                    q = tuple(q)
                    nd = d + abs(vals[q] - vals[p]) + 1
                    if nd < dist[q]:
                        dist[q] = nd
                        heapq.heappush(heap, (nd, q))
        take = dist < best  # strictly cheaper: equal costs stay with the earlier segment
        best = np.where(take, dist, best)
        label = np.where(take, order[k], label)
    return box, label


def median2d(a, b):
    """{p : d(p, a and b) < d(p, not (a or b))}, Euclidean in mm, outside the image not in the union."""
    inter = np.pad(a & b, 1, constant_values=False)
    union = np.pad(a | b, 1, constant_values=False)
    d_in = ndimage.distance_transform_edt(~inter, sampling=(sy, sx))
    d_out = ndimage.distance_transform_edt(union, sampling=(sy, sx))
    return (d_in < d_out)[1:-1, 1:-1]


def fill_reference(a):
    out = a.copy()
    ks = [k for k in range(nz) if a[k].any()]
    def rec(k0, m0, k1, m1):
        if k1 - k0 <= 1:
            return
        m = (k0 + k1) // 2
        assert (m0 & m1).any(), 'the test uses overlapping shapes'
        mid = median2d(m0, m1)
        out[m] = mid
        rec(k0, m0, m, mid)
        rec(m, mid, k1, m1)
    for k0, k1 in zip(ks, ks[1:]):
        rec(k0, a[k0], k1, a[k1])
    return out


for case in spec['cases']:
    name = case['name']
    e = case['effect']
    ins = {k: load(v) for k, v in case['inputs'].items()}
    outs = {k: load(v) for k, v in case['outputs'].items()}
    kind = e['effect']
    target = next(iter(case['inputs']))
    a = ins[target]
    want = {}
    if kind == 'threshold':
        want[target] = (hu >= e['range']['min']) & (hu <= e['range']['max'])
    elif kind == 'islands':
        lab, n = ndimage.label(a)
        sizes = np.bincount(lab.ravel())
        sizes[0] = 0
        if e['mode'] == 'keep-largest':
            want[target] = lab == int(np.argmax(sizes))
        elif e['mode'] == 'remove-small':
            want[target] = (lab > 0) & (sizes[lab] >= e['minVoxels'])
        else:
            x, y, z = e['voxel']
            want[target] = lab == lab[z, y, x]
        notes.append('%s: %d islands' % (name, n))
    elif kind == 'margin':
        r = abs(e['mm'])
        if e['mm'] > 0:
            want[target] = within(ndimage.distance_transform_edt(~a, sampling=sampling), r)
        else:
            want[target] = a & ~within(edt_inside(a), r)
    elif kind == 'hollow':
        want[target] = a & within(edt_inside(a), e['thicknessMm'])
    elif kind == 'smooth':
        if e['method'] == 'median':
            size = (kernel_voxels(e['kernelMm'], sz), kernel_voxels(e['kernelMm'], sy), kernel_voxels(e['kernelMm'], sx))
            want[target] = ndimage.median_filter(a.astype(np.uint8), size=size, mode='constant', cval=0).astype(bool)
            notes.append('%s: kernel %s voxels (z, y, x)' % (name, size))
        else:
            st = ball(e['kernelMm'] / 2)
            p = max(st.shape)
            big = padded(a, p)
            op = ndimage.binary_opening if e['method'] == 'open' else ndimage.binary_closing
            want[target] = op(big, structure=st)[p:-p, p:-p, p:-p]
    elif kind == 'logical':
        b = ins[[k for k in ins if k != target][0]] if len(ins) > 1 else None
        op = e['operation']
        want[target] = {'copy': lambda: b, 'union': lambda: a | b, 'intersect': lambda: a & b, 'subtract': lambda: a & ~b,
                        'invert': lambda: ~a, 'clear': lambda: np.zeros_like(a)}[op]()
    elif kind == 'grow':
        names = list(case['inputs'])
        box, label = grow_reference([ins[n] for n in names], list(range(1, len(names) + 1)))
        for k, n in enumerate(names):
            w = ins[n].copy()
            w[box] = label == k + 1
            want[n] = w
        notes.append('%s: box %s voxels' % (name, label.shape))
    elif kind == 'fill-between':
        want[target] = fill_reference(a)
        ks = [k for k in range(nz) if a[k].any()]
        mid = (ks[0] + ks[1]) // 2
        # Concentric discs of radius 5 and 11 px: the halfway slice is a disc of about 8 px.
        r_mid = math.sqrt(outs[target][mid].sum() / math.pi)
        notes.append('%s: halfway slice %d radius %.2f px (discs of 5 and 11)' % (name, mid, r_mid))
        if abs(r_mid - 8) > 0.75:
            failures.append('%s: halfway disc radius %.2f, not about 8' % (name, r_mid))
    else:
        failures.append('%s: no reference for %s' % (name, kind))
        continue
    for n, w in want.items():
        got = outs.get(n)
        if got is None:
            failures.append('%s: no output for %s' % (name, n))
            continue
        diff = int((got != w).sum())
        if diff:
            failures.append('%s: %s differs at %d of %d voxels (reference %d on, Fovea %d on)' % (name, n, diff, w.size, int(w.sum()), int(got.sum())))
        elif not w.any() and kind not in ('logical',):
            failures.append('%s: %s is empty, the case proves nothing' % (name, n))
    checked.append(name)

# Statistics of the lesion segment: the generator's spheres.
lesion_stats = next((s for s in spec['stats'] if s['classId'] == spec['lesionClass']), None)
if lesion_stats is None:
    failures.append('no statistics for the lesion segment')
else:
    m = load(lesion_stats['mask'])
    vals = hu[m]
    if lesion_stats['voxels'] != int(m.sum()) or lesion_stats['voxels'] != sum(l['voxelCount'] for l in spec['lesions']):
        failures.append('lesion voxels %d, stored %d, generator %d' % (lesion_stats['voxels'], int(m.sum()), sum(l['voxelCount'] for l in spec['lesions'])))
    if abs(lesion_stats['mean'] - float(vals.mean())) > 1e-9 or lesion_stats['min'] != float(vals.min()) or lesion_stats['max'] != float(vals.max()):
        failures.append('lesion HU stats %s vs numpy %g %g %g' % (lesion_stats, vals.mean(), vals.min(), vals.max()))
    true_ml = sum(4 / 3 * math.pi * l['radiusMm'] ** 3 for l in spec['lesions']) / 1000
    # Voxelisation error: the voxels whose centre is within half a voxel diagonal of the surface.
    h = 0.5 * math.sqrt(sx * sx + sy * sy + sz * sz)
    slack = sum(4 / 3 * math.pi * ((l['radiusMm'] + h) ** 3 - max(l['radiusMm'] - h, 0) ** 3) for l in spec['lesions']) / 1000
    vox_ml = lesion_stats['voxels'] * sx * sy * sz / 1000
    if abs(lesion_stats['volumeMl'] - vox_ml) > 1e-9 or abs(vox_ml - true_ml) > slack:
        failures.append('lesion volume %.4f mL (voxels %.4f), spheres %.4f mL, allowed +-%.4f' % (lesion_stats['volumeMl'], vox_ml, true_ml, slack))
    notes.append('lesion volume %.4f mL vs spheres %.4f mL (voxelisation bound +-%.4f)' % (lesion_stats['volumeMl'], true_ml, slack))
    checked.append('statistics')

print(json.dumps({'failures': failures, 'checked': checked, 'notes': notes}))
