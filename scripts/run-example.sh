#!/usr/bin/env bash
# Builds rewind and runs the main example, long_memory: a vanilla RNN, an LSTM and a GRU
# learning to recall a symbol from T steps back (all set-up included; about 1.5 minutes on
# two cores). Arguments pass through (try --help). It runs in build/release/examples, where
# its loss curve goes (long_memory_loss.csv; plot it with examples/plot_loss.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build/release -j "$(nproc)" --target long_memory
source scripts/openblas-coretype.sh
cd build/release/examples
./long_memory "$@"
