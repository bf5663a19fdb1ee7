"""Each publisher's checkpoint renamed for the teacher, part by part.

One function per published layout (recognised by
:mod:`kd_plugins.core.teacher_layouts`): ``convert(state, own) -> Mapped``
takes the checkpoint's weights (``module.`` removed) and the teacher's own
state dict, places what the teacher has room for, and records what it
leaves out on purpose (a momentum encoder, a queue, an input normaliser, a
second copy of the network) and why. Keys a layout does not know are passed
on unchanged, so that the strict check reports them. Whole networks are
renamed by :mod:`kd_plugins.core.teacher_converters`.

Names checked against the publishers' code: mmpretrain's ``MoCo``
(``encoder_k``, ``queue``) and ``BYOL`` (``target_net``); FAIR's
``moco/builder.py`` (``encoder_q``, ``encoder_k``, v2's ``fc`` =
``Sequential(Linear, ReLU, Linear)``); MadryLab ``robustness``'
``AttackerModel`` (``normalizer`` = ``InputNormalize(mean, std)`` on [0, 1]
images, ``model``, ``attacker``); SimDis' ``SimDis_Model`` (``student``,
``student_ema``; ``fc`` and ``pred_<target>`` = Linear-BN1d-ReLU-Linear).
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import torch

from kd_plugins.core.teacher_converters import (
    backbone_prefix,
    linear,
    mobilenet_v2_backbone,
    resnet_backbone,
    take,
)


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


# ---------------------------------------------------- one per publisher
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


def mmpretrain_model(state, own) -> Mapped:
    """An mmpretrain / mmcls model: as saved, part by part."""
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


def mmpretrain_moco(state, own) -> Mapped:
    """mmpretrain MoCo: the backbone, and the neck as a SEEDHead's MLP."""
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


def mmpretrain_selfsup(state, own) -> Mapped:
    """A BYOL-style model into a non-BYOL teacher: the online backbone."""
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


resnet_classifier = _classifier(resnet_backbone, 'fc.')
mobilenet_v2_classifier = _classifier(mobilenet_v2_backbone,
                                      'classifier.1.')


def _network(state) -> Optional[Callable]:
    """The converter of a torchvision network's keys, if they are one."""
    if 'conv1.weight' in state or 'conv1.0.weight' in state:
        return resnet_classifier
    if 'features.0.0.weight' in state:
        return mobilenet_v2_classifier
    return None


def fair_moco(state, own) -> Mapped:
    """FAIR MoCo: the query encoder, its ``fc`` as the head."""
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


def robustness_model(state, own) -> Mapped:
    """robustness' AttackerModel: the wrapped torchvision network."""
    net = take(state, 'model.')
    if net and all(k.startswith('model.') for k in net):
        net = take(net, 'model.')  # KDEP's custom-forward wrapper
    inner = _network(net)
    mapped = inner(net, own) if inner else Mapped(dict(net), '')
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


def simdis_model(state, own) -> Mapped:
    """SimDis' run: ``student`` (online) and ``student_ema`` (target) into
    a BYOL teacher, or the online backbone into any other."""
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
