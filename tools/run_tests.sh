#!/usr/bin/env bash
# The README's test command: set up (or reuse) .venv, then run the suite.
#   bash tools/run_tests.sh [pytest args...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
exec "${KD_VENV:-$ROOT/.venv}/bin/python" -m pytest tests -q "$@"
