"""A user's own inputs (``study compare --inputs``), checked against the model and saved as the validation suite
saves its inputs, so parity is judged on what the model will really see.

- ``.npy``: the samples of a one-input model, stacked first (``N x C x H x W`` for a ``C x H x W`` input; one
  sample without the leading N is taken as N = 1);
- ``.npz``: one array per input, by the input's name (or ``arr_0``, ``arr_1``... in the inputs' order); for a model
  with several inputs, each array holds N samples of that input's full shape;
- a folder of images (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``): resized to the model's input, with the
  preprocessing stated (``--preprocess``): ``imagenet`` (RGB in [0, 1], ImageNet mean and std), ``unit`` ([0, 1]),
  ``signed`` ([-1, 1]) or ``raw`` (0-255).

Nothing is unpickled (``allow_pickle=False``); every problem is one StudyError line with the fix.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from study.build.models.spec import ModelSpec
from study.core.errors import StudyError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
PREPROCESSING = ("imagenet", "unit", "signed", "raw")
MAX_SAMPLES = 256  # parity on more than this adds time, not evidence
IMAGENET_MEAN, IMAGENET_STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def _wanted(spec: ModelSpec) -> list[dict]:
    """Each input's name, per-sample shape and dtype, as the model declares them."""
    if spec.inputs:
        return [{"name": i["name"], "shape": tuple(i["shape"]), "dtype": i["dtype"], "full": True}
                for i in spec.inputs if "value" not in i]
    return [{"name": "input", "shape": tuple(spec.input_shape), "dtype": "float32", "full": False}]


def _checked(array: np.ndarray, wanted: dict, where: str) -> np.ndarray:
    shape = wanted["shape"]
    if array.dtype == object:
        raise StudyError(f"{where}: holds Python objects, not numbers. Fix: save a numeric array")
    if tuple(array.shape) == shape:
        array = array[None]
    if tuple(array.shape[1:]) != shape:
        name = "the model's input" if not wanted["full"] else f"input '{wanted['name']}'"
        raise StudyError(f"{where}: shape {'x'.join(map(str, array.shape))} does not fit {name}, "
                         f"{'x'.join(map(str, shape))} per sample. Fix: give N x "
                         f"{'x'.join(map(str, shape))} (N samples stacked first)")
    if not len(array):
        raise StudyError(f"{where}: no samples. Fix: give at least one")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise StudyError(f"{where}: holds NaN or infinite values. Fix: give finite inputs")
    return np.ascontiguousarray(array[:MAX_SAMPLES].astype(wanted["dtype"], copy=False))


def _npz(path: Path, wanted: list[dict]) -> list[np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            arrays = []
            for index, item in enumerate(wanted):
                key = item["name"] if item["name"] in names else f"arr_{index}" if f"arr_{index}" in names else None
                if key is None:
                    raise StudyError(f"{path}: no array for input '{item['name']}' (it holds {', '.join(names)}). "
                                     f"Fix: save one array per input, named as the model's inputs: "
                                     f"{', '.join(w['name'] for w in wanted)}")
                arrays.append(_checked(archive[key], item, f"{path}[{key}]"))
            return arrays
    except (ValueError, OSError, EOFError) as exc:
        raise StudyError(f"{path}: not a readable .npz ({type(exc).__name__}). Fix: save it with numpy.savez") from None


def _images(folder: Path, wanted: dict, preprocess: str | None) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:MAX_SAMPLES]
    if not files:
        raise StudyError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}). Fix: give a folder of images, or a "
                         ".npy or .npz file")
    if preprocess not in PREPROCESSING:
        raise StudyError(f"--inputs {folder}: a folder of images needs its preprocessing stated. Fix: add "
                         f"--preprocess with one of {', '.join(PREPROCESSING)}")
    shape = wanted["shape"]
    if len(shape) != 3 or not (shape[0] in (1, 3) or shape[-1] in (1, 3)):
        raise StudyError(f"--inputs {folder}: the model's input {'x'.join(map(str, shape))} is not an image "
                         "(C x H x W or H x W x C). Fix: give a .npy or .npz of its inputs")
    channels_first = shape[0] in (1, 3)  # C x H x W (PyTorch's habit) unless the first dimension cannot be channels
    channels, height, width = (shape[0], shape[1], shape[2]) if channels_first else (shape[2], shape[0], shape[1])
    samples = []
    for file in files:
        try:
            with Image.open(file) as image:
                pixels = np.asarray(image.convert("RGB" if channels == 3 else "L").resize((width, height)),
                                    dtype=np.float32)
        except (UnidentifiedImageError, OSError) as exc:
            raise StudyError(f"{file}: not a readable image ({type(exc).__name__}). Fix: remove it from the "
                             "folder") from None
        pixels = pixels.reshape(height, width, channels)
        if preprocess == "imagenet" and channels == 3:
            pixels = (pixels / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
        elif preprocess in ("unit", "imagenet"):
            pixels = pixels / 255.0
        elif preprocess == "signed":
            pixels = pixels / 127.5 - 1.0
        samples.append(pixels.transpose(2, 0, 1) if channels_first else pixels)
    return _checked(np.stack(samples).astype(np.float32), wanted, str(folder))


def load_user_inputs(given: str | Path, spec: ModelSpec, preprocess: str | None = None):
    """The user's inputs as the validation suite holds them: one array (samples first), or for a model with
    several inputs a tuple with one per input (values the model fixes, ``sr:=16000``, filled in)."""
    path = Path(given).expanduser()
    wanted = _wanted(spec)
    if not path.exists():
        raise StudyError(f"--inputs {given}: not found. Fix: give a .npy, a .npz or a folder of images")
    if path.is_dir():
        if len(wanted) != 1:
            raise StudyError(f"--inputs {given}: images can feed a model with one input; this one has "
                             f"{len(wanted)}. Fix: give a .npz with one array per input")
        arrays = [_images(path, wanted[0], preprocess)]
    elif path.suffix == ".npz":
        arrays = _npz(path, wanted)
    elif path.suffix == ".npy":
        if len(wanted) != 1:
            raise StudyError(f"--inputs {given}: one array for a model with {len(wanted)} inputs. Fix: give a .npz "
                             f"with one array per input ({', '.join(w['name'] for w in wanted)})")
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise StudyError(f"{given}: not a readable .npy ({type(exc).__name__}). Fix: save it with numpy.save") \
                from None
        arrays = [_checked(array, wanted[0], str(given))]
    else:
        raise StudyError(f"--inputs {given}: expected a .npy, a .npz or a folder of images. Fix: save your inputs "
                         "with numpy.save or numpy.savez")
    count = min(len(a) for a in arrays)
    if not spec.inputs:
        return arrays[0][:count]
    given_arrays = iter(arrays)
    full = []
    for item in spec.inputs:  # every input in the model's order, fixed values broadcast to each sample
        if "value" in item:
            full.append(np.full((count, *item["shape"]), item["value"], dtype=item["dtype"]))
        else:
            full.append(next(given_arrays)[:count])
    return tuple(full)


def inputs_digest(arrays) -> str:
    parts = arrays if isinstance(arrays, tuple) else (arrays,)
    digest = hashlib.sha256()
    for part in parts:
        digest.update(str(part.shape).encode() + str(part.dtype).encode() + part.tobytes())
    return digest.hexdigest()[:16]
