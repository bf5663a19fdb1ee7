"""KDEP models on tiny classifiers: a real basis of a random teacher."""
import torch

from kd_plugins.core.checkpoint import weights_sha256
from kd_plugins.core.teacher import build_frozen_teacher
from kd_plugins.methods.kdep import PreReLUTap, StreamingBasis, save_basis
from kd_plugins.registry import MODELS

from . import save_random_weights, tiny_classifier


def kdep_basis(tmp_path, teacher, ckpt, n=64, size=16, seed=None):
    """A basis of the teacher's real pre-ReLU features on ``n`` random
    ``size`` x ``size`` images (drawn after ``torch.manual_seed(seed)``
    when a seed is given)."""
    net = MODELS.build(teacher)
    net.load_state_dict(torch.load(ckpt)['state_dict'])
    net.eval()
    tap = PreReLUTap(net, 'teacher')
    if seed is not None:
        torch.manual_seed(seed)
    with torch.no_grad():
        net.backbone(torch.randn(n, 3, size, size))
    acc = StreamingBasis(tap.channels)
    acc.update(tap.pop())
    path = str(tmp_path / 'basis.pth')
    save_basis(path, acc.solve(), acc.n, tap.layer, 'teacher',
               weights_sha256(net.state_dict()), ckpt)
    return path


def teacher_weights(teacher, ckpt, **kw):
    """``weights_sha256`` of the teacher ``ckpt`` loads into (what a
    basis is bound to)."""
    net = build_frozen_teacher(teacher, ckpt, **kw)
    return weights_sha256(net.model.state_dict())


def kdep_cfg(tmp_path, student_width=4, **kw):
    """KDEP with SVD alignment unless ``align`` is given."""
    teacher = tiny_classifier(8)
    ckpt = save_random_weights(teacher, str(tmp_path / 'teacher.pth'))
    kw.setdefault('align', dict(type='SVDProjection',
                                basis=kdep_basis(tmp_path, teacher, ckpt)))
    student = tiny_classifier(student_width)['backbone']  # backbone only
    return dict(type='KDEP', student=student, teacher=teacher,
                teacher_ckpt=ckpt, **kw)
