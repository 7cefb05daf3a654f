"""Fixtures built from real components: the demo store, the pipeline's customer table and the CLV models.

`p_alive`, `expected_purchases`, `expected_spend` and `clv` come from fitting `clvlens.models.BetaGeo` and
`GammaGamma`; should that API be unusable, they fall back to the BG/NBD and Gamma-Gamma closed forms at the
demo store's true generating parameters (the model fit is the normal path).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
HORIZON_WEEKS = 52.0


def _closed_form_columns(customers: pl.DataFrame, bg: dict[str, float], gg: dict[str, float]) -> dict[str, np.ndarray]:
    """FHL (2005) eq. 13 (P(alive)) and eq. 10 (expected purchases); Fader-Hardie (2013) eq. 5 (expected spend)."""
    from scipy import special

    x, tx, T = (customers[c].to_numpy().astype(float) for c in ("frequency", "recency", "T"))
    m = customers["monetary_value"].to_numpy().astype(float)
    r, alpha, a, b = bg["r"], bg["alpha"], bg["a"], bg["b"]
    ratio = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + tx)))
    p_alive = np.where(x > 0, 1.0 / (1.0 + a / np.maximum(b + x - 1.0, 1e-12) * ratio), 1.0)
    t = HORIZON_WEEKS
    z = t / (alpha + T + t)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1.0, z)
    num = (a + b + x - 1.0) / (a - 1.0) * (1.0 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
    den = 1.0 + (x > 0) * a / np.maximum(b + x - 1.0, 1e-12) * ratio
    expected = num / den
    p, q, gamma = gg["p"], gg["q"], gg["gamma"]
    spend = (p * gamma + p * x * m) / (p * x + q - 1.0)
    return {"p_alive": p_alive, "expected_purchases": expected, "expected_spend": spend}


def add_model_columns(customers: pl.DataFrame, bg: dict[str, float], gg: dict[str, float]) -> pl.DataFrame:
    """p_alive, expected_purchases (52 weeks), expected_spend and clv = expected_purchases x expected_spend."""
    x, tx, T = (customers[c].to_numpy() for c in ("frequency", "recency", "T"))
    try:
        from clvlens.models import BetaGeo, GammaGamma

        model = BetaGeo().fit(customers.select("frequency", "recency", "T").to_pandas())
        repeaters = customers.filter((pl.col("frequency") > 0) & (pl.col("monetary_value") > 0))
        spend_model = GammaGamma().fit(repeaters["frequency"].to_numpy(), repeaters["monetary_value"].to_numpy())
        columns = {
            "p_alive": np.asarray(model.conditional_probability_alive(x, tx, T), dtype=float),
            "expected_purchases": np.asarray(
                model.conditional_expected_number_of_purchases_up_to_time(HORIZON_WEEKS, x, tx, T), dtype=float
            ),
            "expected_spend": np.asarray(
                spend_model.conditional_expected_average_profit(x, customers["monetary_value"].to_numpy()),
                dtype=float,
            ),
        }
    except (ImportError, AttributeError, TypeError, ValueError):
        columns = _closed_form_columns(customers, bg, gg)
    return customers.with_columns(
        *(pl.Series(name, values) for name, values in columns.items()),
        pl.Series("clv", columns["expected_purchases"] * columns["expected_spend"]),
    )


@pytest.fixture(scope="session")
def demo_store():
    from clvlens.data.demo import generate_demo_store

    return generate_demo_store()


@pytest.fixture(scope="session")
def demo_transactions(demo_store) -> pl.DataFrame:
    return pl.from_pandas(demo_store.clean)


@pytest.fixture(scope="session")
def demo_customers(demo_store, demo_transactions) -> pl.DataFrame:
    from clvlens.pipeline import build_customer_table

    customers = build_customer_table(demo_transactions, "W", None)
    return add_model_columns(customers, demo_store.truth.bgnbd, demo_store.truth.gamma_gamma)


@pytest.fixture(scope="session")
def retail_transactions(online_retail) -> pl.DataFrame:
    return online_retail.transactions


@pytest.fixture(scope="session")
def retail_customers(retail_transactions) -> pl.DataFrame:
    from clvlens.data.demo import DEFAULT_BGNBD, DEFAULT_GAMMA_GAMMA
    from clvlens.pipeline import build_customer_table

    customers = build_customer_table(retail_transactions, "W", None)
    return add_model_columns(customers, DEFAULT_BGNBD, DEFAULT_GAMMA_GAMMA)


@pytest.fixture(scope="session")
def closed_form():
    """The fallback closed forms, for the test that checks them against the fitted models."""
    return _closed_form_columns
