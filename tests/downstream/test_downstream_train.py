"""The five downstream models train and evaluate on drawn shapes, on the CPU,
from a backbone exported out of a distillation checkpoint; a mismatched
backbone stops the run at start. Real mmdet / mmseg runs, a few steps each.
"""
import os.path as osp
import re

import mmdet
import mmseg
import pytest
from helpers import PY, ROOT, run_tool
from helpers.downstream import distill_ckpt
from made_data import apply_made_data, write_shapes
from mmengine.config import Config

from kd_plugins.export import export_backbone

pytestmark = pytest.mark.slow

MMDET = osp.join(ROOT, 'configs', 'downstream', 'mmdet')
MMSEG = osp.join(ROOT, 'configs', 'downstream', 'mmseg')
SIZE = 64  # made images and training scale: seconds per step on one core


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('shapes'))
    write_shapes(root, num_train=4, num_val=2, size=SIZE)
    return root


@pytest.fixture(scope='module')
def students(tmp_path_factory):
    """SSLD-shaped distillation checkpoints: ResNet-18 and MobileNetV2."""
    tmp = tmp_path_factory.mktemp('distill')
    r18, _ = distill_ckpt(tmp / 'ssld_r18.pth', dict(type='ResNet', depth=18))
    mbv2, _ = distill_ckpt(tmp / 'ssld_mbv2.pth', dict(type='MobileNetV2'))
    return dict(r18=r18, mbv2=mbv2)


def export_for(config, ckpt, tmp_path):
    out = str(tmp_path / 'backbone.pth')
    state = export_backbone(ckpt, out, config=config)
    return out, len(state)


def metric(log, name):
    found = re.findall(rf'{re.escape(name)}: (-?[0-9.]+)', log)
    assert found, f'{name} not in the run output:\n{log[-3000:]}'
    return float(found[-1])


def check_loaded(log, n_tensors, backbone):
    assert (f'DistilledBackboneCheckHook: all {n_tensors} tensors of '
            f'{backbone} loaded into model.backbone (method=SSLD') in log


def run_downstream(config, backbone, shapes, tmp_path):
    return run_tool([
        PY, 'tools/downstream_train.py', config, '--work-dir',
        str(tmp_path / 'wd'), '--made-data', shapes, '--made-data-size',
        str(SIZE), '--cfg-options',
        f'model.backbone.init_cfg.checkpoint={backbone}'])


@pytest.mark.parametrize('name,student', [
    ('faster-rcnn_r18-distilled_fpn_1x_coco.py', 'r18'),
    ('yolov3_mbv2-distilled_8xb24-320-300e_coco.py', 'mbv2'),
    ('yolov3_r18-distilled_8xb8-320-273e_coco.py', 'r18'),
])
def test_mmdet_trains_and_evaluates(name, student, shapes, students,
                                    tmp_path):
    config = osp.join(MMDET, name)
    backbone, n = export_for(config, students[student], tmp_path)
    log = run_downstream(config, backbone, shapes, tmp_path)
    check_loaded(log, n, backbone)
    assert 'Epoch(train) [1][2/2]' in log  # 4 images, batch 2
    assert 0.0 <= metric(log, 'coco/bbox_mAP') <= 1.0
    assert 0.0 <= metric(log, 'coco/bbox_mAP_50') <= 1.0


@pytest.mark.parametrize('name', [
    'deeplabv3plus_r18-distilled-d8_4xb2-80k_cityscapes-512x1024.py',
    'ocrnet_r18-distilled-d8_4xb2-40k_cityscapes-512x1024.py',
])
def test_mmseg_trains_and_evaluates(name, shapes, students, tmp_path):
    config = osp.join(MMSEG, name)
    backbone, n = export_for(config, students['r18'], tmp_path)
    log = run_downstream(config, backbone, shapes, tmp_path)
    check_loaded(log, n, backbone)
    assert 'Iter(train) [3/3]' in log
    assert 0.0 <= metric(log, 'mIoU') <= 100.0
    assert 0.0 <= metric(log, 'aAcc') <= 100.0


def toolbox_train(toolbox):
    path = osp.join(osp.dirname(toolbox.__file__), '.mim', 'tools',
                    'train.py')
    assert osp.isfile(path), f'{toolbox.__name__} ships no tools/train.py'
    return path


def dumped(config, backbone, shapes, tmp_path, **backbone_cfg):
    """The config as a user would run it with the toolbox's own entry."""
    cfg = Config.fromfile(config)
    apply_made_data(cfg, shapes, size=SIZE)
    cfg.model.backbone.init_cfg.checkpoint = backbone
    cfg.model.backbone.update(backbone_cfg)
    path = str(tmp_path / osp.basename(config))
    cfg.dump(path)
    return path


def test_retinanet_with_mmdet_own_train_tool(shapes, students, tmp_path):
    config = osp.join(MMDET, 'retinanet_r18-distilled_fpn_1x_coco.py')
    backbone, n = export_for(config, students['r18'], tmp_path)
    log = run_tool([PY, toolbox_train(mmdet),
                    dumped(config, backbone, shapes, tmp_path),
                    '--work-dir', str(tmp_path / 'wd')])
    check_loaded(log, n, backbone)
    assert 0.0 <= metric(log, 'coco/bbox_mAP') <= 1.0


def test_mismatched_backbone_stops_mmseg_own_train_tool(shapes, students,
                                                         tmp_path):
    """mmseg's deep-stem ResNetV1c given a plain ResNet-18 export: mmengine
    would load it non-strictly and leave the stem random; the hook stops
    the run before the first step and lists the keys."""
    config = osp.join(MMSEG, 'deeplabv3plus_r18-distilled-d8_4xb2-80k_'
                      'cityscapes-512x1024.py')
    backbone, _ = export_for(config, students['r18'], tmp_path)
    with pytest.raises(AssertionError) as err:
        run_tool([PY, toolbox_train(mmseg),
                  dumped(config, backbone, shapes, tmp_path,
                         type='ResNetV1c'),
                  '--work-dir', str(tmp_path / 'wd')])
    log = str(err.value)
    assert 'was not loaded completely' in log
    assert re.search(r'15 backbone tensors missing from the file.*'
                     r'stem\.0\.weight', log)
    assert re.search(r'6 file tensors the backbone has no place for: '
                     r'bn1\.bias', log)
    assert 'Iter(train) [1/' not in log  # stopped before training
