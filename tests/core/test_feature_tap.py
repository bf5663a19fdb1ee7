"""The feature-tap contract: names checked at build time, with the closest
real names in the error."""
import pytest
from helpers import tiny_classifier

from kd_plugins.core import resolve_module
from kd_plugins.registry import MODELS


def build():
    return MODELS.build(tiny_classifier(4))


def test_resolve_returns_the_named_module():
    model = build()
    assert resolve_module(model, 'backbone.layer2') is model.backbone.layer2


def test_wrong_name_lists_close_matches():
    with pytest.raises(ValueError) as err:
        resolve_module(build(), 'backbone.layr3', 'teacher')
    msg = str(err.value)
    assert "'backbone.layr3'" in msg and 'backbone.layer3' in msg
    assert 'teacher' in msg


def test_empty_name_is_refused():
    with pytest.raises(ValueError, match='names no module'):
        resolve_module(build(), '')
