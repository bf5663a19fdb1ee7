"""Smoke test of the cost benchmark (bench/run_all.py): every row of the
table is produced, with a finite positive value, at a tiny size. No timing
is asserted; peak memory is measured in this process (``IN_PROCESS``), so
only its plumbing is checked here."""
import math

import pytest

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
] + [f'{m} {what}' for m in ('SSLD', 'KDEP', 'SEED', 'SimDis-Off')
     for what in ('cached step / student-only step',
                  'online step / student-only step',
                  'cache-writing pass / teacher inference pass')]


@pytest.fixture
def suite(monkeypatch):
    from bench import common, run_all
    monkeypatch.setattr(common, 'IN_PROCESS', True)
    # before any tensor of the suite: big tensors get their own mmap, so a
    # part's memory shows in the RSS even after earlier parts were freed
    common.fix_mmap_threshold()
    return run_all


@pytest.mark.slow  # trains every method's step at a tiny size
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


@pytest.mark.slow  # starts a process
def test_peak_memory_in_a_fresh_process(tmp_path):
    """The memory child (``python -m bench.common memory-child``) imports
    a bench script by its module name and reports a positive peak."""
    from bench import common
    peak = common.peak_memory('bench.bench_distill_overhead', 'student',
                              size=16, batch=2, workdir=str(tmp_path))
    assert math.isfinite(peak) and peak > 0
