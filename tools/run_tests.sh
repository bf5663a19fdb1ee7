#!/usr/bin/env bash
# The README's test command: set up (or reuse) .venv, then run the suite.
#   bash tools/run_tests.sh [pytest args...]   (e.g. tests/core -m "not slow")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
# pytest writes under $TMPDIR; a full disk shows up only as OSError 28 at
# some test's setup, so say up front how much room there is
TMP="${TMPDIR:-/tmp}"
echo "[run_tests] temporary files under $TMP: $(df -h --output=avail "$TMP" | tail -1 | tr -d ' ') free (docs/testing.md: what the suite needs)"
# no path given: pyproject.toml's testpaths (tests/); a path narrows the run
exec "${KD_VENV:-$ROOT/.venv}/bin/python" -m pytest -q "$@"
