"""Classification: the label is the arg-max of the scores; a variant is faithful when it picks the same label."""

from __future__ import annotations

import numpy as np


def decode(outputs) -> np.ndarray:
    scores = outputs[0] if isinstance(outputs, tuple) else outputs
    return np.asarray(scores).reshape(len(scores), -1).argmax(axis=1)


def fidelity(reference, candidate) -> dict:
    expected, found = decode(reference), decode(candidate)
    return {"fidelity": float((expected == found).mean()), "label_agreement": float((expected == found).mean()),
            "samples": int(len(expected))}


def describe(judged: dict) -> str:
    return f"all {judged['samples']} inputs: {judged['label_agreement']:.0%} same label"


def accuracy(outputs, labels) -> float:
    """Against known answers, where the inputs have them (the line pieces: upright 0, turned 1)."""
    return float((decode(outputs) == np.asarray(labels)).mean())
