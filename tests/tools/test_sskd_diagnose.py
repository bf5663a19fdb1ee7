"""tools/sskd_diagnose.py: the per-stage figures of an SSKD run."""
import pytest
import torch
from sskd_diagnose import channel_stats, trained_stages

from kd_plugins.methods.sskd.sskd import HEAD


def test_channel_stats_counts_dead_channels_and_rank():
    torch.manual_seed(0)
    x = torch.zeros(50, 4, 3, 3)
    x[:, 0] = torch.randn(50, 3, 3).abs()  # one live channel
    x[:, 1] = 2 * x[:, 0]  # a copy: no new direction
    stats = channel_stats(x)
    assert stats['dead'] == pytest.approx(0.5)  # channels 2 and 3
    assert stats['eff_rank'] == pytest.approx(1.0, abs=1e-6)
    y = torch.randn(400, 4, 2, 2)  # four independent unit channels
    stats = channel_stats(y)
    assert stats['dead'] == 0
    assert stats['eff_rank'] == pytest.approx(4.0, rel=0.1)
    assert stats['var'] == pytest.approx(1.0, rel=0.05)
    assert stats['rms'] == pytest.approx(1.0, rel=0.05)


def test_trained_stages_reads_the_saved_schedule():
    def ckpt(phase, epoch):
        return dict(sskd_schedule=dict(phase=phase, epoch_in_phase=epoch))
    # the hook advances before the checkpoint of a stage's last epoch
    assert trained_stages(ckpt(1, 0), 4, 'stagewise') == (1, False)
    assert trained_stages(ckpt(2, 3), 4, 'stagewise') == (2, False)
    assert trained_stages(ckpt(HEAD, 0), 4, 'stagewise') == (4, False)
    assert trained_stages(ckpt(HEAD, 2), 4, 'stagewise') == (4, True)
    assert trained_stages(ckpt(0, 5), 4, 'multi_loss') == (4, False)
    with pytest.raises(SystemExit, match='not an SSKD'):
        trained_stages({}, 4, 'stagewise')
