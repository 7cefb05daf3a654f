"""Parity with lifetimes 0.11.3 on CDNOW (and its donations data for BG/BB): the largest relative difference
between clvlens and lifetimes for each convention clvlens reproduces (docs/migrating.md quotes this table).

Usage: python bench/bench_parity.py   (needs the bench extra: lifetimes==0.11.3, setuptools<81)

Rows: whole-period summaries (periods="whole" against freq="W"/"D"), penalised fits (penalizer="l2" against
penalizer_coef), expected cumulative transactions from the log, and CLV with lifetimes' 30-day months and monthly
discount rate reproduced through horizon="360D", period="30D" and the equivalent annual rate.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CDNOW = ROOT.parent / "shared" / "datasets" / "cdnow" / "CDNOW_sample.txt.gz"


def max_rel(ours: np.ndarray, theirs: np.ndarray) -> float:
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    return float(np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-12)))


def main() -> None:
    warnings.filterwarnings("ignore")
    import lifetimes
    from lifetimes import utils

    from clvlens.analytics.model_checks import expected_cumulative_transactions
    from clvlens.data import load_cdnow
    from clvlens.models import (
        BetaGeo,
        BetaGeoBetaBinom,
        GammaGamma,
        ModifiedBetaGeo,
        ParetoNBD,
        customer_lifetime_value,
    )
    from clvlens.summary import rfm_summary

    log = load_cdnow(CDNOW).transactions.select("customer_id", "timestamp", "amount")
    frame = log.to_pandas()
    rows: list[tuple[str, float]] = []
    for unit in ("W", "D"):
        theirs = utils.summary_data_from_transaction_data(
            frame, "customer_id", "timestamp", monetary_value_col="amount", observation_period_end="1997-09-28",
            freq=unit,
        )
        ours = rfm_summary(log, time_unit=unit, observation_end="1997-09-28", periods="whole").to_pandas()
        ours = ours.set_index("customer_id").loc[theirs.index]
        worst = max(max_rel(ours[c], theirs[c]) for c in ("frequency", "recency", "T", "monetary_value"))
        rows.append((f"summary, periods='whole', freq='{unit}' (frequency, recency, T, monetary)", worst))

    weekly = rfm_summary(log, time_unit="W", observation_end="1997-09-30").to_pandas()
    x, tx, T, m = (weekly[c].to_numpy(float) for c in ("frequency", "recency", "T", "monetary_value"))
    pairs = [(BetaGeo, lifetimes.BetaGeoFitter, 0.05), (ModifiedBetaGeo, lifetimes.ModifiedBetaGeoFitter, 0.05),
             (ParetoNBD, lifetimes.ParetoNBDFitter, 0.1)]
    for ours_cls, theirs_cls, coef in pairs:
        theirs = theirs_cls(penalizer_coef=coef).fit(x, tx, T)
        ours = ours_cls(time_unit="W", penalizer_coef=coef, penalizer="l2").fit(x, tx, T)
        rows.append((f"{ours_cls.__name__} penalizer='l2', coef {coef}: parameters",
                     max_rel(list(ours.params_.values()), theirs.params_.to_numpy())))
    rep = x > 0
    theirs = lifetimes.GammaGammaFitter(penalizer_coef=0.05).fit(x[rep], m[rep])
    ours = GammaGamma(penalizer_coef=0.05, penalizer="l2").fit(x[rep], m[rep])
    rows.append(("GammaGamma penalizer='l2', coef 0.05: parameters",
                 max_rel(list(ours.params_.values()), theirs.params_.to_numpy())))
    from lifetimes.datasets import load_donations

    donations = load_donations()
    theirs = lifetimes.BetaGeoBetaBinomFitter(penalizer_coef=0.05).fit(
        donations["frequency"], donations["recency"], donations["periods"], weights=donations["weights"]
    )
    ours = BetaGeoBetaBinom(time_unit="W", penalizer_coef=0.05, penalizer="l2").fit(
        donations["frequency"], donations["recency"], donations["periods"], weights=donations["weights"]
    )
    rows.append(("BetaGeoBetaBinom penalizer='l2', coef 0.05, weights: parameters",
                 max_rel(list(ours.params_.values()), theirs.params_.to_numpy())))

    daily = rfm_summary(log, time_unit="D", observation_end="1997-09-30").to_pandas()
    bg = lifetimes.BetaGeoFitter().fit(daily["frequency"], daily["recency"], daily["T"])
    bg_ours = BetaGeo.from_params(dict(bg.params_), time_unit="D")
    theirs = utils.expected_cumulative_transactions(bg, frame, "timestamp", "customer_id", t=546, freq="D")
    ours = expected_cumulative_transactions(bg_ours, log, t=546)
    differences = np.abs(ours["actual_cumulative"].to_numpy() - theirs["actual"].to_numpy())
    rows.append(("expected_cumulative_transactions, 546 days: actual (absolute, transactions)",
                 float(differences.max())))
    rows.append(("expected_cumulative_transactions, 546 days: predicted",
                 max_rel(ours["expected_cumulative"][1:], theirs["predicted"][1:])))

    repeat = daily[daily["frequency"] > 0]
    gg = lifetimes.GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    gg_ours = GammaGamma.from_params({"p": gg.params_["p"], "q": gg.params_["q"], "gamma": gg.params_["v"]})
    theirs = gg.customer_lifetime_value(bg, repeat["frequency"], repeat["recency"], repeat["T"],
                                        repeat["monetary_value"], time=12, discount_rate=0.01, freq="D")
    args = (bg_ours, gg_ours, repeat["frequency"].to_numpy(), repeat["recency"].to_numpy(), repeat["T"].to_numpy())
    exact = customer_lifetime_value(*args, monetary_value=repeat["monetary_value"].to_numpy(), horizon="360D",
                                    period="30D", discount_rate=1.01 ** (365.25 / 30) - 1)
    plain = customer_lifetime_value(*args, monetary_value=repeat["monetary_value"].to_numpy(), horizon="12M",
                                    period="1M", discount_rate=1.01**12 - 1)
    rows.append(("CLV, horizon='360D', period='30D', annual = 1.01^(365.25/30) - 1", max_rel(exact, theirs)))
    rows.append(("CLV, horizon='12M', period='1M', annual = 1.01^12 - 1 (365.25/12-day months)",
                 max_rel(plain, theirs)))

    print(f"lifetimes {lifetimes.__version__} against clvlens on CDNOW ({len(daily)} customers)")
    print("| comparison | max relative difference |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value:.1e} |")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    main()
