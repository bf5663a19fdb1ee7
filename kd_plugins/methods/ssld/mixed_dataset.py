"""LabeledUnlabeledDataset: SSLD's training set T plus the unlabeled set U.

Each epoch has ``len(T) + round(unlabeled_ratio * len(T))`` samples: all of T
and that many images of U, strided evenly through U (so a ratio below
``len(U) / len(T)`` uses an even subset, a ratio above repeats U). Shuffling is
left to the sampler, as everywhere in mmengine.

Labels of T are dropped by default (``keep_labels=False``): SSLD's loss never
uses them, and dropping makes that true by construction.
"""
from typing import Union

from mmengine.dataset import BaseDataset
from torch.utils.data import Dataset

from kd_plugins.registry import DATASETS


def _build(cfg: Union[dict, Dataset]) -> Dataset:
    return DATASETS.build(cfg) if isinstance(cfg, dict) else cfg


@DATASETS.register_module()
class LabeledUnlabeledDataset(Dataset):
    """Mix a labeled and an unlabeled dataset at a fixed ratio.

    Args:
        labeled: dataset config (or dataset) of T.
        unlabeled: dataset config (or dataset) of U.
        unlabeled_ratio: images of U per image of T in one epoch; ``None``
            uses all of U once.
        keep_labels: keep ``gt_label`` on T's samples.
    """

    def __init__(self, labeled: Union[dict, Dataset],
                 unlabeled: Union[dict, Dataset],
                 unlabeled_ratio: Union[float, None] = None,
                 keep_labels: bool = False) -> None:
        self.labeled = _build(labeled)
        self.unlabeled = _build(unlabeled)
        if len(self.labeled) == 0 or len(self.unlabeled) == 0:
            raise ValueError(
                f'LabeledUnlabeledDataset needs both parts non-empty; got '
                f'{len(self.labeled)} labeled and {len(self.unlabeled)} '
                'unlabeled samples.')
        if unlabeled_ratio is None:
            n_extra = len(self.unlabeled)
        else:
            if unlabeled_ratio < 0:
                raise ValueError(
                    f'unlabeled_ratio must be >= 0, got {unlabeled_ratio}.')
            n_extra = int(round(unlabeled_ratio * len(self.labeled)))
        self.num_unlabeled = n_extra
        self.keep_labels = keep_labels
        self.metainfo = getattr(self.labeled, 'metainfo', {})

    def __len__(self) -> int:
        return len(self.labeled) + self.num_unlabeled

    def _unlabeled_index(self, k: int) -> int:
        n_u, n_x = len(self.unlabeled), self.num_unlabeled
        if n_x <= n_u:
            return k * n_u // n_x  # an evenly strided subset of U
        return k % n_u  # U repeated

    def __getitem__(self, idx: int):
        if idx < 0:
            idx += len(self)
        if not 0 <= idx < len(self):
            raise IndexError(f'index {idx} out of range for {len(self)}')
        n_l = len(self.labeled)
        if idx < n_l:
            sample = self.labeled[idx]
            if not self.keep_labels:
                self._drop_label(sample)
            return sample
        return self.unlabeled[self._unlabeled_index(idx - n_l)]

    @staticmethod
    def _drop_label(sample) -> None:
        data_sample = sample.get('data_samples') if isinstance(sample,
                                                               dict) else None
        if data_sample is not None and 'gt_label' in data_sample:
            del data_sample.gt_label

    def full_init(self) -> None:
        for part in (self.labeled, self.unlabeled):
            if isinstance(part, BaseDataset):
                part.full_init()
