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
