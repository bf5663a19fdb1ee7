from .base import BaseDistiller, build_data_preprocessor
from .sskd import HEAD, SSKD
from .seed import SEED
from .ssld import SSLD

__all__ = ['BaseDistiller', 'SSLD', 'SSKD', 'HEAD', 'SEED',
           'build_data_preprocessor']
