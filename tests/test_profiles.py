import subprocess
import sys

import pytest
import yaml

from helpers import REPO, TINY_PROFILE, write_profile
from study.core.errors import StudyError
from study.plan.profiles import load_profile, profile_names


def test_shipped_profiles_are_valid(monkeypatch):
    monkeypatch.delenv("STUDY_ROOT", raising=False)
    names = profile_names()
    assert {"ci", "host-1t", "host"} <= set(names)
    for name in names:
        profile = load_profile(name)
        assert profile.name == name
        assert profile.energy.power_model.source


def test_valid_profile_loads_and_resolves(study_root):
    profile = load_profile(write_profile(study_root, "ok", threads=[1, "all"], cpu_affinity="all"))
    assert profile.models == ("digits_cnn",)
    assert profile.timing.min_runs == 5
    assert profile.resolved_threads()[0] == 1
    assert profile.resolved_threads()[-1] == len(profile.allowed_cpus())


def test_content_hash_follows_content(study_root):
    first = load_profile(write_profile(study_root, "a")).content_hash
    assert load_profile(write_profile(study_root, "a")).content_hash == first
    timing = dict(TINY_PROFILE["timing"], min_runs=6)
    assert load_profile(write_profile(study_root, "a", timing=timing)).content_hash != first


def _nested(section, **changes):
    return dict(TINY_PROFILE[section], **changes)


INVALID = {
    "unknown key": ({"threds": [1]}, ["threds: unknown key", "did you mean 'threads'"]),
    "unknown nested key": ({"timing": _nested("timing", min_run=3)}, ["timing.min_run: unknown key", "min_runs"]),
    "wrong type": ({"timing": _nested("timing", min_runs="ten")}, ["timing.min_runs", "whole number", "'ten'"]),
    "bool for int": ({"batch_sizes": [True]}, ["batch_sizes: item 0", "whole number"]),
    "empty list": ({"batch_sizes": []}, ["batch_sizes", "non-empty list"]),
    "negative": ({"timing": _nested("timing", warmup_seconds=-1)}, ["timing.warmup_seconds", ">= 0"]),
    "unknown model": ({"models": ["mobilenet_v9"]}, ["models: item 0", "unknown model 'mobilenet_v9'",
                                                     "did you mean 'mobilenet_v2'"]),
    "unknown runtime": ({"runtimes": ["tflite"]}, ["runtimes: item 0", "unknown runtime 'tflite'", "litert"]),
    "bad threads": ({"threads": ["many"]}, ["threads: item 0", "'all'"]),
    "bad affinity": ({"cpu_affinity": "some"}, ["cpu_affinity", "[0] or all"]),
    "duplicate": ({"runtimes": ["litert", "litert"]}, ["runtimes", "duplicate"]),
    "bad energy source": ({"energy": _nested("energy", source="guess")}, ["energy.source", "rapl"]),
    "uncited power model": ({"energy": _nested("energy", power_model=dict(
        TINY_PROFILE["energy"]["power_model"], source=""))}, ["energy.power_model.source", "non-empty"]),
    "active below idle": ({"energy": _nested("energy", power_model=dict(
        TINY_PROFILE["energy"]["power_model"], active_watts=0.5))}, ["active_watts", "below idle_watts"]),
    "max below min": ({"timing": _nested("timing", min_seconds=10, max_seconds=5)}, ["timing.max_seconds"]),
    "name differs": ({"name": "other"}, ["name: 'other' differs from the file name"]),
}


@pytest.mark.parametrize("case", INVALID, ids=list(INVALID))
def test_invalid_profile_gives_one_clear_line(study_root, case):
    changes, expected = INVALID[case]
    path = write_profile(study_root, "bad", **changes)
    with pytest.raises(StudyError) as raised:
        load_profile(path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("params/profiles/bad.yaml: ")
    assert "Fix:" in message
    for fragment in expected:
        assert fragment in message


def test_missing_field(study_root):
    profile = {k: v for k, v in TINY_PROFILE.items() if k != "models"}
    path = study_root / "params" / "profiles" / "tiny.yaml"
    path.write_text(yaml.safe_dump(profile))
    with pytest.raises(StudyError, match=r"tiny.yaml: models: missing\. Fix:"):
        load_profile(path)


def test_a_profile_needs_only_its_name_and_models(study_root):
    """A device profile as a new user writes it from the README: no timing, no thread or CPU keys. The defaults
    fill in the rest (the host profiles' timing), and they are the same as writing them out."""
    path = study_root / "params" / "profiles" / "mine.yaml"
    path.write_text("name: mine\nmodels: [mobilenet_v2]\ndevice: {transport: ssh, host: pi@192.168.1.20}\n")
    profile = load_profile(path)
    assert profile.timing.target_ci == 0.0 and profile.timing.processes == 3 and profile.threads == (1,)
    written = {key: value for key, value in profile.model_dump(mode="json", exclude_none=True, warnings=False).items()
               if value not in ([], {})}
    path.write_text(yaml.safe_dump(written))
    assert load_profile(path).content_hash == profile.content_hash


@pytest.mark.parametrize("text, expected", [
    ("name: x\nthreads: [1\n", "malformed YAML at line"),
    ("- just\n- a list\n", "expected a mapping"),
    ("", "expected a mapping"),
])
def test_malformed_yaml(study_root, text, expected):
    path = study_root / "params" / "profiles" / "broken.yaml"
    path.write_text(text)
    with pytest.raises(StudyError, match=expected):
        load_profile(path)


def test_unknown_profile_name_lists_known(study_root):
    write_profile(study_root, "tiny")
    with pytest.raises(StudyError, match="no such profile. Fix: use one of: tiny"):
        load_profile("nope")


def test_affinity_to_missing_cpu_is_an_error_at_use(study_root):
    profile = load_profile(write_profile(study_root, "far", cpu_affinity=[4096]))
    with pytest.raises(StudyError, match=r"cpu_affinity: CPU \[4096\] not available"):
        profile.allowed_cpus()


def _cli(*args, env_root=None):
    import os

    env = dict(os.environ)
    if env_root:
        env["STUDY_ROOT"] = str(env_root)
    return subprocess.run([sys.executable, "-m", "study", *args], capture_output=True, text=True, env=env,
                          cwd=REPO)


def test_cli_help_lists_commands():
    result = _cli("--help")
    assert result.returncode == 0
    for command in ("validate", "convert", "bench", "import", "report"):
        assert command in result.stdout


def test_cli_validate_ok_and_bad(study_root):
    good = write_profile(study_root, "good")
    result = _cli("validate", str(good), env_root=study_root)
    assert result.returncode == 0 and result.stdout.startswith("ok: good.yaml")

    bad = write_profile(study_root, "bad", models=["resnet9000"])
    result = _cli("validate", str(bad), env_root=study_root)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: params/profiles/bad.yaml: models: item 0: unknown model 'resnet9000'")
    assert "Traceback" not in result.stderr


def test_cli_unknown_model_for_convert(study_root):
    result = _cli("convert", "--model", "resnet9000", env_root=study_root)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "unknown model 'resnet9000'" in result.stderr


@pytest.mark.parametrize("value, expected", [("1", True), ("", False), ("0", False)])
def test_force_comes_from_the_environment(monkeypatch, value, expected):
    from study.cli import parser

    monkeypatch.setenv("FORCE", value)
    for argv in (["bench", "--profile", "ci"], ["report"], ["convert", "--model", "digits_cnn"]):
        assert parser().parse_args(argv).force is expected
