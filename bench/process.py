"""Threads and processes, the same for both benchmarks.

- ``set_threads``: torch's intra-op threads in this process, and
  ``OMP_NUM_THREADS`` for the processes it starts. Tiny networks on a
  shared machine run best with one thread per process: a parallel region
  waits for its slowest thread, and another job's load delays one at
  random (many times slower with more threads than free cores).
- ``python_env`` / ``run_python``: a Python child that imports this
  checkout (the repository root first on ``PYTHONPATH``), started from the
  root, its output captured or written to a log file.
- ``host_line``: the machine a result was measured on, for the tables.
"""
import os
import os.path as osp
import platform
import subprocess
import sys
from typing import Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def set_threads(threads: int) -> None:
    """``threads`` intra-op threads for torch here and for the children
    started from now on; 0 keeps torch's default (one per core)."""
    if threads > 0:
        import torch
        torch.set_num_threads(threads)
        os.environ['OMP_NUM_THREADS'] = str(threads)


def python_env(**extra: str) -> dict:
    """This environment with the repository root first on PYTHONPATH, plus
    ``extra`` variables."""
    env = dict(os.environ, **extra)
    env['PYTHONPATH'] = os.pathsep.join(
        [ROOT] + ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    return env


def run_python(args: Sequence[str], log: Optional[str] = None,
               env: Optional[dict] = None, echo: bool = False
               ) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` from the repository root with ``python_env()``
    (or ``env``). Its output (stdout and stderr together) goes to this
    console with ``echo``, else is appended to the file ``log``, else is
    returned in ``.stdout``."""
    cmd = [sys.executable] + list(args)
    env = python_env() if env is None else env
    if echo:
        return subprocess.run(cmd, cwd=ROOT, env=env,
                              stderr=subprocess.STDOUT)
    if log is None:
        return subprocess.run(cmd, cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    with open(log, 'a') as f:
        return subprocess.run(cmd, cwd=ROOT, env=env, stdout=f,
                              stderr=subprocess.STDOUT)


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else what
    ``platform`` knows."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def host_line(how: str) -> str:
    """``N CPU cores (model), torch X, HOW``."""
    import torch
    return (f'{os.cpu_count()} CPU cores ({cpu_model()}), '
            f'torch {torch.__version__}, {how}')
