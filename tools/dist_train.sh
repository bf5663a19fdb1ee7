#!/usr/bin/env bash
# Multi-process training with torchrun: GPUs when present, gloo on the CPU.
#   bash tools/dist_train.sh CONFIG NUM_PROCS [train.py args...]
# Environment: PORT (rendezvous port, default 29500; a second run on the same
# machine needs another, e.g. PORT=29501), PYTHON (interpreter), NNODES,
# NODE_RANK, MASTER_ADDR (several machines).
set -e
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}

. "$(dirname "$0")/check_port.sh"
check_port tools/dist_train.sh

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$(dirname "$0")/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
