#!/usr/bin/env bash
# Builds rewind and runs the main example (all set-up included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build/release -j "$(nproc)" --target train_spirals
source scripts/openblas-coretype.sh
./build/release/examples/train_spirals "$@"
