"""Power Temperature Scaling (KDEP, Sec. 3.3, Eq. 2).

After the SVD projection the teacher's channels have standard deviations of
very different magnitudes (a large "Std Ratio"), and the L2 loss is
dominated by the widest channels (Theorem 1). PTS is one global,
non-decreasing function applied elementwise that shrinks that ratio while
keeping the sign and the order of values::

    PTS(f) = sign(f) * |f / T| ** (1 / n)        (Eq. 2; T=0.1, n=3)

It enlarges small values and compresses large ones. The official code applies
it to the projected teacher feature only; so does :class:`KDEP`.
"""
import torch
import torch.nn as nn
from torch import Tensor

from kd_plugins.registry import MODELS


def power_temperature_scaling(f: Tensor, T: float = 0.1, n: float = 3.0
                              ) -> Tensor:
    """``sign(f) * |f / T| ** (1 / n)``, elementwise (any shape)."""
    return torch.sign(f) * (f / T).abs().pow(1.0 / n)


@MODELS.register_module()
class PTS(nn.Module):
    """Thin module over :func:`power_temperature_scaling`.

    Args:
        T: temperature, divides the feature first (paper: 0.1).
        n: root taken of the magnitude (paper: 3).
    """

    def __init__(self, T: float = 0.1, n: float = 3.0) -> None:
        super().__init__()
        if not T > 0:
            raise ValueError(f'PTS temperature T must be > 0, got {T}; the '
                             'paper uses T=0.1.')
        if not n > 0:
            raise ValueError(f'PTS exponent n must be > 0, got {n}; the '
                             'paper uses n=3 (n=1 is plain scaling by 1/T).')
        self.T = float(T)
        self.n = float(n)

    def forward(self, f: Tensor) -> Tensor:
        return power_temperature_scaling(f, self.T, self.n)

    def extra_repr(self) -> str:
        return f'T={self.T}, n={self.n}'
