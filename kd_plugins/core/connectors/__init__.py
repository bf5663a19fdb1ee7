from .base import BaseConnector
from .conv_connector import ConvConnector, IdentityConnector

__all__ = ['BaseConnector', 'ConvConnector', 'IdentityConnector']
