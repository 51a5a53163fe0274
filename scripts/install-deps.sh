#!/usr/bin/env bash
# Installs, from Debian 12 packages, whatever rewind's build, tests and examples need and the
# machine lacks. Safe to run again: it installs nothing when everything is present.
# Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  g++ cmake ninja-build ccache git
  libboost-graph-dev libfmt-dev catch2 libbenchmark-dev libopenblas-dev
  libdnnl-dev  # oneDNN: its sgemm is a GEMM provider (ops/blas.hpp); its RNN primitives the
               # peer of bench_rnn's BM_OneDNNTrainStep rows
  openmpi-bin libopenmpi-dev  # Open MPI: DistributedOptimizer and its mpirun tests (tests/mpi)
  nlohmann-json3-dev clang-format clang-tidy python3
  clang libclang-rt-14-dev  # the safetensors fuzzer: clang++ with libFuzzer (run-fuzzer.sh)
)
# Extra packages for the optional LibTorch comparison and PyTorch reference data:
#   REWIND_WITH_TORCH=1 bash scripts/install-deps.sh
if [[ "${REWIND_WITH_TORCH:-0}" == "1" ]]; then
  packages+=(libtorch-dev python3-torch)
fi
# Only PyTorch for Python, for the test that PyTorch loads what rewind writes (the test
# command sets this):  REWIND_WITH_PYTORCH=1 bash scripts/install-deps.sh
if [[ "${REWIND_WITH_PYTORCH:-0}" == "1" ]]; then
  packages+=(python3-torch)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
