"""The two SSKD pairs on the embedded digits: the thinner student (1/8-
width ResNet-18 <- 1/4 width, a 1x1 conv connector per stage) and the
paper's kind of pair (ResNet-20 <- ResNet-56, same widths, no connector),
each with its multi-loss baseline and the same stage schedule."""
from helpers import save_random_weights
from mmengine.config import Config
from mmengine.registry import DefaultScope

from kd_plugins.core.connectors import ConvConnector, IdentityConnector
from kd_plugins.methods.sskd import SSKDStageHook
from kd_plugins.registry import MODELS

THIN = 'configs/sskd/sskd_r18w8_r18w16_mnist5k.py'
SAME = 'configs/sskd/sskd_r20_r56_mnist5k.py'


def build(config, tmp_path):
    cfg = Config.fromfile(config)
    # (CIFARResNet, built inside mmpretrain's ImageClassifier, is found
    # through the default scope)
    with DefaultScope.overwrite_default_scope('kd_plugins'):
        cfg.model.teacher_ckpt = save_random_weights(
            cfg.model.teacher, str(tmp_path / 'teacher.pth'))
        return cfg, MODELS.build(cfg.model)


def hook_of(cfg):
    spec = dict(cfg.custom_hooks[0])
    assert spec.pop('type') == 'SSKDStageHook'
    return SSKDStageHook(**spec)


def test_same_width_pair_has_three_stages_and_no_connector(tmp_path):
    cfg, model = build(SAME, tmp_path)
    assert model.num_stages == 3
    assert [s.out_shape for s in model.stages] == [
        (16, 28, 28), (32, 14, 14), (64, 7, 7)]
    assert [s.out_shape for s in model.teacher_stages] == [
        s.out_shape for s in model.stages]
    assert all(isinstance(c, IdentityConnector) for c in model.connectors)
    assert cfg.train_cfg.max_epochs == hook_of(cfg).total_epochs(model) == 35


def test_thinner_pair_connects_every_stage(tmp_path):
    cfg, model = build(THIN, tmp_path)
    assert model.num_stages == 4
    assert all(isinstance(c, ConvConnector) for c in model.connectors)
    assert cfg.train_cfg.max_epochs == hook_of(cfg).total_epochs(model) == 45


def test_pairs_share_the_schedule_and_baselines_differ_only_in_mode():
    thin, same = Config.fromfile(THIN), Config.fromfile(SAME)
    assert same.optim_wrapper == thin.optim_wrapper
    assert same.custom_hooks == thin.custom_hooks
    for config in (THIN, SAME):
        base = Config.fromfile(config)
        multi = Config.fromfile(config.replace('.py', '_multi_loss.py'))
        assert multi.model.mode == 'multi_loss'
        multi.model.mode = base.model.mode
        assert multi.model == base.model
        assert multi.custom_hooks == base.custom_hooks
        assert multi.optim_wrapper == base.optim_wrapper
