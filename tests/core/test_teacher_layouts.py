"""Teachers as published load through ``teacher_ckpt`` alone, from a local
file and by URL, and compute what their source network computes.

Every file is a format-faithful fake (tests/helpers/published_teachers.py:
the publisher's top level, key names, shapes and serialisation, random
weights and BN statistics); the reference is the source network itself
(torchvision's, timm's, the publisher's module names), fed the same images
with its own normalisation. Outputs agree to 1e-4.
"""
import pytest
import torch
import torch.nn.functional as F
from helpers.files import serve_directory
from helpers.published_teachers import (
    byol_config,
    fair_moco,
    images,
    mmcls_release,
    mmselfsup_byol,
    mmselfsup_moco_v2,
    normalised,
    resnet_classifier,
    robustness_checkpoint,
    seed_teacher,
    simdis_checkpoint,
    timm_file,
    torchvision_file,
)
from mmengine.registry import DefaultScope

import kd_plugins.core.teacher as teacher_path
from kd_plugins.core.teacher import build_frozen_teacher
from kd_plugins.methods.simdis.byol_pair import (
    online_encoder,
    predict,
    project,
    target_encoder,
)

TOL = 1e-4


@pytest.fixture(autouse=True)
def kd_plugins_scope():
    """Teacher configs name our components (SEEDHead) as configs do."""
    with DefaultScope.overwrite_default_scope('kd_plugins'):
        yield


@pytest.fixture
def logged(monkeypatch):
    """The teacher path's log lines."""
    lines = []
    monkeypatch.setattr(teacher_path, 'print_log',
                        lambda msg, **kw: lines.append(msg))
    return lines


@pytest.fixture(scope='module')
def published(tmp_path_factory):
    """Each fake written once per module into one folder, and that folder
    served over http: ``published(name, writer, *args) -> reference``."""
    root = tmp_path_factory.mktemp('published')
    made = {}

    def make(name, writer, *args, **kwargs):
        if name not in made:
            made[name] = writer(root / name, *args, **kwargs)
        return made[name]

    with serve_directory(root) as base:
        make.root, make.base = root, base
        yield make


@pytest.fixture(params=['local', 'url'])
def where(request, published, tmp_path, monkeypatch):
    """Name a published fake as a path, or by URL of the local http server
    (downloads go to this test's tmp_path/torch_home)."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    if request.param == 'local':
        return lambda name: str(published.root / name)
    return lambda name: published.base + name


def close(a, b):
    diff = (a - b).abs().max().item()
    assert diff <= TOL, f'max abs diff {diff}'


# ------------------------------------------------------------- OpenMMLab
def test_mmcls_release(published, where, logged):
    src = published('resnet18_8xb32_in1k.pth', mmcls_release, depth=18)
    x = normalised(images())
    teacher = build_frozen_teacher(resnet_classifier(18),
                                   where('resnet18_8xb32_in1k.pth'))
    close(teacher(x), src(x, mode='tensor'))
    assert 'layout mmpretrain / mmcls model' in logged[0]


def test_mmselfsup_moco_v2_into_seed_teacher(published, where, logged):
    moco = published('mocov2.pth', mmselfsup_moco_v2)
    x = normalised(images())
    teacher = build_frozen_teacher(seed_teacher(18), where('mocov2.pth'))
    close(teacher(x), moco.neck(moco.backbone(x))[0])
    assert 'mmselfsup 1.x / mmpretrain MoCo' in logged[0]
    assert 'encoder_k.* (' in logged[0] and 'queue' in logged[0]


def test_mmselfsup_byol_into_a_backbone_teacher(published, where, logged):
    byol = published('byol.pth', mmselfsup_byol)
    x = normalised(images())
    teacher = build_frozen_teacher(dict(type='ResNet', depth=18),
                                   where('byol.pth'))
    close(teacher.run(teacher.model, x)[-1], byol.backbone(x)[-1])
    assert 'BYOL-style model' in logged[0]
    assert 'target_net.* (' in logged[0]


def test_mmselfsup_byol_into_simdis_teacher_as_saved(published):
    byol = published('byol.pth', mmselfsup_byol)
    teacher = build_frozen_teacher(byol_config(),
                                   str(published.root / 'byol.pth'))
    for k, v in byol.state_dict().items():
        assert torch.equal(v, teacher.model.state_dict()[k]), k


# ------------------------------------------------------------- FAIR MoCo
@pytest.mark.parametrize('mlp', [True, False], ids=['v2', 'v1'])
def test_fair_moco(published, where, logged, mlp):
    name = f'moco_v{2 if mlp else 1}_pretrain.pth.tar'
    encoder_q = published(name, fair_moco, mlp=mlp, K=4096)
    x = normalised(images())
    teacher = build_frozen_teacher(seed_teacher(18, mlp=mlp), where(name))
    close(teacher(x), encoder_q(x))
    assert 'FAIR MoCo' in logged[0] and 'encoder_k.* (' in logged[0]


def test_fair_moco_as_a_plain_backbone(published, logged):
    encoder_q = published('moco_v2_pretrain.pth.tar', fair_moco, mlp=True,
                          K=4096)
    teacher = build_frozen_teacher(
        dict(type='ResNet', depth=18),
        str(published.root / 'moco_v2_pretrain.pth.tar'))
    x = normalised(images())
    ref = encoder_q.layer4(encoder_q.layer3(encoder_q.layer2(
        encoder_q.layer1(encoder_q.maxpool(encoder_q.relu(encoder_q.bn1(
            encoder_q.conv1(x))))))))
    close(teacher.run(teacher.model, x)[-1], ref)
    assert 'no projection head' in logged[0]


# ---------------------------------------------------- torchvision / timm
@pytest.mark.parametrize('legacy', [True, False], ids=['legacy', 'zip'])
def test_torchvision_resnet(published, where, logged, legacy):
    name = f'resnet18-{"5c106cde" if legacy else "f37072fd"}.pth'
    net = published(name, torchvision_file, legacy=legacy)
    x = normalised(images())
    teacher = build_frozen_teacher(resnet_classifier(18), where(name))
    close(teacher(x), net(x))
    assert 'torchvision / timm ResNet' in logged[0]


def test_torchvision_mobilenet_v2(published, where, logged):
    net = published('mobilenet_v2-b0353104.pth', torchvision_file,
                    'mobilenet_v2')
    x = normalised(images())
    cfg = dict(type='ImageClassifier',
               backbone=dict(type='MobileNetV2', widen_factor=1.0),
               neck=dict(type='GlobalAveragePooling'),
               head=dict(type='LinearClsHead', num_classes=1000,
                         in_channels=1280,
                         loss=dict(type='CrossEntropyLoss')))
    teacher = build_frozen_teacher(cfg, where('mobilenet_v2-b0353104.pth'))
    close(teacher(x), net(x))
    assert 'torchvision MobileNetV2' in logged[0]
    assert '314 tensors mapped' in logged[0]


@pytest.mark.parametrize('name,backbone', [
    ('resnet18d', 'ResNetV1d'), ('resnet18', 'ResNet')])
def test_timm_resnet(published, where, logged, name, backbone):
    """timm's own network (timm is optional: skipped without it)."""
    pytest.importorskip('timm')
    net = published(f'{name}.safetensors', timm_file, name)
    x = normalised(images())
    teacher = build_frozen_teacher(resnet_classifier(18, backbone=backbone),
                                   where(f'{name}.safetensors'))
    close(teacher(x), net(x))
    assert ('timm ResNet-C/D' if name.endswith('d') else
            'torchvision / timm ResNet') in logged[0]


@pytest.mark.parametrize('teacher', ['TIMMBackbone', 'TimmClassifier'])
def test_timm_file_into_mmpretrains_timm_wrappers(published, teacher):
    """The same file into mmpretrain's timm wrappers (timm's own names)."""
    pytest.importorskip('timm')
    net = published('resnet18d.safetensors', timm_file, 'resnet18d')
    cfg = dict(type='TimmClassifier', model_name='resnet18d',
               num_classes=1000) if teacher == 'TimmClassifier' else dict(
        resnet_classifier(18), backbone=dict(type='TIMMBackbone',
                                             model_name='resnet18d'))
    teacher = build_frozen_teacher(
        cfg, str(published.root / 'resnet18d.safetensors'))
    x = normalised(images())
    close(teacher(x), net(x))


def test_timm_resnet50d_bottleneck_downsample(tmp_path, logged):
    """Bottleneck stages: timm numbers every avg-down block (pool or
    Identity, conv, bn), mmpretrain adds the pool only at stride 2."""
    pytest.importorskip('timm')
    net = timm_file(tmp_path / 'model.safetensors', 'resnet50d')
    x = normalised(images(size=32))
    teacher = build_frozen_teacher(resnet_classifier(50, backbone='ResNetV1d'),
                                   str(tmp_path / 'model.safetensors'))
    close(teacher(x), net(x))


def test_timm_resnet_d_needs_resnet_v1d(tmp_path):
    pytest.importorskip('timm')
    timm_file(tmp_path / 'model.safetensors', 'resnet18d')
    with pytest.raises(ValueError) as err:
        build_frozen_teacher(resnet_classifier(18),
                             str(tmp_path / 'model.safetensors'))
    msg = str(err.value)
    assert 'timm ResNet-C/D' in msg and "type='ResNetV1d'" in msg
    assert 'backbone.conv1.0.weight' in msg


# ------------------------------------------------------------------ KDEP
def test_robustness_checkpoint(published, where, logged):
    """KDEP's released teachers: the wrapped torchvision network, after
    robustness' own input normaliser (ImageNet's, on [0, 1] images)."""
    net = published('MicrosoftVision-ResNet50.pth', robustness_checkpoint)
    x = images()
    teacher = build_frozen_teacher(resnet_classifier(18),
                                   where('MicrosoftVision-ResNet50.pth'))
    close(teacher(normalised(x)), net(x))
    log = logged[0]
    assert 'MadryLab robustness' in log and 'attacker.* (' in log
    assert 'input normaliser: (x - [0.485, 0.456, 0.406])' in log


# ---------------------------------------------------------------- SimDis
def test_simdis_checkpoint_into_byol_teacher(published, where, logged):
    src = published('last_epoch_ckpt.pth.tar', simdis_checkpoint,
                    predictors=('s_dv', 'tema_dv'))
    x = normalised(images())
    teacher = build_frozen_teacher(byol_config(simdis=True),
                                   where('last_epoch_ckpt.pth.tar'))
    byol = teacher.model
    z = teacher.run(project, online_encoder(byol), x)
    close(z, src.student(x))
    close(F.normalize(teacher.run(project, target_encoder(byol), x), dim=1),
          src.student_ema(x))
    close(F.normalize(teacher.run(predict, byol.head, z), dim=1),
          src.student.pred_s_dv(src.student(x)))
    log = logged[0]
    assert "SimDis' own checkpoints" in log
    assert 'student.pred_tema_dv' in log and 'target_net.steps' in log


def test_simdis_checkpoint_names_what_to_change(published):
    published('last_epoch_ckpt.pth.tar', simdis_checkpoint,
              predictors=('s_dv', 'tema_dv'))
    with pytest.raises(ValueError) as err:
        build_frozen_teacher(
            byol_config(), str(published.root / 'last_epoch_ckpt.pth.tar'))
    msg = str(err.value)
    assert "SimDis' own checkpoints" in msg and 'with_last_bias=True' in msg
    assert 'neck.fc1.bias' in msg


# --------------------------------------------------- maps, errors, checks
def test_explicit_map_and_named_layouts(published, tmp_path):
    encoder_q = published('moco_v2_pretrain.pth.tar', fair_moco, mlp=True,
                          K=4096)
    moco = str(published.root / 'moco_v2_pretrain.pth.tar')
    x = normalised(images())
    for key_map in ('moco', 'fair-moco'):
        teacher = build_frozen_teacher(seed_teacher(18), moco,
                                       key_map=key_map)
        close(teacher(x), encoder_q(x))
    with pytest.raises(ValueError, match='does not look like it'):
        build_frozen_teacher(seed_teacher(18), moco,
                             key_map='mmpretrain-moco')
    net = published('resnet18-5c106cde.pth', torchvision_file, legacy=True)
    state = {f'encoder.{k}': v for k, v in net.state_dict().items()}
    torch.save(state, str(tmp_path / 'own.pth'))
    teacher = build_frozen_teacher(
        dict(type='ResNet', depth=18), str(tmp_path / 'own.pth'),
        key_map={'encoder.conv1.': 'conv1.', 'encoder.bn1.': 'bn1.',
                 'encoder.layer': 'layer'})
    assert torch.equal(teacher.model.conv1.weight, net.conv1.weight)


def test_several_layouts_at_once_are_ambiguous(published, tmp_path):
    net = published('resnet18-5c106cde.pth', torchvision_file, legacy=True)
    state = dict(net.state_dict())
    state.update({f'encoder_q.{k}': v for k, v in state.items()})
    torch.save(state, str(tmp_path / 'both.pth'))
    with pytest.raises(ValueError) as err:
        build_frozen_teacher(resnet_classifier(18),
                             str(tmp_path / 'both.pth'))
    msg = str(err.value)
    assert 'several layouts' in msg and 'fair-moco' in msg
    assert 'torchvision-resnet' in msg and 'teacher_ckpt_map' in msg


def test_unknown_layout_lists_the_keys(tmp_path):
    torch.save({'encoder.conv.weight': torch.zeros(1)},
               str(tmp_path / 'x.pth'))
    with pytest.raises(ValueError) as err:
        build_frozen_teacher(resnet_classifier(18), str(tmp_path / 'x.pth'))
    msg = str(err.value)
    assert 'no published layout recognised' in msg
    assert 'encoder.conv.weight' in msg and 'backbone.conv1.weight' in msg


def test_no_weights_where_publishers_keep_them(tmp_path):
    torch.save(dict(epoch=3, note='x'), str(tmp_path / 'x.pth'))
    with pytest.raises(ValueError, match="under 'state_dict' or 'model'"):
        build_frozen_teacher(resnet_classifier(18), str(tmp_path / 'x.pth'))


@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_non_finite_teacher_weights_are_named(published, tmp_path, bad):
    net = published('resnet18-5c106cde.pth', torchvision_file, legacy=True)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    state['layer2.0.conv1.weight'][0, 0, 0, 0] = bad
    torch.save(state, str(tmp_path / 'bad.pth'))
    with pytest.raises(ValueError) as err:
        build_frozen_teacher(resnet_classifier(18), str(tmp_path / 'bad.pth'))
    msg = str(err.value)
    assert 'non-finite' in msg and 'bad.pth' in msg
    assert 'backbone.layer2.0.conv1.weight (' in msg


def test_every_method_takes_teacher_ckpt_map(tmp_path):
    """teacher_ckpt_map reaches the one teacher path from every offline
    method's config."""
    from helpers.kdep import kdep_cfg
    from helpers.seed import contract_seed_cfgs
    from helpers.simdis import simdis_cfg
    from helpers.sskd import sskd_cfg
    from helpers.ssld import ssld_cfg

    from kd_plugins.registry import MODELS
    cfgs = dict(SSLD=ssld_cfg(tmp_path), SSKD=sskd_cfg(tmp_path),
                KDEP=kdep_cfg(tmp_path, align=dict(type='ConvConnector')),
                SEED=contract_seed_cfgs(tmp_path)[1],
                SimDis=simdis_cfg(tmp_path))
    for name, cfg in cfgs.items():
        cfg = dict(cfg, teacher_ckpt_map={'nothing.': 'nothing.'})
        with pytest.raises(ValueError, match='teacher_ckpt_map') as err:
            MODELS.build(cfg)
        assert 'under no prefix' in str(err.value) or \
            'key map' in str(err.value), name
