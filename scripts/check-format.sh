#!/usr/bin/env bash
# Fails, listing the files, when any C++ file in the repository is not clang-formatted.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=()
while IFS= read -r f; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then bad+=("$f"); fi
done < <(git ls-files '*.cpp' '*.hpp')
if [[ ${#bad[@]} -gt 0 ]]; then
  echo "clang-format would change: ${bad[*]}"
  echo "fix with: clang-format -i ${bad[*]}"
  exit 1
fi
echo "clang-format: $(git ls-files '*.cpp' '*.hpp' | wc -l) files clean"
