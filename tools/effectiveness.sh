#!/usr/bin/env bash
# The embedded effectiveness benchmark (docs/results.md): set up (or reuse)
# .venv, then train teachers and students of every method with their
# baselines on MNIST-5k and evaluate them (python -m bench.effectiveness).
#   bash tools/effectiveness.sh [--only RUN...] [--jobs N] [--work-dir DIR]
#                               [--fresh] [...]  (--help: every option)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
exec "${KD_VENV:-$ROOT/.venv}/bin/python" -m bench.effectiveness "$@"
