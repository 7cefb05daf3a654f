"""The Pareto/NBD likelihood's continued fraction, a level at a time in place against a block of levels at a time.

    python bench/bench_hyp2f1.py [--source /tmp/demo100k/demo_transactions.csv] [--repeat 3]

First, for a range of element counts (distinct b and c; then 312 elements sharing two (b, c) pairs, as the demo
store's calls do) at a depth of 508 levels (the median of the calls of a fit on the 100k demo store), the
milliseconds of one call each way (best of ``--repeat`` rounds) and whether the values agree to the bit;
the package uses blocks up to ``clvlens.models._hyp2f1.BLOCKS_UP_TO`` elements. With ``--source``, the run's
"fit models" work (model choice and fits, ``fit_models``) on that file, alternating the two ways ``--repeat``
times: wall and CPU seconds of each.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from _harness import fit_models_alternately

from clvlens.models import _hyp2f1

SIZES = (20, 108, 300, 512, 1000, 3500)
#: levels of the fraction: the median of the calls of a fit on the 100k demo store
DEPTH = 508


def fraction_calls(repeat: int) -> None:
    rng = np.random.default_rng(1)
    print("elements | in place ms | in blocks ms | ratio | same bits")
    cases = []
    for n in SIZES:
        b = rng.uniform(0.01, 50.0, n)
        cases.append((f"{n:,}", b, b + rng.uniform(0.01, 80.0, n)))
    # what the demo store's likelihood sends: one b, and one c per frequency (here 1 and 2), z apart
    b = np.full(312, 729.79)
    cases.append(("312, two (b, c) pairs", b, b + np.where(np.arange(312) % 2 == 0, 1.89, 2.89)))
    for label, b, c in cases:
        n = b.size
        z = rng.uniform(0.9, 0.999, n)
        calls = max(1, 20_000 // n)
        best = {}
        for way, evaluate in (("place", _hyp2f1._bottom_up_in_place), ("blocks", _hyp2f1._bottom_up_in_blocks)):
            rounds = []
            for _ in range(repeat):
                started = time.perf_counter()
                for _ in range(calls):
                    evaluate(b, c, z, DEPTH)
                rounds.append((time.perf_counter() - started) / calls * 1000)
            best[way] = min(rounds)
        same = np.array_equal(_hyp2f1._bottom_up_in_place(b, c, z, DEPTH), _hyp2f1._bottom_up_in_blocks(b, c, z, DEPTH))
        print(f"{label} | {best['place']:.3f} | {best['blocks']:.3f} | {best['place'] / best['blocks']:.2f} | {same}")


def fits(source: str, repeat: int) -> None:
    shipped = _hyp2f1.BLOCKS_UP_TO

    @contextmanager
    def blocks_up_to(elements: int) -> Iterator[None]:
        _hyp2f1.BLOCKS_UP_TO = elements
        try:
            yield
        finally:
            _hyp2f1.BLOCKS_UP_TO = shipped

    fit_models_alternately(source, {"in place": lambda: blocks_up_to(0),
                                    "in blocks": lambda: blocks_up_to(shipped)}, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", help="a transaction file to time the run's model fits on")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    fraction_calls(args.repeat)
    if args.source:
        fits(args.source, args.repeat)


if __name__ == "__main__":
    main()
