"""SSKD models on tiny classifiers with a random teacher file."""
from . import save_random_weights, tiny_classifier


def sskd_cfg(tmp_path, **kw):
    """SSKD on 16x16 inputs; keyword arguments override the defaults."""
    teacher = tiny_classifier(8)
    cfg = dict(type='SSKD', student=tiny_classifier(4), teacher=teacher,
               teacher_ckpt=save_random_weights(
                   teacher, str(tmp_path / 'teacher.pth')),
               input_size=(3, 16, 16))
    cfg.update(kw)
    return cfg
