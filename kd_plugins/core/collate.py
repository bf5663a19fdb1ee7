"""mmengine's ``default_collate``, naming the images when a batch cannot be
stacked.

A pipeline without a resize or crop hands images of different sizes to the
collate function, and ``torch.stack`` fails with a message that names no
file. ``DataCheckHook`` finds this before training for datasets it reads in
full; for larger ones, this collate function says which images (by path,
grouped by size) met in the failing batch. The batch it returns is exactly
``default_collate``'s.
"""
from collections import defaultdict
from typing import Any, Sequence

from mmengine.dataset import default_collate
from mmengine.registry import FUNCTIONS

NAME = 'kd_plugins_default_collate'


def _first_tensor(x):
    while isinstance(x, (list, tuple)) and x:
        x = x[0]
    return x


def _path(item) -> str:
    samples = item.get('data_samples') if isinstance(item, dict) else None
    samples = samples[0] if isinstance(samples, (list, tuple)) and samples \
        else samples
    meta = getattr(samples, 'metainfo', {}) or {}
    return str(meta.get('img_path', meta.get('filename', '<unknown file>')))


def size_report(data_batch: Sequence) -> str:
    """``'3x28x28: a.png, b.png; 3x32x32: c.png'`` for a batch's items."""
    groups = defaultdict(list)
    for item in data_batch:
        x = _first_tensor(item.get('inputs') if isinstance(item, dict)
                          else item)
        shape = 'x'.join(map(str, getattr(x, 'shape', ()))) or '?'
        groups[shape].append(_path(item))
    return '; '.join(f'{shape}: {", ".join(paths)}'
                     for shape, paths in groups.items())


@FUNCTIONS.register_module(name=NAME)
def named_default_collate(data_batch: Sequence) -> Any:
    """``default_collate``; a batch of images of several sizes is refused
    with the image paths grouped by size."""
    try:
        return default_collate(data_batch)
    except RuntimeError as err:
        if 'equal size' not in str(err) and 'same size' not in str(err):
            raise
        raise ValueError(
            'images of different sizes met in one batch, so they cannot be '
            f'stacked: {size_report(data_batch)}. Add a resize or crop to '
            'the pipeline (e.g. Resize, RandomResizedCrop, CenterCrop), or '
            'remove the odd images from the dataset.') from err
