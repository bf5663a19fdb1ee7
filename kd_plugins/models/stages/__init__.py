from .partition import Stage, partition_backbone
from .prefix import StagePrefix, StopForward

__all__ = ['Stage', 'partition_backbone', 'StagePrefix', 'StopForward']
