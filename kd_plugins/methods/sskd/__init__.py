"""SSKD: stage-by-stage feature mimicking, then the head on labels
(Gao et al.)."""
from .partition import Stage, partition_backbone
from .prefix import StagePrefix, StopForward
from .sskd import HEAD, SSKD
from .stage_hook import SSKDStageHook

__all__ = ['SSKD', 'HEAD', 'SSKDStageHook', 'Stage', 'partition_backbone',
           'StagePrefix', 'StopForward']
