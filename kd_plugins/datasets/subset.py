"""A fraction of an image-classification annotation file (KDEP's 10% ImageNet).

KDEP (Sec. 4.1) pre-trains on "10% ImageNet-1K data, a total of 128k images
randomly sampled from the original 1.28 million images". The official code
ships no list. :func:`sample_annotation` draws one reproducibly from
mmpretrain's annotation format (``relative/path.JPEG label`` per line, the
``meta/train.txt`` of ``ImageNet``), either uniformly over all images (the
paper's wording, the default) or per class (every class keeps
``round(fraction * n_c)`` images, at least one).
"""
import os
import os.path as osp
import random
from collections import defaultdict
from typing import Dict, List, Sequence, Tuple

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif')


def read_annotation(path: str) -> List[Tuple[str, str]]:
    """(relative path, label) pairs of an mmpretrain annotation file."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'annotation file {path!r} does not exist')
    pairs = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            parts = line.rsplit(' ', 1)
            if len(parts) != 2 or not parts[1].lstrip('-').isdigit():
                raise ValueError(
                    f'{path}:{number}: expected "relative/path label", got '
                    f'{line!r}')
            pairs.append((parts[0], parts[1]))
    if not pairs:
        raise ValueError(f'annotation file {path!r} lists no image')
    return pairs


def scan_class_folders(folder: str) -> List[Tuple[str, str]]:
    """(relative path, label) pairs of ``folder/<class>/<image>``; labels
    are the sorted class folders' indices, as mmpretrain assigns them."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'image folder {folder!r} does not exist')
    classes = sorted(d for d in os.listdir(folder)
                     if osp.isdir(osp.join(folder, d)))
    pairs = []
    for label, name in enumerate(classes):
        for root, _, files in sorted(os.walk(osp.join(folder, name))):
            for file in sorted(files):
                if file.lower().endswith(IMG_EXTENSIONS):
                    rel = osp.relpath(osp.join(root, file), folder)
                    pairs.append((rel.replace(os.sep, '/'), str(label)))
    if not pairs:
        raise ValueError(
            f'no image under {folder!r}: expected class folders holding '
            f'{"/".join(IMG_EXTENSIONS)} files')
    return pairs


def sample_annotation(pairs: Sequence[Tuple[str, str]], fraction: float,
                      seed: int = 0, per_class: bool = False
                      ) -> List[Tuple[str, str]]:
    """A reproducible random ``fraction`` of ``pairs``, in their order.

    Args:
        pairs: (relative path, label) pairs.
        fraction: in (0, 1].
        seed: the sample is a function of (pairs, fraction, seed) only.
        per_class: sample within each class (each keeps at least one
            image) instead of uniformly over all images.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f'fraction must be in (0, 1], got {fraction}')
    if not pairs:
        raise ValueError('nothing to sample from: the annotation is empty')
    rng = random.Random(seed)
    if per_class:
        by_class: Dict[str, List[int]] = defaultdict(list)
        for i, (_, label) in enumerate(pairs):
            by_class[label].append(i)
        keep = []
        for label in sorted(by_class, key=int):
            index = by_class[label]
            k = max(1, round(fraction * len(index)))
            keep += rng.sample(index, k)
    else:
        k = max(1, round(fraction * len(pairs)))
        keep = rng.sample(range(len(pairs)), k)
    return [pairs[i] for i in sorted(keep)]


def write_annotation(pairs: Sequence[Tuple[str, str]], out: str) -> None:
    """Write ``pairs`` atomically (never a half-written file)."""
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    tmp = out + '.tmp'
    with open(tmp, 'w') as f:
        f.writelines(f'{path} {label}\n' for path, label in pairs)
    os.replace(tmp, out)
