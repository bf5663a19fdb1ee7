from .mixed_dataset import LabeledUnlabeledDataset
from .unlabeled_folder import UnlabeledImageFolder

__all__ = ['LabeledUnlabeledDataset', 'UnlabeledImageFolder']
