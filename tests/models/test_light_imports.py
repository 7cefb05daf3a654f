"""clvlens.models imports scipy.special only: scipy.stats and scipy.optimize (seconds of start-up on every CLI call)
are loaded where they are used, and the special-function forms that replace scipy.stats give the same numbers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import special, stats

from clvlens.models.gammagamma import independence_check, spearman_r

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_importing_models_loads_neither_scipy_stats_nor_optimize():
    code = ("import sys, clvlens.models; "
            "print(sorted(m for m in sys.modules if m in ('scipy.stats', 'scipy.optimize')))")
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("level", [0.5, 0.8, 0.9, 0.95, 0.99])
def test_normal_quantile_matches_scipy_stats(level):
    assert float(special.ndtri(0.5 + level / 2)) == pytest.approx(float(stats.norm.ppf(0.5 + level / 2)), rel=1e-15)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_chi2_quantile_matches_scipy_stats(k):
    assert float(special.chdtri(k, 1.0 - 0.999)) == pytest.approx(float(stats.chi2.ppf(0.999, k)), rel=1e-13)


@pytest.mark.parametrize(("t", "dof"), [(0.3, 5.0), (2.0, 40.0), (8.0, 1e6)])
def test_t_survival_matches_scipy_stats(t, dof):
    assert float(special.stdtr(dof, -t)) == pytest.approx(float(stats.t.sf(t, dof)), rel=1e-12)


def test_spearman_matches_scipy_on_cdnow(cdnow):
    # CDNOW's repeat buyers: frequency against recency (many ties in both)
    repeat = cdnow["frequency"] > 0
    x, m = cdnow["frequency"][repeat], cdnow["recency"][repeat]
    assert spearman_r(x, m) == pytest.approx(float(stats.spearmanr(x, m).statistic), rel=1e-12)
    check = independence_check(x, m)
    assert check["spearman_r"] == pytest.approx(float(stats.spearmanr(x, m).statistic), rel=1e-12)


def test_spearman_with_ties_matches_scipy():
    rng = np.random.default_rng(3)
    x = rng.integers(1, 6, 500).astype(float)
    m = np.round(rng.gamma(2.0, 10.0, 500) + x, 0)
    assert spearman_r(x, m) == pytest.approx(float(stats.spearmanr(x, m).statistic), rel=1e-12)
