"""A device over real SSH: an OpenSSH server on 127.0.0.1 with throw-away keys stands in for a board, and a lean venv
(numpy, ONNX Runtime and LiteRT at the lock's versions, made by ``device setup`` and kept between runs) is its Python.
The host converts; the stand-in times. Every server here listens on loopback and stops by itself."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from helpers import REPO, write_profile

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
if SSHD is None:
    if os.environ.get("STUDY_REQUIRE_SSHD"):  # .ci/run installs the server: there, a missing one is a failure
        raise RuntimeError("sshd is not installed but STUDY_REQUIRE_SSHD is set. Fix: apt-get install openssh-server")
    pytest.skip("no OpenSSH server (apt-get install openssh-server; .ci/run installs it)", allow_module_level=True)


def _venv_dir() -> Path:
    """The stand-in's lean venv, kept between test runs (per lock: new pins, a new venv)."""
    import hashlib

    pins = hashlib.sha256((REPO / "requirements.lock").read_bytes()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "edge-runtime-study" / f"stand-in-venv-{pins}"


def _device(alias: str, workdir: Path, cpu: int = 0, runtimes=("onnxruntime", "litert"), processes: int = 2,
            **more) -> dict:
    return {"cpu_affinity": [cpu], "batch_sizes": [1], "runtimes": list(runtimes),
            "timing": {"warmup_runs": 2, "warmup_seconds": 0.0, "min_runs": 10, "min_seconds": 0.05,
                       "max_seconds": 5, "target_ci": 0.0, "processes": processes},
            "energy": None,
            "device": {"transport": "ssh", "host": alias, "python": sys.executable, "workdir": str(workdir),
                       "venv": str(_venv_dir())}, **more}


class _Env:
    def __init__(self, **values):
        self.values, self.previous = values, {}

    def __enter__(self):
        for key, value in self.values.items():
            self.previous[key] = os.environ.get(key)
            os.environ[key] = value

    def __exit__(self, *exc):
        for key, value in self.previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def stand_in_device(_tiny_study, tmp_path_factory):
    """One stand-in device and its lean venv, made by `device setup` through it (a minute the first time, seconds
    after); the tiny study's root, whose digits_cnn artifacts the device cases reuse."""
    from study.measure.devices.setup import setup
    from study.measure.devices.standin import StandIn
    from study.plan.profiles import load_profile

    stand_in = StandIn(tmp_path_factory.mktemp("stand-in"), "study-dev").start()
    with _Env(STUDY_ROOT=str(_tiny_study), STUDY_SSH_CONFIG=str(stand_in.config)):
        write_profile(_tiny_study, "dev-setup", **_device("study-dev", tmp_path_factory.mktemp("device-home")))
        setup(load_profile("dev-setup"), say=lambda line: None)
    yield stand_in
    stand_in.stop()


@pytest.fixture
def device(stand_in_device, _tiny_study, monkeypatch, tmp_path):
    monkeypatch.setenv("STUDY_ROOT", str(_tiny_study))
    monkeypatch.setenv("STUDY_SSH_CONFIG", str(stand_in_device.config))
    monkeypatch.setenv("STUDY_RECONNECT_WAIT_S", "0.2")
    return stand_in_device


def test_the_lean_venv_holds_no_torch_nor_tensorflow(stand_in_device):
    site = next((_venv_dir() / "lib").glob("python3*/site-packages"))
    installed = {p.name.split("-")[0].lower() for p in site.iterdir()}
    assert {"numpy", "onnxruntime", "ai_edge_litert"} <= installed
    assert not installed & {"torch", "tensorflow", "tensorflow_cpu", "keras", "pandas", "pydantic", "executorch"}


def test_a_device_times_its_cases_over_ssh_with_every_local_column(device, _tiny_study, tmp_path, capsys):
    from study.phases.bench import bench

    write_profile(_tiny_study, "dev-a", **_device("study-dev", tmp_path / "home"))
    table = bench("dev-a", progress=False)
    assert len(table) == 2 and (table["status"] == "ok").all(), table[["runtime", "error"]]
    local = pd.read_csv(_tiny_study / "results" / "tiny" / "latency.csv")
    assert list(table.columns) == list(local.columns)  # a device's rows have every column a local row has
    for column in ("p50_ms", "ci_low_ms", "rss_peak_mib", "import_ms", "load_ms", "native_lib_mib"):
        assert table[column].notna().all(), column
    facts = json.loads((_tiny_study / "results" / "dev-a" / "device.json").read_text())
    assert facts["cpus_available"] and "isa" in facts and facts["versions"]["onnxruntime"]
    assert {"governors", "max_freq_mhz", "temps_c", "freqs_mhz", "kernel", "os", "python"} <= set(facts)
    run = json.loads(next((_tiny_study / "results" / "dev-a" / "runs").glob("*.json")).read_text())
    assert run["timed_on"]["cpu_model"] == facts["cpu_model"] and run["machine"]  # built here, timed there
    pushed = capsys.readouterr().out
    assert "pushing study-worker-" in pushed
    assert pushed.count("pushing onnx-fp32.onnx") == 1 and pushed.count("pushing tflite-fp32-b1.tflite") == 1

    bench("dev-a", force=True, progress=False)  # measured again: nothing pushed again
    assert "pushing" not in capsys.readouterr().out


def test_a_duel_keeps_one_worker_per_contender_alive_on_the_device(device, _tiny_study, tmp_path):
    """The pick judged over SSH: one long-lived worker per contender on the device, over the shared connection,
    taking turns in bursts; the same records and table as on this machine."""
    from study.phases.bench import bench

    duel = {"burst_ms": 10, "set_seconds": 0.3, "looks": [2], "max_seconds": 60, "span": 1000}
    write_profile(_tiny_study, "dev-duel", **_device("study-dev", tmp_path / "home", processes=1), duel=duel)
    bench("dev-duel", progress=False)
    table = pd.read_csv(_tiny_study / "results" / "dev-duel" / "comparisons.csv")
    assert len(table) == 1 and table["sets"].iloc[0] == 2 and table["cycles"].iloc[0] >= 2, table.T
    assert {table["runtime_a"].iloc[0], table["runtime_b"].iloc[0]} == {"onnxruntime", "litert"}
    assert table["idle_cpu_pct"].notna().all()


def test_the_worker_imports_only_the_runtime_it_times_and_parses_on_python_3_9(device, _tiny_study, tmp_path):
    from study.measure.devices.launcher import DeviceLauncher
    from study.measure.launcher import CaseSpec
    from study.plan.cases import latency_cases
    from study.plan.profiles import load_profile

    write_profile(_tiny_study, "dev-w", **_device("study-dev", tmp_path / "home"))
    profile = load_profile("dev-w")
    from study.measure.devices.setup import describe

    launcher = DeviceLauncher(profile, say=lambda line: None)
    describe(profile, launcher, say=lambda line: None)
    for case in latency_cases(profile, log=lambda line: None):
        record = launcher.run(CaseSpec.for_case(case), 120)
        assert record.ok, record.error
        assert record.observed["frameworks_imported"] == [{"litert": "ai_edge_litert"}.get(case.runtime,
                                                                                             case.runtime)]
        for module in record.observed["study_modules"]:
            spec = __import__("importlib").util.find_spec(module)
            ast.parse(Path(spec.origin).read_text(), feature_version=(3, 9))  # the device may run Python 3.9
    launcher.close()
    found = [*Path.home().glob(".pyenv/versions/3.9*/bin/python3.9"), *filter(None, [shutil.which("python3.9")])]
    older = next((p for p in found if subprocess.run([str(p), "-c", ""], capture_output=True).returncode == 0), None)
    if older:  # describing a device needs the standard library alone: shown on a real 3.9 where there is one
        from study.measure.devices.bundle import worker_bundle

        done = subprocess.run([str(older), str(worker_bundle())], input=json.dumps({"kind": "device_facts"}),
                              capture_output=True, text=True, timeout=60)
        assert '"status": "ok"' in done.stdout, done.stderr[-1000:]


def test_a_runtime_missing_on_the_device_is_a_failed_row_with_the_fix(device, _tiny_study, tmp_path):
    from study.phases.bench import bench

    write_profile(_tiny_study, "dev-m", **_device("study-dev", tmp_path / "home",
                                                  runtimes=["torch_eager", "onnxruntime"], processes=1))
    table = bench("dev-m", progress=False).set_index("runtime")
    assert table.loc["onnxruntime", "status"] == "ok"
    error = table.loc["torch_eager", "error"]
    assert table.loc["torch_eager", "status"] == "failed"
    assert "PyTorch eager is not installed on study-dev" in error and "pip install torch==" in error, error
    assert "device setup dev-m" in error


def test_a_dropped_connection_resumes_with_every_case_measured_once(device, _tiny_study, tmp_path):
    """The device goes away mid-run: the run ends saying what it could not measure (exit status > 0); once the device
    is back, the same command measures only what is missing: no case measured twice, no torn row."""
    from study.core.store import ResultsStore

    write_profile(_tiny_study, "dev-d", **_device("study-dev", tmp_path / "home", processes=4))
    command = [sys.executable, "-m", "study", "bench", "--profile", "dev-d"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    running = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    cases = _tiny_study / "results" / "dev-d" / "cases"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(cases.glob("*.json")) and running.poll() is None:
        time.sleep(0.05)
    device.stop()  # every connection drops, as when the board reboots
    try:
        output, _ = running.communicate(timeout=180)
    finally:
        device.start()
    assert running.returncode > 0, output[-2000:]
    assert "NOT MEASURED" in output or "unreachable" in output, output[-2000:]
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    store = ResultsStore("dev-d")
    table = pd.read_csv(store.latency_csv)
    assert len(table) == 2 and table["case_id"].is_unique and (table["status"] == "ok").all()
    for record in store.records(list(table["case_id"])):
        assert len(record["replicates"]) == 4 and all(r["status"] == "ok" for r in record["replicates"])
    samples = pd.read_csv(store.samples_csv)
    assert samples.groupby("case_id")["process"].nunique().eq(4).all() if "process" in samples else True


def test_a_changed_host_key_is_refused_with_its_fix(_tiny_study, tmp_path, monkeypatch):
    from study.core.errors import StudyError
    from study.measure.devices.standin import StandIn
    from study.phases.bench import bench

    stand_in = StandIn(tmp_path / "keys", "study-rekeyed").start()
    monkeypatch.setenv("STUDY_ROOT", str(_tiny_study))
    monkeypatch.setenv("STUDY_SSH_CONFIG", str(stand_in.config))
    try:
        write_profile(_tiny_study, "dev-k", **_device("study-rekeyed", tmp_path / "home"))
        stand_in.stop()
        stand_in.new_host_key()  # the device was re-installed (or someone is in between)
        stand_in.start()
        with pytest.raises(StudyError) as refused:
            bench("dev-k", progress=False)
    finally:
        stand_in.stop()
    message = str(refused.value)
    assert "host key has changed" in message and "ssh-keygen -R" in message and "\n" not in message
    assert not (_tiny_study / "results" / "dev-k" / "cases").exists()  # nothing was measured on it


def test_two_devices_are_timed_at_once_through_the_dask_farm(device, _tiny_study, tmp_path, monkeypatch):
    from study.measure.devices.standin import StandIn
    from study.phases.farm import bench_devices

    second = StandIn(tmp_path / "second", "study-dev-2").start()
    config = tmp_path / "ssh_config"
    config.write_text(device.config.read_text() + second.config.read_text())
    monkeypatch.setenv("STUDY_SSH_CONFIG", str(config))
    try:
        write_profile(_tiny_study, "dev-x", **_device("study-dev", tmp_path / "x", cpu=0, processes=3))
        write_profile(_tiny_study, "dev-y", **_device("study-dev-2", tmp_path / "y", cpu=1, processes=3))
        failures = bench_devices(["dev-x", "dev-y"], say=lambda line: None)
    finally:
        second.stop()
    assert failures == {}
    spans = []
    for name in ("dev-x", "dev-y"):
        table = pd.read_csv(_tiny_study / "results" / name / "latency.csv")
        assert len(table) == 2 and (table["status"] == "ok").all()
        runs = [json.loads(p.read_text()) for p in (_tiny_study / "results" / name / "runs").glob("*.json")]
        run = max(runs, key=lambda r: r["started_at"])
        spans.append((run["timing_from"], run["finished_at"]))
    (start_x, end_x), (start_y, end_y) = spans
    assert start_x < end_y and start_y < end_x  # the two devices were measured at the same time


def test_an_unreachable_device_is_one_line_and_the_others_go_on(_tiny_study, tmp_path, monkeypatch):
    from study.measure.devices.standin import free_port
    from study.phases.farm import bench_devices

    monkeypatch.setenv("STUDY_ROOT", str(_tiny_study))
    monkeypatch.setenv("STUDY_RECONNECT_WAIT_S", "0.1")
    config = tmp_path / "ssh_config"
    config.write_text(f"Host study-nowhere\n  HostName 127.0.0.1\n  Port {free_port()}\n")
    monkeypatch.setenv("STUDY_SSH_CONFIG", str(config))
    write_profile(_tiny_study, "dev-gone", **_device("study-nowhere", tmp_path / "home"))
    failures = bench_devices(["dev-gone"], say=lambda line: None)
    assert list(failures) == ["dev-gone"]
    assert "study-nowhere unreachable" in failures["dev-gone"] and "Fix:" in failures["dev-gone"]
    assert "\n" not in failures["dev-gone"]


def test_a_malformed_or_hostile_record_from_a_device_is_a_failed_process(tmp_path):
    from study.measure.devices.base import Completed, Transport
    from study.measure.devices.launcher import DeviceLauncher
    from study.measure.launcher import MachineJob
    from study.measure.launcher import RECORD_MARK
    from study.plan.profiles import Device

    answers = iter([b"no record at all", (RECORD_MARK + "{not json").encode(),
                    (RECORD_MARK + json.dumps({"status": "ok", "samples_ms": ["x"]})).encode(),
                    (RECORD_MARK + json.dumps({"status": "pwned", "path": "../../../etc/passwd"})).encode()])

    class Scripted(Transport):
        def run(self, argv, stdin=None, timeout_s=120):
            if argv[0] == "sh":
                return Completed(0, b"", b"")
            return Completed(0, next(answers), b"")

        def push(self, local, remote, timeout_s=600):
            pass

    class Named:
        name, device = "dev-hostile", Device(transport="ssh", host="hostile", workdir="study")

    launcher = DeviceLauncher(Named(), say=lambda line: None, transport=Scripted(Named.device))
    results = [launcher.run_job(MachineJob("gemm", 1, (0,)), 10) for _ in range(2)]
    assert all(r["status"] == "failed" for r in results)
    from study.measure.launcher import ProcessRecord

    for _ in range(2):
        record = ProcessRecord.from_json(launcher.run_job(MachineJob("gemm", 1, (0,)), 10))
        assert record.status == "failed" and "malformed" in record.error


def test_device_facts_from_a_device_are_checked_before_use():
    from study.core.errors import StudyError
    from study.plan.device import parse_facts

    with pytest.raises(StudyError) as malformed:
        parse_facts({"machine": "pi", "cpu_model": "A76", "cpus_available": ["zero"], "architecture": "aarch64",
                     "python": "3.11"}, "pi5")
    assert "pi5: malformed device description (cpus_available.0" in str(malformed.value)
    assert "device check" in str(malformed.value)


def test_the_device_section_is_checked_with_one_line_errors(study_root):
    from study.core.errors import StudyError
    from study.plan.profiles import load_profile

    cases = {"-oProxyCommand=evil": "expected an SSH host", "pi 5": "expected an SSH host",
             "pi@-x": "expected an SSH host"}
    for host, expected in cases.items():
        write_profile(study_root, "bad", device={"transport": "ssh", "host": host})
        with pytest.raises(StudyError) as bad:
            load_profile("bad")
        assert f"device.host: {expected}" in str(bad.value) and "Fix:" in str(bad.value)
    write_profile(study_root, "bad", device={"transport": "sssh", "host": "pi"})
    with pytest.raises(StudyError) as typo:
        load_profile("bad")
    assert "did you mean 'ssh'" in str(typo.value)
    write_profile(study_root, "bad", device={"transport": "ssh", "host": "pi", "port": 70000})
    with pytest.raises(StudyError) as port:
        load_profile("bad")
    assert "device.port: expected a port number" in str(port.value)
    write_profile(study_root, "good", device={"transport": "ssh", "host": "pi@10.0.0.5", "port": 2222,
                                              "workdir": "~/study"})
    device = load_profile("good").device
    assert device.workdir == "study" and device.venv_dir == "study/venv" and "port 2222" in device.target


def test_a_second_run_on_the_same_cpus_waits_for_the_first_or_is_refused_naming_it(tmp_path, monkeypatch):
    from study.core.errors import StudyError
    from study.core.locks import measuring

    monkeypatch.setenv("STUDY_CACHE", str(tmp_path))
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path.insert(0, sys.argv[1]); from study.core.locks import measuring\n"
        "with measuring('device pi5', 'first-profile', say=lambda m: None):\n"
        "    print('held', flush=True); time.sleep(30)"), str(REPO / "src")],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "STUDY_CACHE": str(tmp_path)})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StudyError) as refused:
            with measuring("device pi5", "second-profile", wait=False):
                pass
        assert "device pi5 is being measured by profile 'first-profile' (pid" in str(refused.value)
        said = []
        done = threading.Event()

        def second():
            with measuring("device pi5", "second-profile", say=said.append, poll_s=0.05):
                done.set()

        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.5)
        assert not done.is_set() and "waiting" in said[0] and "first-profile" in said[0]
        holder.kill()  # the first run dies: the kernel releases its lock
        waiter.join(timeout=10)
        assert done.is_set()
        with measuring("device pi6", "third", wait=False):  # another device is not held
            pass
    finally:
        holder.kill()


def test_compare_times_a_users_file_on_the_device_in_one_command(device, _tiny_study, tmp_path, capsys):
    """`compare FILE --device NAME`: built and validated here, timed there over SSH, the answer printed here."""
    from study.cli import main
    from test_your_model import small_cnn_onnx

    write_profile(_tiny_study, "dev-cmp", **_device("study-dev", tmp_path / "home", processes=1))
    net = small_cnn_onnx(tmp_path / "board_net.onnx")
    assert main(["compare", str(net), "--device", "dev-cmp"]) == 0
    out = capsys.readouterr().out
    assert "comparing" in out and "on study-dev" in out
    record = json.loads(next((_tiny_study / "results").glob("compare-board_net-onnx-dev-cmp*/compare.json"))
                        .read_text())
    assert record["device"] == "study-dev"
    assert {r["runtime"]: r["status"] for r in record["table"]} == {"onnxruntime": "passed", "litert": "passed"}
    assert record["answers"][0]["ship"] in ("onnxruntime", "litert")

    profile = "compare-board_net-onnx-not-set-up"
    (_tiny_study / "params" / "profiles" / f"{profile}.yaml").unlink(missing_ok=True)
    code = main(["compare", str(net), "--device", "study-dev", "--name", profile])
    err = capsys.readouterr().err
    assert code == 2 and f"device setup {profile}" in err, err  # a device not set up names the command that does
