"""FrozenTeacher: checkpoint checks, frozen parameters, BN modes, and the
teacher following the model's device and dtype moves."""
import pytest
import torch
from helpers import save_random_weights, tiny_classifier
from helpers.ssld import ssld_cfg

from kd_plugins.core.teacher import build_frozen_teacher
from kd_plugins.registry import MODELS


def test_missing_checkpoint_is_named(tmp_path):
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        build_frozen_teacher(tiny_classifier(8), missing)


def test_no_checkpoint_at_all():
    with pytest.raises(ValueError, match='teacher_ckpt'):
        build_frozen_teacher(tiny_classifier(8), None)


def test_checkpoint_of_another_network_lists_keys(tmp_path):
    ckpt = save_random_weights(tiny_classifier(4), str(tmp_path / 'w4.pth'))
    with pytest.raises(ValueError) as err:
        build_frozen_teacher(tiny_classifier(8), ckpt)
    msg = str(err.value)
    assert 'different shape' in msg and 'backbone.conv1.weight' in msg


def test_checkpoint_with_foreign_keys_lists_them(tmp_path):
    cfg = tiny_classifier(4)
    path = str(tmp_path / 'w.pth')
    save_random_weights(cfg, path)
    ckpt = torch.load(path)
    ckpt['state_dict']['extra.weight'] = torch.zeros(1)
    del ckpt['state_dict']['head.fc.bias']
    torch.save(ckpt, path)
    with pytest.raises(ValueError) as err:
        build_frozen_teacher(cfg, path)
    msg = str(err.value)
    assert 'extra.weight' in msg and 'head.fc.bias' in msg


def test_prefix_loads_a_distilled_student(tmp_path):
    cfg = tiny_classifier(4)
    path = str(tmp_path / 'w.pth')
    save_random_weights(cfg, path)
    ckpt = torch.load(path)
    ckpt['state_dict'] = {'student.' + k: v
                          for k, v in ckpt['state_dict'].items()}
    torch.save(ckpt, path)
    teacher = build_frozen_teacher(cfg, path, checkpoint_prefix='student.')
    assert not any(p.requires_grad for p in teacher.parameters())


@pytest.mark.parametrize('bn_mode', ['eval', 'train'])
def test_teacher_state_never_changes(tmp_path, bn_mode):
    cfg = tiny_classifier(4)
    teacher = build_frozen_teacher(
        cfg, save_random_weights(cfg, str(tmp_path / 'w.pth')), bn_mode)
    before = {k: v.clone() for k, v in teacher.model.state_dict().items()
              if 'num_batches_tracked' not in k}
    teacher.train()  # must not change the configured mode
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    out = teacher(x)
    assert not out.requires_grad
    bn = teacher.model.backbone.norm1
    assert bn.training == (bn_mode == 'train')
    after = teacher.model.state_dict()
    for k, v in before.items():
        assert torch.equal(v, after[k]), k


def test_train_bn_mode_uses_batch_statistics(tmp_path):
    cfg = tiny_classifier(4)
    path = save_random_weights(cfg, str(tmp_path / 'w.pth'))
    x = torch.randn(8, 3, 16, 16) * 5 + 3
    out_eval = build_frozen_teacher(cfg, path, 'eval')(x)
    out_train = build_frozen_teacher(cfg, path, 'train')(x)
    assert not torch.allclose(out_eval, out_train)


def test_bad_bn_mode(tmp_path):
    cfg = tiny_classifier(4)
    path = save_random_weights(cfg, str(tmp_path / 'w.pth'))
    with pytest.raises(ValueError, match='bn_mode'):
        build_frozen_teacher(cfg, path, 'frozen')


def test_teacher_follows_device_and_dtype_moves(tmp_path):
    model = MODELS.build(ssld_cfg(tmp_path)).double()
    assert next(model.teacher.parameters()).dtype == torch.float64
