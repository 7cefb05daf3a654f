"""Benchmark clvlens.models against lifetimes 0.11.3 and PyMC-Marketing (anchors, not dependencies).

    python bench/bench_models.py [--customers 1000000] [--pareto-customers 100000]

Every contender runs in its own subprocess on the same seeded simulated data (BG/NBD, continuous T) and
reports its own wall times and peak RSS (resource.getrusage(RUSAGE_SELF).ru_maxrss). A "data only" child
gives the baseline memory of Python + numpy + the generated data, so each fit's own memory is visible.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import time

import numpy as np

TRUE_BG = {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.43}
TRUE_PNBD = {"r": 0.55, "alpha": 10.5, "s": 0.6, "beta": 11.7}

PRELUDE = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np
    from clvlens.models.simulate import simulate_bgnbd, simulate_paretonbd
    N = {n}
    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    def done(**kw):
        kw["peak_mb"] = peak_mb()
        print("RESULT" + json.dumps(kw))
    if {pareto}:
        d = simulate_paretonbd(N, **{tp}, T_max=78.0, seed=2024)
    else:
        d = simulate_bgnbd(N, **{tb}, T_max=78.0, seed=2024)
    x, tx, T = d["frequency"], d["recency"], d["T"]
""")

CHILDREN = {
    "data only": "done(time=0.0)",
    "clvlens BetaGeo": textwrap.dedent("""
        from clvlens.models import BetaGeo
        t0 = time.perf_counter()
        m = BetaGeo().fit(x, tx, T)
        pa = m.conditional_probability_alive(x, tx, T)
        done(time=time.perf_counter() - t0, params=m.params_, ll=m.fit_result_.log_likelihood)
    """),
    "lifetimes BetaGeoFitter": textwrap.dedent("""
        try:
            from lifetimes import BetaGeoFitter
        except ImportError:
            done(missing=True); sys.exit()
        t0 = time.perf_counter()
        f = BetaGeoFitter().fit(x, tx, T)
        pa = f.conditional_probability_alive(x, tx, T)
        done(time=time.perf_counter() - t0, params={k: float(v) for k, v in f.params_.items()})
    """),
    "PyMC-Marketing BetaGeoModel (MAP)": textwrap.dedent("""
        t0 = time.perf_counter()
        try:
            import pandas as pd
            from pymc_marketing.clv import BetaGeoModel
        except ImportError:
            done(missing=True); sys.exit()
        df = pd.DataFrame({"customer_id": np.arange(N), "frequency": x, "recency": tx, "T": T})
        m = BetaGeoModel(data=df)
        m.build_model()
        t1 = time.perf_counter()
        m.fit(method="map")
        t2 = time.perf_counter()
        post = m.fit_summary()
        names = ("r", "alpha", "a", "b")
        def val(v):
            return float(v.iloc[0]) if hasattr(v, "iloc") else float(v)
        params = {k: val(post.loc[k]) if k in post.index else None for k in names}
        done(time=t2 - t1, setup=t1 - t0, params=params)
    """),
    "clvlens ParetoNBD": textwrap.dedent("""
        from clvlens.models import ParetoNBD
        t0 = time.perf_counter()
        m = ParetoNBD().fit(x, tx, T)
        done(time=time.perf_counter() - t0, params=m.params_, ll=m.fit_result_.log_likelihood)
    """),
    "lifetimes ParetoNBDFitter": textwrap.dedent("""
        try:
            from lifetimes import ParetoNBDFitter
        except ImportError:
            done(missing=True); sys.exit()
        from clvlens.models import ParetoNBD
        t0 = time.perf_counter()
        f = ParetoNBDFitter().fit(x, tx, T)
        el = time.perf_counter() - t0
        params = {k: float(v) for k, v in f.params_.items()}
        m = ParetoNBD(); m.params_ = params  # evaluate lifetimes' optimum with the same likelihood formula
        done(time=el, params=params, ll=m.log_likelihood(x, tx, T))
    """),
}


def run(name: str, n: int, pareto: bool, timeout: float) -> dict:
    code = PRELUDE.format(n=n, pareto=pareto, tb=TRUE_BG, tp=TRUE_PNBD) + CHILDREN[name]
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT"):
            return json.loads(line[6:])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": tail[:120]}


def rel_diff(a: dict, b: dict) -> str:
    try:
        return f"{max(abs(a[k] - b[k]) / abs(b[k]) for k in b):.1e}"
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--pareto-customers", type=int, default=100_000)
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--skip-pymc", action="store_true")
    args = ap.parse_args()

    rows = []
    base = run("data only", args.customers, False, args.timeout)
    ours = run("clvlens BetaGeo", args.customers, False, args.timeout)
    anchors = ["lifetimes BetaGeoFitter"] + ([] if args.skip_pymc else ["PyMC-Marketing BetaGeoModel (MAP)"])
    results = {"clvlens BetaGeo": ours}
    for name in anchors:
        results[name] = run(name, args.customers, False, args.timeout)
    pbase = run("data only", args.pareto_customers, True, args.timeout)
    results["clvlens ParetoNBD"] = run("clvlens ParetoNBD", args.pareto_customers, True, args.timeout)
    name = "lifetimes ParetoNBDFitter"
    results[name] = run(name, args.pareto_customers, True, args.timeout)

    print(f"\nBG/NBD: {args.customers:,} simulated customers (continuous T), data-only baseline peak "
          f"{base.get('peak_mb', float('nan')):.0f} MB; Pareto/NBD: {args.pareto_customers:,} customers, "
          "baseline "
          f"{pbase.get('peak_mb', float('nan')):.0f} MB\n")
    print("| task | contender | time (s) | setup/compile (s) | peak MB (fit's own) | ratio anchor/clvlens "
          "| max param rel diff vs lifetimes | log-likelihood |")
    print("|---|---|---|---|---|---|---|---|")
    groups = [("BG/NBD fit + P(alive)", ["clvlens BetaGeo", *anchors], base, "lifetimes BetaGeoFitter"),
              ("Pareto/NBD fit", ["clvlens ParetoNBD", "lifetimes ParetoNBDFitter"], pbase,
               "lifetimes ParetoNBDFitter")]
    for task, names, bl, ref_name in groups:
        mine = results[names[0]]
        ref = results.get(ref_name, {})
        for name in names:
            r = results[name]
            if r.get("missing"):
                rows.append(f"| {task} | {name} | not installed | | | | | |")
                continue
            if "error" in r:
                rows.append(f"| {task} | {name} | error: {r['error']} | | | | | |")
                continue
            own = r["peak_mb"] - bl.get("peak_mb", 0.0)
            ratio = f"{r['time'] / mine['time']:.1f}x" if "time" in mine else "n/a"
            ratio = "1" if name == names[0] else ratio
            diff = rel_diff(r.get("params", {}), ref.get("params", {})) if name != ref_name else "-"
            ll = f"{r['ll']:.3f}" if r.get("ll") is not None else ""
            setup = f"{r['setup']:.1f}" if "setup" in r else ""
            rows.append(f"| {task} | {name} | {r['time']:.2f} | {setup} | {r['peak_mb']:.0f} ({own:+.0f}) "
                        f"| {ratio} | {diff} | {ll} |")
    print("\n".join(rows))
    for name in ("clvlens BetaGeo", "clvlens ParetoNBD"):
        print(f"\n{name} params: {results[name].get('params')}")
    blas_threads_check()


def blas_threads_check(customers: int = 50_000, repeats: int = 5) -> None:
    """The BG/NBD fit of a 50,000-customer sample (the size of the 1M fit's warm start) with the BLAS libraries'
    default threads and with the one thread the engine sets, best of ``repeats`` each, in this process."""
    from clvlens.models import BetaGeo
    from clvlens.models import _engine as engine
    from clvlens.models.simulate import simulate_bgnbd

    d = simulate_bgnbd(customers, **TRUE_BG, T_max=78.0, seed=2024)
    cols = [d["frequency"], d["recency"], d["T"]]
    model = BetaGeo()
    data = model._prepare(cols, np.ones(customers))
    timings = {}
    for label, fit in (("default BLAS threads", engine._maximise), ("one BLAS thread", engine.maximise)):
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            fit(model, data, customers)
            best = min(best, time.perf_counter() - t0)
        timings[label] = best
    print(f"\nBG/NBD fit of {customers:,} customers, best of {repeats}: "
          + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items()))


if __name__ == "__main__":
    main()
