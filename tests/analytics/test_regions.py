"""Regions: the demo store's planted strongest state, shares, and the map fields for states and countries."""

from __future__ import annotations

import polars as pl
import pytest

from clvlens.analytics import BRAZIL_STATES, plot_regions, region_table
from clvlens.analytics.regions import detect_geography


def test_strongest_region_is_the_planted_one(demo_store, demo_customers: pl.DataFrame) -> None:
    table = region_table(demo_customers)
    assert table["region"][0] == demo_store.truth.strongest_region == "SP"
    assert table["customers"].sum() == demo_customers.height
    assert table["historical_revenue"].sum() == pytest.approx(demo_customers["total_value"].sum(), rel=1e-9)
    assert table["projected_clv"].sum() == pytest.approx(demo_customers["clv"].sum(), rel=1e-9)
    for share in ("share_revenue", "share_customers", "share_projected_clv"):
        assert table[share].sum() == pytest.approx(1.0)
    assert (table["historical_revenue"].diff().drop_nulls() <= 0).all()


def test_brazil_state_map_fields(demo_customers: pl.DataFrame) -> None:
    assert len(BRAZIL_STATES) == 27
    for name, lat, lon in BRAZIL_STATES.values():
        assert name and -34 < lat < 6 and -74 < lon < -34  # inside Brazil's bounding box
    table = region_table(demo_customers)
    sp = table.filter(pl.col("region") == "SP").row(0, named=True)
    assert sp["map_location"] == "SP" and sp["map_name"] == "São Paulo"
    assert sp["plotly_builtin"] is False and sp["mappable"] is True
    assert table["lat"].null_count() == 0
    fig = plot_regions(table)
    assert len(fig.data) == 1 and len(fig.data[0].lat) == table.height


def test_country_names_for_plotly() -> None:
    customers = pl.DataFrame(
        {
            "customer_id": [str(i) for i in range(7)],
            "region": ["United Kingdom", "EIRE", "RSA", "Unspecified", "European Community", "USA", None],
            "total_value": [100.0, 50.0, 20.0, 5.0, 4.0, 3.0, 1.0],
            "clv": [10.0, 5.0, 2.0, 1.0, 1.0, 1.0, 0.5],
        }
    )
    assert detect_geography(customers["region"]) == "countries"
    table = region_table(customers)
    locations = dict(zip(table["region"], table["map_location"], strict=True))
    assert locations["EIRE"] == "Ireland" and locations["RSA"] == "South Africa"
    assert locations["United Kingdom"] == "United Kingdom" and locations["USA"] == "United States"
    flagged = table.filter(~pl.col("mappable"))["region"].to_list()
    assert set(flagged) == {"Unspecified", "European Community", "(unknown)"}
    assert table.filter(pl.col("region") == "Unspecified")["customers"][0] == 1  # kept, only flagged
    assert set(table["locationmode"]) == {"country names"}
    fig = plot_regions(table)
    assert len(fig.data) == 1 and len(fig.data[0].locations) == 4


def test_online_retail_regions(retail_customers: pl.DataFrame) -> None:
    table = region_table(retail_customers)
    assert table["region"][0] == "United Kingdom"
    assert table["customers"].sum() == retail_customers.height == 4327
    assert table.filter(pl.col("region") == "EIRE")["map_location"][0] == "Ireland"
    assert not table.filter(pl.col("region") == "Unspecified")["mappable"][0]
