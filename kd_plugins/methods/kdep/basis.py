"""KDEP's SVD basis of the teacher feature: streaming statistics and file.

The official code stacks the pooled pre-ReLU teacher features of the whole
training set into X (N x D), then ``U, S, V = torch.svd(X - mean)`` and keeps
``mean`` and ``V``. Holding X is O(N D) memory (about 1 GB for 10% of ImageNet,
128k x 2048 at float32, and it grows with N). Here the same basis
comes from streamed second moments, O(D^2) whatever N is:

    n, s = sum_i (x_i - c), M = sum_i (x_i - c)(x_i - c)^T      (float64)
    mean = c + s / n
    C = M - s s^T / n        = (X - mean)^T (X - mean)          (D x D)
    C = V diag(lambda) V^T   (eigh, lambda sorted decreasing)

``c`` is the mean of the first batch, a shift that keeps ``M - s s^T / n``
free of catastrophic cancellation when the mean is large. Relation to the
official output: ``V`` is the same matrix of right singular vectors (each
column up to its sign) and ``S_official = sqrt(lambda)``. The sign of each
column is fixed here so that its largest-magnitude entry is positive (the
official ``torch.svd`` sign is arbitrary); any fixed sign teaches the same.

The file written by :func:`save_basis` is a plain dict (loadable with
``torch.load(..., weights_only=True)``) bound to one teacher by the sha256
of its weights as loaded
(:func:`~kd_plugins.core.checkpoint.weights_sha256`), not of a file: the
same weights named by URL, in a legacy file or in a zip copy are the same
teacher. :func:`load_basis` refuses a basis of other weights.
"""
import os
import os.path as osp
import pickle
from typing import Dict, Optional

import torch
from torch import Tensor

FORMAT = 'kd_plugins.kdep_basis.v2'
#: v1 bound the basis to the checkpoint file's bytes
OLD_FORMATS = ('kd_plugins.kdep_basis.v1', )
KEYS = ('format', 'mean', 'V', 'singular_values', 'std', 'proj_std',
        'num_images', 'feature_dim', 'layer', 'teacher_config',
        'teacher_weights_sha256', 'teacher_ckpt')


class StreamingBasis:
    """Accumulate features batch by batch, then solve for the SVD basis.

    Args:
        dim: D, the feature dimension.
    """

    def __init__(self, dim: int) -> None:
        if dim <= 0:
            raise ValueError(f'feature dim must be positive, got {dim}')
        self.dim = dim
        self.n = 0
        self.shift: Optional[Tensor] = None  # D, c
        self.s = torch.zeros(dim, dtype=torch.float64)  # D
        self.M = torch.zeros(dim, dim, dtype=torch.float64)  # D x D

    def update(self, x: Tensor) -> None:
        """Add a batch of features x (B x D)."""
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f'StreamingBasis expects B x {self.dim} '
                             f'features, got {tuple(x.shape)}')
        x = x.detach().to('cpu', torch.float64)  # B x D
        if self.shift is None:
            self.shift = x.mean(dim=0)  # D
        xc = x - self.shift  # B x D
        self.n += x.shape[0]
        self.s += xc.sum(dim=0)  # D
        self.M.addmm_(xc.T, xc)  # M += xc^T xc in place (D x D), no temp

    def solve(self) -> Dict[str, Tensor]:
        """mean (D), V (D x D, columns by decreasing singular value),
        singular values S (D), per-channel std of the features (D) and of
        the projected features (D), all float64."""
        if self.n < 2:
            raise ValueError(f'the SVD basis needs at least 2 features, got '
                             f'{self.n}; check that the dataset is not empty.')
        d = self.s / self.n  # D, mean - c
        mean = self.shift + d  # D
        C = self.M - torch.outer(self.s, self.s) / self.n  # D x D scatter
        C = (C + C.T) / 2  # exact symmetry for eigh
        lam, V = torch.linalg.eigh(C)  # ascending
        lam, V = lam.flip(0).clamp_min(0), V.flip(1)  # D, D x D decreasing
        # Fix each column's sign: largest-magnitude entry positive.
        idx = V.abs().argmax(dim=0)  # D
        signs = torch.sign(V[idx, torch.arange(self.dim)])  # D
        V = V * torch.where(signs == 0, torch.ones_like(signs), signs)
        return dict(
            mean=mean,
            V=V,
            singular_values=lam.sqrt(),  # = S of torch.svd(X - mean)
            std=(C.diagonal().clamp_min(0) / (self.n - 1)).sqrt(),  # D
            proj_std=(lam / (self.n - 1)).sqrt(),  # D, std of (x-mean) @ V
        )


def _check_fingerprint(value) -> str:
    if not (isinstance(value, str) and len(value) == 64
            and all(c in '0123456789abcdef' for c in value)):
        raise ValueError(
            'the KDEP basis is bound to the teacher\'s weights: pass their '
            'weights_sha256(teacher.state_dict()) (64 hex digits), got '
            f'{value!r}')
    return value


def save_basis(path: str, stats: Dict[str, Tensor], num_images: int,
               layer: str, teacher_config: str, teacher_weights: str,
               teacher_ckpt: str = '') -> None:
    """Write the basis with the record binding it to the teacher, atomically
    (a temporary file renamed into place).

    Args:
        teacher_weights: ``weights_sha256`` of the teacher as loaded.
        teacher_ckpt: where those weights came from (for messages).
    """
    record = dict(format=FORMAT, num_images=int(num_images),
                  feature_dim=int(stats['mean'].numel()), layer=str(layer),
                  teacher_config=str(teacher_config),
                  teacher_weights_sha256=_check_fingerprint(teacher_weights),
                  teacher_ckpt=str(teacher_ckpt))
    record.update({k: stats[k].clone() for k in
                   ('mean', 'V', 'singular_values', 'std', 'proj_std')})
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    torch.save(record, tmp)
    os.replace(tmp, path)


def load_basis(path: str, teacher_weights: Optional[str] = None) -> dict:
    """Read a basis file; with ``teacher_weights`` (``weights_sha256`` of
    the teacher as loaded), check it was computed from those weights and
    raise ``ValueError`` otherwise."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'KDEP basis {path!r} does not exist. Compute it first with '
            '`python tools/kdep_svd.py CONFIG --out ' + path + '`.')
    try:
        record = torch.load(path, map_location='cpu', weights_only=True)
    except (RuntimeError, EOFError, KeyError, OSError, ValueError,
            pickle.UnpicklingError) as e:
        raise ValueError(
            f'cannot read KDEP basis {path!r} ({type(e).__name__}: {e}); '
            'the file is damaged or not a basis: recompute it with '
            f'`python tools/kdep_svd.py CONFIG --out {path}`.') from e
    if isinstance(record, dict) and record.get('format') in OLD_FORMATS:
        raise ValueError(
            f'KDEP basis {path!r} was written by an earlier version, which '
            "bound it to the teacher checkpoint's file bytes; recompute it "
            '(one teacher pass) with `python tools/kdep_svd.py CONFIG --out '
            f'{path}`.')
    if not isinstance(record, dict) or record.get('format') != FORMAT:
        raise ValueError(
            f'{path!r} is not a KDEP basis written by tools/kdep_svd.py '
            f'(format {FORMAT!r}); recompute it with tools/kdep_svd.py.')
    missing = [k for k in KEYS if k not in record]
    if missing:
        raise ValueError(f'KDEP basis {path!r} lacks {missing}; recompute '
                         'it with tools/kdep_svd.py.')
    if teacher_weights is not None:
        got = _check_fingerprint(teacher_weights)
        if got != record['teacher_weights_sha256']:
            raise ValueError(
                f'KDEP basis {path!r} was computed with another teacher: '
                f'the weights it was made from (sha256 '
                f'{record["teacher_weights_sha256"][:12]}..., from '
                f'{record["teacher_ckpt"]!r}) are not the teacher\'s (sha256 '
                f'{got[:12]}...). Recompute the basis for this teacher with '
                f'`python tools/kdep_svd.py CONFIG --out {path}`, or point '
                'model.teacher_ckpt at the weights the basis was made with.')
    return record
