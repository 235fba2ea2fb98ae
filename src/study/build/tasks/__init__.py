"""What a trained model's outputs mean, per task: how to decode them and how close a variant's outputs are to
its fp32 reference at the level a user sees (boxes found, text regions, labels), not in raw numbers.

Each task is one file with ``decode(outputs)`` (a batch's outputs -> one result per sample),
``fidelity(reference, candidate)`` (both a batch's outputs -> a dict of metrics whose ``fidelity`` is 1.0 for
identical outputs and falls as they part) and ``describe(metrics)`` (those metrics in a few words). A task a reader
can see also has ``picture(outputs, image_shape)`` (the first sample's result, JSON-able, in the photograph's
pixels) and ``draw(ax, image, reference, variant)``. Adding a task = one file and a line here.
"""

from __future__ import annotations

from study.core.errors import StudyError
from study.core.registry import resolve

TASKS = {
    "face_detection": "study.build.tasks.face_detection",
    "text_detection": "study.build.tasks.text_detection",
    "classification": "study.build.tasks.classification",
}


def task(name: str):
    if name not in TASKS:
        raise StudyError(f"unknown task '{name}'. Fix: use one of {', '.join(TASKS)}")
    return resolve(TASKS[name])


def picture(name: str, outputs, image_shape: tuple[int, ...]) -> dict | None:
    """What a figure draws of the first sample's result, or None for a task with nothing to draw (a label)."""
    module = task(name)
    return module.picture(outputs, image_shape) if hasattr(module, "picture") else None
