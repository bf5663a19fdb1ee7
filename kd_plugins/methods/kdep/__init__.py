"""KDEP: penultimate-feature distillation with non-parametric SVD alignment
and Power Temperature Scaling (He et al.)."""
from .alternatives import (
                           ChannelInterpolation,
                           ChannelSelection,
                           ScaleNorm,
                           StdMatch,
)
from .basis import StreamingBasis, load_basis, save_basis
from .kdep import KDEP
from .pre_relu import (
                       PreReLUTap,
                       ViTFeatureTap,
                       backbone_of,
                       global_avg_pool,
                       penultimate_tap,
)
from .pts import PTS, power_temperature_scaling
from .svd_projection import SVDProjection, svd_project

__all__ = ['KDEP', 'PreReLUTap', 'ViTFeatureTap', 'penultimate_tap',
           'backbone_of', 'global_avg_pool', 'PTS',
           'power_temperature_scaling', 'SVDProjection', 'svd_project',
           'StreamingBasis', 'load_basis', 'save_basis',
           'ChannelSelection', 'ChannelInterpolation', 'ScaleNorm',
           'StdMatch']
