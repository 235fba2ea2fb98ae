"""``python -m study compare MODEL``: from a user's model file to the answer in one command.

It writes the model's profile (``study.plan.compare``), says what the model is, converts it for every runtime
with a line each as it lands (time, parity, what XNNPACK took), times the runtimes (the latency phase: rounds of
fresh processes, then the duel), and prints the table and the pick in one sentence. Everything lands in the
profile's results folder as for any profile, with ``compare.json`` and ``compare.md`` beside it.

Exit status: 0 when an answer was given, 1 when no runtime ran the model, 2 for bad input (``cli``).
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

import pandas as pd

from study.analyze.compare import (MARKS, PASSED, Limits, answer, compare_table, label, markdown)
from study.build.convert import artifact_batch, conversion_rows, ensure_artifact, model_spec
from study.build.export import SOURCE_FORMATS
from study.core import environment, paths
from study.core.errors import StudyError
from study.core.fsutil import write_json_atomic, write_text_atomic
from study.core.runtimes import RUNTIMES
from study.core.store import ResultsStore, load_latency
from study.phases.bench import bench
from study.plan.compare import Request, profile_content, write_profile
from study.plan.profiles import Profile, load_profile

COMPARE_VERSION = 1
RANDOM_INPUTS_WARNING = ("parity was checked on seeded random inputs: real inputs can show what these hide "
                         "(give yours with --inputs)")


def _size(n_bytes: float) -> str:
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 1e5 else f"{n_bytes / 1e3:.1f} kB"


def _count(n: float) -> str:
    """1234567 -> "1.23 M": the unit a person reads such counts in."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} "


def header(model: str, say=print) -> dict:
    """What the model is: its inputs and outputs, parameters, FLOPs and file size (from its ONNX graph where it has
    one). Raises StudyError when the model cannot be loaded at all: nothing can be compared."""
    from study.build.flops import model_card
    from study.build.models import byo

    spec, problem = model_spec(model, log=lambda message: None)
    if spec is None:
        raise StudyError(f"model {model}: {problem}. Fix: check that the file is complete and opens in its own "
                         "runtime (a truncated download or a wrong extension reads so)")
    card = model_card(model)
    size = byo.file_path(model).stat().st_size if byo.kind(model) == "file" else None
    inputs = card.get("inputs") or ([{"name": i["name"], "shape": i["shape"], "dtype": i.get("dtype", "float32")}
                                     for i in spec.inputs] or
                                    [{"name": "input", "shape": [1, *spec.input_shape], "dtype": "float32"}])
    say(f"model    {model} ({spec.framework}" + (f", {_size(size)}" if size else "") + ")")
    say("inputs   " + ", ".join(f"{i['name']} {'x'.join(map(str, i['shape']))} {i['dtype']}" for i in inputs))
    if card.get("outputs"):
        say("outputs  " + ", ".join(f"{o['name']} {'x'.join(map(str, o['shape']))} {o['dtype']}"
                                     for o in card["outputs"]))
    facts = []
    if card.get("parameters") is not None:
        facts.append(f"{_count(card['parameters'])} parameters")
    if card.get("flops"):
        facts.append(f"{_count(card['flops'])}FLOP per inference")
    if facts:
        say("size     " + ", ".join(facts) + " (counted on its ONNX graph)")
    return {"model": model, "framework": spec.framework, "file_bytes": size, "inputs": inputs, **card}


def _conversion_line(runtime: str, artifact, source_format: str) -> str:
    record = artifact.record
    name = f"{label(runtime):<18}"
    if record.get("status") == "n/a":
        return f"{MARKS['no route']} {name} no route: {record.get('error')}"
    if record.get("status") == "failed":
        return f"{MARKS['failed']} {name} {record.get('error')}"
    parts = ["your file, as given" if artifact.format == source_format
             else f"converted in {record.get('seconds', 0):.1f} s"]
    if record.get("max_rel_diff") is not None:
        parts.append(f"parity max rel diff {record['max_rel_diff']:.1e}, cosine {record.get('cosine_min', 1):.6f}"
                     + (f", top-1 {100 * record['top1_agreement']:.0f}%" if record.get("top1_agreement") is not None
                        else ""))
    if record.get("delegated_share") is not None:
        parts.append(f"XNNPACK took {100 * record['delegated_share']:.0f}% of operators")
    mark = MARKS[PASSED] if record.get("status") == "ok" else MARKS["parity failed"]
    why = "" if record.get("status") == "ok" else f" ({record.get('error')})"
    return f"{mark} {name} " + "; ".join(parts) + why


def convert_for(profile: Profile, say=print) -> tuple[pd.DataFrame, dict]:
    """Every runtime's artifact of the profile's model, converted side by side (the source first), a line each as
    it lands; the conversion matrix's rows for those formats (written to ``conversions.csv``) and the batch-1
    artifacts by runtime."""
    model = profile.models[0]
    spec, _ = model_spec(model, log=lambda message: None)
    source = SOURCE_FORMATS[spec.framework]
    ensure_artifact(model, source, log=lambda message: None)
    wanted = [(runtime, RUNTIMES[runtime].artifact_format, batch) for runtime in profile.runtimes
              for batch in sorted({artifact_batch(RUNTIMES[runtime].artifact_format, b) or 1
                                   for b in profile.batch_sizes})]
    artifacts = {}
    with ThreadPoolExecutor(max_workers=2) as pool:  # two conversions at once: each is one process, mostly 1 CPU
        futures = {pool.submit(ensure_artifact, model, fmt, batch, False, lambda message: None): (runtime, batch)
                   for runtime, fmt, batch in wanted}
        for future in as_completed(futures):
            runtime, batch = futures[future]
            artifact = future.result()
            if batch == min(b for r, _, b in wanted if r == runtime):
                artifacts[runtime] = artifact
            say(_conversion_line(runtime, artifact, source) + (f" (batch {batch})" if batch != 1 else ""))
    targets = {RUNTIMES[runtime].artifact_format for runtime in profile.runtimes}
    matrix = conversion_rows(model, targets, log=lambda message: None)
    ResultsStore(profile.name).write_conversions(matrix)
    return matrix, artifacts


def parity_on_yours(profile: Profile, artifacts: dict, inputs, say=print) -> dict:
    """Each runtime's parity on the user's inputs (``build.user_inputs``), a line each; by runtime, with the
    verdict's status."""
    from study.build.convert import parity_on_inputs
    from study.build.validation import verdict

    model = profile.models[0]
    count = len(inputs[0] if isinstance(inputs, tuple) else inputs)
    found = parity_on_inputs(model, inputs, artifacts)
    for runtime, metrics in found.items():
        if metrics.get("status") == "failed":
            say(f"{MARKS['failed']} {label(runtime):<18} on your {count} inputs: {metrics.get('error')}")
            continue
        status, why = verdict(metrics)
        metrics.update(status="ok" if status == "ok" else "mismatch", error=why)
        say(f"{MARKS[PASSED] if status == 'ok' else MARKS['parity failed']} {label(runtime):<18} on your {count} "
            f"inputs: max rel diff {metrics['max_rel_diff']:.1e}, cosine {metrics['cosine_min']:.6f}"
            + (f", top-1 {100 * metrics['top1_agreement']:.0f}%" if metrics.get("top1_agreement") is not None else "")
            + (f" ({why})" if why else ""))
    return {"runtimes": found, "count": count}


def _versions(latency: pd.DataFrame) -> dict[str, str]:
    if not len(latency) or "runtime_version" not in latency:
        return {}
    return {str(r): str(v) for r, v in zip(latency["runtime"], latency["runtime_version"]) if isinstance(v, str)}


def _clean(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def compare(request: Request, limits: Limits = Limits(), force: bool = False, report: bool = False,
            inputs: str | None = None, preprocess: str | None = None, say=print) -> int:
    """The whole command; its exit status (0 answered, 1 nothing ran the model). Bad input raises StudyError."""
    started = time.perf_counter()
    content = profile_content(request)  # an unknown device or runtime: one line before anything runs
    model = content["models"][0]
    where = content["device"]["host"] if "device" in content else f"this machine ({environment.cpu_model()})"
    say(f"comparing {model} on {where}")
    card = header(model, say)  # a file no runtime can open: one line, and no profile is written for it
    arrays = None
    if inputs:  # checked before anything converts: inputs of the wrong shape are one line, at once
        from study.build.user_inputs import load_user_inputs

        arrays = load_user_inputs(inputs, model_spec(model, log=lambda message: None)[0], preprocess)
    path = write_profile(content)
    profile = load_profile(path)
    say(f"profile  {profile.name} ({path.relative_to(paths.root()) if path.is_relative_to(paths.root()) else path}):"
        f" make report PROFILES={profile.name} renders its pages")
    matrix, artifacts = convert_for(profile, say)
    yours = parity_on_yours(profile, artifacts, arrays, say) if arrays is not None else None
    if yours is None:
        say(RANDOM_INPUTS_WARNING)
    if any(artifact.ok for artifact in artifacts.values()):
        bench(profile, force=force, only="latency", progress=True)
    store = ResultsStore(profile.name)
    latency = load_latency(profile.name) if store.latency_csv.exists() else pd.DataFrame()
    comparisons_path = store.directory / "comparisons.csv"
    comparisons = pd.read_csv(comparisons_path) if comparisons_path.is_file() and comparisons_path.stat().st_size \
        else pd.DataFrame()
    table = compare_table(model, list(profile.runtimes), matrix, latency, yours["runtimes"] if yours else None)
    answers = []
    for threads, batch in sorted({(t, b) for t, b in zip(table["threads"], table["batch"]) if t is not None}):
        found = answer(table, comparisons, model, int(threads), int(batch), limits)
        answers.append({"threads": int(threads), "batch": int(batch), **found})
    if not answers:
        answers.append({"threads": None, "batch": None, "ship": None, "outcome": "none ran", "basis": "",
                        "sentence": "No runtime ran the model: see each row's cause and fix."})
    shown = markdown(table)
    say("")
    say(shown)
    say("")
    several = len(answers) > 1
    for found in answers:
        say((f"{found['threads']} thread(s), batch {found['batch']}: " if several else "") + found["sentence"])
    seconds = time.perf_counter() - started
    record = {"version": COMPARE_VERSION, "profile": profile.name, "model": card, "device": where,
              "limits": {k: v for k, v in vars(limits).items() if v is not None},
              "inputs": {"given": inputs, "samples": yours["count"], "preprocess": preprocess} if yours
              else "seeded random",
              "runtimes": {r: _versions(latency).get(r, "") for r in profile.runtimes},
              "table": [{k: _clean(v) for k, v in row.items()} for row in table.to_dict("records")],
              "answers": answers, "seconds": round(seconds, 1), "written_at": environment.utc_now()}
    write_json_atomic(store.directory / "compare.json", record)
    write_text_atomic(store.directory / "compare.md",
                      f"# {model} on {where}\n\n" + shown + "\n\n" + "\n".join(f"- {a['sentence']}" for a in answers)
                      + (f"\n\nParity on your {yours['count']} inputs ({inputs}).\n" if yours
                         else f"\n\n{RANDOM_INPUTS_WARNING}.\n"))
    say(f"written: results/{profile.name}/compare.json and compare.md ({seconds / 60:.1f} min)")
    if report:
        from study.report.pages import build_report

        say(f"report: {build_report([profile.name], force=False)}")
    return 0 if any(a["ship"] for a in answers) or any(a["outcome"] == "none fits" for a in answers) else 1
