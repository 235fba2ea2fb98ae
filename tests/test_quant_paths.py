"""Every quantizer path makes a runnable artifact on a tiny model; the profile's tables come from them."""

import numpy as np
import pytest

from study.build.quant.quantizers import VARIANTS


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    rows = ["path,label,group"]
    for i in range(40):
        label = i % 2
        pixels = rng.integers(0, 60, size=(16, 16, 3)).astype(np.uint8)
        pixels[4:12, 4:12, label] = 220 if i < 32 else 120  # the last 8: a dimmer minority group
        Image.fromarray(pixels).save(root / f"{i}.png")
        rows.append(f"{i}.png,{label},{'bright' if i < 32 else 'dim'}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root / "labels.csv"


@pytest.mark.parametrize("model", ["plain_cnn", "keras_mobilenet_small"])
def test_every_quantizer_path_runs(model, tiny_folder, tmp_path):
    from study.build.quant.build import build
    from study.build.quant.nets import QUANT_MODELS

    record = build(str(tiny_folder), model, seed=0, epochs=1, directory=tmp_path, threads=1, log=lambda line: None)
    framework = QUANT_MODELS[model].framework
    expected = {k for k, v in VARIANTS.items() if framework in v.frameworks}
    assert set(record["variants"]) == expected
    for key, variant in record["variants"].items():
        assert variant["status"] == "ok", (key, variant.get("error"))
        assert variant["bytes"] > 0 and len(variant["predictions"]) == len(record["labels"])
    quantized = [v for v in record["variants"].values() if v["precision"] == "int8"]
    fp32 = {v["runtime"]: v for v in record["variants"].values() if v["scheme"] == "fp32"}
    assert all(v["bytes"] < fp32[v["runtime"]]["bytes"] for v in quantized)  # int8 weights are smaller
    # the dim images are a minority of training: each runtime's per-channel static int8 variant is recalibrated
    # without them and with them over-represented
    ablation = record["calibration_ablation"]
    assert (ablation["group_by"], ablation["minority"]) == ("group", "dim")
    made = {k: v for k, v in ablation["variants"].items() if not v.get("same_as")}
    assert {v["mix"] for v in made.values()} == {"removed", "over"} and len(made) == 4
    for key, variant in made.items():
        assert variant["status"] == "ok", (key, variant.get("error"))
        assert variant["minority_share"] == (0.0 if variant["mix"] == "removed" else 0.5)
        assert len(variant["predictions"]) == len(record["labels"])


def test_profile_tables_and_claims(tiny_study):
    from study.analyze.quant_tables import load_tables
    from study.core.schema import LATENCY_COLUMNS

    tables = load_tables("tiny")
    summary = tables["summary"]
    assert set(summary["runtime"] + "/" + summary["scheme"]) == {k for k, v in VARIANTS.items() if "torch" in v.frameworks}
    assert (summary["status"] == "ok").all(), summary[["runtime", "scheme", "error"]]
    int8 = summary[summary["precision"] == "int8"]
    assert (int8["size_reduction_pct"] > 50).all() and int8["speedup"].notna().all()
    groups = tables["groups"]
    assert set(groups["group_by"]) == {"class", "ink"} and (groups["n"] > 0).all()
    from study.analyze.verdicts import NOT_COMPARABLE, OUTCOMES

    claims = tables["claims"].set_index("claim")["verdict"]
    assert set(claims) <= set(OUTCOMES) and len(claims) == 4
    # a tiny trained network's speed and size say nothing of a MobileNet's: judged not comparable
    assert claims["int8 quantization made the model 3x faster"] == claims["75% size reduction"] == NOT_COMPARABLE
    timed = tables["latency"]  # every timed variant has latency.csv's columns, measured by the same engine
    assert set(LATENCY_COLUMNS) <= set(timed.columns) and (timed["status"] == "ok").all()
    assert timed["rss_peak_mib"].notna().all() and timed["first_ms"].notna().all()
