"""Run-time workarounds for the tested stack, each in one named module.

- :mod:`.checkpoint_loading`: every checkpoint mmengine loads (local paths,
  URLs, ``torchvision://``, ``open-mmlab://``, ``mmcls://``) is loaded
  weights-only, in any of torch's formats or safetensors
  (:mod:`.checkpoint_formats` reads them), mmengine's own checkpoints
  included (torch >= 2.6's ``weights_only`` default refuses them).
- :mod:`.cpu_distributed`: mmengine's ``pytorch`` launcher and DDP wrapper
  assume CUDA; on a machine without a GPU we use gloo instead, and end a
  gloo run before Python's shutdown (where gloo can abort the process).

Install-time workarounds live in ``tools/setup_env.sh``.
"""
from .checkpoint_loading import (
    CheckpointFileError,
    UnsafeCheckpointError,
    register_checkpoint_loaders,
)
from .cpu_distributed import finish_distributed_run, setup_cpu_distributed

__all__ = ['CheckpointFileError', 'UnsafeCheckpointError',
           'finish_distributed_run', 'register_checkpoint_loaders',
           'setup_cpu_distributed']
