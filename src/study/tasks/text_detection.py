"""Text detection (PP-OCR's DB head): a per-pixel text probability map. Text is where the map exceeds 0.3
(PaddleOCR's ``det_db_thresh``); a text region is a connected blob of it of at least ``MIN_PIXELS``. A variant is
faithful when its binarised map covers the same pixels (IoU) and finds the same number of regions."""

from __future__ import annotations

import numpy as np

THRESHOLD = 0.3
MIN_PIXELS = 10


def _maps(outputs) -> np.ndarray:
    scores = outputs[0] if isinstance(outputs, tuple) else outputs
    scores = np.asarray(scores, dtype=np.float32)
    return scores.reshape(len(scores), *scores.shape[-2:])


def binarised(outputs) -> np.ndarray:
    return _maps(outputs) > THRESHOLD


def regions(mask: np.ndarray) -> int:
    from scipy.ndimage import label

    labelled, count = label(mask)
    if count == 0:
        return 0
    sizes = np.bincount(labelled.ravel())[1:]
    return int((sizes >= MIN_PIXELS).sum())


def decode(outputs) -> list[dict]:
    return [{"text_pixels": int(mask.sum()), "regions": regions(mask)} for mask in binarised(outputs)]


def fidelity(reference, candidate) -> dict:
    expected, found = binarised(reference), binarised(candidate)
    ious, counts_expected, counts_found = [], [], []
    for a, b in zip(expected, found):
        union = np.logical_or(a, b).sum()
        ious.append(1.0 if union == 0 else float(np.logical_and(a, b).sum() / union))
        counts_expected.append(regions(a))
        counts_found.append(regions(b))
    return {"fidelity": float(np.mean(ious)), "map_iou": float(np.mean(ious)), "map_iou_min": float(np.min(ious)),
            "regions_reference": int(sum(counts_expected)), "regions_variant": int(sum(counts_found)),
            "samples": len(ious)}
