"""Market-basket analysis: sparse basket matrix, frequent itemsets, association rules, bundles, next-best offers.

A basket is the set of distinct items (or categories) of one order. Typical use:

    from clvlens.analytics.basket import basket_tables
    tables = basket_tables(transactions, customer_value=clv, min_support=0.01, min_confidence=0.2)
    tables.rules, tables.bundles, tables.next_best_offer

Frequent itemsets are mined level-wise (Apriori, Agrawal & Srikant 1994) on a vertical layout: pair counts from one
sparse Gram product, larger itemsets by AND-ing packed per-item bitsets. Rule metrics (confidence, lift, leverage,
conviction, Zhang's metric) use the definitions of `rule_metrics` and agree with mlxtend's for the same thresholds.
"""

from clvlens.analytics.basket._frames import association_rules, bundles, frequent_itemsets
from clvlens.analytics.basket._matrix import BasketMatrix, basket_matrix, item_names
from clvlens.analytics.basket._mining import rule_metrics
from clvlens.analytics.basket._offers import next_best_offers
from clvlens.analytics.basket._tables import BasketTables, basket_tables
from clvlens.analytics.basket.plots import bundles_bar, rules_scatter

__all__ = [
    "BasketMatrix",
    "BasketTables",
    "association_rules",
    "basket_matrix",
    "basket_tables",
    "bundles",
    "bundles_bar",
    "frequent_itemsets",
    "item_names",
    "next_best_offers",
    "rule_metrics",
    "rules_scatter",
]
