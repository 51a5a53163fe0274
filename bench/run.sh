#!/usr/bin/env bash
# Builds and runs rewind's benchmarks single-threaded, with repetitions interleaved at
# random so that machine drift hits every row alike; prints the medians.
#   bash bench/run.sh [bench_core|...] [extra Google Benchmark flags]
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-bench_core}
shift || true

bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)" --target "$target"

# Debian's OpenBLAS 0.3.21 does not know CPUs newer than it (Sapphire/Emerald Rapids) and
# falls back to its generic Prescott kernel, 3-4x slower. Pick the newest kernel the CPU runs.
source scripts/openblas-coretype.sh

export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
"./build/release/bench/$target" --benchmark_repetitions="${REPS:-9}" \
  --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true \
  --benchmark_display_aggregates_only=true "$@" 2>&1 | grep -E "median|^Benchmark|^---|coretype|rewind_isa|Run on|CPU"
