"""SSKD's teacher families: stages are paired at down-sampling points, so
a Vision Transformer (one resolution throughout) and a timm network inside
mmpretrain's TIMMBackbone (one child module the partition does not open)
are refused with the reason (docs/teachers.md). That SSKD's teacher runs in
its own normalisation is checked in tests/core/test_normalization.py."""
import pytest
from helpers import save_random_weights, tiny_classifier
from helpers.foreign_teachers import (
    STUDENT_NORM,
    TIMM_NORM,
    TIMM_RESNET,
    vit_classifier,
)

from kd_plugins.registry import MODELS


def sskd(teacher, tmp_path, size=16):
    ckpt = save_random_weights(teacher, str(tmp_path / 't.pth'))
    return dict(type='SSKD', student=tiny_classifier(4), teacher=teacher,
                teacher_ckpt=ckpt, input_size=(3, size, size),
                data_preprocessor=STUDENT_NORM)


def test_vit_teacher_has_no_stages(tmp_path):
    with pytest.raises(ValueError, match='VisionTransformer produced no 4-D'):
        MODELS.build(sskd(vit_classifier(), tmp_path, 28))


def test_timm_backbone_teacher_is_one_stage(tmp_path):
    pytest.importorskip('timm')
    teacher = dict(type='ImageClassifier',
                   backbone=dict(type='TIMMBackbone', **TIMM_RESNET),
                   neck=dict(type='GlobalAveragePooling'),
                   head=dict(type='LinearClsHead', num_classes=10,
                             in_channels=64),
                   data_preprocessor=dict(TIMM_NORM))
    with pytest.raises(ValueError, match='the teacher TIMMBackbone 1'):
        MODELS.build(sskd(teacher, tmp_path, 32))

