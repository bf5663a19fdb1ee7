"""UnlabeledImageFolder: images without labels, for SSLD's unlabeled set U.

A thin subclass of mmpretrain's ``CustomDataset`` with ``with_label=False``:
either every image under a folder (recursively), or the images listed in an
annotation file (one relative path per line, as ``tools/ssld_mine.py``
writes). Samples carry no ``gt_label``. Folders that are missing, unreadable
or hold no image, and annotation files that name files that do not exist
(one stat per line), raise an error naming the folder or the files and the
fix, before any training starts.
"""
import os
import os.path as osp
from typing import Sequence

from mmpretrain.datasets import CustomDataset

from kd_plugins.core.checkpoint import listing
from kd_plugins.registry import DATASETS

_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
               '.tiff', '.webp')


def _check_readable_dir(path: str) -> None:
    if not osp.isdir(path):
        raise FileNotFoundError(
            f'unlabeled image folder {path!r} does not exist. Point '
            '`data_root`/`data_prefix` of the unlabeled dataset at a folder '
            'of images, or write an annotation file with tools/ssld_mine.py.')
    if not os.access(path, os.R_OK | os.X_OK):
        raise PermissionError(
            f'unlabeled image folder {path!r} is not readable by this user; '
            'fix its permissions (chmod a+rx).')


@DATASETS.register_module()
class UnlabeledImageFolder(CustomDataset):
    """Images without labels, from a folder or an annotation file.

    Args:
        data_root: root folder; image paths are relative to it (and to
            ``data_prefix`` when given).
        ann_file: optional list of relative image paths, one per line.
        extensions: accepted file suffixes when scanning a folder.
        pipeline, data_prefix, ...: as mmpretrain's ``CustomDataset``.
    """

    def __init__(self, data_root: str = '', data_prefix='', ann_file: str = '',
                 extensions: Sequence[str] = _EXTENSIONS, **kwargs) -> None:
        if kwargs.pop('with_label', False):
            raise ValueError('UnlabeledImageFolder never has labels; use '
                             "mmpretrain's CustomDataset for labeled data.")
        super().__init__(data_root=data_root, data_prefix=data_prefix,
                         ann_file=ann_file, with_label=False,
                         extensions=extensions, **kwargs)

    def load_data_list(self):
        folder = self.img_prefix
        if self.ann_file:
            if not osp.isfile(self.ann_file):
                raise FileNotFoundError(
                    f'unlabeled annotation file {self.ann_file!r} does not '
                    'exist; create it with tools/ssld_mine.py or drop '
                    '`ann_file` to use every image under the folder.')
        else:
            _check_readable_dir(folder)
        try:
            data_list = super().load_data_list()
        except RuntimeError as err:  # CustomDataset's "Found 0 files"
            data_list, cause = [], err
        else:
            cause = None
        if not data_list:
            source = (f'annotation file {self.ann_file!r}' if self.ann_file
                      else f'folder {folder!r}')
            raise ValueError(
                f'the unlabeled {source} holds no image (accepted suffixes: '
                f'{", ".join(sorted(self.extensions))}). Fill it, or remove '
                'the unlabeled part from the training set.') from cause
        if self.ann_file:
            missing = [d['img_path'] for d in data_list
                       if not osp.isfile(d['img_path'])]
            if missing:
                raise FileNotFoundError(
                    f'{len(missing)} of the {len(data_list)} images listed '
                    f'in {self.ann_file!r} do not exist under '
                    f'{folder!r}: {listing(missing, 5)}. Point data_root / '
                    'data_prefix at the folder the list was written for, or '
                    'write the list again (tools/ssld_mine.py).')
        return data_list
