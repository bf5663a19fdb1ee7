"""kd_plugins: knowledge distillation as backbone pre-training for OpenMMLab.

Importing the package registers every component in the ``kd_plugins``
registries (children of mmpretrain's) and makes every checkpoint mmengine
loads, local or by URL, load weights-only, mmengine's own included (see
:mod:`kd_plugins.compat`).
"""
from mmpretrain.utils import register_all_modules

from .compat import register_checkpoint_loaders

register_checkpoint_loaders()
# Our registries are children of mmpretrain's; a lookup that falls through to
# a parent does not import the parent's modules, so register them up front.
register_all_modules(init_default_scope=False)

from . import core, datasets, downstream, methods  # noqa: E402,F401  (registration)

__version__ = '0.1.0'
