"""Face detection with BlazeFace (MediaPipe's short-range detector): 896 anchors, each with 16 box values
(centre offset, width, height, six key points, in input pixels) and one score logit.

Decoding follows MediaPipe's face_detection_short_range graph: SSD anchors on a 16x16 grid (2 per cell) and an
8x8 grid (6 per cell), fixed size, centred in their cells; a detection is an anchor whose sigmoid score is at
least 0.5; overlapping detections (IoU above 0.3) are reduced to the highest-scoring one (MediaPipe blends them,
a weighted NMS; plain NMS keeps the same faces). Boxes are (x0, y0, x1, y1) in [0, 1] of the model's input.

A variant is faithful when it finds the reference's boxes: boxes matched one to one at IoU >= 0.5, giving the
variant's recall and precision against fp32's boxes, the mean IoU of the matches and the mean score shift.
"""

from __future__ import annotations

import numpy as np

SIDE = 128
MIN_SCORE = 0.5
NMS_IOU = 0.3
MATCH_IOU = 0.5


def anchors() -> np.ndarray:
    """(896, 2) anchor centres in [0, 1], in the order of the model's outputs."""
    centres = []
    for grid, per_cell in ((16, 2), (8, 6)):
        for y in range(grid):
            for x in range(grid):
                centres += [((x + 0.5) / grid, (y + 0.5) / grid)] * per_cell
    return np.asarray(centres, dtype=np.float64)


def _split(outputs) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (N, 896, 16), score logits (N, 896)) whatever order a runtime returns the two outputs in."""
    arrays = [np.asarray(o, dtype=np.float64) for o in (outputs if isinstance(outputs, tuple) else (outputs,))]
    boxes = next((a for a in arrays if a.shape[-1] == 16), None)
    scores = next((a for a in arrays if a.shape[-1] == 1 or a.ndim == 2), None)
    if boxes is None or scores is None:
        raise ValueError(f"BlazeFace outputs expected: 896x16 boxes and 896 scores, got {[a.shape for a in arrays]}")
    return boxes.reshape(len(boxes), -1, 16), scores.reshape(len(scores), -1)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (n, 4) with every box in ``b`` (m, 4)."""
    a, b = np.asarray(a, dtype=np.float64).reshape(-1, 4), np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _one(boxes: np.ndarray, logits: np.ndarray, centres: np.ndarray) -> dict:
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -100, 100)))
    keep = np.flatnonzero(scores >= MIN_SCORE)
    keep = keep[np.argsort(-scores[keep], kind="stable")]
    cx = boxes[keep, 0] / SIDE + centres[keep, 0]
    cy = boxes[keep, 1] / SIDE + centres[keep, 1]
    w, h = boxes[keep, 2] / SIDE, boxes[keep, 3] / SIDE
    candidates = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    chosen: list[int] = []
    for i in range(len(keep)):
        if not chosen or iou(candidates[i], candidates[chosen]).max() <= NMS_IOU:
            chosen.append(i)
    return {"boxes": candidates[chosen], "scores": scores[keep][chosen]}


def decode(outputs) -> list[dict]:
    """Per sample: ``boxes`` (k, 4) in [0, 1] of the input and their ``scores``, best first."""
    boxes, logits = _split(outputs)
    centres = anchors()
    return [_one(b, s, centres) for b, s in zip(boxes, logits)]


def match(expected: dict, found: dict) -> list[tuple[int, int, float]]:
    """Greedy one-to-one matching at IoU >= 0.5, best pairs first: (reference box, variant box, IoU)."""
    if not len(expected["boxes"]) or not len(found["boxes"]):
        return []
    overlaps = iou(expected["boxes"], found["boxes"])
    pairs, used_e, used_f = [], set(), set()
    for flat in np.argsort(-overlaps, axis=None, kind="stable"):
        i, j = np.unravel_index(flat, overlaps.shape)
        if overlaps[i, j] < MATCH_IOU:
            break
        if i not in used_e and j not in used_f:
            pairs.append((int(i), int(j), float(overlaps[i, j])))
            used_e.add(i)
            used_f.add(j)
    return pairs


def fidelity(reference, candidate) -> dict:
    expected_all, found_all = decode(reference), decode(candidate)
    n_expected = sum(len(e["boxes"]) for e in expected_all)
    n_found = sum(len(f["boxes"]) for f in found_all)
    pairs = [(e, f, m) for e, f in zip(expected_all, found_all) for m in match(e, f)]
    matched = len(pairs)
    recall = 1.0 if n_expected == 0 else matched / n_expected
    precision = 1.0 if n_found == 0 else matched / n_found
    f1 = 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)
    return {"fidelity": f1, "recall": recall, "precision": precision,
            "mean_iou": float(np.mean([m[2] for _, _, m in pairs])) if pairs else (1.0 if n_expected == n_found == 0
                                                                                   else 0.0),
            "score_shift": float(np.mean([abs(f["scores"][m[1]] - e["scores"][m[0]]) for e, f, m in pairs]))
            if pairs else 0.0,
            "boxes_reference": n_expected, "boxes_variant": n_found, "samples": len(expected_all)}


def describe(judged: dict) -> str:
    return f"all {judged['samples']} images: recall {judged['recall']:.2f}, precision {judged['precision']:.2f}"


def picture(outputs, image_shape: tuple[int, ...]) -> dict:
    """The first sample's boxes in the pixels of the photograph it was letterboxed from (letterboxing pads at the
    bottom and right, so a box maps back by the scale alone), for a figure to draw on that photograph."""
    first = decode(tuple(np.asarray(o)[:1] for o in outputs) if isinstance(outputs, tuple)
                   else np.asarray(outputs)[:1])[0]
    scale = min(SIDE / image_shape[0], SIDE / image_shape[1])
    return {"boxes": np.round(first["boxes"] * SIDE / scale, 1).tolist(),
            "scores": np.round(first["scores"], 3).tolist()}


def _arrays(picture_of: dict) -> dict:
    return {"boxes": np.asarray(picture_of["boxes"], dtype=np.float64).reshape(-1, 4),
            "scores": np.asarray(picture_of["scores"], dtype=np.float64)}


def draw(ax, image: np.ndarray, reference: dict, variant: dict | None) -> str:
    """The photograph with the fp32 file's boxes (dashed white) and the variant's (green where it matches one at
    IoU >= 0.5, red where it does not), zoomed on the boxes; returns a caption."""
    from matplotlib.patches import Rectangle

    ax.imshow(image)
    for x0, y0, x1, y1 in reference["boxes"]:
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="white", lw=1.4, ls="--"))
    if variant is None:
        caption = f"{len(reference['boxes'])} face(s)"
    else:
        expected, found = _arrays(reference), _arrays(variant)
        matched = {j for _, j, _ in match(expected, found)}
        for j, ((x0, y0, x1, y1), score) in enumerate(zip(found["boxes"], found["scores"])):
            colour = "#2e7d32" if j in matched else "#c62828"
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec=colour, lw=1.6))
            ax.text(x0, y0 - 4, f"{score:.2f}", color="white", fontsize=6.5, va="bottom",
                    bbox={"facecolor": colour, "edgecolor": "none", "pad": 1})
        caption = f"here {len(matched)} of {len(expected['boxes'])} found, {len(found['boxes']) - len(matched)} extra"
    every = list(reference["boxes"]) + list((variant or {}).get("boxes", []))
    if every:  # a face is a small part of the photograph: show the region the boxes are in
        boxes = np.asarray(every, dtype=np.float64)
        x0, y0 = boxes[:, :2].min(axis=0)
        x1, y1 = boxes[:, 2:].max(axis=0)
        margin = max(x1 - x0, y1 - y0)
        ax.set_xlim(max(0, x0 - margin), min(image.shape[1], x1 + margin))
        ax.set_ylim(min(image.shape[0], y1 + margin), max(0, y0 - margin))
    ax.set_xticks([])
    ax.set_yticks([])
    return caption
