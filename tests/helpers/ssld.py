"""SSLD models on tiny classifiers with a random teacher file."""
from . import save_random_weights, tiny_classifier


def ssld_cfg(tmp_path, **kw):
    """SSLD: a width-4 student, a width-8 teacher written to tmp_path."""
    teacher = tiny_classifier(8)
    return dict(type='SSLD', student=tiny_classifier(4), teacher=teacher,
                teacher_ckpt=save_random_weights(
                    teacher, str(tmp_path / 'teacher.pth')), **kw)


def ssld_demo_options(root, teacher, iters=6, ckpt_every=2, keep=1,
                      extra=()):
    """``--cfg-options`` that run configs/ssld/ssld_r18w4_r18w16_mnist5k.py
    on the small MNIST-5k split at ``root`` for ``iters`` steps."""
    return [
        '--cfg-options', f'model.teacher_ckpt={teacher}',
        f'train_dataloader.dataset.labeled.data_root={root}',
        f'train_dataloader.dataset.unlabeled.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        'train_dataloader.batch_size=8', 'train_dataloader.num_workers=0',
        'val_dataloader.num_workers=0', 'test_dataloader.num_workers=0',
        f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
        'default_hooks.logger.interval=1',
        f'default_hooks.checkpoint.interval={ckpt_every}',
        f'default_hooks.checkpoint.max_keep_ckpts={keep}', *extra]
