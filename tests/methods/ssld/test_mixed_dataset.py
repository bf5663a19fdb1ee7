"""LabeledUnlabeledDataset (SSLD's mixed set) on real image folders."""
import pytest

from kd_plugins.methods.ssld import LabeledUnlabeledDataset

PIPE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


def labeled(root):
    return dict(type='CustomDataset', data_root=root, data_prefix='train',
                pipeline=PIPE)


def unlabeled(root, **kw):
    return dict(type='UnlabeledImageFolder', data_root=root,
                data_prefix='unlabeled', pipeline=PIPE, **kw)


def test_mixed_dataset_ratio_and_labels(mnist_root):
    every = LabeledUnlabeledDataset(labeled(mnist_root), unlabeled(mnist_root))
    assert len(every) == 100 + 200
    half = LabeledUnlabeledDataset(labeled(mnist_root), unlabeled(mnist_root),
                                   unlabeled_ratio=0.5)
    assert len(half) == 150
    # an even stride through U: the 50 picks are distinct images
    picks = {half._unlabeled_index(k) for k in range(50)}
    assert len(picks) == 50
    many = LabeledUnlabeledDataset(labeled(mnist_root), unlabeled(mnist_root),
                                   unlabeled_ratio=3)
    assert len(many) == 400
    # labels dropped on T by default, kept on request
    assert 'gt_label' not in every[0]['data_samples']
    kept = LabeledUnlabeledDataset(labeled(mnist_root), unlabeled(mnist_root),
                                   keep_labels=True)
    assert 'gt_label' in kept[0]['data_samples']
    assert 'gt_label' not in kept[150]['data_samples']


def test_mixed_dataset_bad_ratio(mnist_root):
    with pytest.raises(ValueError, match='unlabeled_ratio'):
        LabeledUnlabeledDataset(labeled(mnist_root), unlabeled(mnist_root),
                                unlabeled_ratio=-1)
