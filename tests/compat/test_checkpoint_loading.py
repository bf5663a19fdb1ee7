"""Every checkpoint mmengine loads is loaded weights-only, local or remote,
in torch's zip and legacy formats and safetensors; what mmengine loaded
before still loads; code in a pickle never runs unless asked for by name."""
import os.path as osp
import pickle
import sys

import numpy as np
import pytest
import torch
from helpers.files import (
    code_running_checkpoint,
    serve_directory,
    write_safetensors,
)
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner import Runner
from mmengine.runner import checkpoint as mm_checkpoint
from mmengine.runner.checkpoint import CheckpointLoader

import kd_plugins  # noqa: F401  (registers the loaders)
from kd_plugins.compat import CheckpointFileError, UnsafeCheckpointError
from kd_plugins.compat.checkpoint_loading import UNSAFE_ENV
from kd_plugins.registry import MODELS

LEGACY = dict(_use_new_zipfile_serialization=False)


@pytest.fixture(autouse=True)
def hub_in_tmp(tmp_path, monkeypatch):
    """Downloads go to this test's folder, never to ~/.cache."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.delenv(UNSAFE_ENV, raising=False)
    monkeypatch.delenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', raising=False)


def load(name):
    return CheckpointLoader.load_checkpoint(name, map_location='cpu')


def weights():
    torch.manual_seed(0)
    return {'conv.weight': torch.randn(4, 3, 3, 3), 'bn.running_mean':
            torch.randn(4), 'bn.num_batches_tracked': torch.tensor(7)}


def mmengine_file(path, legacy):
    """What mmengine's CheckpointHook writes (and mmselfsup 1.x's
    publish_model.py keeps: it drops only the optimizer), in either
    format."""
    hub = MessageHub.get_instance('kd_plugins_compat_test')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/loss', np.float64(2.0))
    hub.update_info('iter', 3)
    ckpt = dict(meta=dict(epoch=1, iter=3, seed=np.int64(7),
                          dataset_meta=dict(classes=('0', '1'))),
                state_dict=weights(), message_hub=hub.state_dict(),
                param_schedulers=[dict(base_lrs=[0.1], last_epoch=3)])
    torch.save(ckpt, str(path), **(LEGACY if legacy else {}))
    return str(path)


def same(a, b):
    assert type(a) is type(b) or isinstance(a, dict) and isinstance(b, dict)
    if isinstance(a, dict):
        assert sorted(a) == sorted(b)
        for k in a:
            same(a[k], b[k])
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    elif isinstance(a, HistoryBuffer):
        assert a.data[0].tolist() == b.data[0].tolist()
    else:
        assert a == b


# ------------------------------------------------------- nothing taken away
@pytest.mark.parametrize('legacy', [False, True], ids=['zip', 'legacy'])
@pytest.mark.parametrize('content', ['weights', 'mmcls_release', 'nested'])
def test_what_mmengine_loaded_before_still_loads(tmp_path, legacy, content):
    """mmengine's own local loader (plain torch.load) against ours, on the
    files it can load: ours loads each of them to the same content."""
    ckpt = dict(weights=weights(),
                mmcls_release=dict(meta=dict(CLASSES=('a', 'b'), epoch=100,
                                             config='model = dict()'),
                                   state_dict=weights()),
                nested=dict(state_dict=weights(), list=[1, 2.5, 'x'],
                            none=None, tup=(1, (2, 3))))[content]
    path = str(tmp_path / 'c.pth')
    torch.save(ckpt, path, **(LEGACY if legacy else {}))
    before = mm_checkpoint.load_from_local(path, 'cpu')  # mmengine's own
    same(before, load(path))


@pytest.mark.parametrize('legacy', [False, True], ids=['zip', 'legacy'])
def test_mmengine_checkpoints_load_weights_only(tmp_path, legacy):
    """Resume files (message hub of HistoryBuffers, numpy values), in both
    formats: loaded weights-only, the allow-list scoped to the one call."""
    path = mmengine_file(tmp_path / 'c.pth', legacy)
    loaded = load(path)
    assert loaded['message_hub']['log_scalars']['train/loss'].current() \
        == 2.0
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)  # getattr is still forbidden


def test_legacy_file_through_pretrained_init_cfg(tmp_path):
    """What mmdet/mmseg's init_cfg=Pretrained does, in a process that
    imported kd_plugins: a legacy-format backbone file loads."""
    torch.manual_seed(0)
    src = MODELS.build(dict(type='ResNet', depth=18))
    path = str(tmp_path / 'r18_legacy.pth')
    torch.save(dict(state_dict=src.state_dict(), meta=dict()), path,
               **LEGACY)
    net = MODELS.build(dict(type='ResNet', depth=18, init_cfg=dict(
        type='Pretrained', checkpoint=path)))
    net.init_weights()
    for k, v in src.state_dict().items():
        assert torch.equal(v, net.state_dict()[k]), k


# --------------------------------------------------------------- safetensors
@pytest.mark.parametrize('library', [True, False],
                         ids=['safetensors', 'built_in_reader'])
def test_safetensors_by_the_specification(tmp_path, monkeypatch, library):
    """A file written by the format's specification loads, with the
    safetensors package or (not installed) the loader's own reader."""
    if library:
        pytest.importorskip('safetensors.torch')
    else:
        monkeypatch.setitem(sys.modules, 'safetensors.torch', None)
    state = {k: v for k, v in weights().items()}
    state['head.half'] = torch.randn(3).half()
    path = write_safetensors(state, tmp_path / 'model.safetensors',
                             metadata=dict(format='pt'))
    loaded = load(path)
    same(state, loaded)


def test_safetensors_with_the_library(tmp_path):
    st = pytest.importorskip('safetensors.torch')
    path = str(tmp_path / 'model.safetensors')
    st.save_file(weights(), path)
    same(weights(), load(path))


# ---------------------------------------------------------- code never runs
@pytest.mark.parametrize('legacy', [False, True], ids=['zip', 'legacy'])
def test_local_pickle_that_runs_code_is_refused(tmp_path, legacy):
    marker = tmp_path / 'ran'
    path = code_running_checkpoint(tmp_path / 'evil.pth', marker, legacy)
    with pytest.raises(UnsafeCheckpointError) as err:
        load(path)
    msg = str(err.value)
    assert path in msg and 'mkdir' in msg and UNSAFE_ENV in msg
    assert not marker.exists()


@pytest.mark.parametrize('legacy', [False, True], ids=['zip', 'legacy'])
def test_url_pickle_that_runs_code_is_refused(tmp_path, legacy):
    marker = tmp_path / 'ran'
    served = tmp_path / 'served'
    served.mkdir()
    code_running_checkpoint(served / 'teacher.pth', marker, legacy)
    with serve_directory(served) as base:
        with pytest.raises(UnsafeCheckpointError) as err:
            load(base + 'teacher.pth')
    assert base + 'teacher.pth' in str(err.value)
    assert UNSAFE_ENV in str(err.value)
    assert not marker.exists()


def test_unsafe_load_only_by_name(tmp_path, monkeypatch):
    """The named option is a real full pickle load, for the files it
    names only."""
    marker = tmp_path / 'ran'
    path = code_running_checkpoint(tmp_path / 'evil.pth', marker)
    other = code_running_checkpoint(tmp_path / 'other.pth',
                                    tmp_path / 'ran_other')
    monkeypatch.setenv(UNSAFE_ENV, f'{tmp_path}/unrelated.pth,{path}')
    load(path)
    assert marker.is_dir()
    with pytest.raises(UnsafeCheckpointError):
        load(other)
    assert not (tmp_path / 'ran_other').exists()


def test_code_by_url_is_refused_as_teacher_and_load_from(tmp_path):
    """The measured case: a code-running file served over http, named as
    model.teacher_ckpt or as a Runner's load_from."""
    from helpers import tiny_classifier

    from kd_plugins.core.teacher import build_frozen_teacher
    marker = tmp_path / 'ran'
    served = tmp_path / 'served'
    served.mkdir()
    code_running_checkpoint(served / 'teacher.pth', marker, legacy=True)
    with serve_directory(served) as base:
        url = base + 'teacher.pth'
        with pytest.raises(UnsafeCheckpointError, match=UNSAFE_ENV):
            build_frozen_teacher(tiny_classifier(4), url)
        runner = Runner(model=MODELS.build(tiny_classifier(4)),
                        work_dir=str(tmp_path / 'wd'), load_from=url,
                        default_scope='kd_plugins')
        with pytest.raises(UnsafeCheckpointError, match=UNSAFE_ENV):
            runner.load_or_resume()
    assert not marker.exists()


# -------------------------------------------------------------- URL schemes
def test_url_loads_and_is_cached_in_torch_hub(tmp_path):
    served = tmp_path / 'served'
    served.mkdir()
    mmengine_file(served / 'run.pth', legacy=True)
    with serve_directory(served) as base:
        first = load(base + 'run.pth')
    cached = list((tmp_path / 'torch_home' / 'hub' / 'checkpoints').glob(
        '*/run.pth'))
    assert len(cached) == 1
    same(first['state_dict'], weights())
    # the server is gone: the cached copy is used
    same(load(base + 'run.pth')['state_dict'], weights())


def test_urls_of_the_same_file_name_are_kept_apart(tmp_path):
    """Hub files share names (model.safetensors): each URL its own copy."""
    for name, value in (('a', 1.0), ('b', 2.0)):
        (tmp_path / name).mkdir()
        write_safetensors(dict(w=torch.full((2, ), value)),
                          tmp_path / name / 'model.safetensors')
    with serve_directory(tmp_path) as base:
        assert load(base + 'a/model.safetensors')['w'][0] == 1.0
        assert load(base + 'b/model.safetensors')['w'][0] == 2.0


def test_named_schemes_resolve_and_load_weights_only(tmp_path, monkeypatch):
    """torchvision://, open-mmlab:// and mmcls:// names resolve through
    mmengine's tables and load through the same weights-only loader."""
    served = tmp_path / 'served'
    served.mkdir()
    state = {f'backbone.{k}': v for k, v in weights().items()}
    torch.save(state, str(served / 'tv.pth'), **LEGACY)
    code_running_checkpoint(served / 'evil.pth', tmp_path / 'ran')
    with serve_directory(served) as base:
        table = dict(good=base + 'tv.pth', bad=base + 'evil.pth')
        for fn in ('get_torchvision_models', 'get_external_models',
                   'get_mmcls_models'):
            monkeypatch.setattr(mm_checkpoint, fn, lambda: table)
        same(load('torchvision://good'), state)
        same(load('open-mmlab://good'), state)
        same(load('mmcls://good')['state_dict'], weights())
        for scheme in ('torchvision://', 'open-mmlab://', 'mmcls://'):
            with pytest.raises(UnsafeCheckpointError, match=scheme):
                load(scheme + 'bad')
        with pytest.raises(KeyError, match='torchvision://nope'):
            load('torchvision://nope')
    assert not (tmp_path / 'ran').exists()


def test_open_mmlab_name_of_a_local_file(tmp_path, monkeypatch):
    monkeypatch.setenv('MMENGINE_HOME', str(tmp_path / 'mm_home'))
    (tmp_path / 'mm_home').mkdir()
    torch.save(weights(), str(tmp_path / 'mm_home' / 'w.pth'), **LEGACY)
    monkeypatch.setattr(mm_checkpoint, 'get_external_models',
                        lambda: dict(local='w.pth'))
    same(load('open-mmlab://local'), weights())


# ------------------------------------------------------ unreadable, named
@pytest.mark.parametrize('kind', ['empty', 'text', 'html', 'truncated_zip',
                                  'truncated_legacy'])
def test_unreadable_files_are_named(tmp_path, kind):
    path = str(tmp_path / f'{kind}.pth')
    good = str(tmp_path / 'good.pth')
    torch.save(weights(), good,
               **(LEGACY if kind == 'truncated_legacy' else {}))
    data = open(good, 'rb').read()
    content = dict(empty=b'', text=b'not a checkpoint\n',
                   html=b'<!DOCTYPE html><html>404</html>',
                   truncated_zip=data[:len(data) // 2],
                   truncated_legacy=data[:len(data) // 3])[kind]
    with open(path, 'wb') as f:
        f.write(content)
    with pytest.raises(CheckpointFileError) as err:
        load(path)
    assert path in str(err.value)
    assert 'fetch or write it again' in str(err.value)


def test_missing_file_keeps_mmengines_error(tmp_path):
    with pytest.raises(FileNotFoundError, match='can not be found'):
        load(osp.join(tmp_path, 'nope.pth'))
