"""Teacher checkpoints as published: the layout is recognised from the keys.

A user points ``model.teacher_ckpt`` at the file as downloaded; this module
finds where its weights are (``state_dict``, or ``model`` as MadryLab's
robustness and SimDis save them, or the file itself), which publisher's
layout their keys follow, and renames them into the teacher's own keys.
What a layout holds besides the teacher (a momentum encoder, a queue, an
input normaliser, an optimizer) is left out on purpose and said so in the
log, with the layout found and how many tensors were mapped. The strict key
check of :func:`~kd_plugins.core.teacher.load_teacher_weights` then runs on
the result, so nothing loads silently wrong; a layout that does not fit is
reported with the layout guessed, the keys and what to change.

A file whose keys already fit the teacher loads as saved. ``teacher_ckpt_map``
overrides the recognition: a layout name of :data:`LAYOUTS` (or ``'moco'``:
either MoCo layout), or a dict of checkpoint prefix -> teacher prefix for
anything else. Each layout's renames are in
:mod:`kd_plugins.core.teacher_publishers`, whole networks' in
:mod:`kd_plugins.core.teacher_converters`.
"""
from dataclasses import dataclass
from typing import Callable, Dict, Mapping, Optional, Union

import torch
from mmengine.runner.checkpoint import CheckpointLoader

from kd_plugins.core.checkpoint import (
    DDP_PREFIX,
    compare_keys,
    listing,
    rename_prefixes,
    strip_prefix,
)
from kd_plugins.core.teacher_publishers import (
    Mapped,
    fair_moco,
    has,
    mmpretrain_moco,
    mmpretrain_model,
    mmpretrain_selfsup,
    mobilenet_v2_classifier,
    resnet_classifier,
    robustness_model,
    simdis_model,
)

KeyMap = Union[str, Dict[str, str], None]


@dataclass(frozen=True)
class Layout:
    """One publisher's key layout: how to recognise it, how to rename it,
    and what to change in the teacher config when it does not fit."""
    name: str
    title: str
    detect: Callable[[Mapping], bool]
    convert: Callable[[Mapping, Mapping], Mapped]
    hint: str = ''


MMPRETRAIN = Layout(
    'mmpretrain', 'mmpretrain / mmcls model (backbone.*, neck.*, head.*)',
    lambda s: has(s, 'backbone.') and not any(
        has(s, p) for p in ('encoder_k.', 'target_net.', 'momentum_encoder.',
                            'queue')),
    mmpretrain_model,
    'describe the published model in model.teacher: the same backbone '
    'type and depth, neck and head (num_classes, in_channels)')
MMPRETRAIN_MOCO = Layout(
    'mmpretrain-moco', 'mmselfsup 1.x / mmpretrain MoCo (backbone.*, '
    'neck.*, encoder_k.*, queue)',
    # the momentum encoder or the queue: a copy that kept only one of them
    # (an exported query encoder with its queue) is still a MoCo model
    lambda s: has(s, 'backbone.') and (has(s, 'encoder_k.') or 'queue' in s),
    mmpretrain_moco,
    "the teacher's backbone must be the MoCo backbone, and a SEEDHead's "
    "in/hid/out channels must be the MoCo neck's")
MMPRETRAIN_SELFSUP = Layout(
    'mmpretrain-selfsup', 'mmselfsup 1.x / mmpretrain BYOL-style model '
    '(backbone.*, neck.*, head.*, target_net.* or momentum_encoder.*)',
    lambda s: has(s, 'backbone.') and (has(s, 'target_net.') or has(
        s, 'momentum_encoder.')),
    mmpretrain_selfsup,
    'to load the whole model, make model.teacher the same self-supervised '
    'model (for SimDis: its BYOL config)')
FAIR_MOCO = Layout(
    'fair-moco', 'FAIR MoCo v1/v2 (module.encoder_q.*, module.encoder_k.*, '
    'module.queue)',
    lambda s: has(s, 'encoder_q.'),
    fair_moco,
    "a torchvision-style ResNet backbone (type='ResNet') of the file's "
    "depth; for the v2 MLP a SEEDHead(in_channels=2048, hid_channels=2048, "
    "out_channels=128); MoCo v1's fc fits a LinearClsHead(num_classes=128)")
TORCHVISION_RESNET = Layout(
    'torchvision-resnet', 'torchvision / timm ResNet (conv1.*, bn1.*, '
    'layer1-4.*, fc.*)',
    lambda s: 'conv1.weight' in s and has(s, 'layer1.0.'),
    resnet_classifier,
    "backbone=dict(type='ResNet', depth=<the file's>) and a LinearClsHead "
    "with the file's classes (or a bare ResNet backbone)")
TIMM_RESNET_DEEP = Layout(
    'timm-resnet-d', 'timm ResNet-C/D (deep stem conv1.0-6, avg-down '
    'downsample; resnet*c / resnet*d)',
    lambda s: 'conv1.0.weight' in s and 'conv1.6.weight' in s and has(
        s, 'layer1.0.'),
    resnet_classifier,
    "timm's resnet*d needs backbone=dict(type='ResNetV1d', depth=<the "
    "file's>) (resnet*c: 'ResNetV1c')")
MOBILENET_V2 = Layout(
    'torchvision-mobilenet-v2', 'torchvision MobileNetV2 (features.*, '
    'classifier.1.*)',
    lambda s: 'features.0.0.weight' in s and has(s, 'features.1.conv.'),
    mobilenet_v2_classifier,
    "backbone=dict(type='MobileNetV2', widen_factor=<the file's>) and a "
    "LinearClsHead(in_channels=1280 x widen_factor)")
ROBUSTNESS = Layout(
    'robustness', "MadryLab robustness / KDEP's teachers (model: "
    'module.model.*, module.normalizer.*, module.attacker.*)',
    lambda s: has(s, 'model.') and ('normalizer.new_mean' in s or has(
        s, 'attacker.')),
    robustness_model,
    "the wrapped network is torchvision's: backbone=dict(type='ResNet', "
    "depth=<the file's>) (or 'MobileNetV2') and a LinearClsHead with its "
    'classes')
SIMDIS = Layout(
    'simdis', "SimDis' own checkpoints (model: module.student.*, "
    'module.student_ema.*)',
    lambda s: 'student.conv1.weight' in s and has(s, 'student_ema.'),
    simdis_model,
    "SimDis' projector and predictor are Linear-BN1d-ReLU-Linear with "
    'biases: in the BYOL teacher set neck and head.predictor to '
    "with_bias=True, with_last_bias=True, norm_cfg=dict(type='BN1d') "
    '(hid_channels=4096, out_channels=256)')

#: every recognised layout, by name
LAYOUTS = {layout.name: layout for layout in (
    MMPRETRAIN, MMPRETRAIN_MOCO, MMPRETRAIN_SELFSUP, FAIR_MOCO,
    TORCHVISION_RESNET, TIMM_RESNET_DEEP, MOBILENET_V2, ROBUSTNESS, SIMDIS)}
#: names that stand for a family of layouts
ALIASES = {'moco': ('mmpretrain-moco', 'fair-moco')}


# ------------------------------------------------------------- entry point
def weights_of(ckpt, checkpoint: str) -> dict:
    """The weights of a loaded checkpoint: under ``state_dict`` (mmengine,
    mmcls, FAIR MoCo), under ``model`` (robustness, SimDis, DeiT), or the
    file itself (torchvision, timm, safetensors); ``module.`` removed."""
    if isinstance(ckpt, dict):
        if isinstance(ckpt.get('state_dict'), dict):
            return strip_prefix(ckpt['state_dict'], DDP_PREFIX,
                                keep_others=True)
        if isinstance(ckpt.get('model'), dict) and ckpt['model'] and all(
                isinstance(v, torch.Tensor) for v in ckpt['model'].values()):
            return strip_prefix(ckpt['model'], DDP_PREFIX, keep_others=True)
        tensors = {k: v for k, v in ckpt.items()
                   if isinstance(v, torch.Tensor)}
        if tensors and len(tensors) == len(ckpt):
            return strip_prefix(ckpt, DDP_PREFIX, keep_others=True)
    top = listing(ckpt) if isinstance(ckpt, dict) else type(ckpt).__name__
    raise ValueError(
        f'teacher checkpoint {checkpoint!r} holds no weights where '
        "publishers keep them (under 'state_dict' or 'model', or the file "
        f'itself as a dict of tensors); its top level: {top}.')


def recognise(state: Mapping, key_map: KeyMap = None) -> Optional[Layout]:
    """The layout of ``state`` (None: none known). ``key_map`` (a layout
    name or alias) restricts the candidates. Raises ``ValueError`` when
    several layouts fit."""
    names = list(LAYOUTS)
    if isinstance(key_map, str):
        if key_map not in LAYOUTS and key_map not in ALIASES:
            raise ValueError(
                f'teacher_ckpt_map {key_map!r} is not a known layout '
                f'({sorted(LAYOUTS) + sorted(ALIASES)}); pass a dict of '
                'checkpoint prefix -> teacher prefix instead.')
        names = ALIASES.get(key_map, (key_map, ))
    found = [LAYOUTS[n] for n in names if LAYOUTS[n].detect(state)]
    if len(found) > 1:
        raise ValueError(
            'the teacher checkpoint fits several layouts ('
            + ', '.join(f'{x.name}: {x.title}' for x in found) +
            f'); its keys: {listing(state)}. Set teacher_ckpt_map to the '
            'layout name, or to a dict of checkpoint prefix -> teacher '
            'prefix.')
    if isinstance(key_map, str) and not found:
        raise ValueError(
            f'teacher_ckpt_map={key_map!r}, but the checkpoint does not look'
            f' like it ({" / ".join(LAYOUTS[n].title for n in names)}); its '
            f'keys: {listing(state)}.')
    return found[0] if found else None


def map_teacher_state(state: Mapping, own: Mapping, prefix: str = '',
                      key_map: KeyMap = None) -> Mapped:
    """Rename a checkpoint's weights (see :func:`weights_of`) into the
    teacher's keys (``own``: its state dict)."""
    if isinstance(key_map, dict):
        mapped = Mapped(rename_prefixes(state, key_map),
                        f'as named by teacher_ckpt_map {key_map}')
        mapped.leave_out('under no prefix of teacher_ckpt_map', [
            k for k in state if not k.startswith(tuple(key_map))])
        return mapped
    if prefix:
        state = strip_prefix(state, prefix)
    layout = recognise(state, key_map)
    title = layout.title if layout else 'as saved (no published layout ' \
        'recognised)'
    if layout is None or not compare_keys(own, state):
        return Mapped(dict(state), title + (f' under {prefix!r}' if prefix
                                            else ''),
                      hint=layout.hint if layout else '')
    mapped = layout.convert(state, own)
    mapped.layout = title
    mapped.hint = mapped.hint or layout.hint
    return mapped


def read_teacher_checkpoint(checkpoint: str, own: Mapping, prefix: str = '',
                            key_map: KeyMap = None) -> Mapped:
    """Load ``checkpoint`` (any path, URL or scheme mmengine knows,
    weights-only) and map it onto the teacher's keys ``own``."""
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    return map_teacher_state(weights_of(ckpt, checkpoint), own, prefix,
                             key_map)
