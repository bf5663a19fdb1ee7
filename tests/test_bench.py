"""Smoke test of the benchmark suite (bench/run_all.py): every row of the
table is produced, with a finite positive value, at a tiny size. No timing
is asserted; peak memory is measured in this process (``IN_PROCESS``), so
only its plumbing is checked here."""
import math
import os.path as osp
import sys

import pytest

BENCH = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'bench')

EXPECTED = [
    'SSLD step / (student step + teacher fwd)',
    'SSLD peak mem / (student + teacher)',
    'SSKD stage-1 step / floor',
    'SSKD stage-2 step / floor',
    'SSKD stage-3 step / floor',
    'SSKD stage-4 step / floor',
    'SSKD (stages 1-4) step / (student step + teacher fwd)',
    'SSKD (stages 1-4) peak mem / (student + teacher)',
    'SSKD stage-1 step / full feature-KD step',
    'KDEP step / (student step + teacher fwd)',
    'KDEP peak mem / (student + teacher)',
    'KDEP basis pass / inference pass',
    'KDEP streaming basis peak mem, 32 / 16 images',
    'KDEP stacked + SVD (official) peak mem, 32 / 16 images',
    'SEED queue+loss / step (K=65536)',
    'SEED step / (student step + teacher fwd)',
    'SEED peak mem / (student + teacher)',
    'SimDis-Off step / (student step + teacher fwd)',
    'SimDis-Off peak mem / (student + teacher)',
]


@pytest.fixture
def suite(monkeypatch):
    monkeypatch.syspath_prepend(BENCH)
    import common
    import run_all
    monkeypatch.setattr(common, 'IN_PROCESS', True)
    # before any tensor of the suite: big tensors get their own mmap, so a
    # part's memory shows in the RSS even after earlier parts were freed
    common.fix_mmap_threshold()
    yield run_all
    for name in ('run_all', 'common', 'bench_distill_overhead',
                 'bench_kdep_svd', 'bench_seed_queue', 'bench_simdis_views',
                 'bench_sskd_stage_cost'):
        sys.modules.pop(name, None)


def test_every_row_finite_and_positive(suite, tmp_path, capsys):
    args = suite.parser().parse_args(['--quick', '--rounds', '1'])
    rows = suite.collect_rows(args, str(tmp_path))
    assert [r.name for r in rows] == EXPECTED
    for r in rows:
        assert math.isfinite(r.median) and r.median > 0, r
        assert r.fastest is None or (math.isfinite(r.fastest)
                                     and r.fastest > 0), r
        assert r.status() in ('met', 'MISSED', 'context')
    table = suite.format_table(rows)
    assert all(name in table for name in EXPECTED)
    assert 'MISSED' in table or 'met' in table
