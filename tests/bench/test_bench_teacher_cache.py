"""Smoke test of the teacher-cache benchmark (bench/bench_teacher_cache.py,
``run_all.py --quick --only cache``): every row and the size table at a
tiny size; no timing is asserted. The size arithmetic is checked apart."""
import math

import pytest

METHODS = ('SSLD', 'KDEP', 'SEED', 'SimDis-Off')
ROWS = [f'{m} {what}' for m in METHODS for what in (
    'cached step / student-only step', 'online step / student-only step',
    'cache-writing pass / teacher inference pass')]


def test_bytes_per_crop_and_projected_sizes():
    from bench.bench_teacher_cache import (
        IMAGENET_IMAGES,
        crop_bytes,
        format_sizes,
        projected_sizes,
    )
    ssld = dict(fields=dict(prob_values=dict(dtype='float16', shape=[10]),
                            prob_index=dict(dtype='int16', shape=[10])))
    simdis = dict(fields=dict(teacher_ema=dict(dtype='float16',
                                               shape=[2, 256])))
    assert crop_bytes(ssld) == 10 * 2 + 10 * 2 + 8 + 4
    assert crop_bytes(simdis) == 2 * 256 * 2 + 8 + 4
    sizes = projected_sizes(dict(SSLD=52, KDEP=1036), dict(SSLD='SSLD (k)'))
    by = {s['method']: s for s in sizes}
    assert by['SSLD']['epochs'] == 360 and by['KDEP']['epochs'] == 90
    assert by['SSLD']['images'] == IMAGENET_IMAGES
    assert by['KDEP']['images'] == round(0.1 * IMAGENET_IMAGES)
    assert by['SSLD']['gb'] == pytest.approx(
        52 * IMAGENET_IMAGES * 360 / 1e9)
    table = format_sizes(sizes)
    assert 'SSLD (k)' in table and 'KDEP' in table


@pytest.mark.slow  # writes four caches and trains every method's step
def test_quick_run_gives_every_row_and_the_size_table(tmp_path):
    from bench import run_all
    args = run_all.parser().parse_args(['--quick', '--only', 'cache'])
    sizes = []
    rows = run_all.collect_rows(args, str(tmp_path), sizes)
    assert [r.name for r in rows] == ROWS
    for r in rows:
        assert math.isfinite(r.median) and r.median > 0, r
        assert math.isfinite(r.fastest) and r.fastest > 0, r
        assert (r.target is None) == ('online' in r.name), r
    assert [s['method'] for s in sizes] == list(METHODS)
    by = {s['method']: s for s in sizes}
    # top-10 soft label; 512-d KDEP target, 128-d SEED embedding, the
    # 2 x 256 teacher EMA projections of SimDis-Off; float16 + 12 bytes
    assert by['SSLD']['bytes_per_crop'] == 52
    assert by['KDEP']['bytes_per_crop'] == 512 * 2 + 12
    assert by['SEED']['bytes_per_crop'] == 128 * 2 + 12
    assert by['SimDis-Off']['bytes_per_crop'] == 2 * 256 * 2 + 12
    assert [s['epochs'] for s in sizes] == [360, 90, 200, 100]
    assert by['SSLD']['label'] == 'SSLD (top-10)'
