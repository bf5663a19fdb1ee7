"""Published networks' key names -> mmpretrain's, following the teacher.

Each converter takes the source keys of one network part (as its publisher
names them) and the teacher's own state dict, and returns the keys the
teacher has for them. The teacher decides the details (a plain or a deep
stem, how its ``downsample`` blocks are numbered, how many blocks each
MobileNetV2 stage has), so no architecture table is repeated here; what
does not fit is left under its source name for the strict key check to
report.

Names checked against the publishers' code:

- torchvision ``resnet.py`` (and timm's plain ``resnet*``, KDEP's and
  MadryLab robustness' copies, FAIR MoCo's ``encoder_q``, SimDis'
  ``resnet_mbn.py``): ``conv1``, ``bn1``, ``layer{1-4}.{i}.{conv,bn}{1-3}``,
  ``layer*.0.downsample.{0,1}``, ``fc``. mmpretrain's ``ResNet`` uses the
  same names under ``backbone.``.
- mmpretrain's ``TIMMBackbone`` keeps timm's names under ``timm_model.``
  (and no ``fc``); ``TimmClassifier`` keeps them as they are.
- timm ``resnet*c`` / ``resnet*d`` (``stem_type='deep'``): ``conv1`` is
  ``Sequential(conv, bn, act, conv, bn, act, conv)`` (``conv1.{0,1,3,4,6}``)
  then ``bn1``; ``avg_down`` blocks are ``Sequential(pool or Identity,
  conv, bn)`` (``downsample.{1,2}`` in every stage). mmpretrain's
  ``ResNetV1c`` / ``ResNetV1d`` have ``stem.{0,1,2}.{conv,bn}`` and add the
  pool only where the stride is 2 (``layer1.0.downsample.{0,1}``).
- torchvision ``mobilenetv2.py``: ``features.0`` (conv, bn), ``features.1``
  to ``features.17`` (``InvertedResidual``: ``conv.{i}.{0,1}`` for each
  conv-bn-ReLU6, then the linear ``conv.{n}`` and its bn ``conv.{n+1}``),
  ``features.18`` (conv, bn), ``classifier.1``. mmpretrain's
  ``MobileNetV2``: ``conv1``, ``layer{1-7}.{b}.conv.{i}.{conv,bn}``,
  ``conv2``.
"""
import re
from typing import Dict, List, Mapping, Tuple

State = Dict[str, object]


def backbone_prefix(own: Mapping) -> str:
    """Where the teacher keeps its backbone: ``'backbone.'`` for a
    classifier or a self-supervised model, ``''`` for a bare backbone."""
    return 'backbone.' if any(k.startswith('backbone.') for k in own) \
        else ''


def take(state: Mapping, prefix: str) -> State:
    """The keys under ``prefix``, with it removed."""
    return {k[len(prefix):]: v for k, v in state.items()
            if k.startswith(prefix)}


def _renumber(src: Mapping, own: Mapping, dst: str) -> Dict[str, str]:
    """Each ``downsample`` block's indices in the source -> the teacher's,
    in order (timm numbers an avg-down block ``1, 2`` in every stage,
    mmpretrain ``0, 1`` where the stride is 1)."""
    rx = re.compile(r'(layer\d+\.\d+\.downsample\.)(\d+)\.')

    def indices(keys, prefix=''):
        found: Dict[str, set] = {}
        for k in keys:
            m = k.startswith(prefix) and rx.match(k[len(prefix):])
            if m:
                found.setdefault(m.group(1), set()).add(int(m.group(2)))
        return found

    mine = indices(own, dst)
    out = {}
    for block, idx in indices(src).items():
        theirs = mine.get(block, set())
        if len(theirs) == len(idx):
            out.update({f'{block}{a}.': f'{block}{b}.'
                        for a, b in zip(sorted(idx), sorted(theirs))})
    return out


def _rename(key: str, prefixes: Mapping[str, str]) -> str:
    for a, b in prefixes.items():
        if key.startswith(a):
            return b + key[len(a):]
    return key


#: timm's deep stem (conv1.{0,1,3,4,6}, bn1) -> mmpretrain's stem.{0,1,2}
DEEP_STEM = {'conv1.0.': 'stem.0.conv.', 'conv1.1.': 'stem.0.bn.',
             'conv1.3.': 'stem.1.conv.', 'conv1.4.': 'stem.1.bn.',
             'conv1.6.': 'stem.2.conv.', 'bn1.': 'stem.2.bn.'}


def resnet_backbone(src: Mapping, own: Mapping) -> State:
    """torchvision / timm ResNet keys (no ``fc``) -> the teacher's
    mmpretrain ResNet (``ResNet``, ``ResNetV1c``, ``ResNetV1d``), or its
    ``TIMMBackbone`` (timm's own names under ``timm_model.``)."""
    dst = backbone_prefix(own)
    if any(k.startswith(f'{dst}timm_model.') for k in own):
        return {f'{dst}timm_model.{k}': v for k, v in src.items()}
    deep = 'conv1.0.weight' in src and f'{dst}stem.0.conv.weight' in own
    renames = dict(DEEP_STEM if deep else {}, **_renumber(src, own, dst))
    return {dst + _rename(k, renames): v for k, v in src.items()}


CONV_BN = {'0.': 'conv.', '1.': 'bn.'}


def _mbv2_block(src: Mapping) -> State:
    """One torchvision InvertedResidual's keys -> mmpretrain's
    (``conv.{i}.{conv,bn}``)."""
    single = sorted({int(m.group(1)) for k in src
                     for m in [re.match(r'conv\.(\d+)\.[a-z_]+$', k)] if m})
    renames = {}
    if single:  # the linear 1x1 conv, then its bn
        n = single[0]
        renames = {f'conv.{n}.': f'conv.{n}.conv.',
                   f'conv.{n + 1}.': f'conv.{n}.bn.'}
    out = {}
    for key, value in src.items():
        m = re.match(r'conv\.(\d+)\.([01]\..+)$', key)
        out[f'conv.{m.group(1)}.{_rename(m.group(2), CONV_BN)}' if m
            else _rename(key, renames)] = value
    return out


def mobilenet_v2_backbone(src: Mapping, own: Mapping) -> State:
    """torchvision MobileNetV2 ``features.*`` -> the teacher's mmpretrain
    ``MobileNetV2`` (its stages' block counts read from its own keys)."""
    dst = backbone_prefix(own)
    blocks: List[Tuple[int, int]] = sorted({
        (int(m.group(1)), int(m.group(2))) for k in own
        for m in [re.match(re.escape(dst) + r'layer(\d+)\.(\d+)\.', k)]
        if m})
    ends = {0: 'conv1', len(blocks) + 1: 'conv2'}
    out = {}
    for k in sorted({int(m.group(1)) for key in src
                     for m in [re.match(r'features\.(\d+)\.', key)] if m}):
        part = take(src, f'features.{k}.')
        if k in ends:  # conv-bn-ReLU6 of the stem and of the end
            renamed = {f'{ends[k]}.{_rename(r, CONV_BN)}': v
                       for r, v in part.items()}
        elif k <= len(blocks):
            layer, b = blocks[k - 1]
            renamed = {f'layer{layer}.{b}.{r}': v
                       for r, v in _mbv2_block(part).items()}
        else:  # more blocks than the teacher has: reported as unexpected
            renamed = {f'features.{k}.{r}': v for r, v in part.items()}
        out.update({dst + r: v for r, v in renamed.items()})
    out.update({dst + key: v for key, v in src.items()
                if not key.startswith('features.')})
    return out


def linear(src: Mapping, own: Mapping, slot: str = 'head.fc.'
           ) -> Tuple[State, bool]:
    """A linear layer's ``weight``/``bias`` into the teacher's ``slot``
    (a classifier head's ``head.fc.``); ``(..., False)`` when the teacher
    has no such layer."""
    if f'{slot}weight' not in own:
        return {}, False
    return {slot + k: v for k, v in src.items()}, True
