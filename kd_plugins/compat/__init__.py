"""Run-time workarounds for the tested stack, each in one named module.

- :mod:`.checkpoint_loading`: mmengine 0.10.7 + torch >= 2.6 cannot resume or
  ``load_from`` its own checkpoints (``weights_only`` default).
- :mod:`.cpu_distributed`: mmengine's ``pytorch`` launcher and DDP wrapper
  assume CUDA; on a machine without a GPU we use gloo instead, and end a
  gloo run before Python's shutdown (where gloo can abort the process).

Install-time workarounds live in ``tools/setup_env.sh``.
"""
from .checkpoint_loading import allow_mmengine_checkpoints
from .cpu_distributed import finish_distributed_run, setup_cpu_distributed

__all__ = ['allow_mmengine_checkpoints', 'finish_distributed_run',
           'setup_cpu_distributed']
