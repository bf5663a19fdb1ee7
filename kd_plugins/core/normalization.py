"""The normalisation bridge: a teacher's input from the student's batch.

A teacher trained with other input statistics than the student's (timm's
or CLIP's mean and std, RGB where the student reads BGR) declares them in
its config the way mmpretrain classifiers declare theirs, and the one
teacher path (:func:`~kd_plugins.core.teacher.build_frozen_teacher`) reads
them::

    teacher=dict(type='ImageClassifier', ...,
                 data_preprocessor=dict(mean=[127.5] * 3, std=[127.5] * 3,
                                        to_rgb=True))

mmpretrain's ``ClsDataPreprocessor`` and ``SelfSupDataPreprocessor`` and
mmengine's ``ImgDataPreprocessor`` all compute, per image and channel c,
after an optional reversal of the channel order (BGR <-> RGB)::

    x[c] = (raw[c] - mean[c]) / std[c]

so the teacher's tensor is an affine map of the student's, per channel
(p = the channel reversal when exactly one side reverses, else identity)::

    raw[c] = x_s[c] * std_s[c] + mean_s[c]                 (student order)
    x_t[c] = (raw[p(c)] - mean_t[c]) / std_t[c]
           = x_s[p(c)] * a[c] + b[c]
    a[c] = std_s[p(c)] / std_t[c]
    b[c] = (mean_s[p(c)] - mean_t[c]) / std_t[c]

One batch, one multiply-add: no second data pipeline. The map is exact up
to float32 rounding for batches of equally sized images (what
classification pipelines give). Batch augmentations of the student's
preprocessor (Mixup, CutMix) mix images with weights that sum to one, which
commutes with an affine map, so the teacher sees the same mixed images in
its own normalisation. Not covered: a preprocessor that pads images of
different sizes pads in its own normalised space, so a padded border would
differ.
"""
import math
from dataclasses import dataclass
from numbers import Real
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

#: keys of a data preprocessor config that the bridge reads
READ_KEYS = ('mean', 'std', 'to_rgb', 'bgr_to_rgb', 'rgb_to_bgr')
#: keys that do not change the images (labels, type, transfer, padding of
#: equally sized images)
IGNORED_KEYS = ('type', 'num_classes', 'to_onehot', 'non_blocking',
                'pad_value')
#: keys that change the images, accepted at their no-op values (mmpretrain's
#: classifiers write ``batch_augments=None`` into the config they build from)
NO_OP_VALUES = dict(batch_augments=(None, {}), pad_size_divisor=(1, ))


@dataclass(frozen=True)
class Normalization:
    """One side's input normalisation, as its data preprocessor applies it.

    Attributes:
        mean / std: per channel (1 or 3 values), in the order the network
            reads, on the scale of the loaded images (0-255).
        reverse: whether the channel order of the loaded images is
            reversed (``to_rgb`` / ``bgr_to_rgb`` / ``rgb_to_bgr``).
    """

    mean: Tuple[float, ...] = (0.0, )
    std: Tuple[float, ...] = (1.0, )
    reverse: bool = False


def _stats(values, name: str, owner: str) -> Tuple[float, ...]:
    if isinstance(values, (str, bytes)) or \
            not isinstance(values, Sequence) or len(values) not in (1, 3):
        raise ValueError(
            f'{owner} data_preprocessor: {name} must be a list of 1 or 3 '
            f'numbers (one per channel, on the 0-255 scale of the loaded '
            f'images), got {values!r}.')
    if not all(isinstance(v, Real) and math.isfinite(v) for v in values):
        raise ValueError(f'{owner} data_preprocessor: {name} must hold '
                         f'finite numbers, got {list(values)!r}.')
    # float32, as the preprocessor's buffers hold them
    return tuple(torch.tensor(values, dtype=torch.float32).tolist())


def normalization_from_config(cfg: dict, owner: str = 'teacher'
                              ) -> Normalization:
    """Read and check a data preprocessor config (``mean``, ``std``,
    ``to_rgb`` / ``bgr_to_rgb`` / ``rgb_to_bgr``)."""
    if not isinstance(cfg, dict):
        raise ValueError(
            f'{owner} data_preprocessor must be a dict such as '
            "dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, "
            f'57.375], to_rgb=True), got {cfg!r}.')
    unknown = sorted(
        k for k in cfg if k not in READ_KEYS and k not in IGNORED_KEYS
        and not (k in NO_OP_VALUES and cfg[k] in NO_OP_VALUES[k]))
    if unknown:
        raise ValueError(
            f'{owner} data_preprocessor: {unknown} cannot be bridged. The '
            "teacher's input is derived from the student's batch by a "
            'per-channel affine map, so only its normalisation '
            f'({", ".join(READ_KEYS)}) may differ; batch augmentations, '
            "padding and resizing are the student's preprocessor's alone.")
    if ('mean' in cfg) != ('std' in cfg) or \
            (cfg.get('mean') is None) != (cfg.get('std') is None):
        raise ValueError(f'{owner} data_preprocessor: set both mean and std '
                         '(or neither, for no normalisation).')
    if cfg.get('bgr_to_rgb') and cfg.get('rgb_to_bgr'):
        raise ValueError(f'{owner} data_preprocessor: bgr_to_rgb and '
                         'rgb_to_bgr cannot both be True.')
    reverse = bool(cfg.get('to_rgb') or cfg.get('bgr_to_rgb')
                   or cfg.get('rgb_to_bgr'))
    if cfg.get('mean') is None:
        return Normalization(reverse=reverse)
    mean = _stats(cfg['mean'], 'mean', owner)
    std = _stats(cfg['std'], 'std', owner)
    if any(s <= 0 for s in std):
        raise ValueError(f'{owner} data_preprocessor: every std must be '
                         f'positive, got {list(cfg["std"])!r}.')
    return Normalization(mean, std, reverse)


def normalization_of(preprocessor: nn.Module) -> Normalization:
    """The normalisation a built data preprocessor applies (mmpretrain's
    ``ClsDataPreprocessor`` / ``SelfSupDataPreprocessor`` or mmengine's
    ``ImgDataPreprocessor``)."""
    reverse = getattr(preprocessor, '_channel_conversion', None)
    if reverse is None:  # ClsDataPreprocessor keeps the argument
        reverse = getattr(preprocessor, 'to_rgb', False)
    if not getattr(preprocessor, '_enable_normalize', False):
        return Normalization(reverse=bool(reverse))
    return Normalization(
        tuple(preprocessor.mean.detach().float().flatten().tolist()),
        tuple(preprocessor.std.detach().float().flatten().tolist()),
        bool(reverse))


def affine_map(student: Normalization, teacher: Normalization
               ) -> Tuple[bool, Tensor, Tensor]:
    """(reverse channels first?, a, b) of ``x_t = x_s[p] * a + b``, in
    float64; a and b hold 1 or 3 values."""
    n = max(len(student.mean), len(teacher.mean))

    def full(values):
        return torch.tensor(values, dtype=torch.float64).expand(n)

    mean_s, std_s = full(student.mean), full(student.std)
    mean_t, std_t = full(teacher.mean), full(teacher.std)
    reverse = student.reverse != teacher.reverse
    if reverse:
        mean_s, std_s = mean_s.flip(0), std_s.flip(0)  # p(c)
    return reverse, std_s / std_t, (mean_s - mean_t) / std_t


class NormalizationBridge(nn.Module):
    """Map the student's normalised batch to the teacher's normalisation.

    Args:
        student / teacher: the two sides' :class:`Normalization`.

    ``forward(x)``: N x C x H x W (the student's batch) -> the same shape
    in the teacher's normalisation. The scale and shift are buffers, so
    they follow the teacher's device and dtype moves.
    """

    def __init__(self, student: Normalization,
                 teacher: Normalization) -> None:
        super().__init__()
        self.student, self.teacher = student, teacher
        self.reverse, a, b = affine_map(student, teacher)
        self.register_buffer('scale', a.float().view(1, -1, 1, 1), False)
        self.register_buffer('shift', b.float().view(1, -1, 1, 1), False)

    @property
    def is_identity(self) -> bool:
        return not self.reverse and bool((self.scale == 1).all()) and \
            bool((self.shift == 0).all())

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or self.scale.shape[1] not in (1, x.shape[1]):
            raise ValueError(
                f'the normalisation bridge maps N x C x H x W image batches '
                f'with C = {self.scale.shape[1]} (or any C for 1-value '
                f'statistics); got {tuple(x.shape)}.')
        if self.reverse and x.shape[1] == 3:
            x = x.flip(1)  # BGR <-> RGB, as the preprocessors reverse
        return x * self.scale + self.shift  # N x C x H x W

    def extra_repr(self) -> str:
        return (f'student={self.student}, teacher={self.teacher}, '
                f'reverse={self.reverse}')


def build_bridge(student_preprocessor: Optional[nn.Module],
                 teacher_cfg: Optional[dict]
                 ) -> Optional[NormalizationBridge]:
    """The bridge from the student's built preprocessor to the teacher's
    declared normalisation; None when the teacher declares none or the
    map is the identity (the teacher then gets the student's batch
    itself, bit for bit)."""
    if teacher_cfg is None:
        return None
    teacher = normalization_from_config(teacher_cfg)
    if student_preprocessor is None:
        raise ValueError(
            'the teacher declares its own data_preprocessor, so its input '
            "is derived from the student's normalised batch; pass the "
            "student's built data preprocessor (student_preprocessor=) to "
            'build_frozen_teacher.')
    bridge = NormalizationBridge(normalization_of(student_preprocessor),
                                 teacher)
    return None if bridge.is_identity else bridge
