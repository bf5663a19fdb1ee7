from .base import BaseDistiller
from .ssld import SSLD

__all__ = ['BaseDistiller', 'SSLD']
