"""The normalisation bridge: a teacher with its own input normalisation
gets, from the student's normalised batch, the tensor its own data
preprocessor would make from the raw images, and gives the output it gives
on that tensor; in every offline method's training loss."""
import numpy as np
import pytest
import torch
from helpers import batch, save_random_weights, tiny_classifier
from helpers.seed import contract_seed_cfgs
from helpers.simdis import simdis_cfg, two_view_batch
from helpers.sskd import sskd_cfg
from helpers.ssld import ssld_cfg
from mmpretrain.models.backbones import ResNet

from kd_plugins.core.distiller import build_data_preprocessor
from kd_plugins.core.normalization import (
    NormalizationBridge,
    build_bridge,
    normalization_from_config,
    normalization_of,
)
from kd_plugins.core.teacher import build_frozen_teacher
from kd_plugins.registry import MODELS

MNIST = dict(mean=[33.3] * 3, std=[78.6] * 3, to_rgb=False)
IMAGENET = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                to_rgb=True)
TIMM_INCEPTION = dict(mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True)
CLIP = dict(mean=[122.770938, 116.7460125, 104.09373615],
            std=[68.5005327, 66.6321579, 70.32316305], to_rgb=True)
IMAGENET_BGR = dict(mean=[103.53, 116.28, 123.675],
                    std=[57.375, 57.12, 58.395], to_rgb=False)
PAIRS = {  # student preprocessor, teacher's own
    'mnist->timm (BGR->RGB)': (MNIST, TIMM_INCEPTION),
    'imagenet->clip (RGB)': (IMAGENET, CLIP),
    'imagenet->imagenet BGR': (IMAGENET, IMAGENET_BGR),
    'raw pixels->imagenet': (dict(), IMAGENET),
    'imagenet->raw pixels': (IMAGENET, dict()),
    'one value->three': (dict(mean=[50.0], std=[60.0]), TIMM_INCEPTION),
}


def own_tensor(cfg, data, training=False):
    """What the teacher's own ClsDataPreprocessor makes of the raw batch."""
    return build_data_preprocessor(dict(cfg))(data, training)['inputs']


@pytest.mark.parametrize('pair', sorted(PAIRS))
def test_bridged_tensor_equals_the_teachers_own(pair):
    student, teacher = PAIRS[pair]
    s_pre = build_data_preprocessor(dict(student))
    bridge = build_bridge(s_pre, teacher)
    assert isinstance(bridge, NormalizationBridge)
    data = batch(n=6, size=20)
    x_s = s_pre(data, False)['inputs']
    diff = (bridge(x_s) - own_tensor(teacher, data)).abs().max()
    assert diff <= 1e-5, f'{pair}: max abs diff {diff}'


def test_bridge_commutes_with_mixup():
    """The student's batch augmentation mixes the images; the teacher sees
    the same mix in its own normalisation."""
    augments = dict(augments=dict(type='Mixup', alpha=1.0))
    s_pre = build_data_preprocessor(dict(MNIST, num_classes=10,
                                         batch_augments=augments))
    t_pre = build_data_preprocessor(dict(TIMM_INCEPTION, num_classes=10,
                                         batch_augments=augments))
    out = []
    for pre in (s_pre, t_pre):
        data = batch(n=6, size=20)
        np.random.seed(5)  # Mixup draws lambda from numpy
        torch.manual_seed(5)  # and the permutation from torch
        out.append(pre(data, True)['inputs'])
    x_s, x_t = out
    bridged = build_bridge(s_pre, TIMM_INCEPTION)(x_s)
    assert (bridged - x_t).abs().max() <= 1e-5


def test_selfsup_student_preprocessor():
    s_pre = build_data_preprocessor(
        dict(mean=[33.3] * 3, std=[78.6] * 3, bgr_to_rgb=True),
        'SelfSupDataPreprocessor')
    data = batch(n=4, size=20)
    x_s = s_pre(dict(inputs=[torch.stack(data['inputs'])],
                     data_samples=None), False)['inputs'][0]
    diff = build_bridge(s_pre, IMAGENET_BGR)(x_s) - own_tensor(IMAGENET_BGR,
                                                               data)
    assert diff.abs().max() <= 1e-5


def test_no_op_settings_are_accepted():
    # what mmpretrain's ImageClassifier writes into a config it builds from
    cfg = dict(IMAGENET, type='ClsDataPreprocessor', batch_augments=None,
               pad_size_divisor=1, num_classes=10)
    assert normalization_from_config(cfg) == normalization_from_config(
        IMAGENET)


def test_same_normalisation_means_no_bridge():
    s_pre = build_data_preprocessor(dict(MNIST))
    assert build_bridge(s_pre, dict(MNIST, type='ClsDataPreprocessor',
                                    num_classes=10)) is None
    assert build_bridge(s_pre, None) is None


def test_teacher_output_equals_its_own_pipeline(tmp_path):
    """The frozen teacher, fed the student's batch, gives what the same
    network gives on its own pipeline's tensor."""
    cfg = tiny_classifier(8)
    ckpt = save_random_weights(cfg, str(tmp_path / 't.pth'))
    s_pre = build_data_preprocessor(dict(MNIST))
    teacher = build_frozen_teacher(dict(cfg, data_preprocessor=CLIP), ckpt,
                                   student_preprocessor=s_pre)
    assert teacher.bridge is not None
    net = MODELS.build(cfg)
    net.load_state_dict(torch.load(ckpt)['state_dict'])
    net.eval()
    data = batch(n=4, size=20)
    with torch.no_grad():
        expected = net(own_tensor(CLIP, data), mode='tensor')
    got = teacher(s_pre(data, False)['inputs'], mode='tensor')
    assert (got - expected).abs().max() <= 1e-5
    feats = teacher.extract_feat(s_pre(data, False)['inputs'])
    with torch.no_grad():
        ref = net.extract_feat(own_tensor(CLIP, data))
    assert (feats[-1] - ref[-1]).abs().max() <= 1e-5
    # the bridge follows the teacher's moves, and is no teacher weight
    teacher.double()
    assert teacher.bridge.scale.dtype == torch.float64
    assert not any(k.startswith('bridge') for k in teacher.state_dict())


def test_without_a_declaration_the_batch_is_passed_as_is(tmp_path):
    cfg = tiny_classifier(8)
    ckpt = save_random_weights(cfg, str(tmp_path / 't.pth'))
    teacher = build_frozen_teacher(cfg, ckpt, student_preprocessor=(
        build_data_preprocessor(dict(MNIST))))
    x = torch.randn(2, 3, 8, 8)
    assert teacher.bridge is None and teacher.prepare(x) is x


@pytest.mark.parametrize('cfg, match', [
    (dict(mean=[1.0, 2.0], std=[1.0] * 3), 'mean must be a list of 1 or 3'),
    (dict(mean=[1.0] * 3, std=[1.0] * 4), 'std must be a list of 1 or 3'),
    (dict(mean=[1.0] * 3, std=[1.0, 0.0, 1.0]), 'std must be positive'),
    (dict(mean=[1.0] * 3), 'set both mean and std'),
    (dict(mean=[1.0] * 3, std=[float('nan')] * 3), 'finite numbers'),
    (dict(mean='imagenet', std=[1.0] * 3), 'mean must be a list'),
    (dict(IMAGENET, batch_augments=dict(augments=dict(type='Mixup',
                                                      alpha=1.0))),
     r"\['batch_augments'\] cannot be bridged"),
    (dict(IMAGENET, pad_size_divisor=32), 'cannot be bridged'),
    (dict(IMAGENET, meam=[0.0] * 3), r"\['meam'\] cannot be bridged"),
    (dict(bgr_to_rgb=True, rgb_to_bgr=True), 'cannot both be True'),
    ([0.5, 0.5, 0.5], 'must be a dict'),
])
def test_bad_settings_are_named(cfg, match):
    with pytest.raises(ValueError, match=match):
        normalization_from_config(cfg)


def test_bad_settings_fail_when_the_teacher_is_built(tmp_path):
    cfg = tiny_classifier(8)
    ckpt = save_random_weights(cfg, str(tmp_path / 't.pth'))
    s_pre = build_data_preprocessor(dict(MNIST))
    with pytest.raises(ValueError, match='std must be positive'):
        build_frozen_teacher(
            dict(cfg, data_preprocessor=dict(mean=[0.0] * 3,
                                             std=[0.0] * 3)),
            ckpt, student_preprocessor=s_pre)
    with pytest.raises(ValueError, match='student_preprocessor'):
        build_frozen_teacher(dict(cfg, data_preprocessor=CLIP), ckpt)


def test_bridge_checks_the_batch_shape():
    bridge = build_bridge(build_data_preprocessor(dict(MNIST)), CLIP)
    with pytest.raises(ValueError, match='C = 3'):
        bridge(torch.zeros(2, 4, 8, 8))


def test_student_normalisation_is_read_from_the_built_preprocessor():
    norm = normalization_of(build_data_preprocessor(dict(IMAGENET)))
    assert norm.reverse and len(norm.mean) == 3
    assert norm.mean[0] == pytest.approx(123.675)
    plain = normalization_of(build_data_preprocessor(dict()))
    assert (plain.mean, plain.std, plain.reverse) == ((0.0, ), (1.0, ),
                                                      False)


def _with_own_normalisation(cfg):
    cfg = dict(cfg)
    cfg['teacher'] = dict(cfg['teacher'], data_preprocessor=dict(CLIP))
    return cfg


METHODS = {  # method -> (config builder, batch, views)
    'SSLD': (lambda tmp: ssld_cfg(tmp), batch),
    'SSKD': (lambda tmp: sskd_cfg(tmp), batch),
    'KDEP': (lambda tmp: dict(
        type='KDEP', student=tiny_classifier(4)['backbone'],
        teacher=tiny_classifier(8), align=dict(type='ConvConnector'),
        transform=None, teacher_ckpt=save_random_weights(
            tiny_classifier(8), str(tmp / 't.pth'))), batch),
    'SEED': (lambda tmp: contract_seed_cfgs(tmp)[1], batch),
    'SimDis': (lambda tmp: simdis_cfg(tmp), two_view_batch),
}


@pytest.mark.parametrize('method', sorted(METHODS))
def test_every_offline_method_feeds_its_teacher_the_bridged_batch(
        method, tmp_path):
    """The tensor entering the teacher's backbone in a training loss is the
    one the teacher's own preprocessor makes from the raw images."""
    make, make_batch = METHODS[method]
    model = MODELS.build(_with_own_normalisation(make(tmp_path)))
    assert model.teacher.bridge is not None, method
    seen = []

    def keep(module, args):
        seen.append(args[0])

    for m in model.teacher.model.modules():
        if isinstance(m, ResNet):
            m.register_forward_pre_hook(keep)
    data = model.data_preprocessor(make_batch(), True)
    model(**data, mode='loss')
    assert seen, method
    raw = make_batch()['inputs']
    views = raw if isinstance(raw[0], torch.Tensor) and raw[0].dim() == 4 \
        else [raw]  # SimDis: two stacked views; others: a list of images
    own = [own_tensor(CLIP, dict(inputs=v)) for v in views]
    diff = min((seen[0] - o).abs().max() for o in own)
    assert diff <= 1e-5, f'{method}: max abs diff {diff}'
