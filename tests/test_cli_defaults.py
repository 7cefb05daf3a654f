"""The command line's defaults are the library's: a constant changed in one place changes the run everywhere."""

from __future__ import annotations

import inspect

from clvlens import cli
from clvlens.analytics.evaluation.scorecard import DEFAULT_SAMPLE
from clvlens.pipeline import RunSettings


def test_scorecard_sample_default_is_the_scorecards() -> None:
    assert inspect.signature(cli.run).parameters["scorecard_sample"].default == DEFAULT_SAMPLE
    assert RunSettings(source="x.csv", out="ws").scorecard_sample == DEFAULT_SAMPLE  # type: ignore[arg-type]
