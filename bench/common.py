"""Shared pieces of the benchmark scripts (run them as bench/<name>.py)."""
import time


def resnet(depth: int, num_classes: int = 1000) -> dict:
    """An mmpretrain ImageNet ResNet classifier config (BasicBlock depths)."""
    return dict(type='ImageClassifier',
                backbone=dict(type='ResNet', depth=depth, out_indices=(3, )),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=num_classes,
                          in_channels=512, loss=dict(type='CrossEntropyLoss')))


def timed(fn) -> float:
    """Wall time of one call, in seconds."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def interleaved_rounds(runs: dict, rounds: int, digits: int = 3) -> dict:
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
        print(f'round {r + 1}/{rounds}: ' + ', '.join(
            f'{k} {v[-1]:.{digits}f}s' for k, v in times.items()), flush=True)
    return times
