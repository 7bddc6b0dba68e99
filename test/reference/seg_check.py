#!/usr/bin/python3
"""Independent reading of DICOM Segmentation files for Fovea's SEG tests (pydicom + numpy).

Usage:
    /usr/bin/python3 test/reference/seg_check.py FILE.dcm

Prints one JSON document: the identifying and structural attributes a SEG must carry, and per
frame its segment number, referenced source image (SOP Instance UID, frame number), plane
position and the row-major indices of its set pixels, decoded by pydicom's own unpacking of
1-bit pixel data (never by Fovea's code). The test compares them with the library's masks.
"""
import json
import sys

import numpy as np
import pydicom


def text(ds, keyword):
    v = ds.get(keyword)
    return None if v is None else str(v)


def as_list(value):
    """A multi-valued attribute as a list of ints (pydicom gives a bare int for one value)."""
    return [int(v) for v in value] if isinstance(value, (list, tuple)) or hasattr(value, "__iter__") else [int(value)]


def first(seq_owner, keyword):
    seq = seq_owner.get(keyword)
    return seq[0] if seq else None


def main():
    path = sys.argv[1]
    ds = pydicom.dcmread(path)
    pixels = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1))
    if frames == 1 and pixels.ndim == 2:
        pixels = pixels[np.newaxis, ...]
    shared = first(ds, "SharedFunctionalGroupsSequence")
    out = {
        "sopClassUid": text(ds, "SOPClassUID"),
        "sopInstanceUid": text(ds, "SOPInstanceUID"),
        "mediaStorageSopInstanceUid": str(ds.file_meta.MediaStorageSOPInstanceUID),
        "mediaStorageSopClassUid": str(ds.file_meta.MediaStorageSOPClassUID),
        "transferSyntaxUid": str(ds.file_meta.TransferSyntaxUID),
        "modality": text(ds, "Modality"),
        "segmentationType": text(ds, "SegmentationType"),
        "patientName": text(ds, "PatientName"),
        "patientId": text(ds, "PatientID"),
        "studyInstanceUid": text(ds, "StudyInstanceUID"),
        "seriesInstanceUid": text(ds, "SeriesInstanceUID"),
        "frameOfReferenceUid": text(ds, "FrameOfReferenceUID"),
        "rows": int(ds.Rows),
        "columns": int(ds.Columns),
        "frames": frames,
        "pixelShape": list(pixels.shape),
        "referencedSeries": [
            {
                "seriesInstanceUid": str(s.SeriesInstanceUID),
                "instances": [str(i.ReferencedSOPInstanceUID) for i in s.ReferencedInstanceSequence],
            }
            for s in ds.get("ReferencedSeriesSequence", [])
        ],
        "segments": [
            {
                "number": int(s.SegmentNumber),
                "label": str(s.SegmentLabel),
                "algorithmType": str(s.SegmentAlgorithmType),
                "algorithmName": text(s, "SegmentAlgorithmName"),
            }
            for s in ds.SegmentSequence
        ],
        "sharedOrientation": None,
        "perFrame": [],
    }
    if shared is not None and first(shared, "PlaneOrientationSequence") is not None:
        out["sharedOrientation"] = [float(v) for v in first(shared, "PlaneOrientationSequence").ImageOrientationPatient]
    for f, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
        seg = first(item, "SegmentIdentificationSequence") or first(shared, "SegmentIdentificationSequence")
        der = first(item, "DerivationImageSequence")
        src = first(der, "SourceImageSequence") if der is not None else None
        pos = first(item, "PlanePositionSequence")
        ori = first(item, "PlaneOrientationSequence")
        out["perFrame"].append(
            {
                "segment": int(seg.ReferencedSegmentNumber),
                "sop": str(src.ReferencedSOPInstanceUID) if src is not None else None,
                "sopClass": str(src.ReferencedSOPClassUID) if src is not None else None,
                "refFrame": int(src.ReferencedFrameNumber) if src is not None and "ReferencedFrameNumber" in src else None,
                "position": [float(v) for v in pos.ImagePositionPatient] if pos is not None else None,
                "orientation": [float(v) for v in ori.ImageOrientationPatient] if ori is not None else None,
                "dimensionIndex": as_list(first(item, "FrameContentSequence").DimensionIndexValues)
                if first(item, "FrameContentSequence") is not None
                else None,
                "pixels": np.flatnonzero(pixels[f].reshape(-1)).tolist(),
            }
        )
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
