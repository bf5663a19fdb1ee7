"""Shared pieces of the cost benchmark's scripts (run them as
bench/<name>.py, or all of them through bench/run_all.py); threads and
child processes are in bench/process.py, shared with the effectiveness
benchmark.

Device: CUDA when available, else the CPU; the same code runs on both
(``timed`` synchronises the GPU around each call).

Timing: ``interleaved_rounds`` times every run once per round in
alternating order, so slow drifts of a shared machine hit all alike; a
ratio is then reported two ways (``ratio_row``): the median of the
per-round ratios and the ratio of the fastest runs.

Peak memory (``peak_memory``): each measurement runs in a fresh child
process (``python -m bench.common memory-child ...``). On the CPU it is the
peak resident set size (Linux ``VmHWM``) over the process baseline, the RSS
after the imports, a tiny warm-up step and a garbage collection; the part
measured is built, run once (optimizer state, caches), the peak is reset to
the current RSS and the part runs twice more. On CUDA it is
``torch.cuda.max_memory_allocated`` (reset the same way) over the memory
allocated at the baseline. The child runs with a fixed glibc mmap
threshold so that freed tensors leave the RSS.
"""
import gc
import importlib
import json
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch

from bench.process import python_env, run_python, set_threads

# Measure peak memory in this process instead of a fresh one: for the smoke
# test of the suite only (the numbers then depend on what ran before).
IN_PROCESS = False
DEVICE = 'cuda' if torch.cuda.is_available() else 'cpu'


def resnet(depth: int, num_classes: int = 1000) -> dict:
    """An mmpretrain ImageNet ResNet classifier config."""
    return dict(type='ImageClassifier',
                backbone=dict(type='ResNet', depth=depth, out_indices=(3, )),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=num_classes,
                          in_channels=512 if depth < 50 else 2048,
                          loss=dict(type='CrossEntropyLoss')))


def quiet_logs() -> None:
    """Only warnings from mmengine's logger (weight-init reports)."""
    import logging

    from mmengine.logging import MMLogger
    MMLogger.get_current_instance().setLevel(logging.WARNING)


def sync() -> None:
    if DEVICE == 'cuda':
        torch.cuda.synchronize()


def timed(fn) -> float:
    """Wall time of one call, in seconds (the GPU synchronised around it)."""
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


def sgd(model: torch.nn.Module):
    """mmengine OptimWrapper over SGD (lr 0.01, momentum 0.9)."""
    from mmengine.optim import OptimWrapper
    return OptimWrapper(torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad] or
        list(model.parameters()), lr=0.01, momentum=0.9))


def save_checkpoint(cfg: dict, path: str, seed: int = 0) -> str:
    """Write an mmengine-style checkpoint of a freshly built network."""
    from kd_plugins.registry import MODELS
    torch.manual_seed(seed)
    torch.save(dict(state_dict=MODELS.build(dict(cfg)).state_dict()), path)
    return path


def interleaved_rounds(runs: dict, rounds: int, digits: int = 3,
                       verbose: bool = True) -> dict:
    """Time each of ``runs`` (name -> callable) once per round, after one
    warm-up call each, in alternating order (so slow drifts of a shared
    machine hit all alike); print each round; return name -> list of
    seconds."""
    for fn in runs.values():  # warm-up
        fn()
    times = {k: [] for k in runs}
    order = list(runs)
    for r in range(rounds):
        for k in (order if r % 2 == 0 else order[::-1]):
            times[k].append(timed(runs[k]))
        if verbose:
            print(f'round {r + 1}/{rounds}: ' + ', '.join(
                f'{k} {v[-1]:.{digits}f}s' for k, v in times.items()),
                flush=True)
    return times


# ------------------------------------------------------------------- rows
@dataclass
class Row:
    """One line of the final table: a ratio and its target (<=).

    ``median``: the median of the per-round ratios (the primary estimate,
    which decides met/MISSED); ``fastest``: the ratio of the fastest runs
    (None for a single measurement, e.g. memory); ``target``: None for a
    context row without a target."""
    name: str
    median: float
    fastest: Optional[float]
    target: Optional[float]
    note: str = ''

    @property
    def met(self) -> Optional[bool]:
        return None if self.target is None else self.median <= self.target

    def status(self) -> str:
        return {None: 'context', True: 'met', False: 'MISSED'}[self.met]


Keys = Union[str, Sequence[str]]


def _keys(k: Keys) -> List[str]:
    return [k] if isinstance(k, str) else list(k)


def ratio_row(name: str, times: Dict[str, List[float]], num: Keys,
              den: Keys, target: Optional[float], note: str = '') -> Row:
    """sum(times[num]) / sum(times[den]): median of the per-round ratios and
    ratio of the sums of the fastest runs."""
    num, den = _keys(num), _keys(den)
    rounds = len(times[num[0]])
    per_round = [sum(times[k][r] for k in num) / sum(times[k][r] for k in den)
                 for r in range(rounds)]
    fastest = sum(min(times[k]) for k in num) / \
        sum(min(times[k]) for k in den)
    return Row(name, statistics.median(per_round), fastest, target, note)


def format_table(rows: Sequence[Row]) -> str:
    width = max(len(r.name) for r in rows)
    lines = [f'{"ratio":<{width}}  {"median/round":>12}  {"fastest":>8}  '
             f'{"target":>7}  status']
    lines.append('-' * len(lines[0]))
    for r in rows:
        fast = '-' if r.fastest is None else f'{r.fastest:.3f}'
        target = '-' if r.target is None else f'<= {r.target:.2f}'
        lines.append(f'{r.name:<{width}}  {r.median:>12.3f}  {fast:>8}  '
                     f'{target:>7}  {r.status()}'
                     + (f'  ({r.note})' if r.note else ''))
    return '\n'.join(lines)


# ------------------------------------------------------------ peak memory
def reset_peak_rss() -> None:
    """Start peak-RSS accounting afresh (Linux: VmHWM := current RSS)."""
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')


def _status_mb(field: str) -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f'no {field} in /proc/self/status')


def peak_rss_mb() -> float:
    return _status_mb('VmHWM')


def rss_mb() -> float:
    return _status_mb('VmRSS')


def memory_now_mb() -> float:
    """Memory in use now: allocated CUDA memory, or the RSS on the CPU."""
    if DEVICE == 'cuda':
        return torch.cuda.memory_allocated() / 2**20
    return rss_mb()


def reset_peak() -> None:
    if DEVICE == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    else:
        reset_peak_rss()


def peak_mb() -> float:
    if DEVICE == 'cuda':
        return torch.cuda.max_memory_allocated() / 2**20
    return peak_rss_mb()


def warm_up_process() -> None:
    """A tiny training step, so that the baseline includes what the first
    step of any network loads once (kernels, the autograd engine, lazy
    registry imports)."""
    from kd_plugins.registry import MODELS
    net = MODELS.build(dict(type='ResNet_CIFAR', depth=18, stem_channels=2,
                            base_channels=2, out_indices=(3, ))).to(DEVICE)
    net(torch.randn(2, 3, 8, 8, device=DEVICE))[0].sum().backward()
    del net


def fix_mmap_threshold(threshold: int = 65536) -> None:
    """glibc: serve every allocation above ``threshold`` bytes with its own
    mmap, returned to the system when freed, so that the RSS follows the
    live tensors (the same as MALLOC_MMAP_THRESHOLD_ for a child)."""
    import ctypes
    try:
        ctypes.CDLL('libc.so.6').mallopt(-3, threshold)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def measure_part(script: str, part: str, kwargs: dict) -> dict:
    """Peak memory of ``script.setup(parts=[part], **kwargs)[part]``
    (``script``: a module name, e.g. ``bench.bench_seed_queue``) over
    the memory in use before it was built: build, one call (optimizer
    state, lazy buffers), reset the peak, two calls."""
    kwargs = dict(kwargs)
    set_threads(kwargs.pop('threads', 1))
    quiet_logs()
    module = importlib.import_module(script)
    # what earlier work left to the cycle collector is freed now, not
    # while the part runs (in-process, that drop made a peak negative)
    gc.collect()
    sync()
    baseline = memory_now_mb()
    fn = module.setup(parts=[part], **kwargs)[part]
    fn()
    sync()
    reset_peak()
    fn()
    fn()
    sync()
    return dict(peak_mb=peak_mb() - baseline, baseline_mb=baseline)


def memory_child(script: str, part: str, kwargs: dict) -> None:
    """``measure_part`` in this fresh process, after the imports and a tiny
    warm-up step; print ``PEAK {"peak_mb": ...}``."""
    importlib.import_module(script)
    warm_up_process()
    print('PEAK ' + json.dumps(measure_part(script, part, kwargs)),
          flush=True)


def run_child(args: Sequence[str], module: str = 'bench.common') -> dict:
    """Run ``python -m MODULE ARGS`` in a fresh process (glibc's mmap
    threshold fixed) and return the JSON after its ``PEAK`` line."""
    proc = run_python(['-m', module] + list(args), env=python_env(
        MALLOC_MMAP_THRESHOLD_='65536', MALLOC_TRIM_THRESHOLD_='65536'))
    lines = [x for x in proc.stdout.splitlines() if x.startswith('PEAK ')]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f'memory child {list(args)} failed '
                           f'({proc.returncode}):\n{proc.stdout[-3000:]}')
    return json.loads(lines[-1][len('PEAK '):])


def peak_memory(script: str, part: str, **kwargs) -> float:
    """Peak memory (MB over the baseline) of one part, in a fresh process."""
    if IN_PROCESS:
        fix_mmap_threshold()
        return measure_part(script, part, kwargs)['peak_mb']
    return run_child(['memory-child', script, part,
                      json.dumps(kwargs)])['peak_mb']


def memory_row(name: str, script: str, distill: str,
               references: Sequence[str], target: float = 1.10,
               verbose: bool = True, **kwargs) -> Row:
    """peak(distill) / sum(peak(reference)), each in a fresh process."""
    peaks = {p: peak_memory(script, p, **kwargs)
             for p in [distill] + list(references)}
    if verbose:
        print(f'{name}: ' + ', '.join(f'{k} {v:.0f} MB'
                                      for k, v in peaks.items()), flush=True)
    ratio = peaks[distill] / sum(peaks[p] for p in references)
    note = f'{peaks[distill]:.0f} / ' + ' + '.join(
        f'{peaks[p]:.0f}' for p in references) + ' MB'
    return Row(name, ratio, None, target, note)


# ------------------------------------------------------- data and parts
def classification_batch(size: int, batch: int) -> dict:
    """``batch`` random uint8 images with labels, in mmpretrain's packed
    form (what a data loader hands to ``train_step``)."""
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(0)
    return dict(
        inputs=[torch.randint(0, 256, (3, size, size), dtype=torch.uint8,
                              generator=g) for _ in range(batch)],
        data_samples=[DataSample().set_gt_label(i % 1000)
                      for i in range(batch)])


def fresh_inputs(data: dict, preprocessor=None) -> Callable[[], object]:
    """A callable returning the normalised inputs of a packed batch on
    DEVICE, preprocessed anew at each call: a step gets a new batch each
    time, and a tensor reused across calls would sit warm in the cache and
    make a reference part look faster than inside a step."""
    from kd_plugins.core.distiller import build_data_preprocessor
    pre = build_data_preprocessor(preprocessor).to(DEVICE)
    return lambda: pre(data, True)['inputs']


def distill_rows(label: str, script: str, times: Optional[dict],
                 memory: bool, target: float = 1.03,
                 mem_target: float = 1.10, **kwargs) -> List[Row]:
    """The two rows every method has: its step time against a student step
    plus a teacher forward (runs 'distill', 'student', 'teacher'), and the
    same for peak memory (each part in a fresh process)."""
    rows = []
    if times is not None:
        rows.append(ratio_row(f'{label} step / (student step + teacher fwd)',
                              times, 'distill', ['student', 'teacher'],
                              target))
    if memory:
        rows.append(memory_row(f'{label} peak mem / (student + teacher)',
                               script, 'distill', ['student', 'teacher'],
                               mem_target, **kwargs))
    return rows


def standalone(rows_fn, doc: str, arguments: Optional[Callable] = None,
               sizes: Optional[Callable[[list], str]] = None,
               **defaults) -> None:
    """Command line of one bench script: parse the common options, call
    ``rows_fn(workdir=..., size=..., batch=..., rounds=..., memory=...)``
    and print its table. ``arguments(parser)`` adds the script's own
    options; with ``sizes``, ``rows_fn`` also gets ``sizes=[]`` to fill
    and ``sizes(that list)`` is printed after the table."""
    import argparse
    import tempfile
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawTextHelpFormatter)
    for key, value in defaults.items():
        parser.add_argument('--' + key.replace('_', '-'), type=type(value),
                            default=value)
    if arguments is not None:
        arguments(parser)
    parser.add_argument('--threads', type=int, default=1,
                        help='CPU intra-op threads (default 1: stable on a '
                        'shared machine; 0 = torch default)')
    parser.add_argument('--no-memory', action='store_true',
                        help='skip the peak-memory rows')
    args = vars(parser.parse_args())
    set_threads(args['threads'])
    quiet_logs()
    memory = not args.pop('no_memory')
    torch.manual_seed(0)
    if sizes is not None:
        args['sizes'] = []
    with tempfile.TemporaryDirectory() as workdir:
        rows = rows_fn(workdir=workdir, memory=memory, **args)
    print(f'\n{DEVICE}, {torch.get_num_threads()} threads')
    print(format_table(rows))
    if sizes is not None:
        print('\n' + sizes(args['sizes']))


Setup = Callable[..., Dict[str, Callable[[], object]]]


if __name__ == '__main__':
    if len(sys.argv) == 5 and sys.argv[1] == 'memory-child':
        memory_child(sys.argv[2], sys.argv[3], json.loads(sys.argv[4]))
    else:
        sys.exit('usage: python -m bench.common memory-child MODULE PART '
                 'JSON_KWARGS')
