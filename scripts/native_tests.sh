#!/usr/bin/env bash
# Builds and runs the native (doctest) tests of the C++ core through CTest, plain or under
# sanitizers. No Python needed: the extension module is not built.
#
#   scripts/native_tests.sh            # plain build (build/native)
#   scripts/native_tests.sh asan       # AddressSanitizer + UBSan, leak checking on (build/native-asan)
#   scripts/native_tests.sh tsan       # ThreadSanitizer (build/native-tsan)
#
# Needs cmake, a C++17 compiler and doctest (Debian: apt-get install doctest-dev).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/sanitizer_env.sh
source scripts/sanitizer_env.sh

mode="${1:-plain}"
case "$mode" in
  plain) sanitize="" ;;
  asan) sanitize="address,undefined" ;;
  tsan) sanitize="thread" ;;
  *) echo "usage: $0 [plain|asan|tsan]" >&2; exit 2 ;;
esac
build="build/native${sanitize:+-$mode}"
jobs="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMPREP_BUILD_MODULE=OFF -DLLMPREP_BUILD_TESTS=ON \
  -DLLMPREP_SANITIZE="$sanitize" >/dev/null
cmake --build "$build" --parallel "$jobs"

if [[ -n "$sanitize" ]]; then
  # Reports go to files as well as stderr; any file left behind fails the run.
  logdir="$build/sanitizer-logs"
  llmprep_sanitizer_env "$mode" "$logdir" native
fi
status=0
(cd "$build" && ctest --output-on-failure --parallel "$jobs") || status=$?
if [[ -n "$sanitize" ]]; then
  llmprep_check_sanitizer_logs "$logdir" || status=1
fi
exit "$status"
