"""Group metrics on tiny hand-made predictions whose answers are known, and the dataset generator."""

import numpy as np
import pytest

from study.build.quant import datasets
from study.analyze import quant_metrics as metrics

LABELS = [0, 0, 1, 1, 0, 1, 0, 1]
GROUPS = ["a", "a", "a", "a", "b", "b", "b", "b"]
FP32 = [0, 0, 1, 1, 0, 1, 0, 1]      # all right
QUANT = [0, 0, 1, 1, 1, 0, 0, 1]     # group b loses two of four


def test_group_table_known_answers():
    rows = {r["group"]: r for r in metrics.group_table(LABELS, FP32, QUANT, GROUPS, n_boot=200)}
    assert rows["all"]["acc_fp32"] == 1.0 and rows["all"]["acc"] == pytest.approx(0.75)
    assert rows["a"]["acc"] == 1.0 and rows["a"]["delta"] == 0.0 and rows["a"]["flip_rate"] == 0.0
    assert rows["b"]["acc"] == 0.5 and rows["b"]["delta"] == -0.5 and rows["b"]["flip_rate"] == 0.5
    assert rows["b"]["n"] == 4 and rows["all"]["n"] == 8
    assert rows["b"]["delta_ci_low"] <= -0.5 <= rows["b"]["delta_ci_high"] <= 0
    assert metrics.gap({g: rows[g]["acc_fp32"] for g in "ab"}) == 0.0
    assert metrics.gap({g: rows[g]["acc"] for g in "ab"}) == 0.5


def test_accuracy_ci_brackets_and_degenerates():
    acc, low, high = metrics.accuracy_ci([1] * 50 + [0] * 50, n_boot=500)
    assert acc == 0.5 and 0.38 < low < 0.5 < high < 0.62
    assert metrics.accuracy_ci([1, 1, 1]) == (1.0, 1.0, 1.0)


def test_flip_rate():
    assert metrics.flip_rate([1, 2, 3, 4], [1, 2, 0, 0]) == 0.5


def test_compression_identified_exemplars_use_the_modal_prediction():
    fp32 = [[0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 1, 3]]   # modal: 0 1 2 3
    quant = [[0, 2, 2, 0], [0, 2, 2, 3], [0, 1, 2, 0]]  # modal: 0 2 2 0
    assert metrics.compression_identified(fp32, quant).tolist() == [1, 3]


def test_welch_needs_two_seeds_and_detects_a_drop():
    t, p = metrics.welch([0.9], [0.8])
    assert np.isnan(t) and np.isnan(p)
    t, p = metrics.welch([0.90, 0.91, 0.92], [0.80, 0.81, 0.79])
    assert t < 0 and p < 0.01
    _, p_same = metrics.welch([0.90, 0.91, 0.92], [0.91, 0.90, 0.92])
    assert p_same > 0.5


def test_tones_has_the_documented_imbalance():
    data = datasets.tones(train_count=2000, test_count=400)
    train_dark = np.mean(data.groups_train["tone"] == "dark")
    test_dark = np.mean(data.groups_test["tone"] == "dark")
    assert 0.08 <= train_dark <= 0.12 and 0.42 <= test_dark <= 0.58
    assert data.x_train.shape == (2000, 3, datasets.SIZE, datasets.SIZE) and data.x_train.flags["C_CONTIGUOUS"]
    again = datasets.tones(train_count=2000, test_count=400)
    assert np.array_equal(again.x_test, data.x_test)  # seeded: the same dataset every time
    dark, light = data.x_test[data.groups_test["tone"] == "dark"], data.x_test[data.groups_test["tone"] == "light"]
    assert dark.std() < light.std() and dark.mean() < light.mean()  # the group changes appearance


def test_digits_groups_are_classes_and_ink_tertiles():
    data = datasets.digits()
    assert set(data.groups_test) == {"class", "ink"}
    counts = {g: np.sum(np.concatenate([data.groups_train["ink"], data.groups_test["ink"]]) == g)
              for g in ("light ink", "medium ink", "heavy ink")}
    assert max(counts.values()) - min(counts.values()) <= 3  # tertiles
    assert len(data.y_test) + len(data.y_train) == 1797


def test_your_own_image_folder(tmp_path):
    from PIL import Image

    rows = ["path,label,group"]
    for i in range(12):
        colour = (200, 50, 50) if i % 2 else (50, 50, 200)
        Image.new("RGB", (20, 20), colour).save(tmp_path / f"img{i}.png")
        rows.append(f"img{i}.png,{'red' if i % 2 else 'blue'},{'x' if i < 6 else 'y'}")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    data = datasets.load(str(tmp_path / "labels.csv"))
    assert data.classes == ["blue", "red"] and data.channels == 3
    assert len(data.y_train) + len(data.y_test) == 12 and set(data.groups_test) == {"group"}


def test_a_bad_image_folder_is_one_clear_error(tmp_path):
    from study.core.errors import StudyError

    (tmp_path / "labels.csv").write_text("path,label,group\n" + "".join(f"missing{i}.png,0,a\n" for i in range(5)))
    with pytest.raises(StudyError, match="line 2: cannot read image missing0.png.*Fix:"):
        datasets.load(str(tmp_path / "labels.csv"))
    (tmp_path / "bad.csv").write_text("file,class\nx.png,1\n")
    with pytest.raises(StudyError, match="expected columns path,label,group.*Fix:"):
        datasets.load(str(tmp_path / "bad.csv"))
