from .sskd_stage_hook import SSKDStageHook

__all__ = ['SSKDStageHook']
