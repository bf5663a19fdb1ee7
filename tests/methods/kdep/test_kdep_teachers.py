"""KDEP with teachers from outside mmpretrain's ResNets, each in its own
normalisation: a timm ResNet (pre-ReLU tap on timm's blocks) and Vision
Transformers (the feature the head reads, :class:`ViTFeatureTap`), through
the basis pass, the teacher report's functions and a few training steps."""
import pytest
import torch
from helpers import batch, save_random_weights, tiny_classifier
from helpers.foreign_teachers import (
    IMG,
    STUDENT_NORM,
    TIMM_NORM,
    TIMM_RESNET,
    own_network,
    timm_classifier,
    vit_backbone,
    vit_classifier,
)
from mmengine.optim import build_optim_wrapper

from kd_plugins.methods.kdep import (
    PreReLUTap,
    StreamingBasis,
    ViTFeatureTap,
    backbone_of,
    load_basis,
    penultimate_tap,
)
from kd_plugins.methods.kdep.analysis import (
    feature_report,
    format_report,
    std_ratio,
)
from kd_plugins.methods.kdep.teacher_pass import (
    collect_teacher_features,
    compute_kdep_basis,
)
from kd_plugins.registry import MODELS

PIPE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


def digits(root, size=None):
    """The labeled MNIST-5k digits with the deterministic pipeline (resized
    to ``size``)."""
    pipeline = PIPE if size is None else \
        [PIPE[0], dict(type='Resize', scale=size), PIPE[1]]
    return dict(type='CustomDataset', data_root=root, data_prefix='train',
                pipeline=pipeline)


def needs_timm(family):
    if family.startswith('timm'):
        pytest.importorskip('timm')


def timm_backbone_classifier():
    """A timm ResNet as mmpretrain's TIMMBackbone in an ImageClassifier."""
    return dict(type='ImageClassifier',
                backbone=dict(type='TIMMBackbone', **TIMM_RESNET),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=10,
                          in_channels=64),
                data_preprocessor=dict(TIMM_NORM))


TEACHERS = {  # family -> teacher config (each declares its normalisation)
    'timm_resnet': lambda: timm_classifier(),  # TimmClassifier
    'timm_backbone': timm_backbone_classifier,
    'vit': lambda: vit_classifier(),
    'vit_dinov2': lambda: vit_classifier(dinov2=True),
}


# ------------------------------------------------------------------ taps
@pytest.mark.parametrize('family', ['timm_resnet', 'timm_backbone'])
def test_timm_resnet_tap_is_before_the_last_activation(family):
    needs_timm(family)
    torch.manual_seed(0)
    net = MODELS.build({k: v for k, v in TEACHERS[family]().items()
                        if k != 'data_preprocessor'})
    tap = penultimate_tap(net, 'teacher')
    assert isinstance(tap, PreReLUTap) and tap.channels == 64
    assert 'act2' in tap.layer
    timm_net = getattr(net, 'model', None) or net.backbone.timm_model
    out = timm_net.forward_features(torch.randn(2, 3, IMG, IMG))  # N x C x h w
    pre = tap.pop_map()
    assert pre.shape == out.shape
    assert (pre < 0).any(), 'the tap must see values before the ReLU'
    assert torch.equal(torch.relu(pre), out)


def test_timm_bottleneck_tap():
    pytest.importorskip('timm')
    net = MODELS.build(dict(type='TIMMBackbone', model_name='resnet26',
                            channels=(8, 16, 32, 64), stem_width=8,
                            zero_init_last=False))
    tap = PreReLUTap(net)
    out = net(torch.randn(2, 3, 32, 32))[-1]
    assert 'act3' in tap.layer and tap.channels == 256
    assert torch.equal(torch.relu(tap.pop_map()), out)


@pytest.mark.parametrize('out_type', ['cls_token', 'avg_featmap'])
@pytest.mark.parametrize('dinov2', [False, True])
def test_vit_tap_is_the_heads_input(out_type, dinov2):
    torch.manual_seed(0)
    backbone = dict(vit_backbone(dinov2), out_type=out_type)
    net = MODELS.build(dict(type='ImageClassifier', backbone=backbone,
                            head=dict(type='VisionTransformerClsHead',
                                      num_classes=10, in_channels=32)))
    tap = penultimate_tap(net, 'teacher')
    assert isinstance(tap, ViTFeatureTap) and tap.channels == 32
    x = torch.randn(3, 3, IMG, IMG)
    seen = {}

    def keep(module, args, out):  # returns None: the output stays
        seen['head_input'] = args[0]

    net.head.layers.head.register_forward_hook(keep)
    net(x)
    f = tap.pop()
    assert f.shape == (3, 32)
    assert torch.equal(f, seen['head_input'])
    assert (f < 0).any()  # signed: nothing truncated
    with pytest.raises(RuntimeError, match='holds no feature'):
        tap.pop()


def test_vit_tap_on_the_dinov2_small_arch():
    """mmpretrain's own DINOv2 arch (ViT-S/14, LayerScale), at 28 px."""
    net = MODELS.build(dict(type='VisionTransformer', arch='dinov2-small',
                            img_size=28, patch_size=14,
                            layer_scale_init_value=1e-5))
    tap = ViTFeatureTap(net, 'teacher')
    out = net(torch.randn(2, 3, 28, 28))[-1]
    assert tap.channels == 384 and torch.equal(tap.pop(), out)
    assert 'ln1' in tap.layer


@pytest.mark.parametrize('change, match', [
    (dict(out_type='featmap'), "out_type='cls_token'"),
    (dict(out_type='raw'), "out_type='cls_token'"),
    (dict(out_indices=0), 'not its last layer'),
])
def test_vit_tap_refuses_other_outputs(change, match):
    net = MODELS.build(dict(vit_backbone(), **change))
    with pytest.raises(ValueError, match=match):
        ViTFeatureTap(net, 'teacher')


def test_vit_student_has_no_post_relu_feature(tmp_path):
    teacher = tiny_classifier(8)
    ckpt = save_random_weights(teacher, str(tmp_path / 't.pth'))
    with pytest.raises(ValueError, match="student_feature='pre_relu'"):
        MODELS.build(dict(type='KDEP', student=vit_backbone(),
                          teacher=teacher, teacher_ckpt=ckpt,
                          align=dict(type='ConvConnector'),
                          student_feature='post_relu'))


# ------------------------------------------- basis, report and training
@pytest.mark.parametrize('family', sorted(TEACHERS))
def test_foreign_teacher_drives_kdep(family, tmp_path, mnist_root):
    needs_timm(family)
    teacher = TEACHERS[family]()
    ckpt = save_random_weights(teacher, str(tmp_path / 't.pth'))
    basis = str(tmp_path / 'basis.pth')
    # tools/kdep_svd.py's pass, the teacher in its own normalisation
    result = compute_kdep_basis(teacher, ckpt, digits(mnist_root),
                                STUDENT_NORM, basis, batch_size=50,
                                num_workers=0)
    D_t = 64 if family.startswith('timm') else 32
    assert result.num_images == 100 and result.feature_dim == D_t
    assert load_basis(basis)['V'].shape == (D_t, D_t)
    model = MODELS.build(dict(
        type='KDEP', student=tiny_classifier(4)['backbone'],
        teacher=teacher, teacher_ckpt=ckpt,
        align=dict(type='SVDProjection', basis=basis),
        data_preprocessor=STUDENT_NORM))
    assert model.teacher.bridge is not None
    # the teacher feature KDEP's loss aligns is the one the teacher gives
    # on its own pipeline's tensor
    net, own = own_network(teacher, ckpt)
    own_tap = penultimate_tap(net, 'reference')
    seen = {}

    def keep(module, args, out):  # returns None: the output stays
        seen['f_t'] = args[1]

    model.align.register_forward_hook(keep)
    x = model.data_preprocessor(batch(n=4, size=IMG), False)['inputs']
    model.loss(x)
    with torch.no_grad():
        backbone_of(net)(own(batch(n=4, size=IMG), False)['inputs'])
    assert seen['f_t'].shape == (4, D_t)
    assert (seen['f_t'] - own_tap.pop()).abs().max() <= 1e-4
    # a few training steps; the teacher never changes
    optim = build_optim_wrapper(model, dict(
        type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01)))
    state = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    model.train()
    losses = [model.train_step(batch(n=4, size=IMG), optim)['loss_kdep']
              for _ in range(3)]
    assert all(torch.isfinite(v) for v in losses)
    assert all(torch.equal(v, state[k])
               for k, v in model.teacher.state_dict().items())


@pytest.mark.parametrize('family', ['vit_dinov2', 'timm_resnet'])
def test_teacher_report_on_a_foreign_teacher(family, tmp_path, mnist_root):
    """tools/kdep_teacher_report.py's functions on the tapped feature."""
    needs_timm(family)
    teacher = TEACHERS[family]()
    ckpt = save_random_weights(teacher, str(tmp_path / 't.pth'))
    # 64 px: a 2 x 2 last map for the stride-32 ResNet (random weights
    # collapse many 28 px digits onto one 1 x 1 feature)
    size = 64 if family.startswith('timm') else None
    feats, labels, classes, tap = collect_teacher_features(
        teacher, ckpt, digits(mnist_root, size), STUDENT_NORM,
        num_classes=4, per_class=10, num_workers=0)
    assert feats.shape == (40, tap.channels) and len(set(labels.tolist())) == 4
    acc = StreamingBasis(tap.channels)
    acc.update(feats)
    report = feature_report(feats, labels, acc.solve(), dim=16)
    assert report['teacher (pre-ReLU)']['std_ratio'] == pytest.approx(
        std_ratio(feats)['std_ratio'])
    text = format_report(report)
    assert 'SVD + PTS' in text and 'SVD to 16' in text
    assert all(r['compactness'] > 0 for r in report.values())


def test_timm_constants_are_a_resnet18():
    pytest.importorskip('timm')
    net = MODELS.build(dict(type='TIMMBackbone', **TIMM_RESNET))
    assert [len(net.timm_model.layer1), len(net.timm_model.layer4)] == [2, 2]
