#!/usr/bin/python3
"""Reference pixel values for Fovea's DICOM decoder tests.

Usage:
    /usr/bin/python3 test/reference/dicom_reference.py FILE... --out DIR

Writes DIR/manifest.json with one entry per input file (in input order):
    {"path", "status": "ok" | "nopixels" | "error", "error", "source",
     "rows", "columns", "samplesPerPixel", "frames", "dtype", "photometric",
     "frameFiles": [...], "paletteFiles": [...]}
and per frame a raw file of little-endian stored values, samples interleaved.

Decoders: pydicom (2.x) with gdcm for compressed data, pydicom's numpy
handler for native data. Where they cannot read a file or are known to
disagree with the ground truth, the script uses the reference tool for that
syntax and records it in "source" (and, for JPEG, how gdcm compared in
"agreement"):
  * HTJ2K (1.2.840.10008.1.2.4.201-203): gdcm 3.0 cannot read it; each
    frame is decoded with OpenJPEG's `opj_decompress` (2.5).
  * JPEG DCT (.50 baseline, .51 extended, .53 spectral selection, .55 full
    progression): dcmtk's `dcmdjpeg` (IJG libjpeg 6b, as in gdcm) is the
    reference for every file; gdcm through pydicom is decoded as well and
    compared. pydicom 2.3's gdcm handler does not list the retired .53/.55,
    so those are relabelled .51/.50 in memory for gdcm (which decodes by the
    stream's SOF marker). If the two disagree, dcmdjpeg decides.

Normalisations, so both sides compare the same thing (they mirror the
documented semantics of electron/core/dicom/decode-frame.ts):
  * Stored values: when BitsStored is less than the sample width, bits above
    BitsStored are dropped (native data is first shifted down by
    HighBit + 1 - BitsStored) and signed data is sign-extended from
    BitsStored. pydicom 2.x leaves such upper bits as they are in the file.
  * Colour: dcmdjpeg converts YCbCr to RGB with libjpeg's integer tables,
    as libjpeg-turbo (Fovea's 8-bit colour decoder) does. gdcm (through
    pydicom 2.3) returns the raw, upsampled YCbCr samples: for the
    comparison with dcmdjpeg they are converted with pydicom's
    convert_color_space(YBR_FULL -> RGB), which rounds differently (within
    2 levels counts as agreeing). Native YBR_FULL_422 is expanded to
    YBR_FULL (3 samples per pixel).
  * PALETTE COLOR: additionally writes the RGB result of pydicom's
    apply_color_lut, reduced to 8 bits (16-bit LUT entries >> 8).
  * Byte order: everything is written little endian.
"""

import json
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import pydicom
from pydicom.encaps import generate_pixel_data_frame
from pydicom.pixel_data_handlers.util import apply_color_lut, convert_color_space

warnings.simplefilter('ignore')

HTJ2K = {'1.2.840.10008.1.2.4.201', '1.2.840.10008.1.2.4.202', '1.2.840.10008.1.2.4.203'}
JPEG_DCT = {'1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51', '1.2.840.10008.1.2.4.53', '1.2.840.10008.1.2.4.55'}
# The syntaxes pydicom 2.3's gdcm handler accepts for DCT JPEG data, by bit depth.
GDCM_JPEG_LABEL = {8: '1.2.840.10008.1.2.4.50', 16: '1.2.840.10008.1.2.4.51'}
NATIVE = {'1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.1.99', '1.2.840.10008.1.2.2'}


def stored_values(arr, ds, native):
    """Apply the stored-value rule described in the module docstring."""
    if arr.dtype.kind not in 'iu':
        return arr
    width = arr.dtype.itemsize * 8
    bits_stored = int(getattr(ds, 'BitsStored', width))
    high_bit = int(getattr(ds, 'HighBit', bits_stored - 1))
    shift = (high_bit + 1 - bits_stored) if native else 0
    if bits_stored >= width and shift == 0:
        return arr
    signed = int(getattr(ds, 'PixelRepresentation', 0)) == 1
    u = arr.astype(np.int64)
    if arr.dtype.kind == 'i':
        u = u & ((1 << width) - 1)
    u = (u >> shift) & ((1 << bits_stored) - 1)
    if signed:
        u = np.where(u >= (1 << (bits_stored - 1)), u - (1 << bits_stored), u)
    return u.astype(arr.dtype)


def read_pnm(path):
    with open(path, 'rb') as f:
        data = f.read()
    # Header: magic, width, height, maxval separated by whitespace (no comments from opj).
    parts = []
    pos = 0
    while len(parts) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b'#':  # a comment line (opj_decompress writes one)
            while data[pos:pos + 1] not in (b'\n', b''):
                pos += 1
            continue
        start = pos
        while not data[pos:pos + 1].isspace():
            pos += 1
        parts.append(data[start:pos])
    pos += 1
    magic, width, height, maxval = parts[0], int(parts[1]), int(parts[2]), int(parts[3])
    channels = 3 if magic == b'P6' else 1
    dtype = '>u2' if maxval > 255 else 'u1'
    arr = np.frombuffer(data[pos:], dtype=dtype, count=width * height * channels)
    return arr.reshape(height, width, channels)


def decode_htj2k(path, ds, workdir):
    frames = int(getattr(ds, 'NumberOfFrames', 1) or 1)
    spp = int(ds.SamplesPerPixel)
    out = []
    for i, frame in enumerate(generate_pixel_data_frame(ds.PixelData, frames)):
        src = os.path.join(workdir, f'frame{i}.j2k')
        dst = os.path.join(workdir, f'frame{i}.' + ('ppm' if spp == 3 else 'pgm'))
        with open(src, 'wb') as f:
            f.write(frame)
        subprocess.run(['opj_decompress', '-quiet', '-i', src, '-o', dst], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.append(read_pnm(dst))
    arr = np.stack(out)
    dtype = {8: 'u1', 16: 'u2'}[int(ds.BitsAllocated)]
    if int(getattr(ds, 'PixelRepresentation', 0)) == 1:
        dtype = dtype.replace('u', 'i')
    return arr.astype(dtype)


def decode_dcmdjpeg(path, workdir):
    dst = os.path.join(workdir, 'dcmdjpeg.dcm')
    subprocess.run(['dcmdjpeg', path, dst], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = pydicom.dcmread(dst)
    return out.pixel_array, str(out.PhotometricInterpretation).strip()


def decode_jpeg_dct(path, ds, ts, workdir):
    """dcmdjpeg's pixels, and how gdcm (through pydicom) compares with them."""
    ref, photometric = decode_dcmdjpeg(path, workdir)
    try:
        if ts not in GDCM_JPEG_LABEL.values():
            ds.file_meta.TransferSyntaxUID = GDCM_JPEG_LABEL[8 if int(ds.BitsAllocated) <= 8 else 16]
        other = ds.pixel_array
        if int(ds.SamplesPerPixel) == 3 and str(ds.PhotometricInterpretation).startswith('YBR_FULL') and other.dtype == np.uint8:
            frames = other.reshape((-1,) + other.shape[-3:])
            other = np.stack([convert_color_space(f, 'YBR_FULL', 'RGB') for f in frames]).reshape(ref.shape)
        if other.shape != ref.shape:
            return ref, photometric, f'pydicom-gdcm gave shape {other.shape}: dcmdjpeg decides'
        diff = int(np.abs(other.astype(np.int64) - ref.astype(np.int64)).max()) if ref.size else 0
        if diff == 0:
            return ref, photometric, 'pydicom-gdcm agrees'
        if int(ds.SamplesPerPixel) == 3 and diff <= 2:
            return ref, photometric, f'pydicom-gdcm agrees within colour-conversion rounding (max {diff})'
        return ref, photometric, f'pydicom-gdcm disagrees (max difference {diff}): dcmdjpeg decides'
    except Exception as e:  # noqa: BLE001 - recorded, dcmdjpeg decides
        return ref, photometric, f'pydicom-gdcm failed ({type(e).__name__}: {e}): dcmdjpeg decides'


def as_frames(arr, ds):
    frames = int(getattr(ds, 'NumberOfFrames', 1) or 1)
    rows, cols = int(ds.Rows), int(ds.Columns)
    return arr.reshape(frames, rows, cols, -1)


def process(path, index, out_dir):
    entry = {'path': path, 'status': 'error', 'source': None}
    try:
        ds = pydicom.dcmread(path, force=True)
    except Exception as e:  # noqa: BLE001 - the manifest records every failure
        entry['error'] = f'{type(e).__name__}: {e}'
        return entry
    if 'PixelData' not in ds:
        entry['status'] = 'nopixels'
        return entry
    ts = str(getattr(getattr(ds, 'file_meta', None), 'TransferSyntaxUID', '') or '')
    native = ts in NATIVE
    photometric = str(getattr(ds, 'PhotometricInterpretation', '')).strip()
    with tempfile.TemporaryDirectory() as workdir:
        try:
            if ts in HTJ2K:
                arr = decode_htj2k(path, ds, workdir)
                entry['source'] = 'opj_decompress'
            elif ts in JPEG_DCT:
                arr, photometric, entry['agreement'] = decode_jpeg_dct(path, ds, ts, workdir)
                entry['source'] = 'dcmdjpeg'
            else:
                arr = ds.pixel_array
                entry['source'] = 'pydicom-numpy' if native else 'pydicom-gdcm'
        except Exception as e:  # noqa: BLE001
            entry['error'] = f'{type(e).__name__}: {e}'
            return entry
    out_photometric = photometric
    arr = as_frames(arr, ds)
    arr = stored_values(arr, ds, native)
    spp = arr.shape[-1]
    if out_photometric == 'YBR_FULL_422':
        out_photometric = 'YBR_FULL'
    elif ts not in NATIVE and out_photometric in ('YBR_ICT', 'YBR_RCT'):
        out_photometric = 'RGB'
    arr = arr.astype(arr.dtype.newbyteorder('<'))
    entry.update({
        'status': 'ok',
        'rows': int(arr.shape[1]),
        'columns': int(arr.shape[2]),
        'samplesPerPixel': int(spp),
        'frames': int(arr.shape[0]),
        'dtype': arr.dtype.name,
        'photometric': out_photometric,
        'frameFiles': [],
    })
    for i, frame in enumerate(arr):
        name = f'{index}_{i}.raw'
        frame.tofile(os.path.join(out_dir, name))
        entry['frameFiles'].append(name)
    if photometric == 'PALETTE COLOR':
        depth = int(ds.RedPaletteColorLookupTableDescriptor[2])
        entry['paletteFiles'] = []
        for i, frame in enumerate(arr):
            rgb = apply_color_lut(frame[..., 0], ds).astype(np.uint32)
            if depth == 16:
                rgb = rgb >> 8
            name = f'{index}_{i}.palette.raw'
            (rgb & 0xFF).astype(np.uint8).tofile(os.path.join(out_dir, name))
            entry['paletteFiles'].append(name)
    return entry


def main(argv):
    if '--out' not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    at = argv.index('--out')
    out_dir = argv[at + 1]
    files = argv[:at] + argv[at + 2:]
    os.makedirs(out_dir, exist_ok=True)
    manifest = [process(path, i, out_dir) for i, path in enumerate(files)]
    with open(os.path.join(out_dir, 'manifest.json'), 'w') as f:
        json.dump({'pydicom': pydicom.__version__, 'files': manifest}, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
