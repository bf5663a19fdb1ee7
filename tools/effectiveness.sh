#!/usr/bin/env bash
# The embedded effectiveness benchmark (README "Results"): set up (or reuse)
# .venv, then train teachers and students of every method with their
# baselines on MNIST-5k and evaluate them (tools/effectiveness.py).
#   bash tools/effectiveness.sh [effectiveness.py args...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
exec "${KD_VENV:-$ROOT/.venv}/bin/python" tools/effectiveness.py "$@"
