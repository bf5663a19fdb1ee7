"""FeatureTap: validated names, one hook, no stale values."""
import pytest
import torch
from conftest import tiny_classifier

from kd_plugins.models import FeatureTap
from kd_plugins.registry import MODELS


def build():
    return MODELS.build(tiny_classifier(4))


def test_tap_records_module_output():
    model = build()
    tap = FeatureTap(model, 'backbone.layer2', 'student')
    x = torch.randn(2, 3, 16, 16)
    model(x, mode='tensor')
    feat = tap.pop()
    assert feat.shape == (2, 8, 8, 8)  # width 4 * 2 channels, stride 2
    with pytest.raises(RuntimeError, match='holds no output'):
        tap.pop()


def test_wrong_name_lists_close_matches():
    with pytest.raises(ValueError) as err:
        FeatureTap(build(), 'backbone.layr3', 'teacher')
    msg = str(err.value)
    assert "'backbone.layr3'" in msg and 'backbone.layer3' in msg
    assert 'teacher' in msg


def test_tuple_output_index():
    model = build()
    tap = FeatureTap(model, 'backbone', index=0)
    model(torch.randn(1, 3, 16, 16), mode='tensor')
    assert tap.pop().shape == (1, 32, 2, 2)


def test_remove_detaches_hook():
    model = build()
    tap = FeatureTap(model, 'neck')
    tap.remove()
    model(torch.randn(1, 3, 16, 16), mode='tensor')
    with pytest.raises(RuntimeError):
        tap.pop()
