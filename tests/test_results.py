import json
import os

import pandas as pd
import pytest

from study.core import fsutil
from study.core.errors import StudyError
from study.core.store import ResultsStore, load_latency
from study.core.schema import LATENCY_COLUMNS


def record(case_id, p50=1.0, samples=(1.0, 1.0, 1.0)):
    row = {column: None for column in LATENCY_COLUMNS}
    row.update(case_id=case_id, model="m", runtime="r", status="ok", p50_ms=p50)
    return {"case_id": case_id, "status": "ok", "inputs": {"id": case_id}, "row": row,
            "warmup_ms": [9.0], "samples_ms": list(samples)}


def test_put_get_and_tables_follow_the_plan(study_root):
    store = ResultsStore("p")
    for case_id in ("b", "a", "c"):
        store.put(record(case_id))
    table = store.write_tables(["a", "b", "missing"])
    assert list(table["case_id"]) == ["a", "b"]
    on_disk = pd.read_csv(store.latency_csv)
    assert list(on_disk.columns) == list(LATENCY_COLUMNS)
    assert list(on_disk["case_id"]) == ["a", "b"]
    samples = pd.read_csv(store.samples_csv)
    assert len(samples) == 2 * (1 + 3)
    assert set(samples["phase"]) == {"warmup", "timed"}


def test_rewriting_a_case_never_duplicates_its_row(study_root):
    store = ResultsStore("p")
    store.put(record("a", samples=(1.0, 1.0, 1.0)))
    store.put(record("a", samples=(2.0, 2.0, 2.0)))
    table = store.write_tables(["a"])
    assert len(table) == 1 and table["p50_ms"].iloc[0] == 2.0  # the statistics of the samples the record keeps


def test_atomic_write_keeps_the_old_file_when_interrupted(study_root, monkeypatch):
    store = ResultsStore("p")
    store.put(record("a", p50=1.0))

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.put(record("a", p50=2.0))
    monkeypatch.undo()
    assert store.get("a")["row"]["p50_ms"] == 1.0
    assert [p.name for p in store.cases_dir.iterdir()] == ["a.json"]  # no temporary file left behind


def test_atomic_write_creates_parents(tmp_path):
    target = tmp_path / "x" / "y" / "f.json"
    fsutil.write_json_atomic(target, {"k": 1})
    assert json.loads(target.read_text()) == {"k": 1}


@pytest.mark.parametrize("content, expected", [
    ('{"case_id": "a", "status": "ok", "inp', "torn or corrupt (JSONDecodeError)"),
    ('{"case_id": "a"}', "lacks status, inputs"),
    ('{"case_id": "zz", "status": "ok", "inputs": {}}', "names case zz but is filed as a"),
    ('[1, 2]', "lacks case_id"),
])
def test_a_torn_record_is_moved_to_quarantine_with_one_line_and_its_case_reads_unmeasured(study_root, content,
                                                                                          expected, capsys):
    store = ResultsStore("p")
    store.put(record("b"))
    store.cases_dir.joinpath("a.json").write_text(content)
    assert store.get("a") is None  # measured again by the next run
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("results/p/cases/a.json: ") and expected in line and "quarantine" in line
    (kept,) = (study_root / "results" / "p" / "quarantine" / "cases").glob("a.*.json")
    assert kept.read_text() == content and not store.cases_dir.joinpath("a.json").exists()
    assert store.get("b") is not None and [r["case_id"] for r in store.records()] == ["b"]  # nothing else lost


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_a_damaged_latency_table_is_rebuilt_from_the_records_whatever_the_cache_key_says(study_root, damage, capsys):
    store = ResultsStore("p")
    store.put(record("b"))
    table = store.write_tables(["b"])
    text = store.latency_csv.read_text()
    store.latency_csv.write_text({"empty": "", "truncated": text[: len(text) // 2],
                                  "garbage": "\x00\x01 not,a\ncsv\x02"}[damage])
    rebuilt = store.write_tables(["b"])  # the key file says nothing changed: the damage is seen all the same
    assert "results/p/latency.csv" in capsys.readouterr().err and store.latency_csv.read_text() == text
    assert list(rebuilt.columns) == list(table.columns)


def test_load_latency_without_results_says_how_to_measure(study_root):
    with pytest.raises(StudyError, match="python -m study bench --profile nothing"):
        load_latency("nothing")


def test_load_latency_rejects_a_damaged_table(study_root):
    store = ResultsStore("p")
    store.directory.mkdir(parents=True)
    store.latency_csv.write_text("model,runtime\nm,r\n")
    with pytest.raises(StudyError, match="lacks columns"):
        load_latency("p")
