"""Run a backbone only up to the end of one stage, through its own forward.

SSKD's stage-i step must cost only the prefix up to stage i on both sides.
Rather than re-implementing each backbone's ``forward``, we call it and stop
it: a forward hook on the stage's last block records the block's output and
raises :class:`StopForward`, which :meth:`StagePrefix.run` catches. The
backbone's own code runs unchanged up to that point, and nothing after it
runs at all.
"""
from typing import Dict, List

import torch.nn as nn
from torch import Tensor

from kd_plugins.core.feature_tap import resolve_module
from kd_plugins.methods.sskd.partition import Stage


class StopForward(Exception):
    """Raised by a stage hook to end a forward early (never escapes run)."""


class StagePrefix:
    """Stage features of ``backbone``, computing only what is asked for.

    Args:
        backbone: the network whose forward is used.
        stages: its partition (see ``partition_backbone``).
        owner: word used in error messages.
    """

    def __init__(self, backbone: nn.Module, stages: List[Stage],
                 owner: str = 'backbone') -> None:
        self.backbone = backbone
        self.stages = stages
        self._outputs: Dict[int, Tensor] = {}
        self._stop_at = -1
        self._handles = []
        for i, stage in enumerate(stages):
            module = resolve_module(backbone, stage.last, owner)
            self._handles.append(module.register_forward_hook(
                lambda m, a, out, i=i: self._hook(i, out)))

    def _hook(self, index: int, output) -> None:
        if self._stop_at < 0:
            return  # a plain forward elsewhere: hooks stay silent
        self._outputs[index] = output
        if index == self._stop_at:
            raise StopForward

    def run(self, inputs: Tensor, upto: int) -> List[Tensor]:
        """Features of stages 0..upto (inclusive); later stages never run."""
        if not 0 <= upto < len(self.stages):
            raise IndexError(f'stage {upto} out of range 0..'
                             f'{len(self.stages) - 1}')
        self._outputs = {}
        self._stop_at = upto
        try:
            self.backbone(inputs)
        except StopForward:
            pass
        finally:
            self._stop_at = -1
        outputs, self._outputs = self._outputs, {}
        return [outputs[i] for i in range(upto + 1)]

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
