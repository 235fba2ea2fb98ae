"""Labelled image datasets with group attributes, all available offline.

Every dataset is an ``ImageSet``: float32 images in NCHW at ``SIZE`` x ``SIZE``, integer labels, and one
or more group columns (a name per sample) whose accuracy the study reports separately.

Every builder makes its images at ``SIZE`` and ``load(ref, side)`` resizes them for a larger network (the 64x64
MobileNet sees the same images as the 16x16 ones, upsampled).

- ``digits``: scikit-learn's handwritten digits (real, ships in the package), upsampled from 8x8;
  groups: the class, and ink intensity tertile (light / medium / heavy pen strokes).
- ``tones``: generated shapes whose ``tone`` group changes appearance: ``light`` images are bright,
  high-contrast shapes; ``dark`` images are dim, low-contrast ones. The training split is imbalanced
  (``dark`` ~10%), the test split balanced, so a quantized model's loss on the minority shows.
- a path to a CSV with columns ``path,label,group``: your own images (paths relative to the CSV),
  resized to ``SIZE`` x ``SIZE`` RGB; labels are integers or names.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from study.core import paths
from study.core.errors import StudyError

SIZE = 16
SPLIT_SEED = 0  # the train/test split is fixed; training seeds vary the model only
CALIBRATION_COUNT = 64
MINORITY_SHARE = 0.25   # an appearance group under this share of training is a minority (tones' dark: ~10%)
CALIBRATION_MIXES = ("share", "removed", "over")  # post-training quantization sees the groups only through these


@dataclass
class ImageSet:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    groups_test: dict[str, np.ndarray]   # group column -> group name per test sample
    groups_train: dict[str, np.ndarray]
    classes: list[str]
    description: str

    def __post_init__(self):
        # runtimes such as ExecuTorch refuse strided views: every image array is C-contiguous float32
        self.x_train = np.ascontiguousarray(self.x_train, dtype=np.float32)
        self.x_test = np.ascontiguousarray(self.x_test, dtype=np.float32)

    @property
    def channels(self) -> int:
        return int(self.x_train.shape[1])

    def calibration(self, count: int = CALIBRATION_COUNT) -> np.ndarray:
        """Representative inputs for static quantization: the first ``count`` training images (seeded order), with
        a minority group held at its training share (the ``share`` mix of the calibration ablation)."""
        return self.calibration_mix("share", count)[0] if self.minority() else self.x_train[:count]

    def minority(self) -> tuple[str, str, float] | None:
        """The appearance group (never the class) rarest in training, as (column, group, training share), when it
        is under ``MINORITY_SHARE``; ``None`` for a balanced dataset."""
        rarest = None
        for column, names in self.groups_train.items():
            if column == "class":
                continue
            found, counts = np.unique(names, return_counts=True)
            share = counts.min() / counts.sum()
            if share < MINORITY_SHARE and (rarest is None or share < rarest[2]):
                rarest = (column, str(found[counts.argmin()]), float(share))
        return rarest

    def calibration_mix(self, mix: str, count: int = CALIBRATION_COUNT) -> tuple[np.ndarray, float]:
        """A calibration set with the minority group at its training ``share``, ``removed``, or ``over``-represented
        (half the set, its images repeated if too few), drawn in the training split's seeded order; returns the
        images and the minority's share of them."""
        column, group, _ = self.minority()
        is_minority = self.groups_train[column] == group
        if mix == "share":
            wanted = int(round(count * is_minority.mean()))
            chosen = np.sort(np.concatenate([np.flatnonzero(is_minority)[:wanted],
                                             np.flatnonzero(~is_minority)[:count - wanted]]))
        elif mix == "removed":
            chosen = np.flatnonzero(~is_minority)[:count]
        elif mix == "over":  # a small minority is repeated to fill its half
            others = np.flatnonzero(~is_minority)[:count - count // 2]
            chosen = np.concatenate([np.resize(np.flatnonzero(is_minority), len(others)), others])
        else:
            raise StudyError(f"unknown calibration mix '{mix}'. Fix: use one of: {', '.join(CALIBRATION_MIXES)}")
        return self.x_train[chosen], float(is_minority[chosen].mean())

    def resized(self, side: int) -> "ImageSet":
        if side == self.x_train.shape[-1]:
            return self
        return ImageSet(self.name, _resize(self.x_train, side), self.y_train, _resize(self.x_test, side), self.y_test,
                        self.groups_test, self.groups_train, self.classes,
                        f"{self.description}; resized to {side}x{side}")


def _split(n: int, test_fraction: float, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    cut = int(round(n * (1 - test_fraction)))
    return order[:cut], order[cut:]


def _resize(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of NCHW float images (numpy only, so datasets load without a framework)."""
    n, c, h, w = images.shape
    ys, xs = (np.linspace(0, d - 1, size) for d in (h, w))
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    wy, wx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = images[:, :, y0][:, :, :, x0] * (1 - wx) + images[:, :, y0][:, :, :, x1] * wx
    bottom = images[:, :, y1][:, :, :, x0] * (1 - wx) + images[:, :, y1][:, :, :, x1] * wx
    return (top * (1 - wy) + bottom * wy).astype(np.float32)


def digits() -> ImageSet:
    from sklearn.datasets import load_digits

    data = load_digits()
    images = _resize((data.images / 16.0).astype(np.float32)[:, None], SIZE)
    labels = data.target.astype(np.int64)
    ink = images.mean(axis=(1, 2, 3))
    cuts = np.quantile(ink, [1 / 3, 2 / 3])
    tertile = np.array(["light ink", "medium ink", "heavy ink"])[np.digitize(ink, cuts)]
    train, test = _split(len(labels), 0.3)
    standard = (images - 0.5) / 0.5
    groups = {"class": np.array([f"digit {d}" for d in labels]), "ink": tertile}
    return ImageSet("digits", standard[train], labels[train], standard[test], labels[test],
                    {k: v[test] for k, v in groups.items()}, {k: v[train] for k, v in groups.items()},
                    [str(d) for d in range(10)], "scikit-learn digits (1,797 real 8x8 scans, upsampled to 16x16)")


TONE_CLASSES = ["disc", "square", "ring", "cross"]


def _draw(shape: int, rng: np.random.Generator) -> np.ndarray:
    """One shape mask, with random position and size, on a SIZE x SIZE grid."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    cy, cx = rng.uniform(5, SIZE - 5, size=2)
    r = rng.uniform(3.0, 5.0)
    d = np.hypot(yy - cy, xx - cx)
    if shape == 0:
        return (d <= r).astype(np.float32)
    if shape == 1:
        return ((np.abs(yy - cy) <= r * 0.8) & (np.abs(xx - cx) <= r * 0.8)).astype(np.float32)
    if shape == 2:
        return ((d <= r) & (d >= r - 1.6)).astype(np.float32)
    return (((np.abs(yy - cy) <= 0.9) & (np.abs(xx - cx) <= r)) |
            ((np.abs(xx - cx) <= 0.9) & (np.abs(yy - cy) <= r))).astype(np.float32)


def _tone_images(count: int, dark_fraction: float, rng: np.random.Generator):
    labels = rng.integers(0, len(TONE_CLASSES), size=count)
    dark = rng.random(count) < dark_fraction
    images = np.empty((count, 3, SIZE, SIZE), dtype=np.float32)
    for i, (label, is_dark) in enumerate(zip(labels, dark)):
        mask = _draw(int(label), rng)
        hue = rng.uniform(0.6, 1.0, size=3)
        # light: bright shape on a mid-grey background; dark: dim shape barely above a dark background
        background, contrast = (0.35, 0.6) if not is_dark else (0.08, 0.22)
        image = background + contrast * mask[None] * hue[:, None, None]
        images[i] = image + rng.normal(0, 0.05, size=image.shape)
    return (images - 0.5) / 0.5, labels.astype(np.int64), np.where(dark, "dark", "light")


def tones(train_count: int = 2400, test_count: int = 1000, dark_fraction_train: float = 0.1,
          seed: int = 7) -> ImageSet:
    rng = np.random.default_rng(seed)
    x_train, y_train, g_train = _tone_images(train_count, dark_fraction_train, rng)
    x_test, y_test, g_test = _tone_images(test_count, 0.5, rng)
    return ImageSet("tones", x_train, y_train, x_test, y_test, {"tone": g_test, "class": np.array(TONE_CLASSES)[y_test]},
                    {"tone": g_train, "class": np.array(TONE_CLASSES)[y_train]}, TONE_CLASSES,
                    f"generated shapes, seed {seed}: tone 'dark' (dim, low contrast) is {dark_fraction_train:.0%} of "
                    f"{train_count} training images and half of {test_count} test images")


def image_folder(csv_path: Path, test_fraction: float = 0.3) -> ImageSet:
    """Your own images: ``path,label,group`` rows; a clear error names the first bad row."""
    from PIL import Image, UnidentifiedImageError

    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise StudyError(f"{csv_path}: dataset CSV not found. Fix: give a CSV with columns path,label,group")
    with open(csv_path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"path", "label", "group"} <= set(reader.fieldnames):
            raise StudyError(f"{csv_path}: expected columns path,label,group, found {reader.fieldnames}. Fix: write "
                             "a header line 'path,label,group'")
        rows = list(reader)
    if len(rows) < 4:
        raise StudyError(f"{csv_path}: {len(rows)} images. Fix: list at least 4 images (more for a meaningful test)")
    images = []
    for line, row in enumerate(rows, start=2):
        image_path = csv_path.parent / row["path"]
        try:
            with Image.open(image_path) as image:
                image = image.convert("RGB").resize((SIZE, SIZE), Image.BILINEAR)
                images.append(np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0)
        except (OSError, UnidentifiedImageError) as exc:
            raise StudyError(f"{csv_path}: line {line}: cannot read image {row['path']} ({type(exc).__name__}). "
                             "Fix: correct the path or remove the line") from None
    names = sorted({row["label"] for row in rows}, key=lambda v: (not v.isdigit(), int(v) if v.isdigit() else v))
    labels = np.array([names.index(row["label"]) for row in rows], dtype=np.int64)
    groups = np.array([row["group"] for row in rows])
    x = (np.stack(images) - 0.5) / 0.5
    train, test = _split(len(rows), test_fraction)
    return ImageSet(csv_path.stem, x[train], labels[train], x[test], labels[test], {"group": groups[test]},
                    {"group": groups[train]}, names, f"your images from {csv_path.name} ({len(rows)} images)")


BUILTIN = {"digits": digits, "tones": tones}


def load(ref: str, side: int = SIZE) -> ImageSet:
    if ref in BUILTIN:
        return BUILTIN[ref]().resized(side)
    path = Path(ref)
    if path.suffix == ".csv":
        return image_folder(path if path.is_absolute() else paths.root() / path).resized(side)
    raise StudyError(f"unknown dataset '{ref}'. Fix: use one of: {', '.join(BUILTIN)}, or a CSV path,label,group")
