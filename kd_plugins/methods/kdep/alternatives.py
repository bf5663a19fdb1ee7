"""KDEP's other non-parametric alignments and transforms (paper Sec. 3.2-3.3,
Tables 2 and 4), for comparison with SVD + PTS.

Alignments (teacher side, no trainable parameters; ``BaseConnector``):

- ``ChannelSelection(mode='variance')``: keep the D_s teacher channels with
  the largest standard deviation over the training set (``std`` of the basis
  file); ``mode='random'``: a fixed random subset (``seed``), no file needed.
- ``ChannelInterpolation``: resample the D_t-vector to D_s entries by linear
  interpolation along the channel axis (``F.interpolate``, corners aligned).

Transforms, after ``SVDProjection`` (``forward(x)``, x: N x D_s):

- ``ScaleNorm``: divide each projected channel by its std (``proj_std``),
  the "SN" of the paper;
- ``StdMatch``: scale each projected channel's std to the top-D_s channel
  stds of the features *before* SVD (``std`` sorted, largest first), the
  paper's "SM".
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from kd_plugins.core.connectors.base import BaseConnector
from kd_plugins.methods.kdep.basis import load_basis
from kd_plugins.registry import MODELS


def select_channels(f: Tensor, index: Tensor) -> Tensor:
    return f[:, index]  # N x D_t -> N x D_s


def interpolate_channels(f: Tensor, size: int) -> Tensor:
    return F.interpolate(f[:, None, :], size=size, mode='linear',
                         align_corners=True)[:, 0]  # N x D_t -> N x size


def _narrower(student_channels: int, teacher_channels: int, name: str):
    if student_channels > teacher_channels:
        raise ValueError(
            f'{name} maps the teacher feature down to the student width, but '
            f'the student ({student_channels}) is wider than the teacher '
            f'({teacher_channels}); use a wider teacher or '
            "align=dict(type='ConvConnector').")


@MODELS.register_module()
class ChannelSelection(BaseConnector):
    """Keep D_s of the teacher's D_t channels.

    Args:
        mode: ``'variance'`` (largest std; needs ``basis``) or ``'random'``.
        basis: basis file of tools/kdep_svd.py (for ``'variance'``).
        teacher_weights: check the basis was computed from these weights
            (``weights_sha256`` of the teacher; :class:`KDEP` passes it).
        seed: generator seed of ``'random'``.
    """

    def __init__(self, student_channels: int, teacher_channels: int,
                 mode: str = 'variance', basis: Optional[str] = None,
                 teacher_weights: Optional[str] = None, seed: int = 0
                 ) -> None:
        super().__init__(student_channels, teacher_channels)
        _narrower(student_channels, teacher_channels, 'ChannelSelection')
        if mode == 'variance':
            if basis is None:
                raise ValueError(
                    "ChannelSelection(mode='variance') needs basis=PATH (the "
                    'file of tools/kdep_svd.py, for the channel stds), or use '
                    "mode='random'.")
            std = load_basis(basis, teacher_weights)['std'].float()
            if std.numel() != teacher_channels:
                raise ValueError(f'basis {basis!r} has {std.numel()} channels,'
                                 f' the teacher feature {teacher_channels}.')
            index = torch.argsort(std, descending=True)[:student_channels]
        elif mode == 'random':
            g = torch.Generator().manual_seed(seed)
            index = torch.randperm(teacher_channels, generator=g)[
                :student_channels]
        else:
            raise ValueError("ChannelSelection mode must be 'variance' or "
                             f"'random', got {mode!r}")
        self.mode = mode
        self.register_buffer('index', index.sort().values, persistent=False)

    def forward(self, student: Tensor, teacher: Tensor
                ) -> Tuple[Tensor, Tensor]:
        return student, select_channels(teacher, self.index)


@MODELS.register_module()
class ChannelInterpolation(BaseConnector):
    """Linearly resample the teacher vector from D_t to D_s channels."""

    def __init__(self, student_channels: int, teacher_channels: int) -> None:
        super().__init__(student_channels, teacher_channels)
        _narrower(student_channels, teacher_channels, 'ChannelInterpolation')

    def forward(self, student: Tensor, teacher: Tensor
                ) -> Tuple[Tensor, Tensor]:
        return student, interpolate_channels(teacher, self.student_channels)


class _StdTransform(nn.Module):
    """Per-channel scale from a basis file, sized by the input's width."""

    def __init__(self, basis: str, teacher_weights: Optional[str] = None
                 ) -> None:
        super().__init__()
        record = load_basis(basis, teacher_weights)
        self.basis = basis
        self.register_buffer('proj_std', record['proj_std'].float(),
                             persistent=False)
        self.register_buffer('std_sorted', torch.sort(
            record['std'].float(), descending=True).values, persistent=False)

    def _width(self, x: Tensor) -> int:
        d = x.shape[1]
        if x.dim() != 2 or d > self.proj_std.numel():
            raise ValueError(
                f'{type(self).__name__}: expects N x D projected features '
                f'with D <= {self.proj_std.numel()} (basis {self.basis!r}), '
                f'got {tuple(x.shape)}.')
        return d

    def extra_repr(self) -> str:
        return f'basis={self.basis!r}'


@MODELS.register_module()
class ScaleNorm(_StdTransform):
    """x / proj_std[:D]: every projected channel at unit std ("SN")."""

    def forward(self, x: Tensor) -> Tensor:
        d = self._width(x)
        return x / self.proj_std[:d].clamp(min=1e-12)


@MODELS.register_module()
class StdMatch(_StdTransform):
    """x * std_sorted[:D] / proj_std[:D]: the projected channels take the
    top-D stds of the features before SVD ("SM")."""

    def forward(self, x: Tensor) -> Tensor:
        d = self._width(x)
        return x * (self.std_sorted[:d] / self.proj_std[:d].clamp(min=1e-12))

