"""The one teacher path, checked once for every offline method.

Every offline algorithm (SSLD, SSKD, KDEP, SEED, SimDis-Off) gets its frozen
teacher from ``build_frozen_teacher`` (one strict load per build) and holds
it outside its module tree: not in ``parameters()``, ``state_dict()``, the
optimizer mmengine builds, or DDP; moved by ``model.to()``. That the teacher
stays bit-identical through training steps is checked for every algorithm by
the contract test (tests/core/test_contract.py).
"""
import os

import pytest
import torch
import torch.distributed as dist
from helpers import free_port
from helpers.kdep import kdep_cfg
from helpers.seed import contract_seed_cfgs
from helpers.simdis import simdis_cfg
from helpers.sskd import sskd_cfg
from helpers.ssld import ssld_cfg
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import build_optim_wrapper

import kd_plugins.core.teacher as teacher_path
from kd_plugins.core import FrozenTeacher, TeacherHolder
from kd_plugins.registry import MODELS

CONFIGS = {
    'SSLD': ssld_cfg,
    'SSKD': sskd_cfg,
    'KDEP': kdep_cfg,
    'SEED': lambda tmp: contract_seed_cfgs(tmp)[0],
    'SimDis': simdis_cfg,
}


@pytest.fixture(params=sorted(CONFIGS))
def built(request, tmp_path, monkeypatch):
    """(name, model, number of strict teacher loads during its build)."""
    cfg = CONFIGS[request.param](tmp_path)
    loads = []
    real = teacher_path.load_teacher_weights

    def counted(*args, **kwargs):
        loads.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(teacher_path, 'load_teacher_weights', counted)
    model = MODELS.build(cfg)
    model.init_weights()
    return request.param, model, loads


def teacher_ids(model):
    ids = {id(p) for p in model.teacher.parameters()}
    assert ids, 'the teacher has parameters to protect'
    return ids


def test_one_builder_one_holder(built):
    name, model, loads = built
    assert len(loads) == 1, f'{name}: teacher loaded {len(loads)} times'
    assert isinstance(model, TeacherHolder), name
    assert type(model.teacher) is FrozenTeacher, name
    assert all(not p.requires_grad for p in model.teacher.parameters())


def test_teacher_outside_parameters_state_and_optimizer(built):
    name, model, _ = built
    ids = teacher_ids(model)
    assert not ids & {id(p) for p in model.parameters()}, name
    assert not any(k.startswith(('teacher.', '_teacher.'))
                   for k in model.state_dict()), name
    optim = build_optim_wrapper(model, dict(
        type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1)))
    in_optim = {id(p) for g in optim.optimizer.param_groups
                for p in g['params']}
    assert in_optim and not ids & in_optim, name


def test_teacher_moves_with_the_model(built):
    name, model, _ = built
    model.double()
    assert all(p.dtype == torch.float64 for p in model.teacher.parameters())
    assert all(b.dtype == torch.float64 for b in model.teacher.buffers()
               if b.is_floating_point()), name


def test_teacher_outside_ddp(built):
    name, model, _ = built
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_port()))
    dist.init_process_group('gloo', rank=0, world_size=1)
    try:
        ddp = MMDistributedDataParallel(module=model, device_ids=None,
                                        find_unused_parameters=True)
        ids = teacher_ids(model)
        assert not ids & {id(p) for p in ddp.parameters()}, name
        assert not any(k.startswith(('module.teacher.', 'module._teacher.'))
                       for k in ddp.state_dict()), name
    finally:
        dist.destroy_process_group()
