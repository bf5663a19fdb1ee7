from .ema_hook import EMATargetHook
from .sskd_stage_hook import SSKDStageHook

__all__ = ['EMATargetHook', 'SSKDStageHook']
