#!/usr/bin/env bash
# Write a teacher cache with several processes (torchrun; one GPU each when
# there are GPUs). The processes do not communicate: each writes every
# NUM_PROCS-th shard, so the port is only torchrun's own.
#   bash tools/dist_cache_teacher.sh CONFIG NUM_PROCS --epochs E --out DIR
# Environment: PORT (default 29500), PYTHON (interpreter).
set -e
CONFIG=$1
NPROC=$2
PORT=${PORT:-29500}
NODE_RANK=0
MASTER_ADDR="127.0.0.1"
PYTHON=${PYTHON:-python}

. "$(dirname "$0")/check_port.sh"
check_port tools/dist_cache_teacher.sh

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
"$PYTHON" -m torch.distributed.run \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$(dirname "$0")/cache_teacher.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
