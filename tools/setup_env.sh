#!/usr/bin/env bash
# Create (or reuse) the project environment in .venv with the tested
# OpenMMLab stack. Idempotent: quick when .venv or the wheel cache exists,
# complete from nothing when neither does.
#
# Every workaround for this stack lives in this file, each with its reason.
# Tested versions: torch 2.14.1 / torchvision 0.29.1, numpy<2, mmengine 0.10.7,
# mmcv 2.1.0 (source build with ops), mmpretrain 1.2.0, mmdet 3.3.0,
# mmsegmentation 1.2.2.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${KD_VENV:-$ROOT/.venv}"
CACHE="${KD_WHEEL_CACHE:-$HOME/.cache/kd_plugins/wheels}"
STAMP="$VENV/.kd_plugins_env_v1"
PY="$VENV/bin/python"
mkdir -p "$CACHE"

# The linter, pinned (pyproject.toml holds its settings; .ci/run runs it).
RUFF="ruff==0.17.6"
# Optional extra: timm, for teachers from timm (mmpretrain's TIMMBackbone /
# TimmClassifier) and their tests; the package runs without it. Skip it with
# KD_WITH_TIMM=0. It pulls setuptools 84 (no pkg_resources), so the
# setuptools pin below is re-applied after it.
TIMM="timm==1.0.31"
WITH_TIMM="${KD_WITH_TIMM:-1}"
if [[ -f "$STAMP" ]]; then
  # Environment complete: only make sure the package itself is linked in,
  # and the linter and the optional timm are there (environments made
  # before they were added).
  "$PY" -c "import kd_plugins" 2>/dev/null || \
    "$PY" -m pip install -q --no-deps --no-build-isolation -e "$ROOT"
  [[ -x "$VENV/bin/ruff" ]] || \
    "$PY" -m pip install -q --disable-pip-version-check "$RUFF"
  if [[ "$WITH_TIMM" != 0 ]] && ! "$PY" -c "import timm" 2>/dev/null; then
    "$PY" -m pip install -q --disable-pip-version-check "$TIMM" "numpy<2"
    "$PY" -m pip install -q --disable-pip-version-check "setuptools<70" \
      2>&1 | grep -v -e "requires setuptools" \
      -e "dependency resolver does not currently take into account" || true
  fi
  exit 0
fi

log() { echo "[setup_env] $*"; }
[[ -x "$PY" ]] || { log "creating $VENV"; python3 -m venv "$VENV"; }
PIP=("$PY" -m pip install --disable-pip-version-check)

# WORKAROUND 1: numpy<2 everywhere (mmcv's compiled ops and mlxtend's
# numpy-1 releases predate numpy 2). A constraints file pins it in every pip
# call so no later install upgrades it behind our back.
CONSTRAINTS="$VENV/kd_constraints.txt"
printf 'numpy<2\n' > "$CONSTRAINTS"
PIP+=(-c "$CONSTRAINTS")

log "torch 2.14.1 / torchvision 0.29.1"
"${PIP[@]}" -q torch==2.14.1 torchvision==0.29.1 "numpy<2" wheel ninja
# WORKAROUND 2: setuptools<70, because mmcv's setup.py and mmengine's
# `mmdet::`/`mmpretrain::` base-config resolution import pkg_resources, which
# newer setuptools removed. torch 2.14 declares setuptools>=77 (so this cannot
# go in the constraints file: pip would refuse torch); pip warns, nothing
# breaks. Re-applied at the end in case a later install lifted it.
# (pip prints the expected torch/setuptools conflict; filter just that.)
pin_setuptools() {
  "${PIP[@]}" -q "setuptools<70" 2>&1 | grep -v -e "requires setuptools" \
    -e "dependency resolver does not currently take into account" || true
}
pin_setuptools
log "mmengine"
"${PIP[@]}" -q mmengine==0.10.7 opencv-python-headless

# WORKAROUND 3: mmcv 2.1.0 (the only release mmdet 3.3 / mmseg 1.2.2 /
# mmpretrain 1.2 all accept) has no wheel for this torch, and torch 2.14's
# headers need C++20 while mmcv's setup.py hard-codes -std=c++17. We build it
# from the sdist with that flag patched, without build isolation (so it sees
# the installed torch and setuptools<70), and keep the built wheel in $CACHE so
# the ~16-minute compile happens once per machine.
if ! "$PY" -c "import mmcv, mmcv.ops" 2>/dev/null; then
  WHEEL="$(ls "$CACHE"/mmcv-2.1.0-*.whl 2>/dev/null | head -n1 || true)"
  if [[ -z "$WHEEL" ]]; then
    log "building mmcv 2.1.0 with ops from source (about 16 minutes on 2 cores)"
    BUILD="$(mktemp -d)"
    "$PY" -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
      mmcv==2.1.0 -d "$BUILD"
    tar -xzf "$BUILD"/mmcv-2.1.0.tar.gz -C "$BUILD"
    sed -i "s/'-std=c++17'/'-std=c++20'/g" "$BUILD/mmcv-2.1.0/setup.py"
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
      "$PY" -m pip wheel --no-deps --no-build-isolation -w "$BUILD/dist" \
      "$BUILD/mmcv-2.1.0"
    cp "$BUILD"/dist/mmcv-2.1.0-*.whl "$CACHE"/
    WHEEL="$(ls "$CACHE"/mmcv-2.1.0-*.whl | head -n1)"
    rm -rf "$BUILD"
  fi
  log "installing $WHEEL"
  "${PIP[@]}" -q "$WHEEL"
fi

log "mmpretrain / mmdet / mmsegmentation and test tools"
"${PIP[@]}" -q mmpretrain==1.2.0 mmdet==3.3.0 mmsegmentation==1.2.2 \
  ftfy regex "mlxtend==0.23.4" matplotlib pytest "$RUFF"
if [[ "$WITH_TIMM" != 0 ]]; then
  log "timm (optional extra: teachers from timm)"
  "${PIP[@]}" -q "$TIMM"
fi
pin_setuptools  # after every install that may lift it (timm does)
log "kd_plugins (editable)"
"${PIP[@]}" -q --no-deps --no-build-isolation -e "$ROOT"
"$PY" -c "import mmcv.ops, mmpretrain, mmdet, mmseg, kd_plugins" 
touch "$STAMP"
log "environment ready: $VENV"
