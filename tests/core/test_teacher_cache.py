"""The teacher cache's parts: replayed views, the sampler's keys, the
store (atomic shards, unfinished caches), the writer's resume (the same
bytes), what a cache is bound to, and the SSLD top-k soft label."""
import itertools
import json
import os
import os.path as osp
import random
from copy import deepcopy

import numpy as np
import pytest
import torch
from helpers.teacher_cache import files_of, method_setup
from mmengine.dataset import DefaultSampler, InfiniteSampler
from mmengine.registry import DefaultScope

from kd_plugins.core.teacher_cache import (
    CacheReader,
    ReplaySampler,
    TeacherCacheDataset,
    apply_teacher_cache,
    item_seed,
    seeded_rngs,
)
from kd_plugins.core.teacher_cache.store import write_shard
from kd_plugins.core.teacher_cache.writer import write_cache
from kd_plugins.methods.ssld.cache import topk_decode, topk_encode
from kd_plugins.registry import MODELS


def test_item_seed_is_a_function_of_its_key():
    assert item_seed(0, 3, 17) == item_seed(0, 3, 17)
    seeds = {item_seed(0, e, i) for e in range(4) for i in range(50)}
    assert len(seeds) == 200
    assert item_seed(1, 3, 17) != item_seed(0, 3, 17)


def test_seeded_rngs_replays_and_restores_the_generators():
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    with seeded_rngs(123):
        inside = (random.random(), np.random.rand(), torch.rand(1).item())
    # the rest of the run draws what it would have drawn
    assert (random.random(), np.random.rand(),
            torch.rand(1).item()) == expected
    with seeded_rngs(123):
        again = (random.random(), np.random.rand(), torch.rand(1).item())
    assert inside == again


@pytest.fixture(scope='module')
def ssld(tmp_path_factory, mnist_root):
    tmp = tmp_path_factory.mktemp('cache')
    return tmp, method_setup('SSLD', tmp, mnist_root)


def dataset_of(cfg, **kw):
    with DefaultScope.overwrite_default_scope('kd_plugins'):
        return TeacherCacheDataset(deepcopy(cfg.train_dataloader.dataset),
                                   **kw)


def test_views_replay_by_key(ssld):
    _, cfg = ssld
    ds = dataset_of(cfg, seed=0)
    a, b = ds[(2, 7)]['inputs'], ds[(2, 7)]['inputs']
    assert torch.equal(a, b)  # the same (epoch, index): the same crop
    crops = {ds[(e, 7)]['inputs'].numpy().tobytes() for e in range(8)}
    assert len(crops) > 1  # other epochs: other crops (RandomCrop, pad 2)
    assert torch.equal(ds[7]['inputs'], ds[(0, 7)]['inputs'])
    assert ds[(2, 7)]['data_samples'].teacher_cache_key == (2, 7)


def test_replay_sampler_keys_follow_the_wrapped_order(ssld):
    _, cfg = ssld
    ds = dataset_of(cfg, seed=0)
    plain = DefaultSampler(ds, shuffle=True, seed=3)
    keyed = ReplaySampler(dict(type='DefaultSampler', shuffle=True), ds,
                          seed=3, cache_epochs=2)
    for epoch in (0, 1, 4, 5):
        plain.set_epoch(epoch)
        keyed.set_epoch(epoch)
        assert list(keyed) == [(epoch % 2, i) for i in plain]
    endless = ReplaySampler(dict(type='InfiniteSampler', shuffle=True), ds,
                            seed=3)
    assert isinstance(endless.sampler, InfiniteSampler)
    it = iter(endless)
    keys = [next(it) for _ in range(2 * len(ds) + 1)]
    assert [k[0] for k in keys] == [0] * len(ds) + [1] * len(ds) + [2]
    assert sorted(i for e, i in keys if e == 1) == list(range(len(ds)))


def test_a_failed_shard_write_leaves_nothing(tmp_path):
    arrays = dict(index=np.arange(3), seed=np.zeros(3, np.uint32),
                  bad=np.array([object()], dtype=object))
    with pytest.raises(ValueError):  # object arrays are refused by np.save
        write_shard(str(tmp_path), 0, 0, arrays)
    assert os.listdir(tmp_path / 'e0000') == []


@pytest.fixture(scope='module')
def written(ssld):
    tmp, cfg = ssld
    out = str(tmp / 'whole')
    write_cache(cfg, out, epochs=2, shard_batches=10, progress=False)
    return out


def test_cache_layout_and_targets(written, ssld):
    _, cfg = ssld
    manifest = json.load(open(osp.join(written, 'manifest.json')))
    assert manifest['method'] == 'SSLD' and manifest['epochs'] == 2
    assert manifest['settings'] == dict(topk=10)  # min(10, 10 classes)
    reader = CacheReader(written)
    n = manifest['dataset_size']
    assert n == 300  # 100 labeled + 200 unlabeled digits
    for e in range(2):
        rows = [reader.lookup(e, i) for i in range(n)]
        assert all(s == item_seed(manifest['seed'], e, i)
                   for i, (s, _) in enumerate(rows))
    seed, t = reader.lookup(1, 5)
    assert t['prob_values'].dtype == np.float16
    assert t['prob_index'].dtype == np.int16
    assert abs(float(t['prob_values'].astype(np.float32).sum()) - 1) < 2e-3


def test_unfinished_cache_is_refused_and_resumes_to_the_same_bytes(
        written, ssld):
    tmp, cfg = ssld
    out = str(tmp / 'killed')
    write_cache(cfg, out, epochs=2, shard_batches=10, progress=False,
                max_shards=3)  # as if killed after three shards
    os.makedirs(osp.join(out, 'e0001', '.tmp-s00002'))  # mid-write
    with pytest.raises(ValueError, match=r'unfinished .*epoch 0: 3 of 4 '
                       r'shards; epoch 1: 0 of 4 shards.*again'):
        CacheReader(out)
    write_cache(cfg, out, epochs=2, shard_batches=10, progress=False)
    assert files_of(out) == files_of(written)


def test_two_processes_write_the_cache_one_process_writes(written, ssld):
    tmp, cfg = ssld
    out = str(tmp / 'two')
    for rank in (1, 0):
        write_cache(cfg, out, epochs=2, shard_batches=10, progress=False,
                    rank=rank, world=2)
    assert files_of(out) == files_of(written)


def cache_cfg(cfg, cache, **model):
    cfg = deepcopy(cfg)
    cfg.model.teacher_cache = cache
    cfg.model.update(model)
    return cfg


def test_cache_of_another_teacher_is_refused(written, ssld, tmp_path):
    _, cfg = ssld
    other = str(tmp_path / 'other.pth')
    state = torch.load(cfg.model.teacher_ckpt)
    state['state_dict']['head.fc.bias'] += 1
    torch.save(state, other)
    with pytest.raises(ValueError, match=r'another teacher: teacher_ckpt: '
                       r"'sha256:\w+' \(cache\) vs 'sha256:\w+'"):
        apply_teacher_cache(cache_cfg(cfg, written, teacher_ckpt=other))
    with pytest.raises(ValueError, match='teacher_bn_mode'):
        apply_teacher_cache(cache_cfg(cfg, written, teacher_bn_mode='eval'))


def test_cache_of_another_pipeline_or_dataset_is_refused(written, ssld,
                                                         tmp_path):
    _, cfg = ssld
    other = cache_cfg(cfg, written)
    other.train_dataloader.dataset.labeled.pipeline[1].padding = 4
    with pytest.raises(ValueError, match=r'another training data config'
                       r'.*labeled\.pipeline\.1\.padding: 2 \(cache\) vs '
                       r'4 \(this run\)'):
        apply_teacher_cache(other)
    # the same config over other images: the list of images differs
    import shutil
    root = cfg.train_dataloader.dataset.labeled.data_root
    copy = str(tmp_path / 'copy')
    shutil.copytree(root, copy)
    first = sorted(os.listdir(osp.join(copy, 'train', '0')))[0]
    os.remove(osp.join(copy, 'train', '0', first))
    moved = cache_cfg(cfg, written)
    moved.train_dataloader.dataset.labeled.data_root = copy
    moved.train_dataloader.dataset.unlabeled.data_root = copy
    with pytest.raises(ValueError, match=r'dataset\.labeled\.data_root'):
        apply_teacher_cache(moved)


def test_dataset_list_is_compared_when_built(written, ssld, tmp_path):
    _, cfg = ssld
    import shutil
    root = cfg.train_dataloader.dataset.labeled.data_root
    copy = str(tmp_path / 'copy')
    shutil.copytree(root, copy)
    # same folder name inside, one image fewer
    first = sorted(os.listdir(osp.join(copy, 'train', '0')))[0]
    os.remove(osp.join(copy, 'train', '0', first))
    ds = deepcopy(cfg.train_dataloader.dataset)
    ds.labeled.data_root = copy
    ds.unlabeled.data_root = copy
    with pytest.raises(ValueError, match=r'another dataset \(its images and'
                       r' labels\): .*size: 300 \(cache\) vs 299'):
        with DefaultScope.overwrite_default_scope('kd_plugins'):
            TeacherCacheDataset(ds, cache=written)


def test_no_teacher_is_built_from_a_cache(written, ssld):
    _, cfg = ssld
    model = dict(cache_cfg(cfg, written, teacher_ckpt='/nowhere/t.pth').model)
    model['data_preprocessor'] = cfg.data_preprocessor
    with DefaultScope.overwrite_default_scope('kd_plugins'):
        algo = MODELS.build(model)
    assert algo.from_cache and algo._teacher is None
    with pytest.raises(RuntimeError, match='trains from the teacher cache'):
        algo.teacher
    algo.to('cpu')  # device moves skip the absent teacher


def test_cache_of_another_method_and_sskd_are_refused(written, ssld,
                                                      tmp_path, mnist_root):
    from kd_plugins.core.distiller import open_teacher_cache
    kdep = method_setup('KDEP', tmp_path, mnist_root)
    model = dict(cache_cfg(kdep, written).model)
    with pytest.raises(ValueError, match='holds SSLD targets, not KDEP'):
        with DefaultScope.overwrite_default_scope('kd_plugins'):
            MODELS.build(model)
    sskd = deepcopy(kdep)
    sskd.model = dict(type='SSKD', teacher_cache=written)
    with pytest.raises(ValueError, match='SSKD cannot train from a teacher '
                       'cache'):
        apply_teacher_cache(sskd)
    with pytest.raises(ValueError, match='SSKD cannot'):
        open_teacher_cache(type('SSKD', (torch.nn.Module, ), {})(), written)


def test_kdep_cache_of_another_alignment_is_refused(tmp_path, mnist_root):
    kdep = method_setup('KDEP', tmp_path, mnist_root)
    out = str(tmp_path / 'kdep_cache')
    write_cache(kdep, out, epochs=1, shard_batches=50, progress=False)
    model = dict(cache_cfg(kdep, out).model)
    model['align'] = dict(type='ConvConnector')
    model['data_preprocessor'] = kdep.data_preprocessor
    with pytest.raises(ValueError, match=r"another KDEP setting: "
                       r"align\.type: 'SVDProjection' \(cache\) vs "
                       r"'ConvConnector'"):
        with DefaultScope.overwrite_default_scope('kd_plugins'):
            MODELS.build(model)


def test_topk_soft_label():
    torch.manual_seed(0)
    p = torch.softmax(3 * torch.randn(4, 10), dim=1)
    full = topk_encode(p, 10)
    assert torch.allclose(topk_decode(full['prob_values'],
                                      full['prob_index'], 10).exp(), p,
                          atol=1e-6)
    top3 = topk_encode(p, 3)
    q = topk_decode(top3['prob_values'], top3['prob_index'], 10).exp()
    assert torch.allclose(q.sum(1), torch.ones(4), atol=1e-5)
    kept = p.topk(3, dim=1)
    assert torch.allclose(q.gather(1, kept.indices), kept.values)
    rest = q.scatter(1, kept.indices, 0)
    spread = (1 - kept.values.sum(1, keepdim=True)) / 7
    assert torch.allclose(rest[rest > 0].view(4, 7), spread.expand(4, 7))


def test_topk_loss_stats():
    from kd_plugins.methods.ssld.cache import topk_loss_stats
    torch.manual_seed(0)
    p = torch.softmax(3 * torch.randn(4, 10), dim=1)
    full = topk_loss_stats(p, 10)
    assert torch.allclose(full['mass'].float(), torch.ones(4), atol=1e-6)
    assert full['kl'].abs().max() < 1e-6
    k1, k3 = topk_loss_stats(p, 1), topk_loss_stats(p, 3)
    assert (k1['kl'] >= k3['kl']).all() and (k3['kl'] > 0).all()
    assert torch.allclose(k1['mass'].float(), p.max(dim=1).values)


def test_endless_sampler_order_is_the_one_training_draws(ssld, tmp_path):
    """An iteration-based run with mmengine's InfiniteSampler: the cache
    holds every image of every epoch, and the writer's order of each epoch
    is the sampler's stream as training draws it."""
    _, cfg = ssld
    cfg = deepcopy(cfg)
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)
    out = str(tmp_path / 'endless')
    write_cache(cfg, out, epochs=2, shard_batches=10, progress=False)
    reader = CacheReader(out)
    n = reader.manifest['dataset_size']
    for e in range(2):
        assert all(reader.lookup(e, i)[1]['prob_values'].shape == (10, )
                   for i in range(n))
    ds = dataset_of(cfg, seed=0)
    keyed = ReplaySampler(dict(type='InfiniteSampler', shuffle=True), ds,
                          seed=0)
    it = iter(keyed)
    drawn = [next(it) for _ in range(2 * n)]
    stream = list(itertools.islice(
        InfiniteSampler(ds, shuffle=True, seed=0)._indices_of_rank(), 2 * n))
    assert [i for e, i in drawn if e == 0] == stream[:n]
    assert [i for e, i in drawn if e == 1] == stream[n:]


def test_endless_stream_batches_are_the_ones_training_draws(ssld):
    """With an endless sampler, batches run across epochs; the writer
    computes each batch that meets an epoch whole (a teacher with batch
    statistics sees what training shows it) and keeps that epoch's rows."""
    from kd_plugins.core.teacher_cache.writer import _shard_batches
    _, cfg = ssld
    ds = dataset_of(cfg, seed=0)
    n, b = len(ds), 8  # 300 images: 37.5 batches an epoch
    sampler = InfiniteSampler(ds, shuffle=True, seed=0)
    keyed = ReplaySampler(dict(type='InfiniteSampler', shuffle=True), ds,
                          seed=0)
    it = iter(keyed)
    stream = [next(it) for _ in range(3 * n)]
    training = [stream[j:j + b] for j in range(0, len(stream), b)]
    for epoch in (0, 1):
        written = [bt for s in range(10)
                   for bt in _shard_batches({}, sampler, epoch, s, n, b, 4)]
        meets = [bt for bt in training if any(k[0] == epoch for k in bt)]
        assert written == meets
    assert any(len({k[0] for k in bt}) == 2 for bt in written)


def test_a_shard_that_cannot_be_written_is_removed_and_named(
        tmp_path, monkeypatch):
    import errno

    from kd_plugins.core.teacher_cache import store

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(store.np, 'save', full_disk)
    with pytest.raises(OSError, match=r'MB free there\. Free some space'):
        store.write_shard(str(tmp_path), 0, 0,
                          dict(logits=np.zeros((2, 3), np.float32)))
    final = store.shard_dir(str(tmp_path), 0, 0)
    assert not os.listdir(os.path.dirname(final))  # no half-written shard
