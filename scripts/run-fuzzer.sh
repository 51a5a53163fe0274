#!/usr/bin/env bash
# Builds the safetensors reader's libFuzzer target with clang++ (-fsanitize=fuzzer,address,
# undefined) in build/fuzz/ and fuzzes it for a bounded time (default 60 s), seeded with
# tests/fuzz/seeds and the safetensors files in tests/data. The corpus it grows is kept in
# build/fuzz/corpus for the next run. Fails, keeping the input in build/fuzz/artifacts/, on a
# crash, a sanitizer report, a leak, a timeout or an out-of-memory.
#   bash scripts/run-fuzzer.sh [seconds]
# Reproduce a failure: build/fuzz/fuzz_safetensors build/fuzz/artifacts/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
out=build/fuzz
cxx=${REWIND_FUZZ_CXX:-clang++}

if ! command -v "$cxx" >/dev/null; then
  echo "run-fuzzer: $cxx not found; install clang and libclang-rt-14-dev (scripts/install-deps.sh)"
  exit 1
fi
if ! echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' |
  "$cxx" -fsanitize=fuzzer -x c++ - -o /dev/null 2>/dev/null; then
  echo "run-fuzzer: libFuzzer not found; install libclang-rt-14-dev (scripts/install-deps.sh)"
  exit 1
fi

# The sources include each other as <rewind/...>: point that prefix at the source root.
mkdir -p "$out/include" "$out/obj" "$out/corpus" "$out/artifacts"
ln -sfn "$PWD" "$out/include/rewind"
launcher=()
if command -v ccache >/dev/null; then launcher=(ccache); fi
flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
  -fno-sanitize-recover=undefined -I"$out/include")
# The reader and what it needs from core/, plus the target itself.
sources=(core/safetensors.cpp core/tensor.cpp core/shape.cpp core/random.cpp
  tests/fuzz/fuzz_safetensors.cpp)

echo "== building $out/fuzz_safetensors with $cxx"
pids=()
objects=()
for src in "${sources[@]}"; do
  obj="$out/obj/$(basename "${src%.cpp}").o"
  objects+=("$obj")
  "${launcher[@]}" "$cxx" "${flags[@]}" -c "$src" -o "$obj" &
  pids+=($!)
  if [[ ${#pids[@]} -ge 2 ]]; then  # two compilers at a time: the machine has two cores
    wait "${pids[0]}"
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid"; done
"$cxx" "${flags[@]}" "${objects[@]}" -lfmt -o "$out/fuzz_safetensors"

echo "== fuzzing the safetensors reader for ${seconds} s"
seeds=(tests/fuzz/seeds tests/data/rnn tests/data/checkpoint)
status=0
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  "$out/fuzz_safetensors" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -dict=tests/fuzz/safetensors.dict -artifact_prefix="$out/artifacts/" -print_final_stats=1 \
  "$out/corpus" "${seeds[@]}" >"$out/fuzz.log" 2>&1 || status=$?
grep -E "INITED|DONE|stat::(number_of_executed_units|average_exec_per_sec|new_units_added)|ERROR|SUMMARY|Test unit written" \
  "$out/fuzz.log" || true
if [[ $status -ne 0 ]]; then
  echo "run-fuzzer: FAILED (status $status); the input is in $out/artifacts/, the log in $out/fuzz.log"
  exit 1
fi
echo "run-fuzzer: no crash in ${seconds} s ($(ls "$out/corpus" | wc -l) inputs in the corpus)"
