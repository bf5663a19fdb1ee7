# Sourced by tools/dist_train.sh and tools/dist_test.sh. PORT is the
# rendezvous port of torchrun on MASTER_ADDR (default 29500); two runs on one
# machine need two ports. A taken port is reported here, before torchrun
# starts (its own report is an EADDRINUSE traceback).
check_port() {  # script name
    [ "$NODE_RANK" = 0 ] || return 0
    "$PYTHON" - "$MASTER_ADDR" "$PORT" "$1" <<'PY'
import errno
import socket
import sys

addr, port, script = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((addr, port))
except OSError as err:
    if err.errno == errno.EADDRINUSE:
        sys.exit(f'{script}: port {port} on {addr} is taken (another '
                 'distributed run, or another program, listens on it). '
                 f'Choose a free one: PORT={port + 1} bash {script} ...')
finally:
    s.close()
PY
}
