"""Text detection (PP-OCR's DB head): a per-pixel text probability map. Text is where the map exceeds 0.3
(PaddleOCR's ``det_db_thresh``); a text region is a connected blob of it of at least ``MIN_PIXELS``. A variant is
faithful when its binarised map covers the same pixels (IoU, pooled over the images) and finds the same number of
regions."""

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
    """Pooled IoU over every image (intersections summed over unions summed): a photograph with almost no text,
    where one stray blob halves its own IoU, weighs what its pixels weigh, not as much as a page."""
    expected, found = binarised(reference), binarised(candidate)
    ious, counts_expected, counts_found = [], [], []
    for a, b in zip(expected, found):
        union = np.logical_or(a, b).sum()
        ious.append(1.0 if union == 0 else float(np.logical_and(a, b).sum() / union))
        counts_expected.append(regions(a))
        counts_found.append(regions(b))
    union = np.logical_or(expected, found).sum()
    pooled = 1.0 if union == 0 else float(np.logical_and(expected, found).sum() / union)
    return {"fidelity": pooled, "map_iou": pooled, "map_iou_mean": float(np.mean(ious)),
            "map_iou_min": float(np.min(ious)), "regions_reference": int(sum(counts_expected)),
            "regions_variant": int(sum(counts_found)), "samples": len(ious)}


def describe(judged: dict) -> str:
    return (f"all {judged['samples']} images: map IoU {judged['map_iou']:.2f}, {judged['regions_variant']} of "
            f"{judged['regions_reference']} regions")


def picture(outputs, image_shape: tuple[int, ...]) -> dict:
    """The first sample's binarised map, cut to the part that covers the photograph (letterboxing pads at the
    bottom and right), its bits packed for a results file; a figure stretches it over the photograph."""
    import base64

    mask = binarised(outputs)[0]
    scale = min(mask.shape[0] / image_shape[0], mask.shape[1] / image_shape[1])
    height, width = max(1, round(image_shape[0] * scale)), max(1, round(image_shape[1] * scale))
    inside = np.ascontiguousarray(mask[:height, :width])
    return {"shape": [height, width], "text_pixels": int(inside.sum()), "regions": regions(inside),
            "bits": base64.b64encode(np.packbits(inside)).decode("ascii")}


def unpacked(picture_of: dict) -> np.ndarray:
    import base64

    height, width = picture_of["shape"]
    bits = np.unpackbits(np.frombuffer(base64.b64decode(picture_of["bits"]), dtype=np.uint8))
    return bits[:height * width].reshape(height, width).astype(bool)


AGREE, LOST, EXTRA = (0.18, 0.55, 0.24), (0.78, 0.16, 0.16), (0.12, 0.40, 0.85)


def draw(ax, image: np.ndarray, reference: dict, variant: dict | None) -> str:
    """The page with the text map over it: green where the variant and the fp32 file both see text, red where
    only the fp32 file does (text lost), blue where only the variant does (text invented); returns a caption."""
    expected = unpacked(reference)
    found = expected if variant is None else unpacked(variant)
    layer = np.zeros((*expected.shape, 4))
    for where, colour in ((expected & found, AGREE), (expected & ~found, LOST), (~expected & found, EXTRA)):
        layer[where] = (*colour, 0.7)
    ax.imshow(image.mean(axis=2), cmap="gray", vmin=0, vmax=255)
    ax.imshow(layer, extent=(0, image.shape[1], image.shape[0], 0), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if variant is None:
        return f"{reference['regions']} text regions"
    union = (expected | found).sum()
    iou = 1.0 if union == 0 else (expected & found).sum() / union
    return f"here map IoU {iou:.2f}, {variant['regions']} of {reference['regions']} regions"
