"""Write a file so that an interruption never leaves a half-written one.

:func:`atomic_path` hands out a temporary name beside the target
(``<target>.tmp``); when the block completes the file is flushed to disk and
renamed over the target in one step (``os.replace``), so readers see the old
file or the new one, never a part. When the block fails (a full disk, an
error while pickling) the temporary file is removed and an ``OSError`` names
the target, the free space left there and the fix. A kill (SIGKILL, power
loss) between the two can leave only the ``.tmp`` file; the target is
intact. Used by the checkpoint hook, the export and ``last_checkpoint``.
"""
import os
import os.path as osp
import shutil
from contextlib import contextmanager
from typing import Iterator

TMP_SUFFIX = '.tmp'


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # a folder on a file system that cannot sync it
        pass
    finally:
        os.close(fd)


def free_space(folder: str) -> str:
    """'12.3 MB free' on the file system of ``folder`` (or '')."""
    try:
        return f'{shutil.disk_usage(folder).free / 1e6:.1f} MB free'
    except OSError:
        return ''


def _is_write_error(err: BaseException) -> bool:
    # torch.save reports a full disk as a RuntimeError: 'basic_ios::clear:
    # iostream error', 'PytorchStreamWriter failed writing file ...', or
    # '[enforce fail at inline_container.cc] . unexpected pos N vs M'
    if isinstance(err, OSError):
        return True
    return isinstance(err, RuntimeError) and any(
        s in str(err) for s in ('iostream', 'failed writing', 'write',
                                'unexpected pos'))


@contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path; on success it becomes ``path`` atomically."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = path + TMP_SUFFIX
    try:
        yield tmp
        _fsync(tmp)
    except BaseException as err:
        if osp.exists(tmp):
            os.remove(tmp)
        if _is_write_error(err):
            space = free_space(folder)
            raise OSError(
                f'could not write {path}: {err}. Nothing was written there '
                f'(the partial {osp.basename(tmp)} was removed); '
                f'{space + " on that file system; " if space else ""}'
                'free some space or choose another folder, then run '
                'again.') from err
        raise
    os.replace(tmp, path)
    _fsync(folder)


def write_text_atomic(path: str, text: str) -> None:
    """``path`` holds ``text`` afterwards, or its old content."""
    with atomic_path(path) as tmp:
        with open(tmp, 'w') as f:
            f.write(text)
