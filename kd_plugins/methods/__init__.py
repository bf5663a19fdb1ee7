"""The five methods, one folder each. A method folder holds its algorithm,
losses, hooks, datasets and method-only helpers, and uses only
:mod:`kd_plugins.core` (and :mod:`kd_plugins.datasets`); no method imports
another. Adding a sixth method means adding one folder here and one import
line below (see the README's "How it is built")."""
from . import kdep, seed, simdis, sskd, ssld  # noqa: F401  (registration)
