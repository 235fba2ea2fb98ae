"""`make report` on the tiny model: executed notebook, HTML with embedded figures, index, and no rework."""

import re

from helpers import write_profile
from study.report import pages as report


def test_report_builds_index_and_skips_unchanged_work(tiny_study, tiny_report, monkeypatch):
    index = tiny_report
    page = index.read_text()
    assert "Profile <code>tiny</code>" in page
    assert "min of measuring over" in page  # when and how long the profile took to measure
    assert "claims against these measurements" in page and "href='tiny/05_summary.html'" in page
    links = re.findall(r"href='(tiny/[^']+\.html)'", page.split("<h2>Pages and raw tables</h2>", 1)[1])
    assert links == [f"tiny/{nb.stem}.html" for nb in report.notebooks()]
    assert len(links) >= 3
    import nbformat

    for link in links:
        html = (index.parent / link).read_text()
        assert "data:image/png;base64" in html  # every notebook's figure is embedded in its page
        assert "Traceback" not in html
        executed_nb = nbformat.read(str(index.parent / link.replace(".html", ".ipynb")), as_version=4)
        assert not [o for c in executed_nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    # the answer: the pick for digits_cnn with its reason and runner-up, and the headline figure
    assert "<td class='text'>digits_cnn</td>" in page and "runner-up" in page and "data:image/png;base64" in page
    assert (tiny_study / "figures" / "tiny" / "latency_digits_cnn.png").exists()

    report.build_report(["tiny"])  # the summary compares every profile: other tests may have added some since
    executed = []
    real_render = report.render

    def spy(notebook, profile, force=False):
        result = real_render(notebook, profile, force)
        executed.append(result[1])
        return result

    monkeypatch.setattr(report, "render", spy)
    report.build_report(["tiny"])
    assert executed and not any(executed)  # nothing changed: no notebook is executed again


def test_report_validates_every_profile_before_measuring(bench_root):
    import pytest

    from study.core.errors import StudyError

    write_profile(bench_root, "fine", runtimes=["onnxruntime"], batch_sizes=[1])
    with pytest.raises(StudyError, match="no such profile"):
        report.build_report(["fine", "missing-one"])
    assert not (bench_root / "results" / "fine").exists()


def test_only_a_notebook_that_compares_profiles_goes_stale_when_another_profile_changes(study_root):
    import shutil

    from helpers import REPO

    shutil.copytree(REPO / "notebooks", study_root / "notebooks")
    for name in ("mine", "other"):
        (study_root / "results" / name).mkdir(parents=True)
        (study_root / "results" / name / "latency.csv").write_text("case_id,p50_ms\na,1.0\n")
    by_stem = {nb.stem: nb for nb in report.notebooks()}
    summary, timing = by_stem["05_summary"], by_stem["01_inference_time"]
    assert report.reads_every_profile(summary) and not report.reads_every_profile(timing)
    before = {nb: report._inputs_hash(nb, {}, "mine") for nb in (summary, timing)}
    (study_root / "results" / "other" / "latency.csv").write_text("case_id,p50_ms\na,2.0\n")
    assert report._inputs_hash(summary, {}, "mine") != before[summary]
    assert report._inputs_hash(timing, {}, "mine") == before[timing]


def _early_report(tiny_study, tmp_path, monkeypatch, second_phase):
    """A report whose measuring is faked: the tiny study's results land as the latency phase, then
    ``second_phase(on_phase)`` runs; the notebook pages are not rendered. The landing page's text after each phase."""
    import shutil

    from helpers import REPO

    monkeypatch.setenv("STUDY_ROOT", str(tmp_path))
    shutil.copytree(REPO / "notebooks", tmp_path / "notebooks")
    write_profile(tmp_path, "early")
    seen, calls = [], []

    def fake_bench(profile, force=False, only=None, skip=(), on_phase=None, **_):
        calls.append((profile, tuple(only or ()), tuple(skip)))
        if only == ["latency"]:
            shutil.copytree(tiny_study / "results" / "tiny", tmp_path / "results" / profile, dirs_exist_ok=True)
            on_phase(profile, "latency (racing the close calls)", {})
            on_phase(profile, "latency", {})
        else:
            second_phase(on_phase)
        seen.append((tmp_path / "reports" / "index.html").read_text())

    monkeypatch.setattr(report, "bench", fake_bench)
    monkeypatch.setattr(report, "render", lambda notebook, profile, force=False: (
        tmp_path / "reports" / profile / f"{notebook.stem}.html", False, ""))
    return seen, calls


def test_the_landing_page_answers_as_soon_as_the_latency_phase_lands(tiny_study, tmp_path, monkeypatch):
    import json

    seen, calls = _early_report(tiny_study, tmp_path, monkeypatch,
                                lambda on_phase: on_phase("early", "quantization", {}))
    planned = report.Progress(["early"], force=False).left["early"]  # each phase's estimate before anything ran
    index = report.build_report(["early"])
    # every profile's latency alone first, then the rest without measuring latency again
    assert calls == [("early", ("latency",), ()), ("early", (), ("latency",))]
    first = seen[0]
    still = [name for name in planned if name != "latency"]
    assert still and "Still measuring" in first and f"early: {', '.join(still)}" in first
    assert f"about {sum(planned[name] for name in still) / 60:.0f} min left" in first
    assert "<td class='text'>digits_cnn</td>" in first  # the pick is there before the other phases
    assert "Still measuring" not in index.read_text()  # the finished report has no banner
    progress = json.loads((tmp_path / "reports" / "progress.json").read_text())
    assert progress["first_answer_s"] is not None and progress["finished_s"] >= progress["first_answer_s"]


def test_an_interrupted_report_says_what_is_missing_and_how_to_finish(tiny_study, tmp_path, monkeypatch):
    import json

    import pytest

    def interrupt(on_phase):
        raise KeyboardInterrupt

    _early_report(tiny_study, tmp_path, monkeypatch, interrupt)
    with pytest.raises(KeyboardInterrupt):
        report.build_report(["early"])
    page = (tmp_path / "reports" / "index.html").read_text()
    assert "Interrupted" in page and "Ctrl-C" in page and "make report" in page
    still = [name for name in report.Progress(["early"], force=False).left["early"] if name != "latency"]
    assert still and f"before measuring early: {', '.join(still)}." in page  # the phases after latency, still to do
    assert "<td class='text'>digits_cnn</td>" in page  # what was measured still answers
    assert json.loads((tmp_path / "reports" / "progress.json").read_text())["interrupted"] == "Ctrl-C"
