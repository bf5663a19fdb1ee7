from .ssld_miner import MiningResult, mine_unlabeled
from .thumbnail_ncc import max_correlation, thumbnail, thumbnail_file

__all__ = ['thumbnail', 'thumbnail_file', 'max_correlation',
           'mine_unlabeled', 'MiningResult']
