from .curves import find_scalars, plot_curves, read_curves

__all__ = ['find_scalars', 'plot_curves', 'read_curves']
