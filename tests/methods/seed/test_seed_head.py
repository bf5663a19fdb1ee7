"""SEEDHead's mobile variants against the official code's definitions.

The reference modules below are transcribed from SEED's official code
(github.com/jacobswan1/SEED): ``seed/builder.py`` replaces the student's
``fc`` with Linear(d, d) - ReLU - fc when ``mlp=True``;
``seed/architectures/mobilenet/mobilenetv3.py`` ends MobileNetV3 with
``classifier`` = Linear(960, 1280) - h_swish - Dropout(0.2) before ``fc``;
``seed/architectures/efficientnet/model.py`` (lukemelas' EfficientNet,
dropout rate 0.2 for b0) pools, applies Dropout and then ``fc``.
"""
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from helpers import ROOT
from mmengine.config import Config
from mmengine.registry import DefaultScope

from kd_plugins.methods.seed import SEEDHead
from kd_plugins.registry import MODELS


class OfficialHSwish(nn.Module):
    """mobilenetv3.py's h_swish: x * h_sigmoid(x), h_sigmoid = relu6(x+3)/6"""

    def forward(self, x):
        return x * F.relu6(x + 3) / 6


def official_fc(d=1280, dim=128):
    """builder.py, mlp=True: Linear(d, d) - ReLU - the network's fc."""
    return [nn.Linear(d, d), nn.ReLU(), nn.Linear(d, dim)]


def official_mbv3l_head():
    """MobileNetV3-large: classifier, then the MLP fc (on 960-d pooled)."""
    return nn.Sequential(nn.Linear(960, 1280), OfficialHSwish(),
                         nn.Dropout(0.2), *official_fc())


def official_effb0_head():
    """EfficientNet-B0: _dropout(0.2), then the MLP fc (on 1280-d pooled)."""
    return nn.Sequential(nn.Dropout(0.2), *official_fc())


def layer_kinds(seq):
    kinds = []
    for m in seq:
        if isinstance(m, nn.Linear):
            kinds.append(('Linear', m.in_features, m.out_features))
        elif isinstance(m, nn.Dropout):
            kinds.append(('Dropout', m.p))
        elif isinstance(m, (nn.Hardswish, OfficialHSwish)):
            kinds.append(('hswish', ))
        else:
            kinds.append((type(m).__name__, ))
    return kinds


def student_of(name):
    cfg = Config.fromfile(osp.join(
        ROOT, f'configs/seed/seed_{name}_mocov2r50_imagenet.py'))
    with DefaultScope.overwrite_default_scope('kd_plugins'):
        return MODELS.build(cfg.model.student)


@pytest.mark.parametrize('name, official, width', [
    ('mbv3l', official_mbv3l_head, 960),
    ('effb0', official_effb0_head, 1280),
])
def test_mobile_config_heads_are_the_official_ones(name, official, width):
    student = student_of(name)
    ours, ref = student.head.mlp, official()
    assert layer_kinds(ours) == layer_kinds(ref)
    # same layout, so the same state dict: outputs agree (eval: no dropout)
    ref.load_state_dict(ours.state_dict())
    ours.eval(), ref.eval()
    x = torch.randn(4, width)
    assert torch.allclose(ours(x), ref(x), atol=1e-6)
    # the backbone feeds it its pooled width; the embedding is 128-d
    feat = student.extract_feat(torch.randn(2, 3, 64, 64))[-1]
    assert feat.shape == (2, width)
    student.eval()
    assert student(torch.randn(2, 3, 64, 64)).shape == (2, 128)


def test_hardswish_is_the_official_h_swish():
    x = torch.linspace(-5, 5, 101)
    assert torch.allclose(nn.Hardswish()(x), OfficialHSwish()(x), atol=1e-7)


def test_dropout_is_active_in_training_only():
    head = SEEDHead(in_channels=16, out_channels=8, dropout=0.5)
    x = torch.ones(64, 16)
    head.train()
    assert not torch.equal(head(x), head(x))  # a new mask every call
    head.eval()
    assert torch.equal(head(x), head(x))


def test_three_layer_option_and_bad_values():
    deep = SEEDHead(in_channels=960, num_layers=3, expand_channels=1280)
    assert layer_kinds(deep.mlp) == [
        ('Linear', 960, 1280), ('hswish', ), ('Linear', 1280, 1280),
        ('ReLU', ), ('Linear', 1280, 1280), ('ReLU', ), ('Linear', 1280, 128)]
    with pytest.raises(ValueError, match='dropout'):
        SEEDHead(in_channels=8, dropout=1.0)
    with pytest.raises(ValueError, match='expand_channels'):
        SEEDHead(in_channels=8, expand_channels=0)
