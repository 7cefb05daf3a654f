#!/usr/bin/env bash
# Run every benchmark in turn (on an otherwise idle machine) and keep each one's output in bench/results/.
# Needs the anchors: python -m pip install -e ".[bench]"
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
for bench in rfm load models clv_interval basket analytics scorecard parity values dashboard scale; do
    echo "== bench_${bench}.py"
    python "bench/bench_${bench}.py" 2>&1 | tee "bench/results/${bench}.txt"
done
