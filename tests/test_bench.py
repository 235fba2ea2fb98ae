"""The whole pipeline on the tiny digits model, each case in its own subprocess."""

import json
import os
import stat
import sys

import pandas as pd
import pytest

import study.measure.cases as cases_module
import study.phases.latency as latency_module
from helpers import TINY_PROFILE, write_profile
from study.phases.bench import bench
from study.build.convert import artifact_path, ensure_artifact, file_sha256
from study.core.isolate import run_isolated
from study.core.store import ResultsStore


def counting(monkeypatch, interrupt_at=None):
    """Wrap measure_case to count calls, optionally raising KeyboardInterrupt on call number ``interrupt_at``."""
    calls = []
    real = cases_module.measure_case

    def wrapped(case, log_dir=None, launcher=None):
        calls.append(case.case_id)
        if interrupt_at is not None and len(calls) == interrupt_at:
            raise KeyboardInterrupt
        return real(case, log_dir, launcher)

    monkeypatch.setattr(cases_module, "measure_case", wrapped)
    return calls


def test_every_case_measured_then_skipped(tiny_study, monkeypatch):
    table = pd.read_csv(ResultsStore("tiny").latency_csv)
    assert len(table) == 6  # 3 runtimes x 2 batch sizes
    assert (table["status"] == "ok").all(), table[["runtime", "batch", "error"]]
    assert (table["n_runs"] >= 5).all()
    assert (table["p50_ms"] > 0).all() and (table["ci_low_ms"] <= table["p50_ms"]).all()
    assert (table["rss_peak_mib"] >= table["rss_import_mib"]).all()
    assert set(table["measurement"]) == {"measured"}
    store = ResultsStore("tiny")
    samples = pd.read_csv(store.samples_csv)
    assert set(samples["case_id"]) == set(table["case_id"])
    assert (table["n_processes"] == 2).all() and set(samples["process"]) == {0, 1}  # each case in two processes
    assert (table["arithmetic_intensity"] > 0).all() and (table["bandwidth_gbs"] > 0).all()
    assert (table["attainable_gflops"] <= table["ceiling_gflops"]).all()
    environment = json.loads(store.environment_json.read_text())
    for key in ("cpu_model", "cpu_count", "os", "python", "versions", "git_commit", "utc_time", "profile_hash"):
        assert key in environment
    assert environment["versions"]["onnxruntime"]

    run = [r for r in store.runs() if r.get("phases")][-1]  # each phase's time, the plan and its estimate
    assert set(run["phases"]) == {"convert", "latency", "energy", "operators", "sustained", "quantization"}
    assert run["estimate_s"] > 0
    assert run["plan"]["latency cases"] == 6

    before = {p.name: p.read_bytes() for p in store.directory.glob("*.csv")}
    calls = counting(monkeypatch)
    bench("tiny", progress=False)
    assert calls == []  # nothing re-measured, and no table changed
    assert {p.name: p.read_bytes() for p in store.directory.glob("*.csv")} == before


def test_interrupted_run_resumes_without_duplicates(bench_root, monkeypatch):
    write_profile(bench_root, "resume", runtimes=["onnxruntime", "litert"])
    real = cases_module.measure_case
    calls = counting(monkeypatch, interrupt_at=3)
    with pytest.raises(KeyboardInterrupt):
        bench("resume", progress=False, only="latency")
    store = ResultsStore("resume")
    partial = pd.read_csv(store.latency_csv)
    assert len(partial) == 2 and partial["case_id"].is_unique

    monkeypatch.setattr(cases_module, "measure_case", real)
    calls = counting(monkeypatch)
    table = bench("resume", progress=False, only="latency")
    assert len(calls) == 2  # only the cases the interruption left unmeasured (3rd onwards)
    assert len(table) == 4 and table["case_id"].is_unique
    assert set(partial["case_id"]) <= set(table["case_id"])


def test_an_emptied_table_and_a_torn_record_cost_one_line_each_and_a_rebuild(bench_root, monkeypatch, capsys):
    """As a full disk or a sync tool leaves them: latency.csv of 0 bytes and a case record cut in half. The next
    bench rebuilds the table from the records, measures the torn case again, keeps every other, and exits 0."""
    from study.cli import main

    write_profile(bench_root, "torn", runtimes=["onnxruntime", "litert"])
    bench("torn", progress=False, only="latency")
    store = ResultsStore("torn")
    first = pd.read_csv(store.latency_csv)
    store.latency_csv.write_text("")
    torn = store.cases_dir / f"{first['case_id'].iloc[0]}.json"
    torn.write_text(torn.read_text()[:100])
    capsys.readouterr()
    calls = counting(monkeypatch)
    assert main(["bench", "--profile", "torn", "--only", "latency"]) == 0
    err = capsys.readouterr().err
    assert err.count("quarantine") == 1 and "torn or corrupt" in err
    assert len(calls) == 1  # the torn case only
    table = pd.read_csv(store.latency_csv)
    assert sorted(table["case_id"]) == sorted(first["case_id"]) and (table["status"] == "ok").all()
    assert list((store.directory / "quarantine" / "cases").glob("*.json"))


def test_changed_budget_measures_again(bench_root, monkeypatch):
    write_profile(bench_root, "budget", runtimes=["onnxruntime"], batch_sizes=[1])
    bench("budget", progress=False)
    calls = counting(monkeypatch)
    write_profile(bench_root, "budget", runtimes=["onnxruntime"], batch_sizes=[1],
                  timing={"warmup_runs": 1, "warmup_seconds": 0.0, "min_runs": 7, "min_seconds": 0.0,
                          "max_seconds": 5, "target_ci": 0.0, "processes": 1})
    table = bench("budget", progress=False)
    assert len(calls) == 1 and len(table) == 1 and table["n_runs"].iloc[0] >= 7
    forced = bench("budget", force=True, progress=False, only="latency")
    assert len(calls) == 2 and len(forced) == 1

    store = ResultsStore("budget")
    records, environment = len(store.runs()), store.environment_json.read_text()
    bench("budget", progress=False)  # nothing to do: no record, or `make report` again would pile them up
    assert len(store.runs()) == records
    bench("budget", force=True, progress=False, only="convert")  # measures nothing, but its set-up is timed
    latest = store.runs()[-1]
    assert len(store.runs()) == records + 1 and set(latest["phases"]) == {"convert"}
    assert latest["measured_cases"] == [] and latest["conversion_s"] == {"convert": 0.0}
    assert store.environment_json.read_text() == environment  # still the run the tables come from

    # a report's second call for a profile (its latency measured first): its convert phase finds everything on disk,
    # made for another profile, and still leaves a record, the one its next run's estimate of that phase reads
    write_profile(bench_root, "later", runtimes=["onnxruntime"], batch_sizes=[1])
    later = ResultsStore("later")
    bench("later", progress=False, only="latency")
    bench("later", progress=False, only="convert")
    assert [set(run["phases"]) for run in later.runs()] == [{"latency"}, {"convert"}]
    assert later.runs()[-1]["conversion_s"] == {"convert": 0.0}
    bench("later", progress=False, only="convert")  # now recorded: nothing to do leaves nothing
    assert len(later.runs()) == 2


def test_truncated_artifact_is_reconverted(bench_root, monkeypatch):
    import study.build.convert as convert

    artifact = ensure_artifact("digits_cnn", "onnx")
    good = file_sha256(artifact.path)
    artifact.path.write_bytes(artifact.path.read_bytes()[:100])
    again = ensure_artifact("digits_cnn", "onnx")
    assert again.ok and file_sha256(again.path) == good
    # unchanged since its record: reused on its stamp, without hashing; touched but the same bytes: on its hash
    hashed = []
    monkeypatch.setattr(convert, "file_sha256", lambda path: hashed.append(path) or good)
    assert ensure_artifact("digits_cnn", "onnx").record == again.record and hashed == []
    os.utime(again.path)
    assert ensure_artifact("digits_cnn", "onnx").record == again.record and hashed == [again.path]
    assert ensure_artifact("digits_cnn", "onnx", convert=False) is not None
    again.path.write_bytes(b"damaged")
    monkeypatch.undo()
    assert ensure_artifact("digits_cnn", "onnx", convert=False) is None  # would be converted: not, when only checking


def test_a_broken_runtime_is_a_recorded_failure(bench_root, monkeypatch):
    """A model file damaged behind the study's back: the runtime fails, the case is recorded, others go on."""
    write_profile(bench_root, "broken", batch_sizes=[1], energy=None)
    ensure_artifact("digits_cnn", "tflite")
    path = artifact_path("digits_cnn", "tflite")
    original = path.read_bytes()
    record_file = path.with_name(path.name + ".json")
    original_record = record_file.read_text()
    try:
        path.write_bytes(original[: len(original) // 3])
        record = json.loads(original_record)
        record["sha256"] = file_sha256(path)  # the record vouches for the damaged file
        record_file.write_text(json.dumps(record))
        table = bench("broken", progress=False)
    finally:
        path.write_bytes(original)
        record_file.write_text(original_record)
    by_runtime = table.set_index("runtime")
    assert by_runtime.loc["litert", "status"] == "failed"
    assert by_runtime.loc["litert", "error"]
    assert by_runtime.loc["torch_eager", "status"] == "ok"
    assert by_runtime.loc["onnxruntime", "status"] == "ok"


def _fake_python(tmp_path, body):
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_a_crashing_process_is_a_failed_result(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, 'echo "Fatal Python error: Segmentation fault" >&2; kill -SEGV $$'))
    result = run_isolated({"kind": "measure"}, timeout_s=30)
    assert result["status"] == "failed"
    assert "process died (exit -11)" in result["error"] and "Segmentation fault" in result["error"]


def test_a_hung_process_times_out(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", _fake_python(tmp_path, "sleep 30"))
    result = run_isolated({"kind": "measure"}, timeout_s=0.5)
    assert result["status"] == "failed" and result["error"].startswith("timed out after")


def test_a_python_error_in_the_worker_is_its_first_line(bench_root):
    result = run_isolated({"kind": "measure", "model": "digits_cnn", "runtime": "onnxruntime",
                           "artifact": "/nonexistent.onnx", "threads": 1, "batch": 1, "cpus": [0],
                           "timing": {"warmup_runs": 1, "warmup_seconds": 0, "min_runs": 1, "min_seconds": 0,
                                      "max_seconds": 1}}, timeout_s=120)
    assert result["status"] == "failed"
    assert "\n" not in result["error"] and "nonexistent" in result["error"]


def test_cases_are_pinned_and_threaded(tiny_study):
    table = pd.read_csv(ResultsStore("tiny").latency_csv)
    assert set(table["cpus"].astype(str)) == {"0"} and set(table["threads"]) == {1}
    assert os.environ.get("OMP_NUM_THREADS") is None  # set for the child only


def test_memory_is_the_case_process_own_not_its_parents(bench_root):
    """A child's ru_maxrss starts at its parent's size; the study must report the child's own peak."""
    ballast = bytearray(700 * 1024 * 1024)
    ballast[:: 4096] = b"\x01" * len(ballast[:: 4096])  # make the parent really resident
    ensure_artifact("digits_cnn", "onnx")
    result = run_isolated({"kind": "measure", "model": "digits_cnn", "runtime": "onnxruntime",
                           "artifact": str(artifact_path("digits_cnn", "onnx")), "threads": 1, "batch": 1,
                           "cpus": [0], "timing": {"warmup_runs": 1, "warmup_seconds": 0, "min_runs": 3,
                                                   "min_seconds": 0, "max_seconds": 2}}, timeout_s=120)
    del ballast
    assert result["status"] == "ok", result
    assert 0 < result["rss_import_mib"] <= result["rss_load_mib"] <= result["rss_peak_mib"] < 500


def test_phases_can_be_chosen_and_absent_ones_are_not_measured(bench_root, capsys):
    from study.phases.bench import parse_phases
    from study.core.errors import StudyError

    with pytest.raises(StudyError, match="unknown phase 'latancy'.*Fix: name one or more of convert,latency"):
        parse_phases("convert,latancy")
    write_profile(bench_root, "phases", runtimes=["onnxruntime"], batch_sizes=[1], energy=None)
    bench("phases", progress=False, only="convert,energy,quantization")
    said = capsys.readouterr()
    assert "energy: not measured for this profile" in said.out + said.err
    assert "quantization: not measured for this profile" in said.out + said.err
    store = ResultsStore("phases")
    assert store.conversions_csv.exists() and not store.latency_csv.exists()
    assert not (store.directory / "energy.csv").exists() and not (store.directory / "quant_summary.csv").exists()


def test_the_plan_is_said_before_measuring(bench_root, capsys, monkeypatch):
    import study.plan.estimate as estimate
    from study.phases.bench import estimate as plan
    from study.plan.profiles import load_profile

    timing = {"warmup_runs": 1, "warmup_seconds": 0.0, "min_runs": 5, "min_seconds": 0.0, "max_seconds": 5,
              "target_ci": 0.0, "processes": 1}
    write_profile(bench_root, "planned", runtimes=["onnxruntime"], batch_sizes=[1], timing=timing,
                  duel={"max_seconds": 10})
    planned = plan(load_profile("planned"), ("latency", "energy"))
    assert planned.counts["latency cases"] == 1 and planned.counts["energy cases"] == 1
    assert planned.seconds >= estimate.PROCESS_S and "1 latency cases" in planned.describe()
    # no earlier run here: the race is expected to use a set share of its bound, counted in the phase's estimate
    assert planned.races["latency"] == pytest.approx(planned.bounds["latency"] * estimate.RACE_SHARE, abs=0.1)
    assert planned.phases["latency"] == pytest.approx(planned.model_phases["latency"] + planned.races["latency"],
                                                      abs=0.1)

    class Measuring(Exception):
        pass

    def first_measurement(*args, **kwargs):
        said = capsys.readouterr()
        assert "plan: " in said.out + said.err and "estimated" in said.out + said.err
        raise Measuring

    monkeypatch.setattr(latency_module, "measure_cases", first_measurement)
    with pytest.raises(Measuring):
        bench("planned", progress=False, only="latency")


def test_the_plan_counts_every_process_of_a_timed_variant_and_no_build_already_made(study_root):
    """Each full-size variant is timed in the profile's processes at each thread count; a build another profile of
    the machine made is read, not made again (the estimate once missed both: 10 min said, 17 min taken)."""
    import study.plan.estimate as estimate
    from study.core import paths
    from study.phases.bench import estimate as plan
    from study.plan.profiles import load_profile
    from study.plan.quant import zoo_jobs

    timing = {**TINY_PROFILE["timing"], "processes": 3}
    write_profile(study_root, "variants", threads=[1, 2], cpu_affinity="all", timing=timing,
                  quantization={"zoo_models": ["mobilenet_v2"], "shipped_models": ["blazeface"]})
    profile = load_profile("variants")
    assert estimate.zoo_variant_count("mobilenet_v2") == 14 and estimate.zoo_variant_count("blazeface") == 10
    case = estimate.latency_case_seconds(timing)
    timed = (14 + 10) * 2 * 3 * case
    builds = (estimate.ZOO_BUILD_S["zoo"] + estimate.ZOO_BUILD_S["blazeface"]) / max(1, os.cpu_count() or 1)
    planned = plan(profile, ("quantization",))
    assert planned.seconds == pytest.approx(timed + builds)
    for job in zoo_jobs(profile):  # as if host-1t had built them on this machine
        (paths.artifacts_dir() / "quant" / job["id"]).mkdir(parents=True)
        (paths.artifacts_dir() / "quant" / job["id"] / "build.json").write_text("{}")
    assert plan(profile, ("quantization",)).seconds == pytest.approx(timed)


def test_the_estimate_reads_this_machines_earlier_run_of_the_same_phase():
    from study.plan.estimate import calibrated

    runs = [{"run_id": "old", "cpu_id": "cpu A", "estimate_model_phases": {"latency": 100.0}, "phases": {"latency": 300.0}},
            {"run_id": "new", "cpu_id": "cpu A", "estimate_model_phases": {"latency": 100.0}, "phases": {"latency": 150.0},
             "quantization": {}},
            {"run_id": "other", "cpu_id": "cpu B", "estimate_model_phases": {"latency": 100.0}, "phases": {"latency": 900.0}},
            {"run_id": "short", "cpu_id": "cpu A", "estimate_model_phases": {"convert": 5.0}, "phases": {"convert": 50.0}}]
    seconds, source = calibrated(runs, "latency", 200.0, "cpu A")
    assert seconds == 300.0 and "new" in source  # the latest run on this CPU: 1.5x its constants
    assert calibrated(runs, "latency", 200.0, "cpu C") == (200.0, "constants")  # another machine's runs say nothing
    # a 5 s estimate is too short to scale: what the phase took beyond its constants (its set-up) is added instead
    seconds, source = calibrated(runs, "convert", 10.0, "cpu A")
    assert seconds == 10.0 + 45.0 and "short" in source and "beyond its constants" in source
    assert calibrated(runs, "operators", 10.0, "cpu A") == (10.0, "constants")
    # a run whose race went to its bound: the planned rounds alone scale the estimate (the race is bounded apart)
    raced = [{"run_id": "raced", "cpu_id": "cpu A", "estimate_model_phases": {"latency": 100.0},
              "phases": {"latency": 400.0}, "race_s": {"latency": 250.0}}]
    assert calibrated(raced, "latency", 200.0, "cpu A")[0] == 300.0


def test_the_estimate_scales_a_phases_conversions_and_its_own_work_apart():
    """A first run converts, a second mostly does not: one factor for both would carry the first run's conversions
    into the second's estimate (on a 2-core Xeon, 2026-12, host's latency phase was estimated at 445 s after a first
    run with 20 conversions, and took 293 s)."""
    from study.plan.estimate import calibrated

    first = {"run_id": "first", "cpu_id": "A", "estimate_model_phases": {"latency": 300.0, "convert": 40.0},
             "estimate_model_conversions": {"latency": 100.0, "convert": 40.0},
             "phases": {"latency": 520.0, "convert": 0.5}, "conversion_s": {"latency": 300.0},
             "race_s": {"latency": 20.0}}
    seconds, source = calibrated([first], "latency", 200.0, "A")
    assert seconds == 200.0 and "first" in source  # its own work took what the constants said; nothing to convert
    seconds, source = calibrated([first], "latency", 250.0, "A", conversions=50.0)
    assert seconds == 200.0 + 150.0 and "conversions from run first" in source  # conversions at 3x the constants
    # a phase whose conversions were not timed (a record before they were) is scaled whole, as before
    old = {**first, "conversion_s": {}}
    assert calibrated([old], "latency", 200.0, "A")[0] == 200.0 * 500.0 / 300.0


def test_a_phase_counts_as_conversions_only_the_time_a_conversion_ran():
    """Conversions side by side count once, and a phase's checks of artifacts already on disk stay its own set-up."""
    import threading

    from study.build import convert

    assert convert.spans_seconds([(0.0, 2.0), (1.0, 3.0), (5.0, 6.0)]) == 4.0  # overlap once, the gap not at all
    assert convert.spans_seconds([]) == 0.0
    with convert.timing_conversions() as outer:
        with convert.timing_conversions() as inner:
            thread = threading.Thread(target=convert._converted_during, args=(0.0,))  # as from a pool's thread
            thread.start()
            thread.join()
        convert._converted_during(1.0)
    assert len(outer) == 2 and len(inner) == 1
    convert._converted_during(2.0)  # outside: nobody listens
    assert len(outer) == 2


def test_a_phase_with_nothing_to_do_is_estimated_at_its_set_up_not_zero():
    """A second run converts nothing, yet its convert phase still checks every artifact on disk (on a 2-core Xeon,
    2026-12: estimated 0 s, took 1.5 s)."""
    from study.plan.estimate import calibrated, unrecorded

    first = {"run_id": "first", "cpu_id": "A", "estimate_model_phases": {"convert": 82.5, "energy": 0.0},
             "estimate_model_conversions": {"convert": 82.5}, "phases": {"convert": 106.1, "energy": 1.1},
             "conversion_s": {"convert": 104.0}}
    seconds, source = calibrated([first], "convert", 0.0, "A")
    assert seconds == pytest.approx(2.1) and "first" in source  # what it took beside its conversions
    # its set-up is checking the artifacts on disk: a first run's convert phase found those latency made, a second all
    counted = {**first, "estimate_on_disk": {"convert": 28}}
    assert calibrated([counted], "convert", 0.0, "A", on_disk=42)[0] == pytest.approx(2.1 * 42 / 28)
    assert calibrated([counted], "convert", 0.0, "A")[0] == pytest.approx(2.1)  # nothing counted now: as it was
    assert calibrated([first], "energy", 0.0, "A")[0] == pytest.approx(1.1)
    # a phase with no conversion planned spent its "conversion" time planning cases over artifacts on disk: set-up
    planning = {**first, "estimate_model_conversions": {"convert": 82.5, "energy": 0.0},
                "conversion_s": {"convert": 104.0, "energy": 0.6}}
    assert calibrated([planning], "energy", 0.0, "A")[0] == pytest.approx(1.1)
    assert calibrated([first], "energy", 0.0, "B") == (0.0, "constants")
    assert unrecorded([first], ["latency", "convert", "energy"], "A") == ["latency"]
    assert unrecorded([first], ["convert"], "B") == ["convert"]  # another machine's record says nothing of this one
    # a phase whose last run said more than its constants by a usable margin is scaled, not offset
    big = {**first, "run_id": "big", "estimate_model_phases": {"energy": 40.0}, "phases": {"energy": 80.0}}
    assert calibrated([first, big], "energy", 30.0, "A")[0] == 60.0


def test_the_estimate_expects_the_mean_share_of_their_bounds_the_latest_races_on_this_machine_used():
    from study.plan.estimate import RACE_SHARE, expected_race

    runs = [{"run_id": "old", "cpu_id": "cpu A", "race_s": {"latency": 900.0}, "estimate_bounds": {"latency": 1000.0}},
            {"run_id": "new", "cpu_id": "cpu A", "race_s": {"latency": 100.0}, "estimate_bounds": {"latency": 400.0}},
            {"run_id": "other", "cpu_id": "cpu B", "race_s": {"latency": 50.0}, "estimate_bounds": {"latency": 50.0}},
            {"run_id": "unbounded", "cpu_id": "cpu A", "race_s": {"latency": 10.0}}]  # before bounds were kept
    seconds, source = expected_race(runs, "latency", 800.0, "cpu A")
    # the mean share of the races here (90% and 25%; the one without a bound says nothing): one race is a draw
    assert seconds == 800.0 * (0.9 + 0.25) / 2 and "new" in source and "old" in source and "2 race(s)" in source
    assert expected_race(runs[1:], "latency", 800.0, "cpu A")[0] == 200.0  # a quarter, as the only race here used
    many = [{"run_id": f"r{i}", "cpu_id": "cpu A", "race_s": {"latency": float(i)},
             "estimate_bounds": {"latency": 100.0}} for i in range(10)]
    assert expected_race(many, "latency", 100.0, "cpu A")[0] == pytest.approx(sum(range(5, 10)) / 5)  # the latest five only
    assert expected_race(runs, "latency", 800.0, "cpu C")[0] == 800.0 * RACE_SHARE
    assert expected_race(runs, "latency", 0.0, "cpu A") == (0.0, "no race")
    over = [{"run_id": "x", "cpu_id": "cpu A", "race_s": {"latency": 90.0}, "estimate_bounds": {"latency": 60.0}}]
    assert expected_race(over, "latency", 100.0, "cpu A")[0] == 100.0  # never more than the bound


def test_a_report_runs_latency_first_and_the_phase_order_is_kept_otherwise():
    from study.phases.bench import answer_first

    assert answer_first(("convert", "latency", "energy", "quantization")) == ("latency", "convert", "energy",
                                                                              "quantization")
    assert answer_first(("convert", "operators")) == ("convert", "operators")
