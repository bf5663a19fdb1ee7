"""Backbone key names across mmpretrain, mmdet and mmseg, and their mapping.

The same network is stored under different names by the three toolboxes:

======================  ==========================  ==========================
part                    mmpretrain                  mmdet / mmseg
======================  ==========================  ==========================
ResNet deep stem        ``stem.{i}.conv.*``,        ``stem.{3i}.*`` (conv),
(ResNetV1c/V1d)         ``stem.{i}.bn.*``           ``stem.{3i+1}.*`` (BN)
MobileNetV2 block       ``layerX.Y.conv.{i}.*``     ``expand_conv`` (absent
                        (0, 1, 2 or 0, 1)           when expand_ratio is 1),
                                                    ``depthwise_conv``,
                                                    ``linear_conv``
plain ResNet stem,      identical                   identical
residual stages
======================  ==========================  ==========================

Every key is first given a *canonical* name (mmpretrain's ConvModule names for
the deep stem, mmdet's role names for MobileNetV2 blocks); two state dicts are
matched through their canonical names, so any direction works without a
table per pair. What cannot be mapped (a 7x7 stem into a deep stem, a
ResNet-50 into a ResNet-18, a MobileNetV2 into a ResNet) is reported by
:func:`map_state_to_target` with a message that names both sides.
"""
import re
from collections import defaultdict
from typing import Dict, List, Mapping, Tuple

from torch import Tensor

from kd_plugins.core.checkpoint import listing

_MAX_LISTED = 12

_SEQ_STEM = re.compile(r'^stem\.(\d+)\.(.+)$')
_MBV2_BLOCK = re.compile(r'^(layer\d+\.\d+)\.conv\.(\d+)\.(.+)$')
_RESNET_BLOCK = re.compile(r'^layer(\d+)\.(\d+)\.')

# (blocks per stage, bottleneck) -> depth, for mmpretrain/mmdet/mmseg ResNets
_RESNET_DEPTHS = {
    ((2, 2, 2, 2), False): 18, ((3, 4, 6, 3), False): 34,
    ((3, 4, 6, 3), True): 50, ((3, 4, 23, 3), True): 101,
    ((3, 8, 36, 3), True): 152,
}
_CIFAR_DEPTHS = {((3, 3, 3), False): 20, ((5, 5, 5), False): 32,
                 ((7, 7, 7), False): 44, ((9, 9, 9), False): 56,
                 ((18, 18, 18), False): 110}


def canonical_names(keys) -> Dict[str, str]:
    """key -> canonical key, for the keys of one backbone's state dict."""
    keys = list(keys)
    out = {k: k for k in keys}
    # mmdet/mmseg deep stem: nn.Sequential(conv, BN, ReLU) x 3 -> ConvModules
    if any(_SEQ_STEM.match(k) and '.conv.' not in k and '.bn.' not in k
           for k in keys if k.startswith('stem.')):
        for k in keys:
            m = _SEQ_STEM.match(k)
            if m:
                idx, rest = int(m.group(1)), m.group(2)
                role = 'conv' if idx % 3 == 0 else 'bn'
                out[k] = f'stem.{idx // 3}.{role}.{rest}'
    # mmpretrain MobileNetV2 blocks: conv.{i} -> role names, by block length
    convs_per_block = defaultdict(set)
    for k in keys:
        m = _MBV2_BLOCK.match(k)
        if m:
            convs_per_block[m.group(1)].add(int(m.group(2)))
    for k in keys:
        m = _MBV2_BLOCK.match(k)
        if m and m.group(3).startswith(('conv.', 'bn.')):
            n = len(convs_per_block[m.group(1)])
            roles = (['expand_conv'] if n == 3 else []) + [
                'depthwise_conv', 'linear_conv']
            idx = int(m.group(2))
            if idx < len(roles):
                out[k] = f'{m.group(1)}.{roles[idx]}.{m.group(3)}'
    return out


def inspect_backbone(state: Mapping[str, Tensor]) -> Dict:
    """Family, depth and widths of a backbone state dict, read off its keys.

    Returns a dict with ``family`` (``'ResNet'``, ``'ResNetV1c'``,
    ``'ResNetV1d'``, ``'ResNet_CIFAR'``, ``'MobileNetV2'`` or ``'unknown'``),
    ``depth`` (None when not a standard one), ``stem_channels``,
    ``base_channels`` and ``text``, a short description for messages, e.g.
    ``'ResNetV1c-50 (deep stem: three 3x3 convs)'``.
    """
    canon = canonical_names(state)
    by_canon = {c: k for k, c in canon.items()}
    keys = set(by_canon)
    info = dict(family='unknown', depth=None, stem_channels=None,
                base_channels=None)
    if 'conv1.conv.weight' in keys and any(
            '.depthwise_conv.' in k for k in keys):
        stem = state[by_canon['conv1.conv.weight']].shape[0]
        info.update(family='MobileNetV2', stem_channels=stem,
                    text=f'MobileNetV2 (stem {stem} channels)')
        return info
    blocks = defaultdict(set)
    bottleneck = False
    for k in keys:
        m = _RESNET_BLOCK.match(k)
        if m:
            blocks[int(m.group(1))].add(int(m.group(2)))
            bottleneck |= '.conv3.' in k
    if not blocks:
        info['text'] = f'unknown backbone (keys: {listing(keys, 6)})'
        return info
    counts = tuple(len(blocks[i]) for i in sorted(blocks))
    deep = 'stem.0.conv.weight' in keys
    avg_down = any(re.search(r'\.downsample\.2\.', k) for k in keys)
    stem_w = state.get('conv1.weight')
    if deep:
        family = 'ResNetV1d' if avg_down else 'ResNetV1c'
        stem = 'deep stem: three 3x3 convs'
        depth = _RESNET_DEPTHS.get((counts, bottleneck))
        stem_channels = state[by_canon['stem.2.conv.weight']].shape[0] \
            if 'stem.2.conv.weight' in by_canon else None
    elif stem_w is not None and stem_w.dim() == 4 and stem_w.shape[-1] == 3:
        family, stem = 'ResNet_CIFAR', '3x3 stem, no max-pool'
        depth = _CIFAR_DEPTHS.get((counts, bottleneck),
                                  _RESNET_DEPTHS.get((counts, bottleneck)))
        stem_channels = stem_w.shape[0]
    else:
        family, stem = 'ResNet', '7x7 stem'
        depth = _RESNET_DEPTHS.get((counts, bottleneck))
        stem_channels = stem_w.shape[0] if stem_w is not None else None
    first = state.get('layer1.0.conv1.weight')
    base = None
    if first is not None:
        # Bottleneck: conv1 gives base channels (its expansion is 4 at conv3)
        base = first.shape[0]
    kind = 'Bottleneck' if bottleneck else 'BasicBlock'
    name = f'{family}-{depth}' if depth else \
        f'{family} ({kind} x {"-".join(map(str, counts))})'
    info.update(family=family, depth=depth, stem_channels=stem_channels,
                base_channels=base, text=f'{name} ({stem})')
    return info


def describe(state: Mapping[str, Tensor]) -> str:
    """A short description of a backbone state dict's architecture."""
    return inspect_backbone(state)['text']


def _stem_hint(src: str, dst: str) -> str:
    deep = ('ResNetV1c', 'ResNetV1d')
    if src.startswith('ResNet-') and dst.startswith(deep):
        return (' The student has a plain 7x7 stem but the target has a '
                "deep stem (mmseg's ResNetV1c): set model.backbone.type="
                "'ResNet' in the downstream config (mmseg's and mmdet's "
                'plain ResNet take the same depth, strides and dilations), '
                'or distil a ResNetV1c student.')
    if src.startswith(deep) and dst.startswith('ResNet-'):
        return (' The student has a deep stem (ResNetV1c) but the target a '
                "plain 7x7 stem: use type='ResNetV1c' in mmseg, or "
                "type='ResNet', deep_stem=True in mmdet.")
    if src.startswith('ResNetV1c') and dst.startswith('ResNetV1d'):
        return (' ResNetV1d down-samples with an average pool (avg_down=True)'
                ', a different network: set avg_down=False on the target.')
    return ''


def map_state_to_target(source: Mapping[str, Tensor],
                        target: Mapping[str, Tensor],
                        target_name: str = 'the target backbone'
                        ) -> Tuple[Dict[str, Tensor], List[str]]:
    """Rename ``source`` tensors to ``target``'s key names.

    Args:
        source: the student backbone's state dict (keys relative to it).
        target: the state dict of the downstream backbone as built by its
            toolbox (only names and shapes are used).
        target_name: how messages name the target (e.g. its config).

    Returns:
        ``(mapped, dropped)``: a state dict with exactly ``target``'s keys,
        and the source keys that the target has no place for (for example
        MobileNetV2's last 1x1 conv when the target does not build it).

    Raises:
        ValueError: when a target tensor has no source tensor or the shapes
            differ: the pair cannot be mapped. The message names both
            architectures and lists the keys.
    """
    src_canon = canonical_names(source)
    dst_canon = canonical_names(target)
    by_canon = {c: k for k, c in src_canon.items()}
    mapped, missing, wrong = {}, [], []
    for key, canon in dst_canon.items():
        src_key = by_canon.get(canon)
        if src_key is None:
            if key.endswith('num_batches_tracked'):
                continue  # BN bookkeeping, not a weight
            missing.append(key)
            continue
        value = source[src_key]
        if tuple(value.shape) != tuple(target[key].shape):
            wrong.append(f'{key}: student {tuple(value.shape)} vs target '
                         f'{tuple(target[key].shape)}')
            continue
        mapped[key] = value
    used = {by_canon[dst_canon[k]] for k in mapped}
    dropped = sorted(k for k in source if k not in used)
    # Blocks beyond the target's in a stage the target has: another depth
    # (a ResNet-34 would otherwise fill a ResNet-18 and lose blocks silently).
    # Whole stages the target does not build (num_stages=3) may be dropped.
    target_stages = {c.split('.')[0] for c in dst_canon.values()
                     if _RESNET_BLOCK.match(c)}
    extra_blocks = [k for k in dropped
                    if _RESNET_BLOCK.match(src_canon[k])
                    and src_canon[k].split('.')[0] in target_stages]
    if missing or wrong or extra_blocks:
        src_desc, dst_desc = describe(source), describe(target)
        parts = [f'the distilled backbone ({src_desc}) cannot be loaded into '
                 f'{target_name} ({dst_desc}).']
        if missing:
            parts.append(f'{len(missing)} target tensors have no source: '
                         f'{listing(missing, _MAX_LISTED)}.')
        if wrong:
            parts.append(f'{len(wrong)} tensors differ in shape: '
                         f'{listing(wrong, 6)}.')
        if extra_blocks:
            parts.append(f'the student has {len(extra_blocks)} tensors in '
                         'blocks the target stages do not have (another '
                         f'depth): {listing(extra_blocks, _MAX_LISTED)}.')
        elif dropped:
            parts.append(f'{len(dropped)} student tensors have no place in '
                         f'the target: {listing(dropped, _MAX_LISTED)}.')
        hint = _stem_hint(src_desc, dst_desc)
        parts.append(hint.strip() or (
            'Export a student of the same family and depth as the '
            "downstream backbone, or change the downstream config's "
            'model.backbone (type, depth, widths) to the student\'s.'))
        raise ValueError(' '.join(parts))
    return mapped, dropped
