"""SSLD's algorithm: the class counts it checks and the network it predicts
with (its contract is in tests/core/test_contract.py)."""
import pytest
from helpers import batch, tiny_classifier
from helpers.ssld import ssld_cfg

from kd_plugins.registry import MODELS


def test_ssld_rejects_different_class_counts(tmp_path):
    cfg = ssld_cfg(tmp_path)
    cfg['student'] = tiny_classifier(4, num_classes=7)
    with pytest.raises(ValueError, match='num_classes=10'):
        MODELS.build(cfg)


def test_ssld_predicts_with_the_student(tmp_path):
    model = MODELS.build(ssld_cfg(tmp_path))
    out = model.val_step(batch())
    assert len(out) == 4 and out[0].pred_score.shape == (10, )

