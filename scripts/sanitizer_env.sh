# Sourced by scripts/sanitize.sh and scripts/native_tests.sh: the sanitizer runtime options in one
# place. Not meant to be run on its own.

# llmprep_sanitizer_env MODE LOGDIR WHAT: exports ASAN/UBSAN/LSAN/TSAN_OPTIONS for MODE (asan|tsan).
# WHAT=native: our own test binary, LeakSanitizer's check at exit. WHAT=python: the runtime is
# preloaded into the interpreter; LeakSanitizer's own check at exit is off (it runs after CPython's
# finalization, which leaves the interpreter's, numpy's and torch's objects allocated), and
# sanitizers/lsan_at_exit.py checks instead, before the interpreter finalizes (LLMPREP_LSAN_AT_EXIT=1;
# scripts/sanitize.sh installs it into its venv). WHAT=python-run: the same without leak checking
# (sanitize.sh --run, e.g. the fuzzers).
# LLMPREP_ASAN_OPTIONS is appended to ASAN_OPTIONS (a later option wins), e.g.
# fast_unwind_on_malloc=0 for the whole allocation stack of a leaked Python object (the fast unwinder
# stops in libpython, often right after the first frames in _core) at about 20 times the run time.
# log_path writes every report to LOGDIR/<tool>.<pid> as well, so pytest's output capture cannot
# hide one; llmprep_check_sanitizer_logs fails when any such file exists.
llmprep_sanitizer_env() {
  local mode="$1" logdir="$2" what="$3"
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  rm -rf "$logdir"
  mkdir -p "$logdir"
  logdir="$(cd "$logdir" && pwd)"
  # The native tests also check leaks and stack use after return (a fake stack per frame: too
  # slow for the whole Python suite within CI's budget).
  local leaks=1 at_exit=1 stack_uar=1
  case "$what" in
    native) ;;
    python) at_exit=0 stack_uar=0 ;;
    python-run) leaks=0 stack_uar=0 ;;
    *)
      echo "llmprep_sanitizer_env: unknown WHAT $what (native, python or python-run)" >&2
      return 2
      ;;
  esac
  unset LLMPREP_LSAN_AT_EXIT
  case "$mode" in
    asan)
      export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=$leaks:leak_check_at_exit=$at_exit:strict_string_checks=1:detect_stack_use_after_return=$stack_uar:check_initialization_order=1:log_path=$logdir/asan${LLMPREP_ASAN_OPTIONS:+:$LLMPREP_ASAN_OPTIONS}"
      export LSAN_OPTIONS="suppressions=$root/sanitizers/lsan.supp:print_suppressions=0"
      if [[ "$what" == python ]]; then export LLMPREP_LSAN_AT_EXIT=1; fi
      export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logdir/ubsan"
      ;;
    tsan)
      # die_after_fork=0: the fork tests start threads in a child forked from a threaded process,
      # which TSan otherwise refuses. second_deadlock_stack=1: both stacks of a lock-order report.
      export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:die_after_fork=0:suppressions=$root/sanitizers/tsan.supp:log_path=$logdir/tsan"
      ;;
    *)
      echo "llmprep_sanitizer_env: unknown mode $mode" >&2
      return 2
      ;;
  esac
}

# llmprep_check_sanitizer_logs LOGDIR: prints every report file and returns 1 if there is any.
llmprep_check_sanitizer_logs() {
  local logdir="$1" f found=0
  shopt -s nullglob
  for f in "$logdir"/*; do
    found=1
    echo "===== sanitizer report: $f =====" >&2
    cat "$f" >&2
  done
  shopt -u nullglob
  if ((found)); then
    echo "FAILED: sanitizer reports found in $logdir" >&2
    return 1
  fi
  echo "no sanitizer reports in $logdir"
}
