"""SVDProjection: KDEP's parameter-free teacher-side alignment (Sec. 3.2).

The teacher's pooled pre-ReLU feature f_t (N x D_t) is centred with the
training-set mean and projected on the first D_s right singular vectors of
the centred teacher features (official code: ``(f - mean) @ V[:, :D_s]``)::

    f_t' = (f_t - mean) @ V[:, :D_s]          (N x D_s)

The basis comes from ``tools/kdep_svd.py`` (see :mod:`.basis`). It is data,
not a parameter: held in non-persistent buffers, so it follows device moves
but never enters the optimizer or the checkpoints.
"""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

from kd_plugins.core.connectors.base import BaseConnector
from kd_plugins.methods.kdep.basis import load_basis
from kd_plugins.registry import MODELS


def svd_project(f: Tensor, mean: Tensor, V_d: Tensor) -> Tensor:
    """(f - mean) @ V_d: N x D_t -> N x D_s."""
    return (f - mean) @ V_d  # N x D_s


@MODELS.register_module()
class SVDProjection(BaseConnector):
    """Project the teacher feature on its top-D_s SVD directions.

    Args:
        student_channels: D_s, the number of directions kept.
        teacher_channels: D_t, must equal the basis' feature dim.
        basis: path of the file written by ``tools/kdep_svd.py``.
        teacher_weights: when given (``weights_sha256`` of the teacher as
            loaded), the basis must have been computed from those weights;
            :class:`KDEP` passes its teacher's.
    """

    def __init__(self, student_channels: int, teacher_channels: int,
                 basis: str, teacher_weights: Optional[str] = None) -> None:
        super().__init__(student_channels, teacher_channels)
        record = load_basis(basis, teacher_weights)
        self.basis_file = basis
        self.basis_dim = int(record['feature_dim'])
        self.num_images = int(record['num_images'])
        self._check_dims(self.student_channels, self.teacher_channels)
        self.register_buffer('mean', record['mean'].float(),
                             persistent=False)  # D_t
        self.register_buffer(
            'V_d', record['V'][:, :student_channels].float().contiguous(),
            persistent=False)  # D_t x D_s
        # std of each kept projected channel, for std-matching transforms
        self.register_buffer(
            'proj_std', record['proj_std'][:student_channels].float(),
            persistent=False)  # D_s

    def _check_dims(self, student_channels: int, teacher_channels: int,
                    where: str = '') -> None:
        if teacher_channels != self.basis_dim:
            raise ValueError(
                f'SVDProjection{where}: the teacher feature has '
                f'{teacher_channels} channels but the basis '
                f'{self.basis_file!r} was computed on {self.basis_dim}-d '
                'features; recompute it with tools/kdep_svd.py for this '
                'teacher.')
        if student_channels > self.basis_dim:
            raise ValueError(
                f'SVDProjection{where}: student wider than the basis: the '
                f'student feature has {student_channels} channels but the '
                f'basis {self.basis_file!r} has only {self.basis_dim} '
                'directions (the teacher feature dim). Use a teacher with at '
                'least as many channels, or a parametric alignment such as '
                "align=dict(type='ConvConnector').")

    def check(self, student_shape: Sequence[int],
              teacher_shape: Sequence[int], where: str = '') -> None:
        self._check_dims(student_shape[0], teacher_shape[0], where)
        super().check(student_shape, teacher_shape, where)

    def forward(self, student: Tensor, teacher: Tensor
                ) -> Tuple[Tensor, Tensor]:
        # student: N x D_s, teacher: N x D_t (pooled features)
        with torch.no_grad():
            projected = svd_project(teacher, self.mean, self.V_d)  # N x D_s
        return student, projected

    def extra_repr(self) -> str:
        return (super().extra_repr() + f', basis={self.basis_file!r}, '
                f'num_images={self.num_images}')
