"""SEEDQueueHook: check the queue against the loader, warm-fill it once.

``before_train`` (after a resume has restored the queue, before step 1):

1. The global batch (``train_dataloader.batch_size`` x world size) must
   divide K, and with ``drop_last=False`` every batch must be full;
   otherwise a ``ValueError`` names the numbers and the fix. This is the
   earliest point where both the model and the loader are known.
2. ``warm_fill=True`` and a queue that was never written
   (``num_enqueued == 0``, so never after a resume): the teacher embeds K
   training images, K / world on each process, and the gathered rows replace
   the random start (from a teacher cache: the cached embeddings of those
   images' first-epoch views, the views a live teacher would embed here).
   Process r embeds dataset items ``r * K/W ... (r+1) * K/W - 1`` (cycling
   when the dataset is smaller), so the filled queue holds items 0..K-1 in
   order whatever the world size. The items go through the training
   pipeline, so they are augmented views like the ones the queue receives
   during training.

The official SEED code starts from random unit vectors (``warm_fill=False``
reproduces that).
"""
import sys

import torch
from mmengine.dataset import InfiniteSampler
from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader, Subset

from kd_plugins.core.dist import unwrap_model
from kd_plugins.registry import HOOKS


@HOOKS.register_module()
class SEEDQueueHook(Hook):
    """Validate the SEED queue before training and optionally warm-fill it.

    Args:
        warm_fill: fill the never-written queue with teacher embeddings of
            training images before the first step.
    """

    priority = 'NORMAL'

    def __init__(self, warm_fill: bool = True) -> None:
        self.warm_fill = bool(warm_fill)

    @staticmethod
    def _seed(runner):
        from kd_plugins.methods.seed.seed import SEED
        model = unwrap_model(runner.model)
        if not isinstance(model, SEED):
            raise TypeError('SEEDQueueHook drives a SEED model; the model is '
                            f'{type(model).__name__}. Remove the hook from '
                            'custom_hooks.')
        return model

    def before_train(self, runner) -> None:
        model = self._seed(runner)
        loader = runner.train_dataloader
        world = get_world_size()
        batch = loader.batch_size
        model.queue.check_batch(
            batch * world, f'the global batch (batch_size {batch} x '
            f'{world} processes)')
        # an infinite sampler never yields a short batch
        per_rank = None if isinstance(loader.sampler, InfiniteSampler) or \
            not hasattr(loader.sampler, '__len__') else len(loader.sampler)
        if not loader.drop_last and per_rank is not None \
                and per_rank % batch:
            raise ValueError(
                f'SEED: each process sees {per_rank} images per epoch, not a '
                f'multiple of batch_size {batch}, so the last batch of every '
                f'epoch would have {per_rank % batch} images and break the '
                'queue blocks. Set train_dataloader.drop_last=True.')
        if self.warm_fill and int(model.queue.num_enqueued) == 0:
            self.fill(model, loader, world)

    @torch.no_grad()
    def fill(self, model, loader, world: int) -> None:
        K = model.queue.K
        rows = K // world  # K is a multiple of batch * world
        dataset = loader.dataset
        first = get_rank() * rows
        indices = [(first + i) % len(dataset) for i in range(rows)]
        fill_loader = DataLoader(
            Subset(dataset, indices), batch_size=loader.batch_size,
            shuffle=False, num_workers=loader.num_workers,
            collate_fn=loader.collate_fn)
        bar = ProgressBar(len(fill_loader), file=sys.stdout) \
            if get_rank() == 0 else None
        embeddings = []
        for data in fill_loader:
            data = model.data_preprocessor(data, False)
            embeddings.append(model.queue_fill_embeddings(data))  # b x D
            if bar is not None:
                bar.update()
        if bar is not None:
            print()
        model.warm_fill_queue(torch.cat(embeddings))  # rows x D
