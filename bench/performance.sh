#!/usr/bin/env bash
# The table of docs/performance.md in one command: builds bench_rnn (with LibTorch rows when
# libtorch-dev is installed: REWIND_WITH_TORCH=1 bash scripts/install-deps.sh; with oneDNN
# rows when libdnnl-dev is), runs every row REPS times (default 5) interleaved at random,
# single-threaded, and prints the medians as a Markdown table. THREADS=2 gives the
# two-thread rows.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)" --target bench_rnn
source scripts/openblas-coretype.sh
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
export REWIND_BENCH_THREADS="${THREADS:-1}"
out="build/release/bench_rnn_${REWIND_BENCH_THREADS}t.json"
./build/release/bench/bench_rnn --benchmark_repetitions="${REPS:-5}" \
  --benchmark_enable_random_interleaving=true --benchmark_min_time=0.5 \
  --benchmark_format=json "$@" > "$out"
python3 bench/table.py "$out"
echo "(raw results: $out)"
