"""Where a run's CPU goes, thread by thread: the main thread's own CPU per step, each task the run queues beside
it (pipeline.background: its start, end, own CPU, and whether a worker or the run's own thread ran it), and the
cost of importing the command line and the pipeline.

    python bench/bench_run_threads.py /tmp/clvlens-scale/scale_100000.parquet [--repeat 2] [--profile 15]
        [--as-program]

Each run is `run_pipeline` in this process (the report, a face, is left out), in a fresh temporary folder. The
main thread's CPU per step is `time.thread_time` read as each step starts; a task's CPU is its own thread's
`time.thread_time` from its start to its end (work a task hands to other threads, such as Polars' or DuckDB's own
pools, is counted in the process total only). `--profile N` adds the N functions of the main thread with the most
CPU of their own and below them (`cProfile` timed by `time.thread_time`) for the first run. The import costs are
`import clvlens.cli` and `import clvlens.pipeline`, each timed in a fresh interpreter. The garbage collector's
collections (each stops every thread) are counted and timed per generation; `--as-program` imports and collects as
the `clvlens` program does (see clvlens.cli.entry).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import resource
import subprocess
import sys
import tempfile
import threading
import time
from itertools import pairwise
from pathlib import Path

IMPORT = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def _import_seconds(module: str) -> float:
    """Seconds to import ``module`` in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", IMPORT.format(module=module)], capture_output=True, text=True,
                          check=True)
    return float(done.stdout.split()[-1])


def _one_run(source: str, profile: int) -> None:
    import clvlens.pipeline.background as background
    from clvlens.pipeline import RunSettings, run_pipeline

    collections = {generation: [0, 0.0] for generation in range(3)}
    collection_began = [0.0]

    def count_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collection_began[0] = time.perf_counter()
        else:
            collections[info["generation"]][0] += 1
            collections[info["generation"]][1] += time.perf_counter() - collection_began[0]

    gc.callbacks.append(count_collection)
    began = time.perf_counter()
    tasks: list[tuple[str, float, float, float]] = []
    original = background.BackgroundTask.run

    def timed(task: background.BackgroundTask) -> None:
        start, cpu = time.perf_counter() - began, time.thread_time()
        try:
            original(task)
        finally:
            where = threading.current_thread()
            by = "run's thread" if where is threading.main_thread() else "worker"
            tasks.append((f"{task.name} ({by})", start, time.perf_counter() - began, time.thread_time() - cpu))

    steps: list[tuple[str, float, float]] = []

    def progress(step: str) -> None:
        steps.append((step, time.perf_counter() - began, time.thread_time()))

    background.BackgroundTask.run = timed  # type: ignore[method-assign]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    profiler = cProfile.Profile(timer=time.thread_time) if profile else None
    try:
        with tempfile.TemporaryDirectory() as folder:
            settings = RunSettings(source, Path(folder) / "ws", skip=frozenset({"report"}))
            if profiler is not None:
                profiler.enable()
            run_pipeline(settings, progress)
            if profiler is not None:
                profiler.disable()
            steps.append(("end", time.perf_counter() - began, time.thread_time()))
    finally:
        background.BackgroundTask.run = original  # type: ignore[method-assign]
        gc.callbacks.remove(count_collection)
    after = resource.getrusage(resource.RUSAGE_SELF)
    process_cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    print(f"\nwall {steps[-1][1]:.1f} s, process CPU {process_cpu:.1f} s, main thread CPU "
          f"{steps[-1][2] - steps[0][2]:.1f} s\n")
    print("| step | starts at s | wall s | main thread CPU s |\n|---|---:|---:|---:|")
    for (name, at, cpu), (_, end, cpu_end) in pairwise(steps):
        print(f"| {name} | {at:.1f} | {end - at:.1f} | {cpu_end - cpu:.1f} |")
    print("\n| task beside the run (who ran it) | from s | to s | its thread's CPU s |\n|---|---:|---:|---:|")
    for name, start, end, cpu in sorted(tasks, key=lambda task: task[1]):
        print(f"| {name} | {start:.1f} | {end:.1f} | {cpu:.2f} |")
    print("\ngarbage collections (count, seconds, every thread waiting): " + ", ".join(
        f"generation {g} {n}, {seconds:.3f} s" for g, (n, seconds) in collections.items()))
    if profiler is not None:
        print(f"\nmain thread, the {profile} functions with the most CPU of their own and below them:\n")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(profile)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--profile", type=int, default=0, help="list the main thread's top N functions (run 1)")
    parser.add_argument("--as-program", action="store_true",
                        help="import and collect as the clvlens program does (LightGBM without its scikit-learn "
                             "interface, the imports frozen for the garbage collector)")
    args = parser.parse_args()
    for module in ("clvlens.cli", "clvlens.pipeline"):
        print(f"import {module}: {_import_seconds(module):.2f} s in a fresh interpreter")
    if args.as_program:
        import clvlens.pipeline  # noqa: F401  # what the program has imported when it freezes
        from clvlens.ml._lightgbm_import import without_sklearn_interface

        without_sklearn_interface()
        gc.freeze()
    for run in range(args.repeat):
        _one_run(args.source, args.profile if run == 0 else 0)


if __name__ == "__main__":
    main()
