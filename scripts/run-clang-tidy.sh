#!/usr/bin/env bash
# Runs clang-tidy with the repository's .clang-tidy over the library's .cpp files (core/, ops/,
# layers/, optim/; their headers through the profile's HeaderFilterRegex), one file per core,
# and fails on any warning. Tests, examples and benchmarks are not checked.
#
#   bash scripts/run-clang-tidy.sh [build-dir]      (default build/release)
#
# It needs the build directory's compile_commands.json and configures the directory (cmake
# only, no build) when that file is missing. REWIND_TIDY_JOBS sets the parallelism (nproc).
# It takes about 2.5 minutes on 2 cores (4.5 minutes of CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build_dir=${1:-build/release}
jobs=${REWIND_TIDY_JOBS:-$(nproc)}

tidy=""
for candidate in clang-tidy clang-tidy-14; do
  if command -v "$candidate" >/dev/null; then
    tidy=$(command -v "$candidate")
    break
  fi
done
if [[ -z "$tidy" ]]; then
  echo "run-clang-tidy: clang-tidy not found (bash scripts/install-deps.sh installs it)" >&2
  exit 1
fi

if [[ ! -f "$build_dir/compile_commands.json" ]]; then
  echo "run-clang-tidy: configuring $build_dir for its compile_commands.json"
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DREWIND_WERROR=ON >/dev/null
fi

# The library's sources as the compile database has them: CMake's glob decides what is in the
# library, so a new file is checked as soon as it is configured.
mapfile -t files < <(python3 - "$build_dir/compile_commands.json" "$root" <<'EOF'
import json, os, re, sys
db, root = sys.argv[1], os.path.realpath(sys.argv[2])
pattern = re.compile(re.escape(root) + r"/(core|ops|layers|optim)(/kernels)?/[^/]+\.cpp")
files = set()
for entry in json.load(open(db)):
    path = os.path.realpath(os.path.join(entry["directory"], entry["file"]))
    if pattern.fullmatch(path):
        files.add(os.path.relpath(path, root))
print("\n".join(sorted(files)))
EOF
)
if [[ ${#files[@]} -eq 0 ]]; then
  echo "run-clang-tidy: no library sources in $build_dir/compile_commands.json" >&2
  exit 1
fi

# clang-tidy 14 does not fail on a .clang-tidy it cannot parse: it says "Error parsing" and
# goes on with its default checks. Refuse to run then.
config_errors=$("$tidy" -p "$build_dir" --dump-config "${files[0]}" 2>&1 >/dev/null || true)
if [[ -n "$config_errors" ]]; then
  echo "run-clang-tidy: .clang-tidy is not valid:" >&2
  echo "$config_errors" >&2
  exit 1
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
export tidy build_dir logs
start=$SECONDS
# One clang-tidy per file, its output kept apart; -Wno-unknown-warning-option because the
# compile database is GCC's and clang does not know some of its warning options.
printf '%s\n' "${files[@]}" | xargs -P "$jobs" -n 1 bash -c '
  log="$logs/${1//\//_}.log"
  if ! "$tidy" -p "$build_dir" --quiet --extra-arg=-Wno-unknown-warning-option "$1" \
      >"$log" 2>&1; then
    mv "$log" "$log.failed"
  fi' _ || true
elapsed=$((SECONDS - start))

failed=("$logs"/*.failed)
if [[ -e "${failed[0]}" ]]; then
  # A header's warning shows once per file that includes it: show each file's output, then
  # count each distinct diagnostic once.
  grep -hvE '^[0-9]+ (warnings?|errors?)( and [0-9]+ errors?)? generated\.$' "${failed[@]}" || true
  count=$(cat "${failed[@]}" | grep -E '^[^ ].*:[0-9]+:[0-9]+: (warning|error):' | sort -u | wc -l)
  echo "clang-tidy: $count distinct warnings or errors in ${#failed[@]} of ${#files[@]} files" \
    "(${elapsed} s, $jobs jobs)"
  echo "fix them, or see .clang-tidy for when a NOLINT(check-name) with a reason is fine"
  exit 1
fi
echo "clang-tidy: ${#files[@]} library files clean (${elapsed} s, $jobs jobs)"
