"""SEED with teachers from outside mmpretrain's ResNets, each in its own
normalisation: a timm ResNet (mmpretrain's TIMMBackbone, pooled) and Vision
Transformers (the class token after the final norm, DINOv2-style and
plain), each with a SEEDHead projection (the embedding + head SEED reads
with ``mode='tensor'``)."""
import pytest
import torch
import torch.nn.functional as F
from helpers import batch, save_random_weights
from helpers.foreign_teachers import (
    CLIP_NORM,
    IMG,
    STUDENT_NORM,
    own_network,
    timm_encoder,
    vit_encoder,
)
from helpers.seed import tiny_encoder
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

from kd_plugins.registry import MODELS

TEACHERS = {  # family -> (teacher config, needs timm)
    'timm_resnet': (lambda: timm_encoder(), True),
    'vit_dinov2': (lambda: vit_encoder(), False),
    'vit_clip_stats': (lambda: vit_encoder(dinov2=False, norm=CLIP_NORM),
                       False),
}


@pytest.mark.parametrize('family', sorted(TEACHERS))
def test_foreign_teacher_drives_seed(family, tmp_path):
    make, needs_timm = TEACHERS[family]
    if needs_timm:
        pytest.importorskip('timm')
    teacher = make()
    with DefaultScope.overwrite_default_scope('kd_plugins'):  # SEEDHead
        ckpt = save_random_weights(teacher, str(tmp_path / 't.pth'))
        net, own = own_network(teacher, ckpt)
    model = MODELS.build(dict(
        type='SEED', student=tiny_encoder(2), teacher=teacher,
        teacher_ckpt=ckpt, queue=dict(type='SEEDQueue', K=16, dim=16),
        data_preprocessor=STUDENT_NORM))
    assert model.teacher.bridge is not None
    # z_T is the teacher's embedding on its own pipeline's tensor
    x = model.data_preprocessor(batch(n=4, size=IMG), False)['inputs']
    with torch.no_grad():
        ref = F.normalize(net(own(batch(n=4, size=IMG), False)['inputs']),
                          dim=1)
    assert (model.teacher_embed(x) - ref).abs().max() <= 1e-5
    # training steps: finite losses, the queue holds teacher embeddings,
    # the teacher never changes
    optim = build_optim_wrapper(model, dict(
        type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01)))
    state = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    model.train()
    losses = [model.train_step(batch(n=4, size=IMG), optim)['loss_seed']
              for _ in range(3)]
    assert all(torch.isfinite(v) for v in losses)
    # the same 4 images each step: rows 0-11 are 3 copies of their z_T
    assert int(model.queue.ptr) == 12
    assert (model.queue.queue[:12] - model.teacher_embed(x).repeat(3, 1)
            ).abs().max() <= 1e-5
    assert all(torch.equal(v, state[k])
               for k, v in model.teacher.state_dict().items())


def test_vit_teacher_head_width_is_checked(tmp_path):
    teacher = vit_encoder(out=32)
    with DefaultScope.overwrite_default_scope('kd_plugins'):
        ckpt = save_random_weights(teacher, str(tmp_path / 't.pth'))
    with pytest.raises(ValueError, match='model.queue.dim=32'):
        MODELS.build(dict(type='SEED', student=tiny_encoder(2),
                          teacher=teacher, teacher_ckpt=ckpt,
                          queue=dict(type='SEEDQueue', K=16, dim=16),
                          data_preprocessor=STUDENT_NORM))
