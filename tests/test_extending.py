"""What the README's "Extending the study" promises: a runtime, a metric and a phase are each one new piece of code
and one registry line, and the rest of the study (the engine, the case core, the tables, bench, the estimate,
--only) picks them up without another edit."""

import json
import os

import pandas as pd
import pytest

from helpers import write_profile
from study.core.runtimes import RUNTIMES, RuntimeEntry
from study.measure import engine
from study.measure.cases import pooled, replicate_keys
from study.measure.launcher import CaseSpec, ProcessRecord
from study.measure.runtimes.base import Backend
from study.measure.trackers import TRACKERS, Field, Tracker, latency_columns
from study.phases import PHASES, PhaseEntry
from study.phases.base import Estimate, Phase


class DoublingBackend(Backend):
    """A runtime in a few lines: it "loads" nothing and doubles its input."""

    def load(self, artifact, model, batch):
        self.scale = 2.0

    def predict(self, inputs):
        return inputs * self.scale


class OsThreads(Tracker):
    """The README's example metric: how many threads the process ran after load."""
    fields = {"os_threads": Field("worst", "threads the process ran after load")}

    def __init__(self):
        self.count = None

    def stage(self, name):
        if name == "loaded":
            self.count = len(os.listdir("/proc/self/task"))

    def result(self):
        return {"os_threads": self.count}


@pytest.fixture
def extended(monkeypatch):
    monkeypatch.setitem(RUNTIMES, "doubling", RuntimeEntry("test_extending:DoublingBackend", "onnx", (), "Doubling"))
    monkeypatch.setitem(TRACKERS, "os_threads", "test_extending:OsThreads")  # the registry line, as README shows


def test_a_runtime_and_a_metric_are_a_file_and_a_line_each(extended):
    spec = CaseSpec("latency", "variant", "doubling", "/unused", 1, 2, (), {
        "warmup_runs": 1, "warmup_seconds": 0.0, "min_runs": 5, "min_seconds": 0.0, "max_seconds": 2},
        model_input={"framework": "onnx", "shape": [4]})
    measured = ProcessRecord.from_json(engine.run(spec))
    assert measured.ok and len(measured.samples_ms) >= 5 and measured.get("output_shape") == [2, 4]
    assert measured.get("os_threads") >= 1 and measured.get("rss_peak_mib") > 0  # its field beside the others'
    assert "os_threads" in replicate_keys()
    combined = pooled([measured.to_json(), {**measured.to_json(), "os_threads": 99}])
    assert combined["os_threads"] == 99  # combined as it declared: the worst process
    columns = latency_columns()
    assert list(columns)[-1] == "os_threads" and columns["os_threads"] == "threads the process ran after load"


def test_a_field_says_how_it_combines():
    with pytest.raises(ValueError, match="combine must be one of"):
        Field("average")
    assert not Field("kept").column and Field("median").column


class Counting(Phase):
    """A phase in a few lines: it counts the profile's models and writes them to its table."""
    name = "counting"

    def estimate(self, profile, force):
        return Estimate({"models counted": len(profile.models)}, 0.5 * len(profile.models))

    def run(self, run):
        pd.DataFrame({"model": list(run.profile.models)}).to_csv(run.store.directory / "counting.csv", index=False)
        return []


COUNTING = Counting()


def test_a_phase_is_a_file_and_a_line(bench_root, monkeypatch, capsys):
    from study.cli import main
    from study.core.store import ResultsStore
    from study.phases.bench import bench, estimate, parse_phases

    monkeypatch.setitem(PHASES, "counting", PhaseEntry("counting", "counting.csv", about="count the models",
                                                       module="test_extending:COUNTING"))
    write_profile(bench_root, "extended", runtimes=["onnxruntime"], batch_sizes=[1])
    assert parse_phases("counting") == ("counting",)
    assert main(["phases"]) == 0 and "counting" in capsys.readouterr().out
    from study.plan.profiles import load_profile

    planned = estimate(load_profile("extended"), ("counting",))
    assert planned.counts["models counted"] == 1 and planned.seconds == pytest.approx(0.5)
    bench("extended", progress=False, only="counting")
    written = pd.read_csv(ResultsStore("extended").directory / "counting.csv")
    assert list(written["model"]) == ["digits_cnn"]
    run = [r for r in ResultsStore("extended").runs() if r.get("phases")][-1]
    assert set(run["phases"]) == {"counting"} and run["plan"]["models counted"] == 1


def test_a_malformed_process_record_is_a_failed_one_that_says_so():
    assert ProcessRecord.from_json({"status": "maybe"}).error.startswith("malformed process record")
    assert not ProcessRecord.from_json(["not", "a", "record"]).ok
    bad = ProcessRecord.from_json({"status": "ok", "samples_ms": ["fast"]})
    assert not bad.ok and "not a number" in bad.error
    good = ProcessRecord.from_json({"status": "ok", "samples_ms": [1, 2], "warmup_ms": [3], "rss_peak_mib": 5.0})
    assert good.ok and good.samples_ms == [1.0, 2.0] and good.to_json()["rss_peak_mib"] == 5.0


def test_a_case_spec_round_trips_through_the_worker_json():
    timing = {"warmup_runs": 1, "warmup_seconds": 0.0, "min_runs": 5, "min_seconds": 0.0, "max_seconds": 1,
              "processes": 3}
    spec = CaseSpec("sustained", "m", "onnxruntime", "/a.onnx", 2, 1, (0, 1), timing,
                    model_input={"framework": "onnx", "shape": [3, 8]}, trackers=("contention",),
                    options={"seconds": 3.0})
    assert spec.timing.max_seconds == 1.0 and spec.model_input.shape == (3, 8)  # typed, not dicts of known keys
    data = spec.to_json()
    assert data["kind"] == "measure" and data["seconds"] == 3.0 and data["cpus"] == [0, 1]
    assert "processes" not in data["timing"]  # a case's concern, not its process's
    assert CaseSpec.from_json(json.loads(json.dumps(data))) == spec  # through the worker's JSON file
    with pytest.raises(KeyError):
        CaseSpec("latency", "m", "onnxruntime", "/a.onnx", 1, 1, (), {"max_seconds": 1})  # a budget is whole
    with pytest.raises(ValueError, match="unknown scenario"):
        CaseSpec("warp", "m", "r", "/a", 1, 1, (), {})


class Scaled(Phase):
    """An optional phase: it runs for a profile whose ``phases:`` mapping has its section, and reads it."""
    name = "scaled"

    def estimate(self, profile, force):
        return Estimate({"models scaled": len(profile.models)}, 0.1)

    def run(self, run):
        from study.phases import settings

        factor = settings(run.profile, self.name)["factor"]
        pd.DataFrame({"model": list(run.profile.models), "factor": factor}).to_csv(
            run.store.directory / "scaled.csv", index=False)
        return []


SCALED = Scaled()


def test_an_optional_phase_with_its_own_section_is_a_file_and_a_line(bench_root, monkeypatch):
    from study.core.store import ResultsStore
    from study.phases import configured
    from study.phases.bench import bench
    from study.plan.profiles import load_profile

    monkeypatch.setitem(PHASES, "scaled", PhaseEntry("scaled", "scaled.csv", "scaled", "scale the models",
                                                     module="test_extending:SCALED"))
    write_profile(bench_root, "with-scaled", runtimes=["onnxruntime"], batch_sizes=[1], phases={"scaled": {"factor": 3}})
    write_profile(bench_root, "without-scaled", runtimes=["onnxruntime"], batch_sizes=[1])
    assert configured(load_profile("with-scaled"), "scaled") and not configured(load_profile("without-scaled"), "scaled")
    bench("without-scaled", progress=False, only="scaled")
    bench("with-scaled", progress=False, only="scaled")
    assert not (ResultsStore("without-scaled").directory / "scaled.csv").exists()
    written = pd.read_csv(ResultsStore("with-scaled").directory / "scaled.csv")
    assert list(written["factor"]) == [3]


def test_every_table_a_run_writes_is_declared_by_its_phase(tiny_study):
    """The registry says which files each phase writes: a measured profile's folder holds no table it does not."""
    declared = {name for entry in PHASES.values() for name in entry.tables}
    bench_own = {"environment.json"}  # the run's, not a phase's
    written = {path.name for path in (tiny_study / "results" / "tiny").iterdir()
               if path.suffix in (".csv", ".json") and not path.name.startswith("agreement-")}
    assert written - bench_own <= declared, f"undeclared: {sorted(written - bench_own - declared)}"
    assert {"latency.csv", "samples.csv", "quant_summary.csv"} <= written
