"""Data shared by several methods: unlabeled image folders, the embedded
MNIST-5k digits and the class-balanced subset tool."""
from .unlabeled_folder import UnlabeledImageFolder

__all__ = ['UnlabeledImageFolder']
