"""The workarounds in kd_plugins.compat, checked against the real stack."""
import os
import pickle
import subprocess
import sys

import pytest
import torch
from helpers import ROOT
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

import kd_plugins  # noqa: F401  (applies the checkpoint allow-list)
from kd_plugins.compat import finish_distributed_run, setup_cpu_distributed


def test_mmengine_checkpoint_content_loads_weights_only(tmp_path):
    """A checkpoint shaped like mmengine's (message hub with HistoryBuffer and
    numpy values) loads with torch's default weights_only=True."""
    import numpy as np
    buf = HistoryBuffer()
    buf.update(1.5)
    buf.update(np.float64(2.0))
    ckpt = dict(
        meta=dict(epoch=1, iter=3, seed=np.int64(7),
                  dataset_meta=dict(classes=('0', '1'))),
        state_dict=dict(w=torch.ones(2)),
        message_hub=dict(log_scalars={'train/loss': buf},
                         runtime_info=dict(iter=3, max_iters=np.int32(6),
                                           lr=np.array([0.1, 0.2]))))
    path = str(tmp_path / 'c.pth')
    torch.save(ckpt, path)
    unsafe = set(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    assert 'builtins.getattr' in unsafe  # why plain torch.load refuses it
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)  # default weights_only=True on torch >= 2.6
    loaded = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert loaded['message_hub']['log_scalars']['train/loss'].current() == 2.0
    # the allow-list was scoped to that one load
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)


def test_foreign_classes_are_still_refused(tmp_path):
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(x=Config(dict(a=1))), path)
    with pytest.raises(pickle.UnpicklingError, match='Config'):
        CheckpointLoader.load_checkpoint(path, map_location='cpu')


def test_cpu_distributed_is_a_no_op_without_the_pytorch_launcher():
    cfg = Config(dict(model=dict()))
    assert setup_cpu_distributed(cfg, 'none') is False
    assert 'model_wrapper_cfg' not in cfg


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_cpu_distributed_needs_torchrun_environment(monkeypatch):
    monkeypatch.delenv('RANK', raising=False)
    monkeypatch.delenv('WORLD_SIZE', raising=False)
    with pytest.raises(RuntimeError, match='dist_train.sh'):
        setup_cpu_distributed(Config(dict()), 'pytorch')



def test_finish_distributed_run_is_a_no_op_without_a_group():
    finish_distributed_run()  # returns: nothing to end


@pytest.mark.slow
def test_finish_distributed_run_ends_a_gloo_run_cleanly(tmp_path):
    """tools/train.py, test.py and downstream_train.py end with it: the group
    is destroyed, logs and streams are flushed, and the process leaves with
    status 0 before Python's shutdown (where gloo can abort it)."""
    script = tmp_path / 'run.py'
    script.write_text(f"""
import logging, sys
import torch.distributed as dist
from kd_plugins.compat import finish_distributed_run
log = logging.getLogger('run')
log.addHandler(logging.FileHandler({str(tmp_path / 'run.log')!r}))
log.warning('logged before the end')
dist.init_process_group('gloo', init_method='file://{tmp_path}/store',
                        rank=0, world_size=1)
sys.stdout.write('printed before the end')  # no newline: still buffered
finish_distributed_run()
print('not reached')
""")
    proc = subprocess.run([sys.executable, str(script)], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stdout
    assert 'printed before the end' in proc.stdout
    assert 'not reached' not in proc.stdout
    assert (tmp_path / 'run.log').read_text() == 'logged before the end\n'
