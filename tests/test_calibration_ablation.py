"""The calibration-set ablation: the mixes hold the minority at its share, remove it, over-represent it; the table
judges how far each mix moves the minority's accuracy change, paired by seed."""

import numpy as np
import pytest

from study.analyze import verdicts
from study.build.quant import datasets
from study.analyze import quant_tables as tables


def test_the_mixes_hold_the_minority_where_they_say():
    tones = datasets.load("tones")
    column, group, share = tones.minority()
    assert (column, group) == ("tone", "dark") and 0.05 < share < 0.15
    for mix, expected in (("share", share), ("removed", 0.0), ("over", 0.5)):
        images, found = tones.calibration_mix(mix)
        assert len(images) == datasets.CALIBRATION_COUNT
        assert found == pytest.approx(expected, abs=1 / datasets.CALIBRATION_COUNT), mix
    assert np.array_equal(tones.calibration(), tones.calibration_mix("share")[0])  # the main variants' set
    assert datasets.load("digits").minority() is None  # balanced ink tertiles: nothing to ablate


def _build(seed: int, removed_wrong: int) -> dict:
    """40 test images, the first 10 of the minority; fp32 right on all; 'removed' gets ``removed_wrong`` minority
    images wrong, the share and over mixes get one wrong."""
    labels = [0] * 40
    groups = ["dark"] * 10 + ["light"] * 30

    def predictions(wrong: int) -> list[int]:
        return [1] * wrong + [0] * (40 - wrong)

    ok = {"status": "ok"}
    variants = {"onnxruntime/fp32": {**ok, "predictions": predictions(0)},
                "onnxruntime/qdq-int8-channel": {**ok, "predictions": predictions(1)}}
    mix = {"runtime": "onnxruntime", "scheme": "qdq-int8-channel"}
    ablation = {"group_by": "tone", "minority": "dark", "training_share": 0.1, "variants": {
        "onnxruntime/qdq-int8-channel/share": {**mix, "mix": "share", "minority_share": 0.1,
                                               "same_as": "onnxruntime/qdq-int8-channel"},
        "onnxruntime/qdq-int8-channel/removed": {**mix, **ok, "mix": "removed", "minority_share": 0.0,
                                                 "predictions": predictions(removed_wrong)},
        "onnxruntime/qdq-int8-channel/over": {**mix, **ok, "mix": "over", "minority_share": 0.5,
                                              "predictions": predictions(1)}}}
    return {"status": "ok", "build": {"dataset": "tones", "model": "m", "seed": seed, "labels": labels,
                                      "groups": {"tone": groups}, "variants": variants,
                                      "calibration_ablation": ablation}}


def test_the_ablation_table_judges_each_mix_against_the_share(monkeypatch):
    monkeypatch.setattr(tables, "_builds", lambda profile: [_build(seed, 4 + seed % 2) for seed in range(3)])
    table = tables.calibration_rows(profile=None).set_index("mix")
    assert set(table.index) == {"share", "removed", "over"} and (table["seeds"] == 3).all()
    assert table.at["share", "minority_delta_pp"] == pytest.approx(-10.0)  # one of ten minority images lost
    removed = table.loc["removed"]
    # 4, 5, 4 wrong against 1: the minority loses 30-40 pp more without it in calibration, in every seed
    assert removed["change_vs_share_pp"] == pytest.approx(-100 * (3 + 4 + 3) / 30)
    assert removed["change_ci_high_pp"] < -1 and removed["verdict"] == verdicts.SUPPORTED
    assert table.at["over", "change_vs_share_pp"] == 0 and table.at["over", "verdict"] == verdicts.CONTRADICTED
    assert table.at["removed", "others_delta_pp"] == 0  # the majority is untouched
