"""Real photographs and scanned text that ship inside scikit-image's wheel (``skimage/data``), and the
preprocessing each shipped model expects. Random inputs hide divergences that real images show (a saturated
output agrees with anything), so the shipped models are validated, calibrated and judged on these.

The images are read with Pillow from the installed package's folder; nothing is downloaded. Which image serves
which purpose is fixed here, so calibration never sees a fidelity image.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from study.core.errors import StudyError

FACES = ("astronaut.png",)                     # one face each
NO_FACES = ("chelsea.png", "coffee.png", "rocket.jpg", "camera.png")  # a cat, a cup, a launch, a cameraman's back
TEXT_PAGES = ("page.png", "text.png")          # printed text on paper, and text on a textured background


def data_dir() -> Path:
    from importlib.util import find_spec

    found = find_spec("skimage")
    if found is None or not found.submodule_search_locations:
        raise StudyError("scikit-image is not installed, so its sample images are missing. Fix: make env "
                         "(it is pinned in requirements.lock)")
    return Path(next(iter(found.submodule_search_locations))) / "data"


@lru_cache(maxsize=None)
def image(name: str) -> np.ndarray:
    """One sample image as RGB uint8 (H, W, 3); greyscale images get three equal channels. Read-only: every
    caller shares the cached array."""
    from PIL import Image

    path = data_dir() / name
    if not path.is_file():
        raise StudyError(f"{path}: no such sample image in scikit-image. Fix: make env (scikit-image 0.25.2)")
    with Image.open(path) as opened:
        pixels = np.array(opened.convert("RGB"))
    pixels.setflags(write=False)
    return pixels


@lru_cache(maxsize=1)
def lfw_crops() -> np.ndarray:
    """scikit-image's 200 Labeled Faces in the Wild crops (25x25 greyscale, floats in [0, 1]): the first 100 are
    faces, the rest are not (fp32 BlazeFace finds a face in 99 of the first and 1 of the rest)."""
    crops = np.load(data_dir() / "lfw_subset.npy", allow_pickle=False)
    crops.setflags(write=False)
    return crops


def lfw_rgb(crops: np.ndarray) -> list[np.ndarray]:
    return [np.repeat((crop * 255).astype(np.uint8)[..., None], 3, axis=2) for crop in crops]


def resize(image_rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(image_rgb).resize((width, height), Image.BILINEAR))


def letterbox(image_rgb: np.ndarray, height: int, width: int, fill: int = 0) -> tuple[np.ndarray, dict]:
    """The image scaled to fit (height, width) with its aspect ratio kept, padded at the bottom and right with
    ``fill``; the scale and the content's size are returned so boxes can be mapped back to the image."""
    scale = min(height / image_rgb.shape[0], width / image_rgb.shape[1])
    inner_h, inner_w = max(1, round(image_rgb.shape[0] * scale)), max(1, round(image_rgb.shape[1] * scale))
    canvas = np.full((height, width, 3), fill, dtype=np.uint8)
    canvas[:inner_h, :inner_w] = resize(image_rgb, inner_h, inner_w)
    return canvas, {"scale": scale, "content_height": inner_h, "content_width": inner_w}


def crops(image_rgb: np.ndarray, side: int, count: int, seed: int) -> list[np.ndarray]:
    """``count`` square crops of a seeded random size (half to all of the short side) and place."""
    rng = np.random.default_rng(seed)
    short = min(image_rgb.shape[:2])
    out = []
    for _ in range(count):
        size = int(rng.integers(short // 2, short + 1))
        top = int(rng.integers(0, image_rgb.shape[0] - size + 1))
        left = int(rng.integers(0, image_rgb.shape[1] - size + 1))
        out.append(resize(np.ascontiguousarray(image_rgb[top:top + size, left:left + size]), side, side))
    return out


def text_lines(image_rgb: np.ndarray, min_height: int = 6) -> list[np.ndarray]:
    """The horizontal bands of a page that hold ink, each a text line crop: pixels darker than their own
    neighbourhood's paper (a scanned page is unevenly lit) by a margin, rows with enough of them grouped into
    runs at least ``min_height`` high."""
    from scipy.ndimage import maximum_filter

    grey = image_rgb.mean(axis=2)
    paper = maximum_filter(grey, size=15)
    inked = (grey < paper - 50).mean(axis=1) > 0.02
    lines, start = [], None
    for row, has_ink in enumerate(np.append(inked, False)):
        if has_ink and start is None:
            start = row
        elif not has_ink and start is not None:
            if row - start >= min_height:
                pad = max(2, (row - start) // 4)
                lines.append(image_rgb[max(0, start - pad): row + pad])
            start = None
    return lines
