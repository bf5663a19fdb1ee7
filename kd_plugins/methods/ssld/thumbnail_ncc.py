"""Near-duplicate measure of the SSLD miner: thumbnail correlation.

SSLD removes gallery images that are near-duplicates of the validation set
(the paper matches SIFT keypoints). We compare tiny grayscale thumbnails
instead: each image becomes a 16 x 16 grayscale thumbnail, flattened,
mean-subtracted and scaled to unit norm, and two images are near-duplicates
when the dot product of their vectors (the Pearson correlation of the
thumbnails, in [-1, 1]) is at least a threshold (default 0.995).

Why this measure:

- it catches the leaks that matter for a fair validation score, the same
  picture re-encoded, resized, re-compressed, brightened or given more
  contrast (correlation is invariant to affine intensity changes);
- it is cheap and exact: 256 numbers per image, and the comparison is one
  matrix product, streamed over the gallery so memory holds only the
  validation thumbnails;
- it needs no second model and does not depend on the teacher.

Why 16 x 16 and the default 0.995: measured on the embedded digits, see
the SSLD page (configs/ssld/README.md, "Mining the unlabeled set").

Limitation, stated plainly: strong crops, flips, rotations and large overlays
lower the correlation; SIFT would still match those.
"""

import numpy as np

THUMB = 16


def thumbnail(image, size: int = THUMB) -> np.ndarray:
    """Zero-mean, unit-norm grayscale thumbnail of a PIL image (size**2,)."""
    from PIL import Image
    gray = image.convert('L').resize((size, size), Image.BILINEAR)
    v = np.asarray(gray, dtype=np.float32).ravel()
    v = v - v.mean()
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v  # a flat image matches nothing


def thumbnail_file(path: str, size: int = THUMB) -> np.ndarray:
    from PIL import Image
    with Image.open(path) as img:
        return thumbnail(img, size)


def max_correlation(queries: np.ndarray, references: np.ndarray,
                    chunk: int = 4096) -> np.ndarray:
    """Highest correlation of each query thumbnail with any reference.

    queries: Q x d, references: R x d, both from :func:`thumbnail`.
    Returns Q values in [-1, 1] (-1 when there is no reference).
    """
    out = np.full(len(queries), -1.0, dtype=np.float32)
    if len(references) == 0:
        return out
    ref_t = np.ascontiguousarray(references.T)  # d x R
    for s in range(0, len(queries), chunk):
        out[s:s + chunk] = (queries[s:s + chunk] @ ref_t).max(axis=1)  # Q x R
    return out
