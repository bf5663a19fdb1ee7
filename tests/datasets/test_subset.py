"""kd_plugins.datasets.subset (the library of tools/make_subset.py):
reproducible random fractions of an annotation list."""
import os

import pytest
from helpers import PY, run_tool

from kd_plugins.datasets.subset import (
    read_annotation,
    sample_annotation,
    scan_class_folders,
    write_annotation,
)

PAIRS = [(f'c{c}/img{i}.JPEG', str(c)) for c in range(4)
         for i in range(10 * (c + 1))]  # 10, 20, 30, 40 images


def test_uniform_fraction_is_reproducible_and_ordered():
    a = sample_annotation(PAIRS, 0.1, seed=3)
    assert len(a) == 10 and a == sample_annotation(PAIRS, 0.1, seed=3)
    assert a != sample_annotation(PAIRS, 0.1, seed=4)
    assert a == sorted(a, key=PAIRS.index)  # original order kept
    assert set(a) <= set(PAIRS) and len(set(a)) == len(a)
    assert sample_annotation(PAIRS, 1.0) == PAIRS


def test_per_class_fraction_keeps_every_class():
    b = sample_annotation(PAIRS, 0.1, seed=0, per_class=True)
    counts = [sum(label == str(c) for _, label in b) for c in range(4)]
    assert counts == [1, 2, 3, 4]
    tiny = sample_annotation(PAIRS, 0.01, per_class=True)
    assert sorted({label for _, label in tiny}) == ['0', '1', '2', '3']


def test_bad_inputs(tmp_path):
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValueError, match='fraction must be in'):
            sample_annotation(PAIRS, bad)
    with pytest.raises(ValueError, match='empty'):
        sample_annotation([], 0.5)
    with pytest.raises(FileNotFoundError, match='does not exist'):
        read_annotation(str(tmp_path / 'missing.txt'))
    (tmp_path / 'empty.txt').write_text('\n')
    with pytest.raises(ValueError, match='lists no image'):
        read_annotation(str(tmp_path / 'empty.txt'))
    (tmp_path / 'bad.txt').write_text('a.jpg 0\nb.jpg\n')
    with pytest.raises(ValueError, match='bad.txt:2'):
        read_annotation(str(tmp_path / 'bad.txt'))
    (tmp_path / 'nofolder').mkdir()
    with pytest.raises(ValueError, match='no image under'):
        scan_class_folders(str(tmp_path / 'nofolder'))


def test_round_trip_and_folder_scan(tmp_path):
    root = tmp_path / 'train'
    for cls in ('n02', 'n01'):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            (root / cls / f'{i}.JPEG').write_bytes(b'')
    (root / 'n01' / 'notes.txt').write_text('not an image')
    pairs = scan_class_folders(str(root))
    assert pairs[0] == ('n01/0.JPEG', '0') and pairs[-1] == ('n02/2.JPEG', '1')
    assert len(pairs) == 6
    out = str(tmp_path / 'meta' / 'sub.txt')
    write_annotation(pairs[:2], out)
    assert read_annotation(out) == pairs[:2]
    assert not os.path.exists(out + '.tmp')


@pytest.mark.slow
def test_make_subset_tool(tmp_path):
    root = tmp_path / 'train'
    for cls in ('n02', 'n01'):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            (root / cls / f'{i}.JPEG').write_bytes(b'')
    out = str(tmp_path / 'meta' / 'sub.txt')
    log = run_tool([PY, 'tools/make_subset.py', str(root), out,
                    '--fraction', '0.5', '--per-class'])
    assert '2 of 2 classes' in log and len(read_annotation(out)) == 4
