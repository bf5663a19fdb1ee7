"""Teacher-cache runs: a shipped MNIST-5k config on the small split, with
random teacher files, and its cache written in-process."""
import os.path as osp

import torch
from mmengine.config import Config

from . import ROOT, save_random_weights

CONFIGS = dict(
    SSLD='configs/ssld/ssld_r18w8_r18w16_mnist5k.py',
    KDEP='configs/kdep/kdep_r18w8_r18w16_mnist5k.py',
    SEED='configs/seed/seed_r18w8_mocov2r18w16_mnist5k.py',
    SimDis='configs/simdis/simdis_off_r18w8_mnist5k.py')


def small_config(config: str, root: str, work_dir: str, iters: int = 6,
                 batch: int = 8, **model) -> Config:
    """``config`` on the small split at ``root``: ``iters`` steps of
    ``batch`` images in the main process, no validation, no checkpoints,
    the model overrides ``model``."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.work_dir = work_dir
    loader = cfg.train_dataloader
    loader.batch_size = batch
    loader.num_workers = 0
    loader.persistent_workers = False

    def point(ds):  # every dataset config under the loader at ``root``
        if isinstance(ds, dict):
            if 'data_root' in ds:
                ds['data_root'] = root
            for v in ds.values():
                point(v)
    point(loader.dataset)
    cfg.model.update(model)
    cfg.train_cfg.max_iters = iters
    return cfg


def sharpen(ckpt: str, scale: float = 30.0) -> str:
    """Scale a random classifier's last layer, so that its softmax is far
    from uniform (a random network's is nearly flat)."""
    state = torch.load(ckpt)
    for k in state['state_dict']:
        if k.startswith('head.fc.'):
            state['state_dict'][k] = state['state_dict'][k] * scale
    torch.save(state, ckpt)
    return ckpt


def method_setup(method: str, tmp, root: str, iters: int = 6) -> Config:
    """The method's embedded config on the small split with a random
    teacher file (and, for KDEP, a basis of it; for SEED a 32-row
    queue)."""
    cfg = Config.fromfile(osp.join(ROOT, CONFIGS[method]))
    ckpt = str(tmp / f'{method}_teacher.pth')
    extra = {}
    if method == 'KDEP':
        from .kdep import kdep_basis
    if method == 'SEED':
        from .seed import moco_checkpoint
        moco_checkpoint(ckpt, width=16, out=128)
        extra['queue'] = dict(type='SEEDQueue', K=32, dim=128)
    else:
        save_random_weights(cfg.model.teacher, ckpt)
    if method == 'SSLD':
        sharpen(ckpt)
    if method == 'KDEP':
        extra['align'] = dict(type='SVDProjection', basis=kdep_basis(
            tmp, cfg.model.teacher, ckpt, n=200, size=28, seed=0))
    return small_config(CONFIGS[method], root, str(tmp / f'{method}_wd'),
                        iters=iters, teacher_ckpt=ckpt, **extra)


def files_of(folder: str) -> dict:
    """Relative path -> bytes of every file under ``folder``."""
    import os
    out = {}
    for dirpath, _, names in os.walk(folder):
        for name in names:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, folder)] = f.read()
    return out
