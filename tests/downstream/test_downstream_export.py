"""Export for a downstream backbone: key mapping, provenance, refusals, the
loaded-weights check and the downstream configs (fast, in-process)."""
import hashlib
import os.path as osp

import pytest
import torch
from helpers import PY, ROOT, run_tool
from helpers.downstream import TOOLBOX_CONFIGS, distill_ckpt, randomise_bn
from mmengine.config import Config

from kd_plugins.downstream import (
    DistilledBackboneCheckHook,
    compare_loaded,
    inspect_backbone,
    map_state_to_target,
)
from kd_plugins.downstream.target import build_backbone
from kd_plugins.export import export_backbone, read_meta

DOWNSTREAM = osp.join(ROOT, 'configs', 'downstream')
FRCNN_R18 = osp.join(DOWNSTREAM, 'mmdet',
                     'faster-rcnn_r18-distilled_fpn_1x_coco.py')
DEEPLAB_R18 = osp.join(
    DOWNSTREAM, 'mmseg',
    'deeplabv3plus_r18-distilled-d8_4xb2-80k_cityscapes-512x1024.py')


def sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.mark.parametrize('src,dst,dst_tb', [
    (dict(type='ResNetV1c', depth=18), dict(type='ResNetV1c', depth=18),
     'mmseg'),
    (dict(type='ResNetV1c', depth=18),
     dict(type='ResNet', depth=18, deep_stem=True), 'mmdet'),
    (dict(type='ResNet', depth=18), dict(type='ResNet', depth=18), 'mmdet'),
    (dict(type='MobileNetV2', widen_factor=0.5),
     dict(type='MobileNetV2', widen_factor=0.5, act_cfg=dict(type='ReLU6'),
          out_indices=(7, )), 'mmdet'),
])
def test_mapping_gives_the_same_network(src, dst, dst_tb):
    torch.manual_seed(0)
    student = randomise_bn(build_backbone(src, 'mmpretrain'))
    target = build_backbone(dst, dst_tb)
    student.eval()  # (mmpretrain's ResNet.train() returns None)
    target.eval()
    mapped, dropped = map_state_to_target(student.state_dict(),
                                          target.state_dict())
    assert dropped == []
    target.load_state_dict(mapped, strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(student(x)[-1], target(x)[-1], atol=1e-5)


def test_mapping_back_from_mmseg_names():
    torch.manual_seed(0)
    seg = randomise_bn(build_backbone(dict(type='ResNetV1c', depth=18),
                                      'mmseg'))
    pre = build_backbone(dict(type='ResNetV1c', depth=18), 'mmpretrain')
    mapped, _ = map_state_to_target(seg.state_dict(), pre.state_dict())
    assert torch.equal(mapped['stem.1.conv.weight'],
                       seg.state_dict()['stem.3.weight'])
    assert torch.equal(mapped['stem.2.bn.running_var'],
                       seg.state_dict()['stem.7.running_var'])


def test_inspect_reads_family_and_depth():
    cases = [(dict(type='ResNet', depth=50), 'ResNet', 50),
             (dict(type='ResNetV1c', depth=34), 'ResNetV1c', 34),
             (dict(type='ResNetV1d', depth=50), 'ResNetV1d', 50),
             (dict(type='ResNet_CIFAR', depth=18), 'ResNet_CIFAR', 18),
             (dict(type='MobileNetV2'), 'MobileNetV2', None)]
    for cfg, family, depth in cases:
        info = inspect_backbone(build_backbone(cfg, 'mmpretrain').state_dict())
        assert (info['family'], info['depth']) == (family, depth), cfg


def test_export_for_config_renames_and_records_provenance(tmp_path):
    ckpt, student = distill_ckpt(tmp_path / 'ssld.pth',
                                 dict(type='ResNetV1c', depth=18))
    cfg = tmp_path / 'deeplab_v1c.py'
    cfg.write_text(f"_base_ = ['{DEEPLAB_R18}']\n"
                   "model = dict(backbone=dict(type='ResNetV1c'))\n")
    out = str(tmp_path / 'r18_mmseg.pth')
    export_backbone(ckpt, out, config=str(cfg))
    data = torch.load(out, weights_only=True)  # loads without kd_plugins
    state, meta = data['state_dict'], data['meta']
    seg = build_backbone(dict(type='ResNetV1c', depth=18), 'mmseg')
    assert set(state) == set(seg.state_dict())
    own = student.state_dict()
    assert torch.equal(state['stem.3.weight'], own['stem.1.conv.weight'])
    assert torch.equal(state['stem.4.running_mean'],
                       own['stem.1.bn.running_mean'])
    assert torch.equal(state['layer4.1.conv2.weight'],
                       own['layer4.1.conv2.weight'])
    assert meta['method'] == 'SSLD'
    assert 'ResNet depth=34' in meta['teacher']
    assert 'resnet34' in meta['teacher']  # the teacher checkpoint's name
    assert meta['teacher_sha256'] == ''  # a URL: not hashed
    assert meta['source_sha256'] == sha256(ckpt)
    assert meta['student'].startswith('ResNetV1c-18')
    assert "mmseg's ResNetV1c" in meta['target']
    assert meta['dropped_keys'] == []


@pytest.mark.slow
def test_export_cli_for_toolbox_target(tmp_path):
    ckpt, student = distill_ckpt(tmp_path / 'mbv2.pth',
                                 dict(type='MobileNetV2'))
    out = str(tmp_path / 'mbv2_mmdet.pth')
    log = run_tool([PY, 'tools/export_backbone.py', ckpt, out,
                    '--target', 'mmdet'])
    assert 'method: SSLD' in log and 'MobileNetV2' in log
    state = torch.load(out, weights_only=True)['state_dict']
    assert torch.equal(state['layer2.0.expand_conv.conv.weight'],
                       student.state_dict()['layer2.0.conv.0.conv.weight'])
    assert torch.equal(state['layer1.0.depthwise_conv.bn.weight'],
                       student.state_dict()['layer1.0.conv.0.bn.weight'])


def test_export_without_target_keeps_student_names(tmp_path):
    teacher = tmp_path / 'teacher.pth'
    teacher.write_bytes(b'teacher weights')
    ckpt, student = distill_ckpt(tmp_path / 'ssld.pth',
                                 dict(type='ResNet', depth=18),
                                 teacher_ckpt=str(teacher))
    out = str(tmp_path / 'plain.pth')
    state = export_backbone(ckpt, out)
    assert set(state) == set(student.state_dict())
    meta = read_meta(out)
    assert meta['method'] == 'SSLD'
    assert meta['teacher'].endswith(f'from {teacher}')
    assert meta['teacher_sha256'] == hashlib.sha256(
        b'teacher weights').hexdigest()
    assert meta['target'].startswith('student keys as saved')


@pytest.mark.parametrize('student,config,match', [
    # another depth, same family
    (dict(type='ResNet', depth=50), FRCNN_R18,
     r'ResNet-50 \(7x7 stem\).*ResNet-18.*differ in shape'),
    (dict(type='ResNet', depth=34), FRCNN_R18,
     r'ResNet-34.*blocks the target stages do not have'),
    # another family
    (dict(type='MobileNetV2'), FRCNN_R18, r'MobileNetV2.*ResNet-18'),
    # a plain stem into mmseg's deep stem
    (dict(type='ResNet', depth=18), 'V1C', r"7x7 stem.*type='ResNet'"),
    # a CIFAR ResNet into an ImageNet one
    (dict(type='ResNet_CIFAR', depth=18), FRCNN_R18,
     r'ResNet_CIFAR-18.*differ in shape'),
])
def test_export_refuses_impossible_pairs(tmp_path, student, config, match):
    if config == 'V1C':
        config = str(tmp_path / 'v1c.py')
        with open(config, 'w') as f:
            f.write(f"_base_ = ['{DEEPLAB_R18}']\n"
                    "model = dict(backbone=dict(type='ResNetV1c'))\n")
    ckpt, _ = distill_ckpt(tmp_path / 'ssld.pth', student)
    out = tmp_path / 'out.pth'
    with pytest.raises(ValueError, match=match):
        export_backbone(ckpt, str(out), config=config)
    assert not out.exists() and not (tmp_path / 'out.pth.tmp').exists()


def test_export_refuses_cifar_resnet_for_detection(tmp_path):
    ckpt, _ = distill_ckpt(tmp_path / 'c.pth',
                           dict(type='ResNet_CIFAR', depth=18))
    with pytest.raises(ValueError, match='CIFAR ResNet.*mmdet has no'):
        export_backbone(ckpt, str(tmp_path / 'o.pth'), target='mmdet')


def test_export_refuses_teacher_only_checkpoint(tmp_path):
    path = str(tmp_path / 'teacher.pth')
    net = build_backbone(dict(type='ResNet', depth=18), 'mmpretrain')
    torch.save(dict(state_dict={f'teacher.backbone.{k}': v for k, v in
                                net.state_dict().items()}), path)
    with pytest.raises(ValueError, match=r'teacher keys only \(12\d keys'):
        export_backbone(path, str(tmp_path / 'o.pth'), target='mmdet')


def test_export_refuses_config_with_model_pretrained(tmp_path):
    ckpt, _ = distill_ckpt(tmp_path / 'ssld.pth',
                           dict(type='ResNet', depth=18))
    cfg = tmp_path / 'p.py'
    cfg.write_text(f"_base_ = ['{DEEPLAB_R18}']\n"
                   "model = dict(pretrained='open-mmlab://resnet18_v1c')\n")
    with pytest.raises(ValueError, match='model.pretrained'):
        export_backbone(ckpt, str(tmp_path / 'o.pth'), config=str(cfg))


CONFIGS = TOOLBOX_CONFIGS


@pytest.mark.parametrize('config', CONFIGS, ids=osp.basename)
def test_downstream_config_takes_a_distilled_backbone(config):
    """Each config loads, names the check, has no other pretrained weights,
    and its backbone takes an exported mmpretrain student of its depth."""
    cfg = Config.fromfile(config)
    assert cfg.default_scope in ('mmdet', 'mmseg')
    assert 'kd_plugins.downstream' in cfg.custom_imports['imports']
    assert [h.type for h in cfg.custom_hooks] == [
        'DistilledBackboneCheckHook']
    init = cfg.model.backbone.init_cfg
    assert init.type == 'Pretrained'
    assert init.checkpoint.startswith('work_dirs/backbones/')
    assert not cfg.model.get('pretrained')
    text = open(config).read()
    assert 'configs/' in text and 'export_backbone.py' in text, (
        'name the distillation config and the export command')
    bb = cfg.model.backbone
    student = dict(type='MobileNetV2') if bb.type == 'MobileNetV2' else \
        dict(type='ResNet', depth=bb.depth)
    target = build_backbone(bb, cfg.default_scope)
    source = build_backbone(student, 'mmpretrain')
    mapped, _ = map_state_to_target(source.state_dict(), target.state_dict())
    missing = set(target.state_dict()) - set(mapped)
    assert all(k.endswith('num_batches_tracked') for k in missing)


def test_check_finds_tensors_that_did_not_load(tmp_path):
    net = build_backbone(dict(type='ResNet', depth=18), 'mmdet')
    path = str(tmp_path / 'b.pth')
    state = {k: v.clone() for k, v in net.state_dict().items()}
    torch.save(dict(state_dict=state), path)
    net.init_cfg = dict(type='Pretrained', checkpoint=path)
    hook = DistilledBackboneCheckHook()
    hook.check(net)  # identical: passes
    with torch.no_grad():
        net.layer3[0].conv1.weight.add_(1e-3)
    state.pop('layer1.0.bn1.running_mean')
    state['fc.weight'] = torch.zeros(3)
    torch.save(dict(state_dict=state), path)
    result = compare_loaded(net, state)
    assert result['not_loaded'] == ['layer3.0.conv1.weight']
    assert result['missing'] == ['layer1.0.bn1.running_mean']
    assert result['unexpected'] == ['fc.weight']
    with pytest.raises(ValueError, match=r'1 backbone tensors missing.*'
                       r'layer1\.0\.bn1\.running_mean.*fc\.weight.*'
                       r'layer3\.0\.conv1\.weight'):
        hook.check(net)


def test_check_needs_a_named_checkpoint():
    net = build_backbone(dict(type='ResNet', depth=18), 'mmdet')
    with pytest.raises(ValueError, match="no init_cfg=dict.type='Pretrained'"):
        DistilledBackboneCheckHook().check(net)


def test_check_runs_unless_weights_came_from_a_checkpoint():
    from types import SimpleNamespace

    from mmengine.logging import MMLogger
    net = build_backbone(dict(type='ResNet', depth=18), 'mmdet')
    model = torch.nn.Module()
    model.backbone = net  # no Pretrained init_cfg: the check must fail
    runner = SimpleNamespace(model=model, _has_loaded=False,
                             logger=MMLogger.get_current_instance())
    hook = DistilledBackboneCheckHook()
    with pytest.raises(ValueError, match='has no init_cfg'):
        hook.before_train(runner)
    runner._has_loaded = True  # resumed / load_from: the file's weights
    hook.before_train(runner)


@pytest.mark.parametrize('config', CONFIGS, ids=osp.basename)
def test_downstream_config_builds_and_runs(config):
    """Build the whole model (no weights loaded) and run its tensor forward
    on a small image, so that neck and head widths are known to fit the
    backbone. (The ResNet-50 configs are not trained in the tests; the
    others are, in test_downstream_train.py, which is slow.)"""
    import importlib

    from mmengine.registry import DefaultScope
    cfg = Config.fromfile(config)
    cfg.model.backbone.pop('init_cfg')
    scope = cfg.default_scope
    registry = importlib.import_module(f'{scope}.registry').MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(cfg.model)
    model.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        if hasattr(model, 'rpn_head'):  # two-stage: RPN on the FPN maps
            out = model.rpn_head(model.extract_feat(x))
        else:
            out = model._forward(x)
    flat = out if isinstance(out, torch.Tensor) else [
        t for level in out for t in (level if isinstance(level, (list, tuple))
                                     else [level])]
    flat = [flat] if isinstance(flat, torch.Tensor) else flat
    assert flat and all(torch.isfinite(t).all() for t in flat)
