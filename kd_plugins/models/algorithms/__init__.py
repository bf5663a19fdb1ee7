from .base import BaseDistiller, build_data_preprocessor
from .sskd import HEAD, SSKD
from .ssld import SSLD

__all__ = ['BaseDistiller', 'SSLD', 'SSKD', 'HEAD',
           'build_data_preprocessor']
