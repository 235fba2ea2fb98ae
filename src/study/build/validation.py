"""The validation suite: the same inputs and expected outputs checked for every artifact.

Per model, a fixed seeded input set is saved once (``artifacts/<model>/validation/inputs.npy``) with
the source model's outputs on it (``reference.npy``). Each converted artifact is run on those inputs
in its own runtime and compared with three numbers; THRESHOLDS decide ``ok`` or ``mismatch``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VALIDATION_SAMPLES = 32


@dataclass(frozen=True)
class Thresholds:
    max_rel_diff: float    # max |artifact - reference| / max |reference|
    min_cosine: float      # worst per-sample cosine similarity of the output vectors
    min_top1: float        # share of samples whose arg-max class agrees


# fp32 conversions only reorder float arithmetic: differences of ~1e-6 relative are expected, 1e-3 is not.
# One top-1 flip in 32 is tolerated because near-ties in a 1000-way output can flip on rounding alone.
THRESHOLDS = {"fp32": Thresholds(max_rel_diff=1e-3, min_cosine=0.9999, min_top1=0.96)}
NEGLIGIBLE = 1e-4  # a sample's output norm below this share of the largest sample's: no direction to compare


def parity(outputs, reference) -> dict:
    """Agreement of an artifact's outputs with the reference outputs (same shape, one row per sample). A model
    with several outputs is compared on every one: the worst difference and cosine of any, top-1 of the first."""
    if isinstance(reference, tuple):
        if not isinstance(outputs, tuple) or len(outputs) != len(reference):
            raise ValueError(f"{len(outputs) if isinstance(outputs, tuple) else 1} outputs, the reference has "
                             f"{len(reference)}")
        each = [_parity(o, r) for o, r in zip(outputs, reference)]
        return {"max_abs_diff": max(e["max_abs_diff"] for e in each),
                "max_rel_diff": max(e["max_rel_diff"] for e in each),
                "cosine_min": min(e["cosine_min"] for e in each), "top1_agreement": each[0]["top1_agreement"]}
    return _parity(outputs, reference)


def _parity(outputs: np.ndarray, reference: np.ndarray) -> dict:
    outputs = np.asarray(outputs, dtype=np.float64).reshape(len(reference), -1)
    reference = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    if outputs.shape != reference.shape:
        raise ValueError(f"output shape {outputs.shape} differs from reference {reference.shape}")
    difference = np.abs(outputs - reference)
    scale = float(np.abs(reference).max()) or 1.0
    norms = np.linalg.norm(outputs, axis=1) * np.linalg.norm(reference, axis=1)
    cosine = np.where(norms > 0, (outputs * reference).sum(axis=1) / np.where(norms > 0, norms, 1), 1.0)
    # A sample whose output is rounding noise around zero (a text map of a photo without text: 1e-8 everywhere)
    # has no direction or arg-max to compare: its cosine is noise. Such samples are judged by max_rel_diff alone.
    reference_norms = np.linalg.norm(reference, axis=1)
    meaningful = reference_norms >= NEGLIGIBLE * reference_norms.max()
    cosine = np.where(meaningful, cosine, 1.0)
    same_top1 = (outputs.argmax(axis=1) == reference.argmax(axis=1)) | ~meaningful
    return {
        "max_abs_diff": float(difference.max()),
        "max_rel_diff": float(difference.max() / scale),
        "cosine_min": float(cosine.min()),
        "top1_agreement": float(same_top1.mean()),
    }


def informative(reference) -> dict:
    """Whether the reference can catch a wrong conversion: outputs that vary with the input.

    A near-uniform output (what a random-init ImageNet network gives) agrees with anything. Of several outputs,
    the first is judged.
    """
    reference = reference[0] if isinstance(reference, tuple) else reference
    flat = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    distinct = int(len(np.unique(flat.argmax(axis=1))))
    spread = float(np.std(flat, axis=0).mean() / (np.abs(flat).mean() or 1.0))
    return {"reference_distinct_top1": distinct, "reference_spread": spread,
            "reference_informative": bool(distinct >= 2 and spread > 1e-3)}


def verdict(metrics: dict, precision: str = "fp32") -> tuple[str, str]:
    """``ok`` or ``mismatch``, with the first threshold broken."""
    limits = THRESHOLDS[precision]
    if metrics["max_rel_diff"] > limits.max_rel_diff:
        return "mismatch", f"max relative difference {metrics['max_rel_diff']:.2e} > {limits.max_rel_diff:g}"
    if metrics["cosine_min"] < limits.min_cosine:
        return "mismatch", f"cosine similarity {metrics['cosine_min']:.6f} < {limits.min_cosine}"
    if metrics["top1_agreement"] is not None and metrics["top1_agreement"] < limits.min_top1:
        return "mismatch", f"top-1 agreement {metrics['top1_agreement']:.2%} < {limits.min_top1:.0%}"
    return "ok", ""


def run_in_chunks(predict, inputs, batch: int):
    """Outputs for every input through an artifact fixed at ``batch``, padding the last chunk. Several inputs
    (a tuple of arrays, samples stacked first) run one sample at a time; several outputs come back as a tuple."""
    if isinstance(inputs, tuple):
        # np.array, not ascontiguousarray: that one turns a 0-d input (a sample rate) into shape (1,)
        results = [predict(tuple(np.array(a[i]) for a in inputs)) for i in range(len(inputs[0]))]
        if isinstance(results[0], tuple):
            return tuple(np.stack([np.asarray(r[k]) for r in results]) for k in range(len(results[0])))
        return np.stack([np.asarray(r) for r in results])
    outputs = []
    for start in range(0, len(inputs), batch):
        chunk = inputs[start:start + batch]
        short = batch - len(chunk)
        if short:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], short, axis=0)])
        result = predict(np.ascontiguousarray(chunk))
        parts = result if isinstance(result, tuple) else (result,)
        outputs.append([np.asarray(part)[: batch - short] for part in parts])
    joined = tuple(np.concatenate([chunk[k] for chunk in outputs]) for k in range(len(outputs[0])))
    return joined if len(joined) > 1 else joined[0]
