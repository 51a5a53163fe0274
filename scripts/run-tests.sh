#!/usr/bin/env bash
# The whole test suite, as CI runs it: dependencies, a formatting check, clang-tidy over the
# library, then the tests in a normal build (warnings as errors) and again under
# AddressSanitizer + UBSan, then a bounded fuzzing run of the safetensors reader
# (REWIND_FUZZ_SECONDS, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

# python3-torch: the interop test that loads a rewind checkpoint into torch.nn.LSTM.
REWIND_WITH_PYTORCH=1 bash scripts/install-deps.sh

echo "== clang-format check"
bash scripts/check-format.sh

echo "== clang-tidy (.clang-tidy) over the library's sources"
bash scripts/run-clang-tidy.sh build/release

echo "== release build (-Werror)"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DREWIND_WERROR=ON
cmake --build build/release -j "$jobs"
ctest --test-dir build/release -j "$jobs" --output-on-failure --timeout 600

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREWIND_WERROR=ON \
  -DREWIND_SANITIZE=ON -DREWIND_BUILD_BENCH=OFF
cmake --build build/asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build/asan -j "$jobs" --output-on-failure --timeout 900

echo "== ThreadSanitizer: two graphs on two threads"
cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREWIND_WERROR=ON \
  -DREWIND_TSAN=ON -DREWIND_BUILD_BENCH=OFF -DREWIND_BUILD_EXAMPLES=OFF
cmake --build build/tsan -j "$jobs" --target tsan_two_graphs
TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build/tsan -R '^tsan\.' --output-on-failure

echo "== fuzzing the safetensors reader (clang, libFuzzer + ASan + UBSan)"
bash scripts/run-fuzzer.sh "${REWIND_FUZZ_SECONDS:-60}"

echo "== all tests passed (release and sanitizer builds, fuzzer)"
