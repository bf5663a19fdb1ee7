"""Teacher analysis for KDEP: is this teacher worth distilling from?

KDEP (Sec. 3.3-3.4, 4.3) gives two diagnostics, computed here on the pooled
pre-ReLU teacher feature of a labeled sample (the paper's figures: 10 random
classes x 100 images):

- **Std Ratio**: the largest over the smallest per-channel standard
  deviation. Normal CNN features have a small ratio; after SVD it grows by
  10x or more, which leaves the minor channels under-fitted by the L2 loss.
  PTS (and SN/SM) bring it back down. Reported for the raw feature, after
  the SVD projection to D_s, and after SVD + PTS / SN / SM.
- **Compactness**: same-class features lying tightly together while classes
  lie far apart. The paper finds compact teachers (typically the ones tuned
  hardest for ImageNet accuracy) distil *worse* than diverse ones, and only
  shows t-SNE plots. Here it is a number on L2-normalised features::

      intra = mean_i ||x_i - c_{y_i}||            (c_k: class centroids)
      inter = mean_{k != l} ||c_k - c_l||
      compactness = inter / intra                   (higher: more compact)

  and a t-SNE PNG like the paper's Fig. 2/4.
"""
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from kd_plugins.methods.kdep.pts import power_temperature_scaling
from kd_plugins.methods.kdep.svd_projection import svd_project


def std_ratio(x: Tensor, eps: float = 1e-8) -> Dict[str, float]:
    """Largest / smallest per-channel std of ``x`` (N x D).

    Constant channels (std <= eps, e.g. dead units) would make the ratio
    infinite; they are left out and counted.
    """
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(f'std_ratio needs N x D features with N >= 2, got '
                         f'{tuple(x.shape)}')
    std = x.double().std(dim=0)  # D
    live = std[std > eps]
    if live.numel() == 0:
        raise ValueError('every feature channel is constant: nothing to '
                         'measure (is the teacher checkpoint loaded?)')
    return dict(std_ratio=float(live.max() / live.min()),
                max_std=float(live.max()), min_std=float(live.min()),
                constant_channels=int((std <= eps).sum()))


def compactness(x: Tensor, labels: Tensor) -> Dict[str, float]:
    """Intra-class spread, inter-class centroid distance and their ratio,
    on L2-normalised features (N x D, labels N)."""
    if x.dim() != 2 or labels.shape != (x.shape[0], ):
        raise ValueError(f'compactness needs N x D features and N labels, '
                         f'got {tuple(x.shape)} and {tuple(labels.shape)}')
    classes = labels.unique()
    if classes.numel() < 2:
        raise ValueError('compactness needs at least 2 classes, got '
                         f'{classes.tolist()}')
    z = torch.nn.functional.normalize(x.double(), dim=1)  # N x D
    centroids = torch.stack([z[labels == k].mean(0) for k in classes])  # K x D
    index = torch.searchsorted(classes, labels)  # N, class index of each
    intra = (z - centroids[index]).norm(dim=1).mean()
    dist = torch.cdist(centroids, centroids)  # K x K
    K = classes.numel()
    inter = dist.sum() / (K * (K - 1))  # mean over k != l
    return dict(intra=float(intra), inter=float(inter),
                compactness=float(inter / intra.clamp_min(1e-12)))


def feature_report(features: Tensor, labels: Tensor, basis: dict, dim: int,
                   T: float = 0.1, n: float = 3.0) -> Dict[str, dict]:
    """Std Ratio and compactness of the raw teacher feature and of the
    aligned/transformed targets a D-dimensional student would learn."""
    D_t = features.shape[1]
    if basis['V'].shape[0] != D_t:
        raise ValueError(f'the basis is {basis["V"].shape[0]}-d but the '
                         f'teacher feature is {D_t}-d')
    if not 0 < dim <= D_t:
        raise ValueError(f'dim must be in [1, {D_t}] (the teacher feature '
                         f'width), got {dim}')
    f = features.double()
    projected = svd_project(f, basis['mean'].double(),
                            basis['V'][:, :dim].double())  # N x dim
    proj_std = basis['proj_std'][:dim].double().clamp_min(1e-12)
    target_std = basis['std'].double().sort(descending=True).values[:dim]
    views = {
        'teacher (pre-ReLU)': f,
        f'SVD to {dim}': projected,
        f'SVD + PTS(T={T}, n={n:g})': power_temperature_scaling(
            projected, T, n),
        'SVD + SN': projected / proj_std,
        'SVD + SM': projected / proj_std * target_std,
    }
    report = {}
    for name, x in views.items():
        row = std_ratio(x)
        row.update(compactness(x, labels))
        report[name] = row
    return report


def format_report(report: Dict[str, dict]) -> str:
    """The report as an aligned text table."""
    head = f'{"feature":<28}{"std ratio":>12}{"compactness":>13}' \
           f'{"intra":>9}{"inter":>9}'
    lines = [head, '-' * len(head)]
    for name, r in report.items():
        lines.append(f'{name:<28}{r["std_ratio"]:>12.2f}'
                     f'{r["compactness"]:>13.3f}{r["intra"]:>9.3f}'
                     f'{r["inter"]:>9.3f}')
    return '\n'.join(lines)


def tsne_png(features: Tensor, labels: Tensor, out: str, title: str,
             class_names: Optional[Sequence[str]] = None, seed: int = 0,
             perplexity: float = 30.0) -> str:
    """A 2-D t-SNE of ``features`` coloured by class, written as a PNG."""
    try:
        from sklearn.manifold import TSNE
    except ImportError as e:  # scikit-learn comes with mlxtend in setup
        raise ImportError('the t-SNE plot needs scikit-learn: '
                          'pip install scikit-learn') from e
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    x = torch.nn.functional.normalize(features.double(), dim=1).numpy()
    perplexity = min(perplexity, max(1.0, (x.shape[0] - 1) / 3))
    xy = TSNE(n_components=2, perplexity=perplexity, init='pca',
              random_state=seed).fit_transform(x)
    y = labels.numpy()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    cmap = plt.get_cmap('tab10' if len(np.unique(y)) <= 10 else 'tab20')
    for i, k in enumerate(np.unique(y)):
        name = class_names[k] if class_names is not None and \
            k < len(class_names) else str(k)
        ax.scatter(xy[y == k, 0], xy[y == k, 1], s=6, color=cmap(i % cmap.N),
                   label=name)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    if len(np.unique(y)) <= 20:
        ax.legend(fontsize=6, markerscale=2, loc='best', frameon=False)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def sample_per_class(labels: Sequence[int], num_classes: int,
                     per_class: int, seed: int = 0) -> list:
    """Indices of ``per_class`` random images from each of ``num_classes``
    random classes (all images of a class when it has fewer)."""
    if num_classes < 2 or per_class < 1:
        raise ValueError(f'need num_classes >= 2 and per_class >= 1, got '
                         f'{num_classes} and {per_class}')
    labels = np.asarray(labels)
    present = np.unique(labels[labels >= 0])
    if present.size < 2:
        raise ValueError(f'the dataset has {present.size} labeled class(es);'
                         ' the analysis needs a labeled dataset with at '
                         'least 2 classes')
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(present, min(num_classes, present.size),
                                replace=False))
    index = []
    for k in chosen:
        members = np.flatnonzero(labels == k)
        take = min(per_class, members.size)
        index += sorted(rng.choice(members, take, replace=False).tolist())
    return index


__all__ = ['std_ratio', 'compactness', 'feature_report', 'format_report',
           'tsne_png', 'sample_per_class']
