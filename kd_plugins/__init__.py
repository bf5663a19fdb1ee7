"""kd_plugins: knowledge distillation as backbone pre-training for OpenMMLab.

Importing the package registers every component in the ``kd_plugins``
registries (children of mmpretrain's) and makes torch >= 2.6 able to load the
checkpoints mmengine writes (see :mod:`kd_plugins.compat`).
"""
from .compat import allow_mmengine_checkpoints

allow_mmengine_checkpoints()

from . import datasets, models  # noqa: E402,F401  (registers components)

__version__ = '0.1.0'
