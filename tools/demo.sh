#!/usr/bin/env bash
# The README's main command: set up (or reuse) .venv, then run the embedded
# end-to-end SSLD distillation on MNIST-5k (tools/ssld_demo.py).
#   bash tools/demo.sh [ssld_demo.py args...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
exec "${KD_VENV:-$ROOT/.venv}/bin/python" tools/ssld_demo.py "$@"
