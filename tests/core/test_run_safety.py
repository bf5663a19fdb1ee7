"""The run-safety mechanisms of the core, on plain objects (no Runner):
atomic files, the finite-loss stop, the checkpoint hook's save order and
load check, the fit of a checkpoint, the resume fallback, schedule scaling
and the data checks. End-to-end cases through the tools (kill during a save,
NaN run, wrong checkpoints, bad images) are in tests/tools/test_faults.py.
"""
import errno
import math
import os
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.dataset import DefaultSampler
from mmengine.logging import MessageHub, MMLogger
from mmengine.runner import BaseLoop
from PIL import Image
from torch.utils.data import DataLoader

from kd_plugins.core.atomic_file import atomic_path, write_text_atomic
from kd_plugins.core.checkpoint_fit import fit_problems
from kd_plugins.core.hooks import FiniteLossHook, SafeCheckpointHook
from kd_plugins.core.hooks.data_check import check_batches, check_images
from kd_plugins.core.resume import candidates, newest_loadable
from kd_plugins.core.schedule import scale_schedulers

# ------------------------------------------------------------ atomic files


def test_atomic_path_replaces_whole_file(tmp_path):
    target = tmp_path / 'out.pth'
    target.write_text('old')
    with atomic_path(str(target)) as tmp:
        assert tmp == str(target) + '.tmp'
        with open(tmp, 'w') as f:
            f.write('new')
        assert target.read_text() == 'old'  # untouched until complete
    assert target.read_text() == 'new'
    assert not osp.exists(str(target) + '.tmp')


def test_full_disk_leaves_old_file_and_no_tmp(tmp_path):
    target = tmp_path / 'out.pth'
    target.write_text('old')
    with pytest.raises(OSError, match=r'could not write .*out\.pth.*'
                       r'No space left.*free some space') as info:
        with atomic_path(str(target)) as tmp:
            with open(tmp, 'w') as f:
                f.write('half')
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert 'MB free' in str(info.value)
    assert target.read_text() == 'old'
    assert os.listdir(tmp_path) == ['out.pth']


def test_torch_write_error_is_reported_as_write_error(tmp_path):
    # torch.save reports a full disk as a RuntimeError
    for text in ('basic_ios::clear: iostream error',
                 '[enforce fail at inline_container.cc:672] . unexpected '
                 'pos 19776 vs 19672'):
        with pytest.raises(OSError, match='could not write'):
            with atomic_path(str(tmp_path / 'a.pth')):
                raise RuntimeError(text)
    with pytest.raises(KeyError):  # not a write error: passed on unchanged
        with atomic_path(str(tmp_path / 'b.pth')) as tmp:
            open(tmp, 'w').close()
            raise KeyError('x')
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------- finite losses


def fake_runner(**kw):
    optim = SimpleNamespace(get_lr=lambda: {'lr': [1e10]})
    return SimpleNamespace(iter=4, epoch=0, optim_wrapper=optim, **kw)


def test_finite_loss_hook_stops_with_iteration_terms_and_lr():
    hook = FiniteLossHook()
    outputs = dict(loss=torch.tensor(float('nan')),
                   loss_kd=torch.tensor(float('nan')),
                   loss_cls=torch.tensor(2.5), accuracy=torch.tensor(50.0))
    with pytest.raises(FloatingPointError) as info:
        hook.after_train_iter(fake_runner(), 4, None, outputs)
    msg = str(info.value)
    for part in ('iteration 5', 'epoch 1', 'loss=nan', 'loss_kd=nan',
                 'loss_cls=2.5', 'learning rate 1e+10', '--resume'):
        assert part in msg, part


def test_finite_loss_hook_passes_finite_and_catches_inf():
    hook = FiniteLossHook()
    hook.after_train_iter(fake_runner(), 0, None,
                          dict(loss=torch.tensor(1.0), acc=float('nan')))
    with pytest.raises(FloatingPointError, match='loss=inf'):
        hook.after_train_iter(fake_runner(), 0, None,
                              dict(loss=torch.tensor(math.inf)))


# ------------------------------------------------- checkpoint hook: saving


class SavingRunner:
    """What SafeCheckpointHook uses of a Runner; ``save_checkpoint``
    records which checkpoints were on disk while it wrote."""

    def __init__(self, work_dir, fail_at=None):
        self.work_dir = str(work_dir)
        self.message_hub = MessageHub.get_instance(f'hub{id(self)}')
        self.logger = MMLogger.get_instance(f'log{id(self)}')
        self.fail_at = fail_at
        self.on_disk_while_saving = []

    def save_checkpoint(self, out_dir, filename, *args, meta=None, **kw):
        path = osp.join(out_dir, filename)
        self.on_disk_while_saving.append(sorted(
            f for f in os.listdir(out_dir) if f.endswith('.pth')))
        with open(path, 'wb') as f:
            f.write(b'partial')
            if meta['iter'] == self.fail_at:
                raise OSError(errno.ENOSPC, 'No space left on device')
            f.seek(0)
            torch.save(dict(meta=meta), f)


def saving_hook(runner, **kw):
    hook = SafeCheckpointHook(interval=1, by_epoch=False, **kw)
    hook.before_train(runner)
    return hook


def test_previous_checkpoint_kept_until_new_one_is_complete(tmp_path):
    runner = SavingRunner(tmp_path)
    hook = saving_hook(runner, max_keep_ckpts=1)
    for step in (1, 2, 3):
        hook._save_checkpoint_with_step(runner, step, dict(iter=step))
    # mmengine removes iter_1 before writing iter_2; here it is still there
    assert runner.on_disk_while_saving == [[], ['iter_1.pth'],
                                           ['iter_2.pth']]
    assert sorted(os.listdir(tmp_path)) == ['iter_3.pth', 'last_checkpoint']
    assert (tmp_path / 'last_checkpoint').read_text() == \
        str(tmp_path / 'iter_3.pth')
    assert runner.message_hub.get_info('keep_ckpt_ids') == [3]


def test_failed_save_keeps_last_good_checkpoint(tmp_path):
    runner = SavingRunner(tmp_path, fail_at=2)
    hook = saving_hook(runner, max_keep_ckpts=1)
    hook._save_checkpoint_with_step(runner, 1, dict(iter=1))
    with pytest.raises(OSError, match=r'iter_2\.pth.*No space left'):
        hook._save_checkpoint_with_step(runner, 2, dict(iter=2))
    assert sorted(os.listdir(tmp_path)) == ['iter_1.pth', 'last_checkpoint']
    assert torch.load(tmp_path / 'iter_1.pth')['meta']['iter'] == 1
    assert (tmp_path / 'last_checkpoint').read_text().endswith('iter_1.pth')


def test_leftover_tmp_files_removed_at_start(tmp_path):
    (tmp_path / 'iter_5.pth.tmp').write_bytes(b'half')
    (tmp_path / 'last_checkpoint.tmp').write_text('x')
    (tmp_path / 'iter_4.pth').write_bytes(b'whole')
    saving_hook(SavingRunner(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ['iter_4.pth']


# ------------------------------------------------- checkpoint hook: loading


class Model(torch.nn.Module):

    def __init__(self, width=4):
        super().__init__()
        self.student = torch.nn.Linear(width, 2)


class Loop(BaseLoop):
    def run(self):
        pass


def loading_runner(resume, training, load_from='run/iter_3.pth'):
    loop = Loop.__new__(Loop) if training else dict()
    return SimpleNamespace(model=Model(), _resume=resume, _train_loop=loop,
                           _load_from=load_from,
                           cfg=SimpleNamespace(filename='cfgs/a_config.py'))


def test_test_refuses_checkpoint_without_student():
    ckpt = dict(state_dict={'backbone.weight': torch.zeros(2, 4)})
    with pytest.raises(ValueError) as info:
        SafeCheckpointHook().after_load_checkpoint(
            loading_runner(resume=False, training=False), ckpt)
    msg = str(info.value)
    assert 'run/iter_3.pth does not fit the model of a_config.py' in msg
    assert 'no student.* keys (the model has 2 under student.)' in msg
    assert 'backbone (1 keys)' in msg


def test_resume_refuses_other_shapes_and_non_training_files():
    hook = SafeCheckpointHook()
    other = dict(meta=dict(epoch=0, iter=3), state_dict=Model(8).state_dict())
    with pytest.raises(ValueError, match=r'1 keys with another shape: '
                       r'student.weight: checkpoint \(2, 8\) vs model '
                       r'\(2, 4\)'):
        hook.after_load_checkpoint(loading_runner(True, True), other)
    exported = dict(state_dict=Model().state_dict(), meta=dict())
    with pytest.raises(ValueError, match='not a training checkpoint'):
        hook.after_load_checkpoint(loading_runner(True, True), exported)
    extra = dict(meta=dict(epoch=0, iter=3),
                 state_dict=dict(Model().state_dict(),
                                 **{'module.head.w': torch.zeros(1)}))
    with pytest.raises(ValueError, match=r'keys the model does not have'):
        hook.after_load_checkpoint(loading_runner(True, True), extra)


def test_load_from_for_training_needs_one_matching_key():
    hook = SafeCheckpointHook()
    partial = dict(state_dict={'student.weight': torch.zeros(2, 4)})
    hook.after_load_checkpoint(loading_runner(False, True), partial)  # ok
    with pytest.raises(ValueError, match='none of its keys'):
        hook.after_load_checkpoint(loading_runner(False, True),
                                   dict(state_dict={'x': torch.zeros(1)}))


def test_fit_problems_names_keys_when_part_of_a_prefix_is_missing():
    own = {'a.x': torch.zeros(1), 'a.y': torch.zeros(1),
           'a.bn.num_batches_tracked': torch.zeros(())}
    assert fit_problems(own, {'a.x': torch.zeros(1), 'a.y': torch.zeros(1)},
                        exact=True) == []
    assert fit_problems(own, {'a.x': torch.zeros(1)}, exact=False) == [
        "1 of the model's keys missing: a.y"]


# ------------------------------------------------------- resume fallback


def write_ckpt(path, it):
    torch.save(dict(meta=dict(epoch=0, iter=it), state_dict={}), path)


def test_resume_falls_back_to_newest_checkpoint_that_loads(tmp_path):
    write_ckpt(tmp_path / 'iter_2.pth', 2)
    write_ckpt(tmp_path / 'iter_10.pth', 10)
    data = (tmp_path / 'iter_10.pth').read_bytes()
    (tmp_path / 'iter_10.pth').write_bytes(data[:len(data) // 2])  # cut
    (tmp_path / 'iter_4.pth').write_bytes(b'')  # empty
    torch.save(dict(state_dict={}), tmp_path / 'iter_6.pth')  # no meta
    write_text_atomic(str(tmp_path / 'last_checkpoint'),
                      str(tmp_path / 'iter_12.pth'))  # never completed
    assert [osp.basename(p) for p in candidates(str(tmp_path))] == [
        'iter_12.pth', 'iter_10.pth', 'iter_6.pth', 'iter_4.pth',
        'iter_2.pth']
    path, passed = newest_loadable(str(tmp_path))
    assert path == str(tmp_path / 'iter_2.pth')
    reasons = dict((osp.basename(p), why) for p, why in passed)
    assert reasons['iter_12.pth'] == 'the file does not exist'
    assert 'not a training checkpoint' in reasons['iter_6.pth']
    assert reasons['iter_10.pth'] and reasons['iter_4.pth']
    assert newest_loadable(str(tmp_path / 'empty_dir')) == (None, [])


# ------------------------------------------------------- schedule scaling


def embedded_schedule(max_iters=1000):
    return [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
                 end=100),
            dict(type='CosineAnnealingLR', T_max=max_iters - 100,
                 by_epoch=False, begin=100, end=max_iters)]


def test_schedule_scaled_to_a_shorter_run():
    sched = embedded_schedule()
    lines = scale_schedulers(sched, 1000, 20)
    assert (sched[0]['begin'], sched[0]['end']) == (0, 2)
    assert (sched[1]['begin'], sched[1]['end'], sched[1]['T_max']) == \
        (2, 20, 18)
    assert lines == ['LinearLR [0, 100) -> [0, 2)',
                     'CosineAnnealingLR [100, 1000) T_max 900 -> '
                     '[2, 20) T_max 18']


def test_schedule_scaled_to_a_longer_run_and_milestones():
    sched = embedded_schedule()
    scale_schedulers(sched, 1000, 3000)
    assert sched[1]['end'] == 3000 and sched[1]['T_max'] == 2700
    steps = [dict(type='MultiStepLR', by_epoch=True, milestones=[30, 60])]
    scale_schedulers(steps, 90, 9)
    assert steps[0]['milestones'] == [3, 6] and steps[0]['end'] == 9
    ssld = [dict(type='LinearLR', start_factor=0.01, by_epoch=True,
                 begin=0, end=5, convert_to_iter_based=True),
            dict(type='CosineAnnealingLR', T_max=355, by_epoch=True,
                 begin=5, end=360)]
    lines = scale_schedulers(ssld, 360, 1)  # a 1-epoch try of 360 epochs
    assert ssld == [dict(type='LinearLR', start_factor=0.01, by_epoch=True,
                         begin=0, end=1, convert_to_iter_based=True)]
    assert lines[1] == ('CosineAnnealingLR [5, 360) T_max 355 dropped: the '
                        'run ends before it would start')
    same = embedded_schedule()
    assert scale_schedulers(same, 1000, 1000) == [] and \
        same == embedded_schedule()


# -------------------------------------------------------------- data


def image_folder(root, sizes):
    root.mkdir()
    paths = []
    for i, size in enumerate(sizes):
        path = root / f'{i}.png'
        Image.new('L', size).save(path)
        paths.append(str(path))
    return paths


class ListDataset:
    """What the checks read of an mmengine dataset."""

    def __init__(self, paths, pipeline=()):
        self.paths = paths
        self.pipeline = SimpleNamespace(transforms=list(pipeline))

    def __len__(self):
        return len(self.paths)

    def get_data_info(self, i):
        return dict(img_path=self.paths[i])


def test_check_images_names_odd_size_corrupt_and_missing(tmp_path):
    paths = image_folder(tmp_path / 'imgs', [(28, 28)] * 3 + [(32, 30)])
    with pytest.raises(ValueError, match=r'differ in size: 3 are 28x28, 1 '
                       r'are not: .*3\.png \(32x30\).*neither resizes'):
        check_images(ListDataset(paths), 'val_dataloader', same_size=True)
    check_images(ListDataset(paths), 'train_dataloader', same_size=False)
    with open(paths[1], 'r+b') as f:  # a damaged PNG: bytes overwritten
        f.seek(40)
        f.write(b'\0' * 20)
    (tmp_path / 'imgs' / '2.png').write_text('not an image')
    with pytest.raises(ValueError) as info:
        check_images(ListDataset(paths + [str(tmp_path / 'gone.png')]),
                     'train_dataloader', same_size=False)
    msg = str(info.value)
    assert '3 of the 5 images of train_dataloader' in msg
    for name in ('1.png (', '2.png (', 'gone.png (missing)'):
        assert name in msg, name


def test_too_few_images_for_one_batch():
    dataset = list(range(3))
    loader = DataLoader(dataset, batch_size=4, drop_last=True,
                        sampler=DefaultSampler(dataset, shuffle=False))
    with pytest.raises(ValueError, match=r'gives no batch: its dataset has '
                       r'3 images, fewer than batch_size=4.*at most 3'):
        check_batches(loader)
    check_batches(DataLoader(dataset, batch_size=4, drop_last=False))


# ------------------------------------------------- the tools' front end


def test_resume_named_file_that_does_not_load_names_the_alternative(
        tmp_path):
    from mmengine.config import Config

    from kd_plugins.cli import resolve_resume
    write_ckpt(tmp_path / 'iter_2.pth', 2)
    (tmp_path / 'iter_4.pth').write_bytes(b'')
    cfg = Config(dict(resume=True, load_from=str(tmp_path / 'iter_4.pth'),
                      work_dir=str(tmp_path)))
    with pytest.raises(ValueError, match=r'cannot resume from .*iter_4.pth: '
                       r'.*The newest checkpoint beside it that loads is '
                       r'.*iter_2.pth'):
        resolve_resume(cfg)
    cfg = Config(dict(resume=True, load_from=None, work_dir=str(tmp_path)))
    resolve_resume(cfg)
    assert cfg.load_from == str(tmp_path / 'iter_2.pth')


def test_cfg_options_scale_schedule_unless_they_set_it(capsys):
    from mmengine.config import Config

    from kd_plugins.cli import apply_cfg_options

    def config():
        return Config(dict(train_cfg=dict(max_iters=1000),
                           param_scheduler=embedded_schedule()))
    cfg = config()
    apply_cfg_options(cfg, {'train_cfg.max_iters': 20})
    assert cfg.param_scheduler[1]['end'] == 20
    assert 'train_cfg.max_iters 1000 -> 20: param_scheduler scaled' in \
        capsys.readouterr().out
    cfg = config()
    apply_cfg_options(cfg, {'train_cfg.max_iters': 20,
                            'param_scheduler.1.end': 20})
    assert cfg.param_scheduler[0]['end'] == 100  # used as given
    assert 'used as given' in capsys.readouterr().out
