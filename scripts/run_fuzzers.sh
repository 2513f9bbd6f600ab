#!/usr/bin/env bash
# Runs every fuzz harness (fuzz/fuzz_<target>.py) for SECONDS each on a copy of its seed corpus.
#
#   scripts/run_fuzzers.sh [SECONDS_PER_HARNESS] [TARGET ...]
#
# SECONDS defaults to 30; TARGETs default to every harness. Exits 1 when any harness finds a
# crash, an undocumented exception, a mismatch with its reference, a timeout or an out-of-memory
# input, after printing the harness, the reproducer path and the end of its log. Reproduce with
#   python fuzz/fuzz_<target>.py REPRODUCER
# The committed corpus is never written to: seeds are copied into a temporary folder (kept, with
# the logs and reproducers, when something was found, or always with FUZZ_KEEP=1).
#
# Environment: PYTHON (default python3: the interpreter with llmprep, atheris and tiktoken);
# TIKTOKEN_CACHE_DIR (default ../shared/tiktoken-cache next to the repository);
# FUZZ_RSS_LIMIT_MB (default 4096); FUZZ_TIMEOUT_S, the limit for one input (default 60);
# FUZZ_OUT, the folder for logs and reproducers (default a new temporary folder); FUZZ_JOBS, how
# many harnesses run side by side (default: the number of cores).
# Leak detection is off (-detect_leaks=0): the interpreter never frees its own allocations.
# Under a sanitizer build, set LD_PRELOAD / ASAN_OPTIONS / UBSAN_OPTIONS as for the test suite:
# a sanitizer report aborts the harness, which libFuzzer records as a crash with its input.
set -u -o pipefail

seconds=${1:-30}
shift || true
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "usage: $0 [SECONDS_PER_HARNESS] [TARGET ...]" >&2
  exit 2
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
export TIKTOKEN_CACHE_DIR=${TIKTOKEN_CACHE_DIR:-$root/../shared/tiktoken-cache}
rss_limit=${FUZZ_RSS_LIMIT_MB:-4096}
input_timeout=${FUZZ_TIMEOUT_S:-60}
out=${FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/llmprep-fuzz.XXXXXX")}
mkdir -p "$out"

# With gcc's ASan runtime preloaded, its empty __sanitizer_cov_* stubs come first in symbol
# lookup and atheris's coverage never reaches libFuzzer: preload fuzz/sancov_forward.c before it,
# which forwards those calls to atheris's own libFuzzer (see that file).
if [[ ${LD_PRELOAD:-} == *asan* ]]; then
  atheris_core=$("$python" -c 'import atheris, glob, os; print(glob.glob(os.path.join(os.path.dirname(atheris.__file__), "core_with_libfuzzer*.so"))[0])')
  if ${CC:-cc} -O2 -shared -fPIC -o "$out/sancov_forward.so" "$root/fuzz/sancov_forward.c" -ldl && [[ -n $atheris_core ]]; then
    export ATHERIS_CORE=$atheris_core
    export LD_PRELOAD="$out/sancov_forward.so $LD_PRELOAD"
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
  else
    echo "fuzz: WARNING: could not build fuzz/sancov_forward.c; under ASan the fuzzers will see no coverage" >&2
  fi
fi

if (($# > 0)); then
  targets=("$@")
else
  targets=()
  for path in "$root"/fuzz/fuzz_*.py; do
    name=$(basename "$path" .py)
    targets+=("${name#fuzz_}")
  done
fi

# run_one TARGET: fuzzes one harness; its report goes to $out/TARGET/report.txt, and
# $out/TARGET/failed exists when it found something (so that harnesses can run side by side).
run_one() {
  local target=$1 harness=$root/fuzz/fuzz_$1.py work=$out/$1 start=$SECONDS rc runs reproducers path
  mkdir -p "$work/corpus" "$work/artifacts"
  exec >"$work/report.txt" 2>&1
  if [[ ! -f $harness ]]; then
    echo "fuzz: no harness $harness"
    touch "$work/failed"
    return
  fi
  if [[ -d $root/fuzz/corpus/$target ]]; then
    cp -R "$root/fuzz/corpus/$target/." "$work/corpus/"
  fi
  local log=$work/log.txt
  # The outer timeout is a backstop for a hang that libFuzzer's own -timeout cannot interrupt.
  timeout --signal=KILL $((seconds * 2 + input_timeout + 120)) \
    "$python" "$harness" -max_total_time="$seconds" -rss_limit_mb="$rss_limit" -timeout="$input_timeout" \
    -detect_leaks=0 -keep_seed=1 -artifact_prefix="$work/artifacts/" -print_final_stats=1 "$work/corpus" >"$log" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  reproducers=$(find "$work/artifacts" -type f | sort)
  if ((rc != 0)) || [[ -n $reproducers ]]; then
    echo "fuzz: FAILED $target (exit $rc after $((SECONDS - start))s)"
    if [[ -n $reproducers ]]; then
      while IFS= read -r path; do
        echo "fuzz:   reproducer $path  (python fuzz/fuzz_$target.py $path)"
      done <<<"$reproducers"
    else
      echo "fuzz:   no reproducer was written (the harness failed to start, or was killed)"
    fi
    echo "fuzz:   log $log; its end:"
    tail -n 40 "$log" | sed 's/^/    /'
    touch "$work/failed"
  else
    echo "fuzz: ok $target (${runs:-?} inputs in $((SECONDS - start))s)"
  fi
}

# FUZZ_JOBS harnesses at a time (default: one per core). Each harness is one single-threaded
# process, so side by side they share nothing but the cores, and each still gets SECONDS of fuzzing;
# what running them together saves is the cores idling, and each harness's start-up (interpreter,
# llmprep, tiktoken's encodings: long under ASan) overlapping another's fuzzing.
jobs_max=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
echo "fuzz: ${#targets[@]} harnesses, ${seconds}s each, $jobs_max at a time"
for target in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs_max)); do wait -n || true; done
  echo "fuzz: $target for ${seconds}s ..."
  run_one "$target" &
done
wait
failed=()
for target in "${targets[@]}"; do
  cat "$out/$target/report.txt"
  [[ -e $out/$target/failed ]] && failed+=("$target")
done

if ((${#failed[@]} > 0)); then
  echo "fuzz: ${#failed[@]} harness(es) failed: ${failed[*]}; logs and reproducers in $out"
  exit 1
fi
echo "fuzz: all ${#targets[@]} harnesses passed"
if [[ ${FUZZ_KEEP:-0} == 1 || -n ${FUZZ_OUT:-} ]]; then
  echo "fuzz: logs in $out"
else
  rm -rf "$out"
fi
