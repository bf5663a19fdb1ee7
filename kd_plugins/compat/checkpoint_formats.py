"""What a checkpoint file is, read without running it.

Three serialisations reach the loaders of :mod:`.checkpoint_loading`:

- torch's zip format (``torch.save`` since torch 1.6): a zip archive whose
  ``data.pkl`` is the pickle;
- torch's legacy format (before 1.6, and still written with
  ``_use_new_zipfile_serialization=False``, as mmcls' and mmselfsup's
  ``publish_model.py`` and FAIR's MoCo releases are): four pickles in a row
  (magic number, protocol version, system info, the object), then the raw
  storages;
- safetensors: an 8-byte little-endian header length, a JSON header naming
  each tensor's dtype, shape and byte range, then the bytes. No pickle at
  all.

:func:`sniff_format` tells them apart from the first bytes;
:func:`pickle_globals` lists the globals (``module.name``) the object pickle
names, statically, for both torch formats; :func:`read_safetensors` reads a
safetensors file with the ``safetensors`` package when it is installed and
otherwise by the format's specification (the header and the bytes).
"""
import io
import json
import pickletools
import struct
import zipfile
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING  # as pickle reads
from typing import BinaryIO, Dict, Set

import torch

ZIP_MAGIC = b'PK\x03\x04'
PICKLE_PROTO = b'\x80'  # PROTO opcode: torch.save pickles with protocol 2

#: safetensors dtype names -> torch dtypes (the format's specification)
SAFETENSORS_DTYPES = {
    'F64': torch.float64, 'F32': torch.float32, 'F16': torch.float16,
    'BF16': torch.bfloat16, 'I64': torch.int64, 'I32': torch.int32,
    'I16': torch.int16, 'I8': torch.int8, 'U8': torch.uint8,
    'BOOL': torch.bool,
}


def sniff_format(f: BinaryIO) -> str:
    """``'zip'``, ``'legacy'``, ``'safetensors'``, ``'empty'`` or
    ``'unknown'`` (a text or HTML file, a truncated download), from the
    first bytes of ``f``; the position is restored."""
    pos = f.tell()
    head = f.read(16)
    f.seek(pos)
    if not head:
        return 'empty'
    if head.startswith(ZIP_MAGIC):
        return 'zip'
    if head.startswith(PICKLE_PROTO):
        return 'legacy'
    if len(head) >= 9 and head[8:9] == b'{':
        (n, ) = struct.unpack('<Q', head[:8])
        if n > 1:
            return 'safetensors'
    return 'unknown'


def _python3_name(arg: str) -> str:
    # protocol 2 writes Python 2 names (``__builtin__ getattr``); unpickling
    # maps them as pickle does, so name them the same way
    module, name = arg.split(' ', 1)
    if (module, name) in NAME_MAPPING:
        module, name = NAME_MAPPING[(module, name)]
    elif module in IMPORT_MAPPING:
        module = IMPORT_MAPPING[module]
    return f'{module}.{name}'


def _globals_of_one_pickle(f: BinaryIO) -> Set[str]:
    found = set()
    for opcode, arg, _ in pickletools.genops(f):
        if opcode.name in ('GLOBAL', 'INST'):
            found.add(_python3_name(arg))
    return found


def pickle_globals(f: BinaryIO, fmt: str) -> Set[str]:
    """Every global the checkpoint's object pickle names, read statically
    (nothing is unpickled). Raises ``ValueError`` for a damaged pickle."""
    f.seek(0)
    if fmt == 'zip':
        with zipfile.ZipFile(f) as archive:
            names = [n for n in archive.namelist()
                     if n.endswith('/data.pkl') or n == 'data.pkl']
            if not names:
                raise ValueError('a zip archive without data.pkl')
            return _globals_of_one_pickle(io.BytesIO(archive.read(names[0])))
    if fmt == 'legacy':
        for _ in range(3):  # magic number, protocol version, system info
            _globals_of_one_pickle(f)
        return _globals_of_one_pickle(f)
    raise ValueError(f'no pickle in a {fmt} file')


def _torch_device(map_location) -> str:
    if map_location is None:
        return 'cpu'
    if isinstance(map_location, (str, torch.device)):
        return str(map_location)
    raise ValueError('a safetensors checkpoint takes map_location as a '
                     f'device name or torch.device, got {map_location!r}')


def read_safetensors(path: str, map_location=None) -> Dict[str, torch.Tensor]:
    """The tensors of a safetensors file, on ``map_location`` (CPU by
    default)."""
    device = _torch_device(map_location)
    try:
        from safetensors.torch import load_file
    except ImportError:
        return _read_safetensors_spec(path, device)
    return load_file(path, device=device)


def _read_safetensors_spec(path: str, device: str) -> Dict[str, torch.Tensor]:
    with open(path, 'rb') as f:
        (n, ) = struct.unpack('<Q', f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        dtype = SAFETENSORS_DTYPES.get(info['dtype'])
        if dtype is None:
            raise ValueError(
                f'{path}: tensor {name!r} has dtype {info["dtype"]}, which '
                'this reader does not know; install the safetensors package')
        begin, end = info['data_offsets']
        if end > len(data) or begin > end:
            raise ValueError(f'{path}: tensor {name!r} lies outside the '
                             'file (truncated?)')
        flat = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype) \
            if end > begin else torch.empty(0, dtype=dtype)
        out[name] = flat.reshape(info['shape']).to(device)
    return out
