"""kd_plugins.export refuses what would destroy or mislead: the output
being the input checkpoint (any spelling or link), a backbone with NaN/inf
values; nothing is written then. The tool's --force and a full disk are
tested through the tool in tests/tools/test_faults.py."""
import os
import os.path as osp

import pytest
import torch

from kd_plugins.export import export_backbone, same_file


def distill_checkpoint(path, nan=False):
    weight = torch.randn(4, 3, 3, 3)
    if nan:
        weight[0, 0, 0, 0] = float('nan')
    state = {'student.backbone.conv1.weight': weight,
             'student.backbone.bn1.weight': torch.ones(4),
             'student.backbone.bn1.running_var': torch.full((4, ), 1.0),
             'student.head.fc.weight': torch.randn(2, 4)}
    torch.save(dict(meta=dict(epoch=1, iter=6), state_dict=state), path)
    return path


def test_output_equal_to_input_is_refused_under_any_spelling(tmp_path):
    ckpt = distill_checkpoint(str(tmp_path / 'iter_6.pth'))
    before = open(ckpt, 'rb').read()
    os.symlink(ckpt, tmp_path / 'link.pth')
    (tmp_path / 'sub').mkdir()
    for out in (ckpt, str(tmp_path / 'sub' / '..' / 'iter_6.pth'),
                str(tmp_path / 'link.pth')):
        assert same_file(ckpt, out)
        with pytest.raises(ValueError, match='is the input checkpoint'):
            export_backbone(ckpt, out)
    assert open(ckpt, 'rb').read() == before
    assert sorted(os.listdir(tmp_path)) == ['iter_6.pth', 'link.pth', 'sub']


def test_non_finite_backbone_is_refused_naming_tensors(tmp_path):
    ckpt = distill_checkpoint(str(tmp_path / 'iter_6.pth'), nan=True)
    out = tmp_path / 'backbone.pth'
    with pytest.raises(ValueError, match=r'NaN or inf values in 1 of its 3 '
                       r'tensors \(conv1.weight\).*earlier checkpoint'):
        export_backbone(ckpt, str(out))
    assert not out.exists() and not osp.exists(str(out) + '.tmp')


def test_export_writes_finite_backbone(tmp_path):
    ckpt = distill_checkpoint(str(tmp_path / 'iter_6.pth'))
    state = export_backbone(ckpt, str(tmp_path / 'b.pth'))
    assert sorted(state) == ['bn1.running_var', 'bn1.weight', 'conv1.weight']
