"""Teacher files as their publishers write them, with random weights.

Each writer builds the publisher's own network (or a module with exactly
its module names where the publisher's package is not installed), saves it
with the publisher's top-level structure, key names, shapes and
serialisation, and returns the network, which is the reference the loaded
teacher's outputs are compared with. Checked against the publishers' code:

- mmcls 0.x ``publish_model.py``: the runner checkpoint without the
  optimizer (``{'meta', 'state_dict'}``), saved with
  ``_use_new_zipfile_serialization=False``.
- mmselfsup 1.x ``publish_model.py``: drops only ``optimizer`` (keeps
  ``meta``, ``message_hub``, ``param_schedulers``), legacy format.
- FAIR MoCo ``main_moco.py``: ``{'epoch', 'arch', 'state_dict',
  'optimizer'}`` of the DataParallel model (``module.encoder_q.*``,
  ``module.encoder_k.*``, ``module.queue``, ``module.queue_ptr``);
  ``moco/builder.py`` builds each encoder as ``base_encoder(num_classes=
  dim)`` and, for v2, ``fc = Sequential(Linear(d, d), ReLU(), fc)``.
- torchvision: a bare state dict (``resnet*.pth``, ``mobilenet_v2*.pth``).
- timm: the model's state dict as ``model.safetensors`` (its Hugging Face
  hub files).
- MadryLab robustness ``train.py``: ``{'model', 'optimizer', 'schedule',
  'epoch', 'amp', 'nat_prec1'}`` with the DataParallel ``AttackerModel``
  (``module.normalizer.new_{mean,std}`` of shape 3x1x1, ``module.model.*``,
  ``module.attacker.normalize.*``, ``module.attacker.model.*``).
- SimDis ``tools/run_SimDis.py``: ``{'start_epoch', 'model', 'optimizer'}``
  of the DDP ``SimDis_Model`` (``module.student.*`` with ``fc`` =
  Linear-BN1d-ReLU-Linear and ``pred_<target>`` predictors,
  ``module.student_ema.*``), from ``models/resnet_mbn.py``.
"""
import copy

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from mmengine.logging import MessageHub

from kd_plugins.registry import MODELS

LEGACY = dict(_use_new_zipfile_serialization=False)
IMAGENET_MEAN = [123.675, 116.28, 103.53]
IMAGENET_STD = [58.395, 57.12, 57.375]


def images(n=2, size=64, seed=0):
    """Images in [0, 1] (N x 3 x size x size)."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g)


def normalised(x):
    """What the configs' data_preprocessor feeds the teacher for images x
    in [0, 1]: (255 x - mean) / std."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x * 255 - mean) / std


def randomise(module, seed=0):
    """Random weights and BN statistics (not the init's constants), so
    that a misplaced tensor changes the outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith('running_var'):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith(('weight', 'bias', 'running_mean')) and \
                    t.dim() <= 1:
                t.copy_(torch.randn(t.shape, generator=g) * 0.1 +
                        (1.0 if name.endswith('weight') else 0.0))
            else:
                t.copy_(torch.randn(t.shape, generator=g)
                        * (2.0 / max(1, t[0].numel())) ** 0.5)
    return module.eval()


def resnet_classifier(depth, num_classes=1000, backbone='ResNet'):
    return dict(
        type='ImageClassifier',
        backbone=dict(type=backbone, depth=depth, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=num_classes,
                  in_channels=512 if depth < 50 else 2048,
                  loss=dict(type='CrossEntropyLoss')))


def seed_teacher(depth=18, mlp=True):
    """SEED's teacher: backbone, GAP, SEEDHead (v2 MLP) or a linear head
    of 128 outputs (MoCo v1's fc)."""
    c = 512 if depth < 50 else 2048
    head = dict(type='SEEDHead', in_channels=c, out_channels=128) if mlp \
        else dict(type='LinearClsHead', num_classes=128, in_channels=c,
                  loss=dict(type='CrossEntropyLoss'))
    return dict(type='ImageClassifier',
                backbone=dict(type='ResNet', depth=depth, out_indices=(3, )),
                neck=dict(type='GlobalAveragePooling'), head=head)


# ------------------------------------------------------------ OpenMMLab
def mmcls_release(path, depth=34, seed=0):
    """An mmcls 0.x ImageNet classifier release (``resnet34_8xb32_in1k_
    20210831-f257d4e6.pth``): mmcv runner meta, legacy format."""
    net = randomise(MODELS.build(resnet_classifier(depth)), seed)
    meta = dict(mmcls_version='0.15.0', mmcv_version='1.3.12',
                config='model = dict(type=\'ImageClassifier\')\n',
                CLASSES=[f'n{i:08d}' for i in range(1000)],
                env_info='sys.platform: linux', seed=0,
                exp_name=f'resnet{depth}_8xb32_in1k.py', epoch=100,
                iter=500500, time='Tue Aug 31 12:00:00 2021')
    torch.save(dict(meta=meta, state_dict=net.state_dict()), str(path),
               **LEGACY)
    return net


def _mmengine_extras():
    hub = MessageHub.get_instance('kd_plugins_teacher_fakes')
    hub.update_scalar('train/loss', 7.5)
    hub.update_scalar('train/lr', np.float64(0.03))
    hub.update_info('epoch', 200)
    return dict(message_hub=hub.state_dict(),
                param_schedulers=[dict(T_max=200, eta_min=0.0,
                                       base_lrs=[0.03], last_epoch=200)])


def mmselfsup_moco_v2(path, depth=18, seed=0):
    """mmselfsup 1.x MoCo-v2 (``mocov2_resnet50_8xb32-coslr-200e_in1k_
    20220825-b6d23c86.pth``), legacy format, message hub kept."""
    c = 512 if depth < 50 else 2048
    moco = MODELS.build(dict(
        type='MoCo', queue_len=65536, feat_dim=128, momentum=0.001,
        backbone=dict(type='ResNet', depth=depth, norm_cfg=dict(type='BN'),
                      zero_init_residual=False),
        neck=dict(type='MoCoV2Neck', in_channels=c, hid_channels=c,
                  out_channels=128, with_avg_pool=True),
        head=dict(type='ContrastiveHead',
                  loss=dict(type='CrossEntropyLoss'), temperature=0.2)))
    randomise(moco, seed)
    meta = dict(epoch=200, iter=1001000, mmengine_version='0.1.0',
                experiment_name='mocov2_resnet50_8xb32-coslr-200e_in1k',
                seed=0, dataset_meta=dict())
    torch.save(dict(meta=meta, state_dict=moco.state_dict(),
                    **_mmengine_extras()), str(path), **LEGACY)
    return moco


def mmselfsup_byol(path, depth=18, seed=0):
    """An mmselfsup 1.x / mmpretrain BYOL model (online + target_net)."""
    c = 512 if depth < 50 else 2048
    byol = MODELS.build(byol_config(depth, c))
    randomise(byol, seed)
    torch.save(dict(meta=dict(epoch=100), state_dict=byol.state_dict(),
                    **_mmengine_extras()), str(path), **LEGACY)
    return byol


def byol_config(depth=18, c=512, simdis=False):
    """mmpretrain's BYOL; ``simdis=True``: with SimDis' biased MLPs."""
    flags = dict(with_bias=True, with_last_bn=False, with_avg_pool=True,
                 norm_cfg=dict(type='BN1d'))
    if simdis:
        flags['with_last_bias'] = True
    return dict(
        type='BYOL', base_momentum=0.01,
        backbone=dict(type='ResNet', depth=depth, norm_cfg=dict(type='BN'),
                      zero_init_residual=False),
        neck=dict(type='NonLinearNeck', in_channels=c, hid_channels=4096,
                  out_channels=256, **flags),
        head=dict(type='LatentPredictHead',
                  loss=dict(type='CosineSimilarityLoss'),
                  predictor=dict(type='NonLinearNeck', in_channels=256,
                                 hid_channels=4096, out_channels=256,
                                 **dict(flags, with_avg_pool=False))))


# ------------------------------------------------------------ FAIR MoCo
class FairMoCo(nn.Module):
    """The module names of FAIR's ``moco.builder.MoCo``."""

    def __init__(self, arch='resnet18', dim=128, K=65536, mlp=True):
        super().__init__()
        self.encoder_q = getattr(torchvision.models, arch)(num_classes=dim)
        self.encoder_k = getattr(torchvision.models, arch)(num_classes=dim)
        if mlp:
            for enc in (self.encoder_q, self.encoder_k):
                d = enc.fc.weight.shape[1]
                enc.fc = nn.Sequential(nn.Linear(d, d), nn.ReLU(), enc.fc)
        self.register_buffer('queue', F.normalize(torch.randn(dim, K),
                                                  dim=0))
        self.register_buffer('queue_ptr', torch.zeros(1, dtype=torch.long))


def fair_moco(path, arch='resnet18', mlp=True, K=65536, seed=0):
    """``moco_v2_800ep_pretrain.pth.tar`` (v1: ``mlp=False``; ``K``:
    ``main_moco.py --moco-k``), legacy format; returns the query encoder
    (its output: the embedding)."""
    moco = randomise(FairMoCo(arch, K=K, mlp=mlp), seed)
    params = list(moco.parameters())
    optimizer = torch.optim.SGD(params, 0.03, momentum=0.9,
                                weight_decay=1e-4)
    for p in moco.encoder_q.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()  # momentum buffers, as a run's optimizer holds them
    state = {f'module.{k}': v for k, v in moco.state_dict().items()}
    torch.save(dict(epoch=800, arch=arch, state_dict=state,
                    optimizer=optimizer.state_dict()), str(path), **LEGACY)
    return moco.encoder_q


# ---------------------------------------------------- torchvision / timm
def torchvision_file(path, arch='resnet18', legacy=True, seed=0):
    """A torchvision hub file: the bare state dict."""
    net = randomise(getattr(torchvision.models, arch)(), seed)
    torch.save(net.state_dict(), str(path), **(LEGACY if legacy else {}))
    return net


def timm_file(path, name='resnet18d', seed=0):
    """timm's hub file (``model.safetensors``) of ``name``; needs timm."""
    import timm
    from safetensors.torch import save_file
    net = randomise(timm.create_model(name, pretrained=False), seed)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()},
              str(path))
    return net


# ------------------------------------------------------ MadryLab / KDEP
class InputNormalize(nn.Module):
    """robustness.tools.helpers.InputNormalize."""

    def __init__(self, new_mean, new_std):
        super().__init__()
        self.register_buffer('new_mean', new_mean[..., None, None])
        self.register_buffer('new_std', new_std[..., None, None])

    def forward(self, x):
        x = torch.clamp(x, 0, 1)
        return (x - self.new_mean) / self.new_std


class Attacker(nn.Module):
    def __init__(self, model, mean, std):
        super().__init__()
        self.normalize = InputNormalize(mean, std)
        self.model = model


class AttackerModel(nn.Module):
    """robustness.attacker.AttackerModel's modules and inference path."""

    def __init__(self, model):
        super().__init__()
        mean = torch.tensor([0.485, 0.456, 0.406])
        std = torch.tensor([0.229, 0.224, 0.225])
        self.normalizer = InputNormalize(mean, std)
        self.model = model
        self.attacker = Attacker(model, mean, std)

    def forward(self, x):
        return self.model(self.normalizer(x))


def robustness_checkpoint(path, arch='resnet18', seed=0, legacy=True):
    """A robustness ImageNet checkpoint (KDEP's released teachers)."""
    net = AttackerModel(randomise(getattr(torchvision.models, arch)(),
                                  seed))
    optimizer = torch.optim.SGD(net.parameters(), 0.1, momentum=0.9)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, 30)
    state = {f'module.{k}': v for k, v in net.state_dict().items()}
    torch.save(dict(model=state, optimizer=optimizer.state_dict(),
                    schedule=schedule.state_dict(), epoch=90, amp=None,
                    nat_prec1=torch.tensor(76.1)), str(path),
               **(LEGACY if legacy else {}))
    return net


# ---------------------------------------------------------------- SimDis
class Normalize(nn.Module):
    def forward(self, x):
        return F.normalize(x, p=2, dim=1)


def _simdis_mlp(d_in, hidden=4096, low=256, normalize=False):
    layers = [nn.Linear(d_in, hidden), nn.BatchNorm1d(hidden),
              nn.ReLU(inplace=True), nn.Linear(hidden, low)]
    return nn.Sequential(*layers + ([Normalize()] if normalize else []))


class SimDisResNet(nn.Module):
    """resnet_mbn.ResNet with MLP='byol': a torchvision ResNet whose ``fc``
    is the projector, plus one ``pred_<target>`` predictor per target
    (none on the EMA copy)."""

    def __init__(self, arch='resnet18', predictors=('s_dv', )):
        super().__init__()
        base = getattr(torchvision.models, arch)()
        for name, module in base.named_children():
            if name != 'fc':
                setattr(self, name, module)
        d = base.fc.in_features
        self.fc = _simdis_mlp(d, normalize=not predictors)
        for p in predictors:
            setattr(self, f'pred_{p}', _simdis_mlp(256, normalize=True))

    def encode(self, x):
        for name in ('conv1', 'bn1', 'relu', 'maxpool', 'layer1', 'layer2',
                     'layer3', 'layer4', 'avgpool'):
            x = getattr(self, name)(x)
        return torch.flatten(x, 1)

    def forward(self, x):
        return self.fc(self.encode(x))


class SimDisModel(nn.Module):
    def __init__(self, arch='resnet18', predictors=('s_dv', )):
        super().__init__()
        self.student = SimDisResNet(arch, predictors)
        self.student_ema = SimDisResNet(arch, ())


def simdis_checkpoint(path, arch='resnet18', predictors=('s_dv', ),
                      seed=0):
    """A SimDis run's checkpoint (BYOL: ``model_s='resnet18.s_dv'``)."""
    model = randomise(SimDisModel(arch, predictors), seed)
    optimizer = torch.optim.SGD(model.student.parameters(), 0.3,
                                momentum=0.9)
    state = {f'module.{k}': v for k, v in model.state_dict().items()}
    torch.save(dict(start_epoch=100, model=state,
                    optimizer=optimizer.state_dict()), str(path))
    return model


def copy_of(net):
    return copy.deepcopy(net).eval()
