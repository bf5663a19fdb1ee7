"""SSLD models on tiny classifiers with a random teacher file."""
from . import save_random_weights, tiny_classifier


def ssld_cfg(tmp_path, **kw):
    """SSLD: a width-4 student, a width-8 teacher written to tmp_path."""
    teacher = tiny_classifier(8)
    return dict(type='SSLD', student=tiny_classifier(4), teacher=teacher,
                teacher_ckpt=save_random_weights(
                    teacher, str(tmp_path / 'teacher.pth')), **kw)
