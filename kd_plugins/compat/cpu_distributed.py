"""Distributed training with the ``pytorch`` launcher on a machine with no GPU.

Why: mmengine 0.10.7's ``init_dist('pytorch')`` calls
``torch.cuda.set_device`` (fails with "Found no NVIDIA driver"), and the
Runner wraps the model in DDP with ``device_ids=[local_rank]``, which DDP
rejects for CPU modules. Fix: create the process group with gloo ourselves
before the Runner is built (the Runner then skips ``init_dist``) and ask for
``device_ids=None``. With CUDA available this does nothing, so the GPU path
stays exactly mmengine's.
"""
import os

import torch
import torch.distributed as dist
from mmengine.config import Config


def setup_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Prepare ``cfg`` for CPU-only multi-process training.

    Returns True when the gloo process group was created here.
    """
    if launcher != 'pytorch' or torch.cuda.is_available():
        return False
    if 'RANK' not in os.environ or 'WORLD_SIZE' not in os.environ:
        raise RuntimeError(
            '--launcher pytorch needs RANK and WORLD_SIZE in the environment; '
            'start the job with tools/dist_train.sh (torchrun).')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    # Without model_wrapper_cfg the Runner would read the top-level
    # find_unused_parameters; keep honouring it.
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    env_cfg = cfg.get('env_cfg') or {}
    dist_cfg = env_cfg.get('dist_cfg') or {}
    dist_cfg['backend'] = 'gloo'
    env_cfg['dist_cfg'] = dist_cfg
    cfg.env_cfg = env_cfg
    return True
