"""Every checkpoint mmengine loads, loaded weights-only: local or remote.

Why: mmengine 0.10.7 loads a local file with plain ``torch.load``, and a URL
(``http(s)://``, and the ``torchvision://``, ``open-mmlab://`` and
``mmcls://`` names that resolve to one) with
``torch.hub.load_state_dict_from_url``, which unpickles with
``weights_only=False``: a checkpoint named by URL runs any code its pickle
names (measured: a teacher file served on a local http server, set as
``model.teacher_ckpt`` or ``load_from``, executed). Locally, torch >= 2.6
defaults to ``weights_only=True``, which refuses mmengine's own
checkpoints on resume: their message hub holds ``HistoryBuffer`` objects,
numpy arrays and scalars, and the buffer's statistics methods, which pickle
through ``builtins.getattr``.

Fix: through mmengine's public ``CheckpointLoader.register_scheme`` API the
loaders of these schemes are replaced by ones that all end in
:func:`load_from_local`, which

1. tells the format from the first bytes (torch zip, torch's legacy
   pre-1.6 format, safetensors; anything else, an empty, text or HTML file,
   is refused with the file named);
2. lists the globals the object pickle names, statically (nothing runs),
   for zip and legacy files alike;
3. loads the file with ``weights_only=True``, allowing for this one call
   exactly those of mmengine's checkpoint globals (below) that the file
   names (``torch.serialization.safe_globals``); any other class or function
   is refused by torch's weights-only unpickler, and the refusal is raised
   as :class:`UnsafeCheckpointError` naming the file, the global and the one
   way to load it anyway. A file that cannot be read is raised as
   :class:`CheckpointFileError` naming it.

A URL is downloaded once into torch's hub cache, in a folder of its own
(``<torch hub dir>/checkpoints/<hash of the URL>/<file name>``: hub files
often share a name, ``model.safetensors``, and mmengine's one folder would
hand a second model the first one's file), rank 0 first under DDP as
mmengine does, and loaded from there like a local file. Safetensors files
hold no pickle and load as they are.

An unsafe (full pickle) load happens only when asked for by name:
``KD_PLUGINS_UNSAFE_LOAD`` lists the checkpoints (paths, URLs or scheme
names, comma-separated) whose code you trust to run; torch's own
``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` is honoured as it was for
mmengine's plain ``torch.load`` calls. Nothing is allowed process-wide
(``builtins.getattr`` stays forbidden for every other ``torch.load``), and
nothing in mmengine or torch is patched. On torch < 2.5 (no
``safe_globals``), mmengine's own loaders are left in place.

``pavi://`` and ``s3://`` stay mmengine's: they call plain ``torch.load``,
weights-only by default on torch >= 2.6.

Checked by ``tests/compat/test_compat.py`` and
``tests/compat/test_checkpoint_loading.py``.
"""
import hashlib
import os
import os.path as osp
import pickle
import sys
import zipfile
from typing import Dict, Iterable, Optional
from urllib.parse import urlparse

import numpy as np
import torch

from .checkpoint_formats import pickle_globals, read_safetensors, sniff_format

#: lists the checkpoints a full, unsafe pickle load is allowed for
UNSAFE_ENV = 'KD_PLUGINS_UNSAFE_LOAD'
TORCH_UNSAFE_ENV = 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'


class CheckpointFileError(ValueError):
    """A checkpoint file that cannot be read (empty, damaged, not one)."""


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint whose pickle names code a weights-only load refuses."""


def _numpy_core():
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    return multiarray


def _qualname(obj) -> str:
    return f'{obj.__module__}.{obj.__name__}'


def _numpy_dtype_classes() -> list:
    # numpy.dtypes.Float64DType and friends. The pickle names them only inside
    # BUILD of a numpy.dtype, so the global scan does not list them; they are
    # allowed whenever numpy.dtype is.
    return [type(np.dtype(t)) for t in (
        np.float16, np.float32, np.float64, np.int8, np.int16, np.int32,
        np.int64, np.uint8, np.bool_)]


def mmengine_checkpoint_globals() -> Dict[str, object]:
    """The globals an mmengine checkpoint may need, by pickled name."""
    from mmengine.logging.history_buffer import HistoryBuffer
    multiarray = _numpy_core()
    allowed = {_qualname(HistoryBuffer): HistoryBuffer,
               'builtins.getattr': getattr,
               'numpy.ndarray': np.ndarray, 'numpy.dtype': np.dtype}
    for mod in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        allowed[f'{mod}._reconstruct'] = multiarray._reconstruct
        allowed[f'{mod}.scalar'] = multiarray.scalar
    return allowed


# ---------------------------------------------------------------- the policy
def _listed_as_trusted(names: Iterable[str]) -> bool:
    if os.getenv(TORCH_UNSAFE_ENV, '0').lower() in ('1', 'y', 'yes', 'true'):
        return True
    listed = [s.strip() for s in os.getenv(UNSAFE_ENV, '').split(',')
              if s.strip()]
    for name in names:
        for entry in listed:
            if name == entry or ('://' not in name and '://' not in entry
                                 and osp.abspath(osp.expanduser(name))
                                 == osp.abspath(osp.expanduser(entry))):
                return True
    return False


def _torch_refusal(err: Exception) -> str:
    """The line of torch's weights-only error that names the global."""
    lines = [s.strip() for s in str(err).splitlines() if 'GLOBAL' in s]
    return lines[0] if lines else str(err).strip().splitlines()[-1]


def _unsafe_error(name: str, err: Exception) -> UnsafeCheckpointError:
    return UnsafeCheckpointError(
        f'refused to load checkpoint {name}: its pickle names code that a '
        f'weights-only load does not run ({_torch_refusal(err)}); '
        'unpickling it fully could execute anything. A checkpoint of '
        'weights needs none of it: ask its publisher for a weights-only or '
        'safetensors file. Only if you trust the file and its source, set '
        f'{UNSAFE_ENV}={name} (several: comma-separated) to load it with a '
        'full, unsafe pickle load.')


def _unreadable(name: str, why: str) -> CheckpointFileError:
    return CheckpointFileError(
        f'cannot read checkpoint {name}: {why}. If the file is damaged or '
        'truncated (an interrupted download or save), fetch or write it '
        'again.')


def load_from_local(filename: str, map_location=None,
                    source: Optional[str] = None):
    """Load a local checkpoint file weights-only (zip, legacy, safetensors).

    Args:
        filename: the file.
        map_location: as for ``torch.load``.
        source: the name the user gave (a URL or a scheme name), used in
            messages and matched against ``KD_PLUGINS_UNSAFE_LOAD``.
    """
    path = osp.expanduser(filename)
    name = source or filename
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} can not be found.')
    with open(path, 'rb') as f:
        fmt = sniff_format(f)
        if fmt == 'empty':
            raise _unreadable(name, f'{path} is empty')
        if fmt == 'unknown':
            head = f.read(40)
            raise _unreadable(name, f'{path} is not a torch or safetensors '
                              f'checkpoint (it starts with {head!r})')
        if fmt == 'safetensors':
            try:
                return read_safetensors(path, map_location)
            except (ValueError, OSError, RuntimeError) as e:
                raise _unreadable(name, f'{type(e).__name__}: {e}') from e
        if _listed_as_trusted({name, filename, path}):
            from mmengine.logging import print_log
            print_log(f'loading {name} with a full pickle load ({UNSAFE_ENV}'
                      f' or {TORCH_UNSAFE_ENV}): any code it holds runs',
                      logger='current', level=30)
            return torch.load(path, map_location=map_location,
                              weights_only=False)
        try:
            needed = pickle_globals(f, fmt)
        except Exception as e:  # noqa: BLE001  (any parse error: damaged)
            raise _unreadable(
                name, f'its {fmt}-format pickle is damaged ({e})') from e
    known = mmengine_checkpoint_globals()
    allowed = [known[n] for n in sorted(needed & set(known))]
    if 'numpy.dtype' in needed:
        allowed += _numpy_dtype_classes()
    try:
        with torch.serialization.safe_globals(allowed):
            return torch.load(path, map_location=map_location,
                              weights_only=True)
    except pickle.UnpicklingError as e:
        if 'Weights only load failed' in str(e):
            raise _unsafe_error(name, e) from None
        raise _unreadable(name, f'UnpicklingError: {e}') from e
    except (RuntimeError, EOFError, KeyError, OSError, ValueError) as e:
        raise _unreadable(name, f'{type(e).__name__}: {e}') from e


# ------------------------------------------------------------------ remote
def _progress() -> bool:
    return os.isatty(0)


def download_checkpoint(url: str, model_dir: Optional[str] = None) -> str:
    """The local copy of ``url`` in torch's hub cache, downloaded once
    (written to a temporary file and renamed by torch.hub), in a folder
    named by the URL's hash."""
    model_dir = osp.join(
        model_dir or osp.join(torch.hub.get_dir(), 'checkpoints'),
        hashlib.sha256(url.encode()).hexdigest()[:16])
    os.makedirs(model_dir, exist_ok=True)
    cached = osp.join(model_dir, osp.basename(urlparse(url).path))
    if not osp.exists(cached):
        sys.stderr.write(f'Downloading: "{url}" to {cached}\n')
        try:
            torch.hub.download_url_to_file(url, cached, None,
                                           progress=_progress())
        except OSError as e:  # URLError, HTTPError, ...
            raise OSError(f'could not download checkpoint {url}: {e}') from e
    # torch.hub's convention: a zip archive holding one legacy file
    if zipfile.is_zipfile(cached):
        with zipfile.ZipFile(cached) as archive:
            members = archive.infolist()
            if len(members) == 1 and not members[0].is_dir():
                archive.extractall(model_dir)
                return osp.join(model_dir, members[0].filename)
    return cached


def load_from_http(filename: str, map_location=None,
                   model_dir: Optional[str] = None,
                   source: Optional[str] = None):
    """Download a URL (rank 0 first under DDP) and load it weights-only."""
    from mmengine.dist import get_dist_info
    rank, world_size = get_dist_info()
    if rank == 0:
        path = download_checkpoint(filename, model_dir)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            path = download_checkpoint(filename, model_dir)
    return load_from_local(path, map_location,
                           source=source or filename)


def _named_url(table: dict, name: str, scheme: str) -> str:
    if name not in table:
        raise KeyError(f'{scheme}{name} is not a known name; mmengine '
                       f'knows {len(table)} of them, for example '
                       f'{sorted(table)[:5]}')
    return table[name]


def load_from_torchvision(filename: str, map_location=None):
    """``torchvision://NAME`` (and the deprecated ``modelzoo://NAME``)."""
    from mmengine.runner.checkpoint import get_torchvision_models
    scheme = 'modelzoo://' if filename.startswith('modelzoo://') \
        else 'torchvision://'
    url = _named_url(get_torchvision_models(), filename[len(scheme):],
                     scheme)
    return load_from_http(url, map_location, source=filename)


def mmengine_home() -> str:
    """mmengine's cache folder (``$MMENGINE_HOME``)."""
    from mmengine.runner.checkpoint import (
        DEFAULT_CACHE_DIR,
        ENV_MMENGINE_HOME,
        ENV_XDG_CACHE_HOME,
    )
    return osp.expanduser(os.getenv(ENV_MMENGINE_HOME, osp.join(
        os.getenv(ENV_XDG_CACHE_HOME, DEFAULT_CACHE_DIR), 'mmengine')))


def load_from_openmmlab(filename: str, map_location=None):
    """``open-mmlab://NAME`` / ``openmmlab://NAME``: mmengine's table of
    URLs (or files under mmengine's home), deprecated names followed."""
    from mmengine.logging import print_log
    from mmengine.runner.checkpoint import (
        get_deprecated_model_names,
        get_external_models,
    )
    scheme = 'open-mmlab://' if filename.startswith('open-mmlab://') \
        else 'openmmlab://'
    name = filename[len(scheme):]
    deprecated = get_deprecated_model_names()
    if name in deprecated:
        print_log(f'{scheme}{name} is deprecated in favor of '
                  f'{scheme}{deprecated[name]}', logger='current', level=30)
        name = deprecated[name]
    url = _named_url(get_external_models(), name, scheme)
    if url.startswith(('http://', 'https://')):
        return load_from_http(url, map_location, source=filename)
    return load_from_local(osp.join(mmengine_home(), url), map_location,
                           source=filename)


def load_from_mmcls(filename: str, map_location=None):
    """``mmcls://NAME``: as mmengine does, the backbone's weights only."""
    from mmengine.runner.checkpoint import get_mmcls_models
    url = _named_url(get_mmcls_models(), filename[len('mmcls://'):],
                     'mmcls://')
    checkpoint = load_from_http(url, map_location, source=filename)
    state = checkpoint.get('state_dict', checkpoint)
    return dict(state_dict={k[len('backbone.'):]: v for k, v in state.items()
                            if k.startswith('backbone.')})


#: scheme prefixes -> loader, as mmengine registers them
LOADERS = {
    '': load_from_local,
    ('http://', 'https://'): load_from_http,
    ('modelzoo://', 'torchvision://'): load_from_torchvision,
    ('open-mmlab://', 'openmmlab://'): load_from_openmmlab,
    'mmcls://': load_from_mmcls,
}


def register_checkpoint_loaders() -> bool:
    """Register the weights-only loaders with mmengine (idempotent).
    Returns False, registering nothing, on torch < 2.5."""
    if not hasattr(torch.serialization, 'safe_globals'):
        return False
    from mmengine.runner.checkpoint import CheckpointLoader
    for prefixes, loader in LOADERS.items():
        CheckpointLoader.register_scheme(prefixes=prefixes, loader=loader,
                                         force=True)
    return True
