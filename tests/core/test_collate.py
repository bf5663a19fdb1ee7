"""The tools' collate function: mmengine's batches, and a size mismatch
named by image path."""
import argparse

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.registry import FUNCTIONS
from mmpretrain.structures import DataSample

from kd_plugins.cli import apply_dataloader_defaults
from kd_plugins.core.collate import NAME, named_default_collate


def item(path, size):
    return dict(inputs=torch.rand(3, size, size),
                data_samples=DataSample(metainfo=dict(img_path=path))
                .set_gt_label(1))


def test_same_batches_as_default_collate():
    batch = [item(f'{i}.png', 8) for i in range(3)]
    ours, theirs = named_default_collate(batch), default_collate(batch)
    assert torch.equal(ours['inputs'], theirs['inputs'])
    assert [s.img_path for s in ours['data_samples']] == \
        [s.img_path for s in theirs['data_samples']]


def test_size_mismatch_names_the_images():
    batch = [item('a.png', 8), item('b.png', 8), item('odd.png', 9)]
    with pytest.raises(ValueError) as err:
        named_default_collate(batch)
    msg = str(err.value)
    assert '3x8x8: a.png, b.png' in msg and '3x9x9: odd.png' in msg
    assert 'Resize' in msg


def test_tools_use_it_in_place_of_default_collate():
    assert FUNCTIONS.get(NAME) is named_default_collate
    cfg = Config(dict(
        train_dataloader=dict(batch_size=2,
                              collate_fn=dict(type='default_collate')),
        val_dataloader=dict(batch_size=2,
                            collate_fn=dict(type='pseudo_collate'))))
    apply_dataloader_defaults(cfg, argparse.Namespace(no_pin_memory=True))
    assert cfg.train_dataloader.collate_fn.type == NAME
    assert cfg.val_dataloader.collate_fn.type == 'pseudo_collate'
