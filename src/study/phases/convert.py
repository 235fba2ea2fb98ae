"""The conversion matrix: every model of the profile exported to every format it has a route to, each artifact
validated against its source model on real inputs (``study.build.convert``); written to ``conversions.csv``."""

from __future__ import annotations

import pandas as pd

from study.build.convert import conversion_matrix, model_spec, spans_seconds, timing_conversions
from study.build.export import SOURCE_FORMATS, conversion_targets
from study.core.store import ResultsStore
from study.phases.base import Estimate, Phase, Run
from study.plan.profiles import Profile, load_profile


def profile_models(profile: Profile) -> list[str]:
    return list(dict.fromkeys(profile.conversion_models + profile.models))


def convert_profile(profile_ref, log=None) -> pd.DataFrame:
    """The conversion matrix of a profile's models, written to results/<profile>/conversions.csv."""
    from tqdm import tqdm

    profile = load_profile(profile_ref)
    log = log or (lambda m: tqdm.write(f"[{profile.name}] {m}"))
    models = profile_models(profile)
    log(f"conversion matrix of {len(models)} model(s)")
    matrix = conversion_matrix(models, log=log)
    ResultsStore(profile.name).write_conversions(matrix)
    return matrix


class Convert(Phase):
    name = "convert"

    def estimate(self, profile: Profile, force: bool) -> Estimate:
        wanted = set()
        for model in profile_models(profile):
            spec, _ = model_spec(model, log=lambda message: None)
            if spec is not None:
                wanted |= {(model, fmt, None) for fmt in [SOURCE_FORMATS[spec.framework], *conversion_targets()]}
        return Estimate(artifacts=wanted)  # the conversions are counted once, over every phase's artifacts

    def run(self, run: Run) -> list[str]:
        with timing_conversions() as spans:
            convert_profile(run.profile, log=run.log)
        run.converted_for(spans_seconds(spans))  # what is left of the phase is its set-up: checking what is on disk
        return []


PHASE = Convert()
