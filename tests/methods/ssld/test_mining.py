"""SSLD mining: dHash near-duplicates, per-class top-k, resumable output."""
import csv
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from helpers import save_random_weights, tiny_classifier
from PIL import Image

from kd_plugins.datasets import UnlabeledImageFolder
from kd_plugins.methods.ssld import (
    max_correlation,
    mine_unlabeled,
    thumbnail,
    thumbnail_file,
)

PIPE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


def test_max_correlation_matches_naive():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(37, 256)).astype(np.float32)
    r = rng.normal(size=(11, 256)).astype(np.float32)
    naive = [max(float(np.dot(a, b)) for b in r) for a in q]
    assert max_correlation(q, r, chunk=8) == pytest.approx(naive, rel=1e-5)
    assert max_correlation(q, r[:0]).tolist() == [-1.0] * 37


def test_thumbnail_is_pearson_correlation():
    rng = np.random.default_rng(1)
    a = Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8))
    b = Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8))
    pa, pb = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    assert float(thumbnail(a) @ thumbnail(b)) == pytest.approx(
        np.corrcoef(pa, pb)[0, 1], abs=1e-5)
    flat = Image.new('L', (16, 16), 128)
    assert not thumbnail(flat).any()  # a flat image matches nothing


def test_measure_sees_through_resizing_not_other_digits(mnist_root):
    folder = osp.join(mnist_root, 'val', '3')
    a = sorted(os.listdir(folder))[0]
    img = Image.open(osp.join(folder, a))
    same = thumbnail(img)
    resized = thumbnail(img.resize((56, 56), Image.BICUBIC))
    brighter = thumbnail(img.point(lambda v: min(255, int(v * 1.1) + 5)))
    assert same @ resized >= 0.995 and same @ brighter >= 0.995
    others = [thumbnail_file(osp.join(mnist_root, 'unlabeled', n))
              for n in sorted(os.listdir(osp.join(mnist_root, 'unlabeled')))]
    assert max(float(same @ o) for o in others) < 0.995


@pytest.fixture
def gallery(tmp_path, mnist_root):
    """40 unlabeled digits plus 2 leaked validation digits (one resized)."""
    g = tmp_path / 'gallery'
    g.mkdir()
    src = osp.join(mnist_root, 'unlabeled')
    for name in sorted(os.listdir(src))[:40]:
        shutil.copy(osp.join(src, name), g / name)
    val_dir = osp.join(mnist_root, 'val', '5')
    v0, v1 = sorted(os.listdir(val_dir))[:2]
    shutil.copy(osp.join(val_dir, v0), g / 'leak_a.png')
    Image.open(osp.join(val_dir, v1)).resize((32, 32)).save(g / 'leak_b.png')
    return str(g)


def test_mine_drops_leaks_keeps_topk_and_resumes(tmp_path, mnist_root,
                                                 gallery, capsys):
    teacher = tiny_classifier(8)
    ckpt = save_random_weights(teacher, str(tmp_path / 't.pth'))
    out = str(tmp_path / 'mined' / 'list.txt')
    # a top-level config data_preprocessor names no type: that must work
    kwargs = dict(teacher=teacher, teacher_ckpt=ckpt, pipeline=PIPE,
                  data_preprocessor=dict(mean=[33.3] * 3, std=[78.6] * 3),
                  gallery=gallery,
                  val=osp.join(mnist_root, 'val'), out=out, topk=3,
                  batch_size=16, num_workers=0)
    result = mine_unlabeled(**kwargs)
    assert result.num_gallery == 42 and result.num_duplicates == 2
    lines = open(out).read().split()
    assert 'leak_a.png' not in lines and 'leak_b.png' not in lines
    assert len(lines) == result.num_kept == sum(result.per_class.values())
    assert all(n <= 3 for n in result.per_class.values())
    rows = list(csv.DictReader(open(result.table_file)))
    by_class = {}
    for r in rows:
        by_class.setdefault(r['predicted_class'], []).append(
            float(r['confidence']))
    for confs in by_class.values():  # most confident first, within a class
        assert confs == sorted(confs, reverse=True)
    # the list is a valid ann_file for training
    ds = UnlabeledImageFolder(data_root=gallery, ann_file=out, pipeline=PIPE)
    assert len(ds) == len(lines)

    capsys.readouterr()
    again = mine_unlabeled(**kwargs)
    assert 'teacher predictions' not in capsys.readouterr().out  # all cached
    assert open(out).read().split() == lines
    assert again.per_class == result.per_class


def test_mine_empty_gallery(tmp_path, mnist_root):
    (tmp_path / 'empty').mkdir()
    teacher = tiny_classifier(8)
    ckpt = save_random_weights(teacher, str(tmp_path / 't.pth'))
    out = tmp_path / 'list.txt'
    with pytest.raises(ValueError, match='holds no image'):
        mine_unlabeled(teacher, ckpt, PIPE, None, str(tmp_path / 'empty'),
                       osp.join(mnist_root, 'val'), str(out), topk=2)
    assert not out.exists()
