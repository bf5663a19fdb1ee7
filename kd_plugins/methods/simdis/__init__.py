"""SimDis: BYOL-based self-supervised distillation, offline and online
(Gu et al.)."""
from .base import SimDisBase
from .ema_hook import EMATargetHook
from .loss import NormalizedMSELoss, normalized_mse
from .simdis import SimDis
from .simdis_online import SimDisOnline
from .views import (
                    PRESETS,
                    SIMDIS_OFF,
                    SIMDIS_ON,
                    SIMDIS_ON_7V,
                    VIEWS,
                    parse_targets,
)

__all__ = ['SimDisBase', 'SimDis', 'SimDisOnline', 'EMATargetHook',
           'NormalizedMSELoss', 'normalized_mse', 'VIEWS', 'PRESETS',
           'SIMDIS_OFF', 'SIMDIS_ON', 'SIMDIS_ON_7V', 'parse_targets']
