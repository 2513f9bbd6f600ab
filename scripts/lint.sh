#!/usr/bin/env bash
# The static checks CI runs (.ci/run): ruff lint, ruff format, clang-format, mypy --strict on the
# package, and stubtest of python/llmprep/_core.pyi and _core/_testing.pyi against the built module. Needs the package
# installed (stubtest imports llmprep._core) and the tools of the "lint" extra plus clang-format:
#   pip install -e ".[test,lint]"   # and: apt-get install clang-format
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python}"
status=0
step() {
  echo "--- lint: $*"
  "$@" || { echo "--- lint: FAILED: $*"; status=1; }
}
step "$python" -m ruff check .
step "$python" -m ruff format --check .
step bash scripts/clang_format_check.sh
step "$python" -m mypy  # files and strictness: [tool.mypy] in pyproject.toml
step "$python" -m mypy.stubtest llmprep._core llmprep._core._testing --allowlist scripts/stubtest_allowlist.txt
exit "$status"
