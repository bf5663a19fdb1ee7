"""SSKD: partition, prefix forward, freezing, phases and errors."""
import pytest
import torch
from helpers import batch, save_random_weights, tiny_classifier
from helpers.sskd import sskd_cfg
from mmengine.optim import OptimWrapper

from kd_plugins.methods.sskd import StagePrefix, partition_backbone
from kd_plugins.methods.sskd.sskd import HEAD
from kd_plugins.registry import MODELS


@pytest.mark.parametrize('cfg, size, natural', [
    (dict(type='ResNet', depth=18), 64, 4),
    (dict(type='ResNetV1c', depth=50), 64, 4),
    (dict(type='MobileNetV2'), 64, 5),
    (dict(type='MobileNetV3', arch='large'), 64, 5),
    (dict(type='EfficientNet', arch='b0'), 64, 5),
    (dict(type='CIFARResNet', depth=20), 32, 3),
])
def test_partition_at_down_sampling_points(cfg, size, natural):
    stages = partition_backbone(MODELS.build(cfg), None, (3, size, size))
    assert len(stages) == natural
    sides = [s.out_shape[1] for s in stages]
    assert all(a > b for a, b in zip(sides, sides[1:]))  # one resolution each


def test_resnet_stages_are_the_residual_layers():
    stages = partition_backbone(MODELS.build(dict(type='ResNet', depth=18)),
                                None, (3, 64, 64))
    assert [s.last for s in stages] == ['layer1.1', 'layer2.1', 'layer3.1',
                                        'layer4.1']
    assert stages[0].blocks[:4] == ['conv1', 'bn1', 'relu', 'maxpool']


def test_finer_split_halves_first_stages():
    backbone = MODELS.build(dict(type='ResNet', depth=18))
    five = partition_backbone(backbone, 5, (3, 64, 64))
    assert [s.last for s in five] == ['layer1.0', 'layer1.1', 'layer2.1',
                                      'layer3.1', 'layer4.1']
    six = partition_backbone(backbone, 6, (3, 64, 64))
    assert [s.last for s in six][:4] == ['layer1.0', 'layer1.1', 'layer2.0',
                                         'layer2.1']
    with pytest.raises(ValueError, match='4 stages.*9 stages'):
        partition_backbone(backbone, 9, (3, 64, 64))
    with pytest.raises(ValueError, match='cannot be halved'):
        partition_backbone(MODELS.build(dict(type='MobileNetV2')), 6,
                           (3, 64, 64))


def test_prefix_matches_full_forward_and_stops_early():
    backbone = MODELS.build(dict(type='ResNet', depth=18,
                                 out_indices=(0, 1, 2, 3)))
    backbone.eval()  # mmpretrain's ResNet.train() returns None: no chaining
    stages = partition_backbone(backbone, None, (3, 64, 64))
    prefix = StagePrefix(backbone, stages)
    calls = []
    backbone.layer3.register_forward_hook(lambda *a: calls.append(1))
    x = torch.randn(2, 3, 64, 64)
    feats = prefix.run(x, 1)
    assert len(feats) == 2 and not calls  # layer3 never ran
    full = backbone(x)
    assert torch.allclose(feats[0], full[0]) and torch.allclose(feats[1],
                                                                full[1])
    assert len(calls) == 1 and len(backbone(x)) == 4  # plain forward intact


def grads_by_stage(model):
    out = []
    for mods in model._stage_modules:
        out.append(any(p.grad is not None and p.grad.abs().sum() > 0
                       for m in mods for p in m.parameters()))
    return out


def test_stage_step_trains_only_its_stage(tmp_path):
    model = MODELS.build(sskd_cfg(tmp_path))
    model.init_weights()
    model.set_phase(1)
    model.train()
    assert not model.student.backbone.layer1[0].bn1.training  # frozen: eval
    assert model.student.backbone.layer2[0].bn1.training
    data = model.data_preprocessor(batch(), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_stage2', 'dist_stage1'}
    losses['loss_stage2'].backward()
    assert grads_by_stage(model) == [False, True, False, False]
    assert all(p.grad is None for p in model.student.head.parameters())
    assert model.connectors[1].conv.weight.grad is not None
    assert model.connectors[0].conv.weight.grad is None
    assert all(p.grad is None for p in model.teacher.parameters())


def test_frozen_stages_bit_identical_across_a_stage(tmp_path):
    model = MODELS.build(sskd_cfg(tmp_path))
    model.init_weights()
    model.set_phase(2)
    model.train()
    frozen = {k: v.clone() for k, v in model.student.state_dict().items()
              if k.startswith(('backbone.conv1', 'backbone.bn1',
                               'backbone.layer1', 'backbone.layer2',
                               'backbone.layer4', 'head'))}
    trained = {k: v.clone() for k, v in model.student.state_dict().items()
               if k.startswith('backbone.layer3')}
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1,
                                         momentum=0.9, weight_decay=1e-2))
    for _ in range(3):
        model.train_step(batch(), optim)
    state = model.student.state_dict()
    for k, v in frozen.items():
        assert torch.equal(v, state[k]), k  # weights and BN statistics
    assert any(not torch.equal(v, state[k]) for k, v in trained.items())


def test_multi_loss_trains_all_stages(tmp_path):
    model = MODELS.build(sskd_cfg(tmp_path, mode='multi_loss'))
    model.init_weights()
    data = model.data_preprocessor(batch(), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {f'loss_stage{i}' for i in (1, 2, 3, 4)}
    sum(losses.values()).backward()
    assert grads_by_stage(model) == [True] * 4
    with pytest.raises(ValueError, match='multi_loss'):
        model.set_phase(2)


def test_head_phase_uses_labels_and_reinitialises_head(tmp_path):
    model = MODELS.build(sskd_cfg(tmp_path))
    model.init_weights()
    head_before = model.student.head.fc.weight.clone()
    model.set_phase(HEAD, reinit_head=True)
    assert not torch.equal(head_before, model.student.head.fc.weight)
    data = model.data_preprocessor(batch(), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss'}
    losses['loss'].backward()
    assert grads_by_stage(model) == [False] * 4
    assert model.student.head.fc.weight.grad is not None


def test_stage_count_mismatch_is_refused(tmp_path):
    teacher = tiny_classifier(8)
    teacher['backbone'].update(num_stages=3, out_indices=(2, ),
                               strides=(1, 2, 2), dilations=(1, 1, 1))
    teacher['head']['in_channels'] = 32
    cfg = sskd_cfg(tmp_path)
    cfg.update(teacher=teacher, teacher_ckpt=save_random_weights(
        teacher, str(tmp_path / 't3.pth')))
    with pytest.raises(ValueError, match='4 stages and the teacher.*3'):
        MODELS.build(cfg)


def test_connector_that_cannot_map_is_refused(tmp_path):
    with pytest.raises(ValueError, match='IdentityConnector cannot join'):
        MODELS.build(sskd_cfg(tmp_path, connector=dict(
            type='IdentityConnector'), always_connect=True))


def test_spatial_mismatch_resizes_student(tmp_path):
    # student stride-1 stem (ResNet_CIFAR) vs teacher ImageNet ResNet stem:
    # different resolutions per stage, same count.
    teacher = dict(type='ImageClassifier',
                   backbone=dict(type='ResNet', depth=18, base_channels=8,
                                 stem_channels=8, out_indices=(3, )),
                   neck=dict(type='GlobalAveragePooling'),
                   head=dict(type='LinearClsHead', num_classes=10,
                             in_channels=64))
    cfg = sskd_cfg(tmp_path)
    cfg.update(teacher=teacher, input_size=(3, 32, 32),
               teacher_ckpt=save_random_weights(teacher,
                                                str(tmp_path / 'r.pth')))
    model = MODELS.build(cfg)
    model.set_phase(0)
    data = model.data_preprocessor(batch(size=32), True)
    loss = model(**data, mode='loss')['loss_stage1']
    assert torch.isfinite(loss)
