#!/usr/bin/env bash
# Runs the Python test suite (or any command) against a sanitizer build of llmprep._core.
#
#   scripts/sanitize.sh asan [PYTEST_ARGS...]     # AddressSanitizer + UBSan: the whole suite
#   scripts/sanitize.sh tsan [PYTEST_ARGS...]     # ThreadSanitizer: the pool and parallel tests
#   scripts/sanitize.sh asan --run CMD [ARGS...]  # CMD in the same environment (e.g. the fuzzers)
#   scripts/sanitize.sh asan --build              # build and install only
#
# The extension is built with -DLLMPREP_SANITIZE (CMakeLists.txt) into build/san-<mode> and
# installed into its own venv, .venv-<mode>; that venv sees the packages of the Python that runs
# this script (torch, numpy, pytest, ...: a .pth file lists its site-packages), so install the
# test dependencies there first (`pip install ".[test]"`). Its own llmprep comes first on sys.path.
#
# The sanitizer runtime is preloaded into the interpreter (LD_PRELOAD), reports go to
# build/san-<mode>/logs as well as stderr (pytest's capture cannot hide them), and the run FAILS if
# any report file appears, whatever pytest's exit status. asan checks for leaks in every Python
# process of the test run: once, when the program is done but before the interpreter finalizes
# (sanitizers/lsan_at_exit.py says why and what it cannot see); a leak fails that process (status
# 23) and leaves a report. --run keeps leak checking off (the fuzzers).
# PYTHONMALLOC=malloc sends Python's small objects (short str/bytes) through malloc, so that ASan
# also sees reads past the end of the Python buffers the C++ reads. LLMPREP_SANITIZER=MODE tells the
# tests where they run (see tests/conftest.py); property tests take LLMPREP_SANITIZER_HYPOTHESIS_EXAMPLES
# examples here (default 50).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
# shellcheck source=scripts/sanitizer_env.sh
source scripts/sanitizer_env.sh

mode="${1:-}"
shift || true
case "$mode" in
  asan)
    sanitize="address,undefined"
    runtimes=(libasan.so libubsan.so)
    # The whole suite.
    default_args=()
    ;;
  tsan)
    sanitize="thread"
    runtimes=(libtsan.so)
    # The tests that run C++ on several threads: the pool itself, and every batch/parallel path.
    default_args=(tests/test_parallel.py tests/test_windows.py tests/test_encoding.py tests/test_simple.py
      tests/test_piece_cache.py tests/test_corpus.py -k "parallel or batch or thread or pool or fork")
    ;;
  *)
    echo "usage: $0 asan|tsan [--build | --run CMD ARGS... | PYTEST_ARGS...]" >&2
    exit 2
    ;;
esac

base_python="${PYTHON:-python3}"
venv="$root/.venv-$mode"
build="build/san-$mode"
cxx="${CXX:-g++}"

# 1. The venv: no packages of its own but llmprep; the base interpreter's through a .pth file.
if [[ ! -x "$venv/bin/python" ]]; then
  "$base_python" -m venv --without-pip "$venv"
fi
site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
"$base_python" - >"$site/_llmprep_base_site.pth" <<'PY'
import site, sys
paths = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
print("\n".join(dict.fromkeys(paths)))
PY
# sanitizers/lsan_at_exit.py, imported by every Python process of this venv at start-up: with
# LLMPREP_LSAN_AT_EXIT=1 (the asan pytest run) it checks for leaks before the interpreter finalizes.
if [[ "$mode" == asan ]]; then
  cp sanitizers/lsan_at_exit.py "$site/_llmprep_lsan_at_exit.py"
  echo "import _llmprep_lsan_at_exit; _llmprep_lsan_at_exit.install()" >"$site/_llmprep_lsan_at_exit.pth"
fi

# 2. Build and install the sanitized extension (incremental: the build folder is kept).
echo "sanitize.sh: building llmprep with -fsanitize=$sanitize into $build"
"$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation --force-reinstall \
  -C build-dir="$build" -C cmake.build-type=RelWithDebInfo -C cmake.define.LLMPREP_SANITIZE="$sanitize" .
[[ "${1:-}" == --build ]] && exit 0

# 3. The environment: runtime preloaded, options and report files (scripts/sanitizer_env.sh).
preload=""
for lib in "${runtimes[@]}"; do
  path="$("$cxx" -print-file-name="$lib")"
  if [[ "$path" != /* ]]; then
    echo "sanitize.sh: $cxx does not know $lib (install the compiler's sanitizer runtimes)" >&2
    exit 1
  fi
  preload="$preload $path"
done
logdir="$root/$build/logs"
what=python
[[ "${1:-}" == --run ]] && what=python-run
llmprep_sanitizer_env "$mode" "$logdir" "$what"
export PYTHONMALLOC=malloc
# The tests then know they run on a sanitizer build after the plain run (tests/conftest.py, SANITIZER):
# exhaustive tests on fixed inputs run llmprep's side only (every-code-point ones on a sample: every 7th
# and every boundary code point), and property tests try fewer examples (the
# plain run tries LLMPREP_HYPOTHESIS_EXAMPLES, default 200; the fuzzers search random inputs here).
export LLMPREP_SANITIZER="$mode"
export LLMPREP_HYPOTHESIS_EXAMPLES="${LLMPREP_SANITIZER_HYPOTHESIS_EXAMPLES:-50}"
export PATH="$venv/bin:$PATH"
export PYTHON="$venv/bin/python"  # for scripts that take their interpreter from $PYTHON (run_fuzzers.sh)
export TIKTOKEN_CACHE_DIR="${TIKTOKEN_CACHE_DIR:-$root/../shared/tiktoken-cache}"
# Fail early if the interpreter would not pick the sanitized module.
LD_PRELOAD="${preload# }" "$PYTHON" -c '
import llmprep._core, sys
if not llmprep._core.__file__.startswith(sys.argv[1]):
    sys.exit(f"sanitize.sh: llmprep._core comes from {llmprep._core.__file__}, not from {sys.argv[1]}")
print("sanitize.sh: llmprep._core from", llmprep._core.__file__)' "$venv"

status=0
if [[ "${1:-}" == --run ]]; then
  shift
  echo "sanitize.sh: running $* under $mode"
  LD_PRELOAD="${preload# }" "$@" || status=$?
else
  if (($# == 0)); then set -- "${default_args[@]}"; fi
  echo "sanitize.sh: python -m pytest $* under $mode"
  LD_PRELOAD="${preload# }" "$PYTHON" -m pytest "$@" || status=$?
fi
llmprep_check_sanitizer_logs "$logdir" || status=1
exit "$status"
