"""Checkpoint files as publishers and attackers write them: a local http
server, safetensors written by the format's specification, and a pickle
that runs code when fully unpickled."""
import contextlib
import functools
import http.server
import json
import os
import struct
import threading

import torch

#: safetensors dtype names (the format's specification)
SAFETENSORS_NAMES = {torch.float32: 'F32', torch.float64: 'F64',
                     torch.float16: 'F16', torch.int64: 'I64',
                     torch.int32: 'I32', torch.uint8: 'U8',
                     torch.bool: 'BOOL'}


@contextlib.contextmanager
def serve_directory(root):
    """Serve ``root`` over http on a free local port, in a thread; yields
    the base URL (``http://127.0.0.1:PORT/``)."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}/'
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


def write_safetensors(state, path, metadata=None):
    """A ``.safetensors`` file: 8-byte little-endian header size, the JSON
    header (dtype, shape, byte range of each tensor), then the bytes."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header['__metadata__'] = dict(metadata)
    for name, tensor in state.items():
        data = tensor.detach().contiguous().cpu().reshape(-1) \
            .view(torch.uint8).numpy().tobytes()
        header[name] = dict(dtype=SAFETENSORS_NAMES[tensor.dtype],
                            shape=list(tensor.shape),
                            data_offsets=[offset, offset + len(data)])
        chunks.append(data)
        offset += len(data)
    blob = json.dumps(header).encode()
    blob += b' ' * (-len(blob) % 8)  # the writers pad the header to 8
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(blob)) + blob + b''.join(chunks))
    return str(path)


class RunsCode:
    """Pickles as a call of ``os.mkdir(marker)``: fully unpickling a file
    that holds it creates the folder ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker, ))


def code_running_checkpoint(path, marker, legacy=False):
    """A checkpoint of plain weights plus one object that runs code."""
    torch.save(dict(state_dict=dict(w=torch.ones(2)), meta=dict(epoch=1),
                    extra=RunsCode(marker)), str(path),
               _use_new_zipfile_serialization=not legacy)
    return str(path)
