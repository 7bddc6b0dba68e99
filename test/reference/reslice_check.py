"""Independent check of Fovea's MPR planes (fovea reslice / volume.plane) with pydicom + numpy.

Input (JSON file, argv[1]):
  {"series": [{"files": [DICOM paths of one series], "planes": [{"json": {...}, "bin": path}, ...]}]}
where each plane's JSON is what `fovea reslice --json` prints (dtype, rows, columns, pixelSpacing,
imageOrientationPatient, imagePositionPatient, exact, rescaleSlope, rescaleIntercept, values).

For every pixel of every plane the expected value is computed from the DICOM files alone, in
patient coordinates: the pixel's centre P = IPP_out + c * dc * rowDir + r * dr * colDir; its
coordinate along the slice normal picks the two acquired slices around it (sorted by position);
within each, column x = (P - IPP_s) . u / spacing_col, row y = (P - IPP_s) . v / spacing_row,
sampled bilinearly (exact when x, y are whole), then blended linearly by the normal distance.
Outside every acquired footprint the expected value is the volume's minimum. This is the
interpolation Fovea documents (electron/core/volume/volume-grid.ts) written out again here with
numpy from pydicom's pixel_array, not Fovea's decoder or code.

Checks: planes flagged exact are int16 and equal to the stored values pixel for pixel (and every
pixel of them lies on an acquired voxel); other planes are float32 within 1e-3 (+1e-6 relative).
Prints {"failures": [...], "planes": n, "exactPlanes": n, "pixels": n, "maxAbsDiff": x}.
"""
import json
import sys

import numpy as np
import pydicom


def load(files):
    slices = []
    for f in files:
        ds = pydicom.dcmread(f)
        iop = np.array([float(v) for v in ds.ImageOrientationPatient])
        u = iop[:3] / np.linalg.norm(iop[:3])
        v = iop[3:] / np.linalg.norm(iop[3:])
        ps = [float(x) for x in ds.PixelSpacing]  # [between rows, between columns]
        slices.append({
            'ipp': np.array([float(x) for x in ds.ImagePositionPatient]),
            'u': u, 'v': v, 'ps': ps,
            'pixels': ds.pixel_array.astype(np.float64),
            'slope': float(getattr(ds, 'RescaleSlope', 1) or 1),
            'intercept': float(getattr(ds, 'RescaleIntercept', 0) or 0),
        })
    n = np.cross(slices[0]['u'], slices[0]['v'])
    n /= np.linalg.norm(n)
    slices.sort(key=lambda s: float(s['ipp'] @ n))
    d = np.array([float(s['ipp'] @ n) for s in slices])
    vmin = min(float(s['pixels'].min()) for s in slices)
    return slices, n, d, vmin


def bilinear(img, x, y):
    """Bilinear sample at continuous (x, y); NaN outside [0, cols-1] x [0, rows-1] (1e-6 slack)."""
    rows, cols = img.shape
    out = np.full(x.shape, np.nan)
    ok = (x >= -1e-6) & (y >= -1e-6) & (x <= cols - 1 + 1e-6) & (y <= rows - 1 + 1e-6)
    xc = np.clip(x, 0, cols - 1)
    yc = np.clip(y, 0, rows - 1)
    x0 = np.floor(xc).astype(int)
    y0 = np.floor(yc).astype(int)
    x1 = np.minimum(x0 + 1, cols - 1)
    y1 = np.minimum(y0 + 1, rows - 1)
    fx = xc - x0
    fy = yc - y0
    val = (img[y0, x0] * (1 - fx) + img[y0, x1] * fx) * (1 - fy) + (img[y1, x0] * (1 - fx) + img[y1, x1] * fx) * fy
    out[ok] = val[ok]
    return out


def expected_plane(slices, n, d, vmin, meta):
    rows, cols = meta['rows'], meta['columns']
    dr, dc = meta['pixelSpacing']
    iop = np.array(meta['imageOrientationPatient'])
    row_dir, col_dir = iop[:3], iop[3:]
    ipp = np.array(meta['imagePositionPatient'])
    rr, cc = np.meshgrid(np.arange(rows), np.arange(cols), indexing='ij')
    P = ipp[None, None, :] + cc[..., None] * dc * row_dir + rr[..., None] * dr * col_dir
    z = P @ n
    out = np.full((rows, cols), np.nan)
    on_grid = np.zeros((rows, cols), dtype=bool)
    # Per pixel: the acquired slices around its normal coordinate.
    lo = np.clip(np.searchsorted(d, z, side='right') - 1, 0, len(d) - 1)
    for s0 in np.unique(lo):
        sel = lo == s0
        s1 = min(s0 + 1, len(d) - 1)
        zs = z[sel]
        gap = d[s1] - d[s0]
        t = np.where(gap > 0, (zs - d[s0]) / (gap if gap > 0 else 1), 0.0)
        t = np.clip(t, 0, 1)
        # Within a micrometre of a slice: that slice.
        t = np.where(t * gap < 1e-3, 0.0, np.where((1 - t) * gap < 1e-3, 1.0, t))
        def at(s):
            sl = slices[s]
            rel = P[sel] - sl['ipp']
            x = rel @ sl['u'] / sl['ps'][1]
            y = rel @ sl['v'] / sl['ps'][0]
            return bilinear(sl['pixels'], x, y), x, y
        a, xa, ya = at(s0)
        b, xb, yb = at(s1)
        val = np.where(t == 0, a, np.where(t == 1, b, a * (1 - t) + b * t))
        whole = lambda q: np.abs(q - np.round(q)) < 1e-4
        grid_a = (t == 0) & whole(xa) & whole(ya) & ~np.isnan(a)
        grid_b = (t == 1) & whole(xb) & whole(yb) & ~np.isnan(b)
        # On an acquired voxel: its stored value itself (no float residue of the weights).
        def voxel(s, x, y):
            img = slices[s]['pixels']
            xi = np.clip(np.round(x).astype(int), 0, img.shape[1] - 1)
            yi = np.clip(np.round(y).astype(int), 0, img.shape[0] - 1)
            return img[yi, xi]
        val = np.where(grid_a, voxel(s0, xa, ya), np.where(grid_b, voxel(s1, xb, yb), val))
        grid = grid_a | grid_b
        out[sel] = val
        on_grid[sel] = grid & ~np.isnan(val)
    out = np.where(np.isnan(out), vmin, out)
    return out, on_grid


def main():
    spec = json.load(open(sys.argv[1]))
    failures = []
    planes = exact_planes = pixels = 0
    worst = 0.0
    for series in spec['series']:
        slices, n, d, vmin = load(series['files'])
        for p in series['planes']:
            meta = p['json']
            where = '%s %s %d' % (series.get('name', ''), meta['plane'], meta['index'])
            raw = open(p['bin'], 'rb').read()
            dtype = '<i2' if meta['dtype'] == 'int16' else '<f4'
            got = np.frombuffer(raw, dtype=dtype).astype(np.float64)
            if got.size != meta['rows'] * meta['columns']:
                failures.append(where + ': %d values for %dx%d' % (got.size, meta['rows'], meta['columns']))
                continue
            got = got.reshape(meta['rows'], meta['columns'])
            want, on_grid = expected_plane(slices, n, d, vmin, meta)
            if meta['values'] == 'modality':
                sl = slices[0]
                want = want * sl['slope'] + sl['intercept']
            planes += 1
            pixels += got.size
            diff = np.abs(got - want)
            worst = max(worst, float(diff.max()))
            if meta['exact']:
                exact_planes += 1
                if meta['dtype'] != 'int16' and meta['values'] == 'stored':
                    failures.append(where + ': exact plane is not int16')
                if not on_grid.all():
                    failures.append(where + ': flagged exact but %d pixels are not on acquired voxels' % int((~on_grid).sum()))
                if not np.array_equal(got, want):
                    failures.append(where + ': exact plane differs at %d pixels (max %g)' % (int((diff > 0).sum()), float(diff.max())))
            else:
                bad = diff > 1e-3 + 1e-6 * np.abs(want)
                if bad.any():
                    failures.append(where + ': %d pixels off (max %g)' % (int(bad.sum()), float(diff.max())))
    print(json.dumps({'failures': failures, 'planes': planes, 'exactPlanes': exact_planes, 'pixels': pixels, 'maxAbsDiff': worst}))


main()
