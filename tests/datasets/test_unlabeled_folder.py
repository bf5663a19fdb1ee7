"""UnlabeledImageFolder on real image folders."""
import os
import os.path as osp

import pytest

from kd_plugins.datasets import UnlabeledImageFolder
from kd_plugins.registry import DATASETS

PIPE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


def unlabeled(root, **kw):
    return dict(type='UnlabeledImageFolder', data_root=root,
                data_prefix='unlabeled', pipeline=PIPE, **kw)


def test_unlabeled_folder_has_no_labels(mnist_root):
    ds = DATASETS.build(unlabeled(mnist_root))
    assert len(ds) == 200
    sample = ds[0]
    assert sample['inputs'].shape == (3, 28, 28)
    assert 'gt_label' not in sample['data_samples']


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        UnlabeledImageFolder(data_root=str(tmp_path / 'nope'), pipeline=PIPE)


def test_empty_folder(tmp_path):
    (tmp_path / 'u').mkdir()
    (tmp_path / 'u' / 'notes.txt').write_text('not an image')
    with pytest.raises(ValueError, match='holds no image'):
        UnlabeledImageFolder(data_root=str(tmp_path / 'u'), pipeline=PIPE)


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads any folder')
def test_unreadable_folder(tmp_path):
    folder = tmp_path / 'u'
    folder.mkdir()
    folder.chmod(0)
    try:
        with pytest.raises(PermissionError, match='not readable'):
            UnlabeledImageFolder(data_root=str(folder), pipeline=PIPE)
    finally:
        folder.chmod(0o755)


def test_empty_and_missing_annotation_file(tmp_path, mnist_root):
    ann = tmp_path / 'list.txt'
    ann.write_text('')
    with pytest.raises(ValueError, match='holds no image'):
        UnlabeledImageFolder(data_root=osp.join(mnist_root, 'unlabeled'),
                             ann_file=str(ann), pipeline=PIPE)
    with pytest.raises(FileNotFoundError, match='tools/ssld_mine.py'):
        UnlabeledImageFolder(data_root=osp.join(mnist_root, 'unlabeled'),
                             ann_file=str(tmp_path / 'missing.txt'),
                             pipeline=PIPE)


def test_annotation_file_selects_images(tmp_path, mnist_root):
    folder = osp.join(mnist_root, 'unlabeled')
    names = sorted(os.listdir(folder))[:7]
    ann = tmp_path / 'list.txt'
    ann.write_text(''.join(n + '\n' for n in names))
    ds = UnlabeledImageFolder(data_root=folder, ann_file=str(ann),
                              pipeline=PIPE)
    assert len(ds) == 7


def test_annotation_file_naming_missing_images(tmp_path, mnist_root):
    folder = osp.join(mnist_root, 'unlabeled')
    present = sorted(os.listdir(folder))[:2]
    ann = tmp_path / 'list.txt'
    ann.write_text(''.join(f'{n}\n' for n in present + ['gone1.png',
                                                         'gone2.png']))
    with pytest.raises(FileNotFoundError, match=r'2 of the 4 images listed '
                       r'in .*list.txt.* do not exist.*gone1.png.*gone2.png'):
        UnlabeledImageFolder(data_root=folder, ann_file=str(ann),
                             pipeline=PIPE)
