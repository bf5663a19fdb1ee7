"""SSLD: soft-label-only distillation over labeled and teacher-mined
unlabeled images (Cui et al.)."""
from .jsd_loss import (
           JSDivLoss,
           jensen_shannon,
           soft_cross_entropy,
           symmetric_kl,
)
from .miner import MiningResult, mine_unlabeled
from .mixed_dataset import LabeledUnlabeledDataset
from .ssld import SSLD
from .thumbnail_ncc import max_correlation, thumbnail, thumbnail_file

__all__ = ['SSLD', 'JSDivLoss', 'jensen_shannon', 'symmetric_kl',
           'soft_cross_entropy', 'LabeledUnlabeledDataset', 'mine_unlabeled',
           'MiningResult', 'thumbnail', 'thumbnail_file', 'max_correlation']
