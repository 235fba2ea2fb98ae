"""Results measured on another machine join the report; bad or partial folders change nothing."""

import json
import shutil

import pandas as pd
import pytest

from helpers import write_profile
from study.core.errors import StudyError


def _tree(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def exported(tiny_study, tmp_path):
    """A results folder 'measured on a Raspberry Pi' under a profile that exists only there: the tiny study's,
    relabelled (nothing measured again). Its profile travels in the folder, as bench writes it."""
    from study.plan.profiles import load_profile

    folder = tmp_path / "from-the-pi" / "device"
    shutil.copytree(tiny_study / "results" / "tiny", folder)
    assert (folder / "profile.yaml").is_file()  # bench keeps the profile it measured with beside the results
    device_yaml = write_profile(tmp_path / "on-the-pi", "device")
    shutil.copy(device_yaml, folder / "profile.yaml")
    env = json.loads((folder / "environment.json").read_text())
    env.update(machine="raspberrypi", cpu_model="Cortex-A72", architecture="aarch64", profile="device",
               profile_hash=load_profile(device_yaml).content_hash)
    (folder / "environment.json").write_text(json.dumps(env))
    assert not (tiny_study / "params" / "profiles" / "device.yaml").exists()
    yield folder
    shutil.rmtree(tiny_study / "results" / "device", ignore_errors=True)


def test_import_adds_the_rows_and_measures_nothing_here(tiny_study, exported, monkeypatch, tmp_path):
    import study.measure.cases as cases_module
    import study.phases.bench as bench_module
    from study.measure.importer import import_results, imported_profiles
    from study.report.plots import machine_of

    import_results(exported)
    assert "device" in imported_profiles()
    monkeypatch.setattr(cases_module, "measure_case", lambda *a, **k: pytest.fail("measured an imported profile"))
    table = bench_module.bench("device", progress=False)
    assert len(table) == 6 and (table["status"] == "ok").all()
    assert "raspberrypi (Cortex-A72, aarch64), imported" == machine_of("device")
    from study.core import paths
    from study.report.landing import write_index
    from study.plan.profiles import load_profile

    assert load_profile("device").path == tiny_study / "results" / "device" / "profile.yaml"

    monkeypatch.setattr(paths, "reports_dir", lambda: tmp_path / "reports")  # the shared report stays as built

    index = write_index(["device"], {}, []).read_text()  # make report adds imported profiles to its list
    assert "Imported: measured on raspberrypi (Cortex-A72)" in index and "<table" in index


def test_a_folder_without_its_profile_needs_the_profile_here(tiny_study, exported):
    from study.measure.importer import import_results

    (exported / "profile.yaml").unlink()
    with pytest.raises(StudyError, match="no profile.yaml, and profile 'device' is not defined.*Fix: re-run"):
        import_results(exported)
    write_profile(tiny_study, "device")  # an older folder still imports where the profile is defined here
    try:
        import_results(exported)
    finally:
        (tiny_study / "params" / "profiles" / "device.yaml").unlink()


def test_import_refuses_to_overwrite_unless_replace(tiny_study, exported):
    from study.measure.importer import import_results

    import_results(exported)
    before = _tree(tiny_study / "results" / "device")
    with pytest.raises(StudyError, match="exist here.*Fix: add --replace"):
        import_results(exported)
    assert _tree(tiny_study / "results" / "device") == before
    import_results(exported, replace=True)
    assert (tiny_study / "results" / "device" / "imported.json").exists()


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "environment.json").unlink(), "no environment.json"),
    (lambda f: (f / "environment.json").write_text('{"machine": "pi"'), "not valid JSON"),
    (lambda f: next((f / "cases").glob("*.json")).write_text("{trunc"), "corrupt record"),
    (lambda f: shutil.rmtree(f / "cases"), "no case records"),
    (lambda f: (f / "profile.yaml").write_text((f / "profile.yaml").read_text().replace("min_runs", "min_runs: 7 #")),
     "differs from the profile the results were measured with"),
    (lambda f: (f / "profile.yaml").write_text("name: [device"), "malformed YAML"),
    (lambda f: pd.read_csv(f / "latency.csv").drop(columns=["p50_ms"]).to_csv(f / "latency.csv", index=False),
     "lacks columns p50_ms"),
    # a folder of records a phase added later wrote is checked like the study's own, with no list naming it
    (lambda f: ((f / "a_later_phase").mkdir(), (f / "a_later_phase" / "x.json").write_text('{"case_id": "y"}')),
     "a_later_phase/x.json: not a results record"),
    (lambda f: (f / "cases" / "stolen.json").symlink_to(f / "environment.json"), "stolen.json: a symbolic link"),
])
def test_a_bad_or_partial_folder_is_one_error_and_changes_nothing(tiny_study, exported, damage, message):
    from study.measure.importer import import_results

    damage(exported)
    results = tiny_study / "results"
    before = _tree(results)
    with pytest.raises(StudyError, match=f"{message}.*Fix:"):
        import_results(exported)
    assert _tree(results) == before


def test_import_from_the_command_line_is_one_error_line(bench_root, tmp_path, capsys):
    from study.cli import main

    assert main(["import", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "Fix:" in err[0]
