"""``python -m study``: validate profiles, convert models, measure, import results, build the report."""

from __future__ import annotations

import argparse
import os
import sys

from study.core.errors import StudyError
from study.phases import PHASES


def _force_default() -> bool:
    return os.environ.get("FORCE", "") not in ("", "0")


def cmd_phases(args) -> int:
    """The registered phases, in the order a run takes them, with the profile section each needs."""
    for entry in PHASES.values():
        needs = f"needs the '{entry.section}' section" if entry.section else "every profile"
        print(f"{entry.name:<13} {entry.about} ({needs}; writes {', '.join(entry.tables)})")
    return 0


def cmd_validate(args) -> int:
    from study.plan.profiles import load_profile, profile_names

    targets = args.paths or profile_names()
    for target in targets:
        profile = load_profile(target)
        print(f"ok: {profile.path.name}: {len(profile.models)} model(s) x {len(profile.runtimes)} runtime(s) x "
              f"{len(profile.threads)} thread setting(s) x {len(profile.batch_sizes)} batch size(s)")
    return 0


def cmd_convert(args) -> int:
    from study.build.convert import conversion_matrix
    from study.build.models import check_model_ref
    from study.plan.profiles import load_profile

    if args.model:
        check_model_ref(args.model)
        models = [args.model]
    else:
        profile = load_profile(args.profile)
        models = list(dict.fromkeys(profile.conversion_models + profile.models))
    matrix = conversion_matrix(models, force=args.force)
    shown = matrix[["model", "target", "status", "bytes", "seconds", "max_rel_diff", "error"]].copy()
    shown["error"] = shown["error"].fillna("").astype(str).str.slice(0, 90)
    print(shown.to_string(index=False, na_rep=""))
    sources = matrix["is_source"].astype(bool)
    counts = matrix.loc[~sources, "status"].value_counts().to_dict()
    unloadable = int((sources & (matrix["status"] == "failed")).sum())
    failed = unloadable + counts.get("failed", 0)
    print(f"models: {len(models)}, {unloadable} could not be loaded; conversions: "
          + (", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"))
    return 1 if failed else 0  # scripts can rely on it: every other model was still converted and recorded


def cmd_bench(args) -> int:
    from study.phases.bench import bench, parse_phases

    parse_phases(args.only)  # a typo in --only is one error line before anything runs
    table = bench(args.profile, force=args.force, only=args.only)
    failed = int((table["status"] != "ok").sum()) if len(table) else 0
    unloadable = _unloadable_models(args.profile)
    unmeasured = int(table.attrs.get("unmeasured", 0))
    print(f"{len(table)} cases in results/{args.profile}/latency.csv, {failed} failed (recorded with their errors); "
          f"{unloadable} model(s) could not be loaded"
          + (f"; {unmeasured} process(es) not measured (the device could not run them: run again)" if unmeasured
             else ""))
    return min(failed + unloadable + unmeasured, 100)  # counts what failed, after recording everything else


def _unloadable_models(profile_ref: str) -> int:
    """Models of the profile whose source could not be loaded (the conversion matrix's failed source rows)."""
    import pandas as pd

    from study.plan.profiles import load_profile
    from study.core.store import ResultsStore

    path = ResultsStore(load_profile(profile_ref).name).conversions_csv
    if not path.exists():
        return 0
    matrix = pd.read_csv(path, keep_default_na=False)
    return int(((matrix["is_source"].astype(str) == "True") & (matrix["status"] == "failed")).sum())


def cmd_import(args) -> int:
    from study.measure.importer import import_results

    import_results(args.path, replace=args.replace)
    return 0


def cmd_device(args) -> int:
    """Set up, check, or stand in for the device of a profile."""
    from study.plan.profiles import load_profile

    if args.action == "stand-in":
        from study.measure.devices.standin import serve

        return serve(args.profile, minutes=args.minutes)
    profile = load_profile(args.profile)
    if profile.device is None:
        raise StudyError(f"profile '{profile.name}' names no device: it is timed on this machine. Fix: add a device: "
                         f"section (see params/profiles/rpi5.yaml), or use a profile that has one")
    if args.action == "setup":
        from study.measure.devices.setup import setup

        done = setup(profile)
        print(f"{profile.device.host}: venv {profile.device.venv_dir} holds {' '.join(done['installed'])}; every "
              f"runtime of the profile imports")
        return 0
    from study.measure.devices.setup import check, describe_check

    report = check(profile)
    print("\n".join(describe_check(profile, report)))
    return len(report.missing)


def cmd_compare(args) -> int:
    from study.analyze.compare import Limits
    from study.plan.compare import Request, parse_batch, parse_threads
    from study.report.compare import compare

    request = Request(args.model, device=args.device, threads=parse_threads(args.threads),
                      batch=parse_batch(args.batch), name=args.name,
                      runtimes=tuple(r.strip() for r in args.runtimes.split(",") if r.strip()) if args.runtimes
                      else None)
    limits = Limits(args.budget_ms, args.max_size_mb, args.max_memory_mb)
    return compare(request, limits, force=args.force, report=args.report, inputs=args.inputs,
                   preprocess=args.preprocess)


def cmd_report(args) -> int:
    from study.report.pages import build_report

    index = build_report(args.profiles, force=args.force)
    print(f"report: {index}")
    return 0


def cmd_tradeoff(args) -> int:
    from study.phases.tradeoff import Design, run_tradeoff, summary
    from study.plan.profiles import load_profile

    try:
        designs = [Design.parse(text) for text in args.designs.split(",")]
    except ValueError as exc:
        raise StudyError(f"--designs: {exc}. Fix: name each design as PROCESSESxSECONDS, comma-separated") from None
    profile = load_profile(args.profile)
    frame = run_tradeoff(profile, args.model, designs, args.repeats, args.runtimes.split(",") if args.runtimes
                         else None)
    print(frame.to_string(index=False))
    print(summary(frame).to_string(index=False))
    print(f"written: results/{profile.name}/tradeoff.csv")
    return 0


def cmd_agreement(args) -> int:
    import pandas as pd

    from study.analyze.agreement import agreement, headline
    from study.core.store import ResultsStore

    runs = []
    for name in (args.first, args.second):
        store = ResultsStore(name)
        if not store.latency_csv.exists():
            raise StudyError(f"results/{name}/latency.csv: not found. Fix: name a results folder that holds a "
                             "measured latency phase (copy results/PROFILE aside before the rerun)")
        ids = pd.read_csv(store.latency_csv, usecols=["case_id"])["case_id"].tolist()
        runs.append(store.records(ids))
    duels = [ResultsStore(name).directory / "comparisons.csv" for name in (args.first, args.second)]
    table = agreement(*runs, *[pd.read_csv(path) if path.exists() and path.stat().st_size else None for path in duels])
    print(table.to_string(index=False))
    print(headline(table))
    from study.core.fsutil import csv_text, write_text_atomic

    kept = ResultsStore(args.second).directory / f"agreement-with-{args.first}.csv"
    write_text_atomic(kept, csv_text(table))
    print(f"written: results/{args.second}/{kept.name}")
    return 0


def cmd_duel_check(args) -> int:
    from study.phases.duel_check import duel_check
    from study.plan.profiles import load_profile

    profile = load_profile(args.profile)
    found = duel_check(profile, args.model, args.runtimes.split(",") if args.runtimes else None, args.aa, args.loops,
                       args.loop_seconds)
    a_a = found["a_a"]
    print(f"A/A: {100 * a_a['covers_1_share']:.0f}% of {len(a_a['duels'])} duels cover 1, "
          f"{100 * a_a['equivalent_share']:.0f}% equivalent")
    inside = [r for r, a in found["agreement"].items() if a["inside_loops_interval"]]
    print(f"bare loops: {len(inside)} of {len(found['agreement'])} duel ratios inside the long loops' interval")
    print(f"written: results/{profile.name}/duel_check.json")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m study", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    phases = commands.add_parser("phases", help="list the phases a bench run can take (for --only)")
    phases.set_defaults(run=cmd_phases)

    validate = commands.add_parser("validate", help="check device profiles against the schema")
    validate.add_argument("paths", nargs="*", help="profile files or names (default: every profile in params/profiles)")
    validate.set_defaults(run=cmd_validate)

    convert = commands.add_parser("convert", help="export models to every format a runtime needs")
    which = convert.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", help="one model name")
    which.add_argument("--profile", help="every model of a profile")
    convert.add_argument("--force", action="store_true", default=_force_default(), help="convert again (or FORCE=1)")
    convert.set_defaults(run=cmd_convert)

    bench = commands.add_parser("bench", help="measure every case of a profile not measured yet")
    bench.add_argument("--profile", required=True, help="profile name or path")
    bench.add_argument("--force", action="store_true", default=_force_default(), help="measure again (or FORCE=1)")
    bench.add_argument("--only", default=None, metavar="PHASES",
                       help=f"comma-separated phases to run: {','.join(PHASES)} (default: all that the profile "
                            "configures)")
    bench.set_defaults(run=cmd_bench)

    tradeoff = commands.add_parser("tradeoff", help="fewer longer processes or more shorter ones: measure both")
    tradeoff.add_argument("--profile", required=True, help="profile name or path")
    tradeoff.add_argument("--model", default="mobilenet_v2", help="the comparison group's model")
    tradeoff.add_argument("--runtimes", default=None, help="comma-separated runtimes (default: the profile's)")
    tradeoff.add_argument("--designs", default="3x1,6x0.25", help="PROCESSESxSECONDS per design, comma-separated")
    tradeoff.add_argument("--repeats", type=int, default=3, help="how often each design is measured")
    tradeoff.set_defaults(run=cmd_tradeoff)
    check = commands.add_parser("duel-check", help="is the duel right here? A/A duels and long loops, measured")
    check.add_argument("--profile", required=True, help="profile name or path")
    check.add_argument("--model", default="mobilenet_v2", help="the comparison group's model")
    check.add_argument("--runtimes", default="executorch,onnxruntime,litert", help="comma-separated runtimes")
    check.add_argument("--aa", type=int, default=20, help="how many A/A duels")
    check.add_argument("--loops", type=int, default=20, help="how often the long loops alternate")
    check.add_argument("--loop-seconds", type=float, default=5.0, help="each long loop's length (s)")
    check.set_defaults(run=cmd_duel_check)

    agree = commands.add_parser("agreement", help="does a rerun confirm the picks? two results folders compared")
    agree.add_argument("first", help="the first run's results folder name (under results/)")
    agree.add_argument("second", help="the rerun's results folder name")
    agree.set_defaults(run=cmd_agreement)

    import_ = commands.add_parser("import", help="merge a results folder measured on another machine")
    import_.add_argument("path", help="a results/<profile> folder")
    import_.add_argument("--replace", action="store_true", help="overwrite cases that exist here")
    import_.set_defaults(run=cmd_import)

    device = commands.add_parser("device", help="set up or check the device of a profile (timed over SSH)")
    device.add_argument("action", choices=["setup", "check", "stand-in"],
                        help="setup: make the lean venv there with the lock's pins; check: what would be measured there "
                             "and what is missing; stand-in: serve a local stand-in device for the profile (sshd on "
                             "127.0.0.1) until Ctrl-C")
    device.add_argument("profile", help="profile name or path (with a device: section)")
    device.add_argument("--minutes", type=float, default=120, help="stand-in: stop serving after this long")
    device.set_defaults(run=cmd_device)

    compare = commands.add_parser("compare", help="your model file on every runtime: a table and the runtime to ship")
    compare.add_argument("model", help="a .onnx, .tflite, .pte or .pt@SHAPE file (@ fixes free dimensions, e.g. "
                                       "m.onnx@3x320x320), a zoo model, or package.module:factory")
    compare.add_argument("--device", default=None, help="a device profile (rpi5) or a Host of ~/.ssh/config, or "
                                                         "user@address (default: this machine)")
    compare.add_argument("--runtimes", default=None, help="comma-separated runtimes (default: every one)")
    compare.add_argument("--threads", default="1", help="comma-separated thread counts or 'all' (default: 1)")
    compare.add_argument("--batch", default="1", help="comma-separated batch sizes (default: 1)")
    compare.add_argument("--inputs", default=None, help="your inputs for parity: a .npy, a .npz (one array per input "
                                                        "name) or a folder of images (default: seeded inputs)")
    compare.add_argument("--preprocess", default=None, choices=["imagenet", "unit", "signed", "raw"],
                         help="a folder of images: how the model expects pixels (imagenet: [0,1] then ImageNet "
                              "mean/std; unit: [0,1]; signed: [-1,1]; raw: 0-255)")
    compare.add_argument("--budget-ms", type=float, default=None, help="the pick must run within this p50 (ms)")
    compare.add_argument("--max-size-mb", type=float, default=None, help="the pick's artifact at most this (MB)")
    compare.add_argument("--max-memory-mb", type=float, default=None, help="the pick's peak memory at most this (MiB)")
    compare.add_argument("--name", default=None, help="the profile's name (default: compare-<file stem>[-device])")
    compare.add_argument("--report", action="store_true", help="also render this profile's report pages")
    compare.add_argument("--force", action="store_true", default=_force_default(), help="measure again (or FORCE=1)")
    compare.set_defaults(run=cmd_compare)

    report = commands.add_parser("report", help="measure, run every notebook per profile, write reports/index.html")
    report.add_argument("--profiles", nargs="+", default=["host", "host-1t"], help="profile names")
    report.add_argument("--force", action="store_true", default=_force_default(), help="redo everything (or FORCE=1)")
    report.set_defaults(run=cmd_report)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except StudyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: every case measured so far is kept; run the same command again to resume",
              file=sys.stderr)
        return 130
