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
anything else. Key renames of whole networks are in
:mod:`kd_plugins.core.teacher_converters`.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Tuple, Union

import torch
from mmengine.runner.checkpoint import CheckpointLoader

from kd_plugins.core.checkpoint import (
    DDP_PREFIX,
    compare_keys,
    listing,
    rename_prefixes,
    strip_prefix,
)
from kd_plugins.core.teacher_converters import (
    backbone_prefix,
    linear,
    mobilenet_v2_backbone,
    resnet_backbone,
    take,
)

KeyMap = Union[str, Dict[str, str], None]


@dataclass
class Mapped:
    """A checkpoint's weights renamed for the teacher, and the record."""
    state: dict
    layout: str
    left_out: List[Tuple[str, List[str]]] = field(default_factory=list)
    kept: List[Tuple[str, List[str]]] = field(default_factory=list)
    hint: str = ''

    def leave_out(self, why: str, keys) -> None:
        keys = sorted(keys)
        if keys:
            self.left_out.append((why, keys))

    def report(self, checkpoint: str, model: str) -> str:
        out = (f'teacher checkpoint {checkpoint}: layout {self.layout}; '
               f'{len(self.state)} tensors mapped into the teacher '
               f'({model})')
        for why, keys in self.left_out:
            out += f'; left out on purpose: {summary(keys)} ({why})'
        for why, keys in self.kept:
            out += f'; kept as built: {summary(keys)} ({why})'
        return out + '.'


def summary(keys: List[str], limit: int = 4) -> str:
    """``encoder_k.* (320 tensors)`` for keys under one prefix; otherwise
    one such group per first name (``queue``, ``queue_ptr`` alone)."""
    common = _common_prefix(keys)
    if common and len(keys) > 1:
        return f'{common}* ({len(keys)} tensors)'
    groups: Dict[str, List[str]] = {}
    for k in keys:
        groups.setdefault(k.split('.')[0], []).append(k)
    parts = [f'{h}.* ({len(ks)} tensors)' if len(ks) > 1 else ks[0]
             for h, ks in groups.items()]
    more = f' and {len(parts) - limit} more groups' \
        if len(parts) > limit else ''
    return ', '.join(parts[:limit]) + more


def _common_prefix(keys: List[str]) -> str:
    """The longest dotted prefix (ending in '.') all keys share."""
    if not keys:
        return ''
    parts = [k.split('.')[:-1] for k in keys]
    out = []
    for names in zip(*parts):
        if len(set(names)) != 1:
            break
        out.append(names[0])
    return '.'.join(out) + '.' if out else ''


def has(state: Mapping, prefix: str) -> bool:
    return any(k.startswith(prefix) for k in state)


def foreign(state: Mapping, known: Tuple[str, ...]) -> dict:
    """Keys a layout does not hold: passed on as they are, so that the
    strict check reports them."""
    return {k: v for k, v in state.items() if not k.startswith(known)}


# ------------------------------------------------------------ the layouts
def _parts_fit(state: Mapping, own: Mapping, mapped: Mapped,
               parts=('backbone.', 'neck.', 'head.')) -> None:
    """mmpretrain part by part: into a model that has the part, as saved;
    into a bare backbone, ``backbone.*`` alone."""
    dst = backbone_prefix(own)
    for part in parts:
        keys = {k: v for k, v in state.items() if k.startswith(part)}
        if part == 'backbone.':
            mapped.state.update({dst + k[len(part):]: v
                                 for k, v in keys.items()})
        elif has(own, part):
            mapped.state.update(keys)
        else:
            mapped.leave_out(f'the teacher has no {part[:-1]}', keys)


def _mmpretrain(state, own) -> Mapped:
    mapped = Mapped({}, '')
    _parts_fit(state, own, mapped)
    mapped.state.update(foreign(state, ('backbone.', 'neck.', 'head.')))
    return mapped


def _projection(src: Mapping, own: Mapping, mapped: Mapped, why: str
                ) -> None:
    """A projection MLP (``0.*``, ``2.*``: Linear-ReLU-Linear) into a
    SEEDHead's ``head.mlp.``, or a single linear layer into ``head.fc.``;
    left out when the teacher has no such head."""
    if 'weight' in src:  # one linear layer (MoCo v1)
        placed, ok = linear(src, own)
    else:
        placed, ok = linear(take(src, '0.'), own, 'head.mlp.0.')
        if ok:
            placed.update({f'head.mlp.{k}': v for k, v in src.items()})
    if ok:
        mapped.state.update(placed)
    else:
        mapped.leave_out(why, list(src))


def _mmpretrain_moco(state, own) -> Mapped:
    mapped = Mapped({}, '')
    _parts_fit(state, own, mapped, parts=('backbone.', ))
    neck = take(state, 'neck.mlp.') or take(state, 'neck.fc.')
    _projection(neck, own, mapped, 'the teacher has no projection head '
                '(SEEDHead) for the MoCo neck')
    mapped.leave_out('the momentum encoder', [k for k in state
                                              if k.startswith('encoder_k.')])
    mapped.leave_out("MoCo's queue", [k for k in state if k.startswith(
        'queue')])
    mapped.state.update(foreign(state, ('backbone.', 'neck.', 'encoder_k.',
                                        'queue')))
    return mapped


SELFSUP_PARTS = ('neck.', 'head.', 'target_net.', 'momentum_encoder.')


def _mmpretrain_selfsup(state, own) -> Mapped:
    mapped = Mapped({}, '')
    _parts_fit(state, own, mapped, parts=('backbone.', ))
    mapped.leave_out('the projection, prediction and momentum networks: '
                     'the online backbone is the teacher',
                     [k for k in state if k.startswith(SELFSUP_PARTS)])
    mapped.state.update(foreign(state, ('backbone.', ) + SELFSUP_PARTS))
    return mapped


def _classifier(backbone: Callable, fc_prefix: str):
    def convert(state, own) -> Mapped:
        mapped = Mapped(backbone(
            {k: v for k, v in state.items()
             if not k.startswith(fc_prefix)}, own), '')
        placed, ok = linear(take(state, fc_prefix), own)
        if ok:
            mapped.state.update(placed)
        else:
            mapped.leave_out('the teacher has no linear classifier head',
                             [k for k in state if k.startswith(fc_prefix)])
        return mapped
    return convert


_resnet = _classifier(resnet_backbone, 'fc.')
_mobilenet_v2 = _classifier(mobilenet_v2_backbone, 'classifier.1.')


def _network(state) -> Optional['Layout']:
    for layout in (TORCHVISION_RESNET, TIMM_RESNET_DEEP, MOBILENET_V2):
        if layout.detect(state):
            return layout
    return None


def _fair_moco(state, own) -> Mapped:
    q = take(state, 'encoder_q.')
    mapped = Mapped(resnet_backbone(
        {k: v for k, v in q.items() if not k.startswith('fc.')}, own), '')
    _projection(take(q, 'fc.'), own, mapped, 'the teacher has no projection '
                'head (SEEDHead) for the MoCo MLP')
    mapped.leave_out('the momentum encoder', [k for k in state
                                              if k.startswith('encoder_k.')])
    mapped.leave_out("MoCo's queue", [k for k in state if k.startswith(
        'queue')])
    mapped.state.update(foreign(state, ('encoder_q.', 'encoder_k.',
                                        'queue')))
    return mapped


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _robustness(state, own) -> Mapped:
    net = take(state, 'model.')
    if net and all(k.startswith('model.') for k in net):
        net = take(net, 'model.')  # KDEP's custom-forward wrapper
    inner = _network(net)
    mapped = inner.convert(net, own) if inner else Mapped(dict(net), '')
    if inner:
        mapped.hint = inner.hint
    mean = state.get('normalizer.new_mean')
    std = state.get('normalizer.new_std')
    stats = ''
    if mean is not None and std is not None:
        stats = (f': (x - {[round(float(v), 4) for v in mean.flatten()]}) / '
                 f'{[round(float(v), 4) for v in std.flatten()]} on [0, 1] '
                 'images')
        if not (torch.allclose(mean.flatten(), torch.tensor(IMAGENET_MEAN))
                and torch.allclose(std.flatten(),
                                   torch.tensor(IMAGENET_STD))):
            stats += (", not ImageNet's: give the teacher its own "
                      'model.teacher.data_preprocessor with 255 times these')
    mapped.leave_out(f'its input normaliser{stats}, which the '
                     'data_preprocessor does', [
                         k for k in state if k.startswith('normalizer.')])
    mapped.leave_out('the attacker: a second copy of the same network',
                     [k for k in state if k.startswith('attacker.')])
    mapped.state.update(foreign(state, ('model.', 'normalizer.',
                                        'attacker.')))
    return mapped


#: SimDis' BYOL MLPs (Linear-BN1d-ReLU-Linear) -> mmpretrain NonLinearNeck
SIMDIS_MLP = {'0.': 'fc0.', '1.': 'bn0.', '3.': 'fc1.'}


def _simdis_mlp(src: Mapping, dst: str) -> dict:
    out = {}
    for k, v in src.items():
        for a, b in SIMDIS_MLP.items():
            if k.startswith(a):
                out[dst + b + k[len(a):]] = v
    return out


def _simdis(state, own) -> Mapped:
    online, ema = take(state, 'student.'), take(state, 'student_ema.')
    enc = {k: v for k, v in online.items()
           if not k.startswith(('fc.', 'pred_'))}
    mapped = Mapped(resnet_backbone(enc, own), '')
    if not has(own, 'target_net.module.0.'):  # not a BYOL teacher
        mapped.leave_out('the projector, predictors and EMA target: the '
                         'online backbone is the teacher',
                         [f'student.{k}' for k in online if k not in enc] +
                         [f'student_ema.{k}' for k in ema])
    else:
        target = 'target_net.module.0.'
        ema_enc = {k: v for k, v in ema.items() if not k.startswith('fc.')}
        own_target = {k[len(target):]: v for k, v in own.items()
                      if k.startswith(target)}
        mapped.state.update({target + k: v for k, v in resnet_backbone(
            ema_enc, own_target).items()})
        mapped.state.update(_simdis_mlp(take(online, 'fc.'), 'neck.'))
        mapped.state.update(_simdis_mlp(take(ema, 'fc.'),
                                        'target_net.module.1.'))
        mapped.state.update(_simdis_mlp(take(online, 'pred_s_dv.'),
                                        'head.predictor.'))
        mapped.leave_out("the predictors of SimDis' distillation targets "
                         "(BYOL's own is pred_s_dv)",
                         [f'student.{k}' for k in online if k.startswith(
                             'pred_') and not k.startswith('pred_s_dv.')])
        steps = [k for k in own if k.startswith('target_net.')
                 and k.endswith('.steps')]
        mapped.state.update({k: own[k] for k in steps})
        if steps:
            mapped.kept.append(("mmengine's EMA step counter, not a weight",
                                steps))
    mapped.leave_out("the run's own teacher", [
        k for k in state if k.startswith(('teacher.', 'teacher_ema.'))])
    mapped.state.update(foreign(state, ('student.', 'student_ema.',
                                        'teacher.', 'teacher_ema.')))
    return mapped


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
    _mmpretrain,
    'describe the published model in model.teacher: the same backbone '
    'type and depth, neck and head (num_classes, in_channels)')
MMPRETRAIN_MOCO = Layout(
    'mmpretrain-moco', 'mmselfsup 1.x / mmpretrain MoCo (backbone.*, '
    'neck.*, encoder_k.*, queue)',
    lambda s: has(s, 'backbone.') and has(s, 'encoder_k.') and 'queue' in s,
    _mmpretrain_moco,
    "the teacher's backbone must be the MoCo backbone, and a SEEDHead's "
    "in/hid/out channels must be the MoCo neck's")
MMPRETRAIN_SELFSUP = Layout(
    'mmpretrain-selfsup', 'mmselfsup 1.x / mmpretrain BYOL-style model '
    '(backbone.*, neck.*, head.*, target_net.* or momentum_encoder.*)',
    lambda s: has(s, 'backbone.') and (has(s, 'target_net.') or has(
        s, 'momentum_encoder.')),
    _mmpretrain_selfsup,
    'to load the whole model, make model.teacher the same self-supervised '
    'model (for SimDis: its BYOL config)')
FAIR_MOCO = Layout(
    'fair-moco', 'FAIR MoCo v1/v2 (module.encoder_q.*, module.encoder_k.*, '
    'module.queue)',
    lambda s: has(s, 'encoder_q.'),
    _fair_moco,
    "a torchvision-style ResNet backbone (type='ResNet') of the file's "
    "depth; for the v2 MLP a SEEDHead(in_channels=2048, hid_channels=2048, "
    "out_channels=128); MoCo v1's fc fits a LinearClsHead(num_classes=128)")
TORCHVISION_RESNET = Layout(
    'torchvision-resnet', 'torchvision / timm ResNet (conv1.*, bn1.*, '
    'layer1-4.*, fc.*)',
    lambda s: 'conv1.weight' in s and has(s, 'layer1.0.'),
    _resnet,
    "backbone=dict(type='ResNet', depth=<the file's>) and a LinearClsHead "
    "with the file's classes (or a bare ResNet backbone)")
TIMM_RESNET_DEEP = Layout(
    'timm-resnet-d', 'timm ResNet-C/D (deep stem conv1.0-6, avg-down '
    'downsample; resnet*c / resnet*d)',
    lambda s: 'conv1.0.weight' in s and 'conv1.6.weight' in s and has(
        s, 'layer1.0.'),
    _resnet,
    "timm's resnet*d needs backbone=dict(type='ResNetV1d', depth=<the "
    "file's>) (resnet*c: 'ResNetV1c')")
MOBILENET_V2 = Layout(
    'torchvision-mobilenet-v2', 'torchvision MobileNetV2 (features.*, '
    'classifier.1.*)',
    lambda s: 'features.0.0.weight' in s and has(s, 'features.1.conv.'),
    _mobilenet_v2,
    "backbone=dict(type='MobileNetV2', widen_factor=<the file's>) and a "
    "LinearClsHead(in_channels=1280 x widen_factor)")
ROBUSTNESS = Layout(
    'robustness', "MadryLab robustness / KDEP's teachers (model: "
    'module.model.*, module.normalizer.*, module.attacker.*)',
    lambda s: has(s, 'model.') and ('normalizer.new_mean' in s or has(
        s, 'attacker.')),
    _robustness,
    "the wrapped network is torchvision's: backbone=dict(type='ResNet', "
    "depth=<the file's>) and a LinearClsHead with its classes")
SIMDIS = Layout(
    'simdis', "SimDis' own checkpoints (model: module.student.*, "
    'module.student_ema.*)',
    lambda s: 'student.conv1.weight' in s and has(s, 'student_ema.'),
    _simdis,
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
