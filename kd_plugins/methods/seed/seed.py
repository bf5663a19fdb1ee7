"""SEED: self-supervised distillation over a queue of teacher embeddings.

Paper: "SEED: Self-supervised Distillation for Visual Representation" (Fang
et al., ICLR 2021), Sec. 3 and Appendix A.1 (pseudo-code). No labels. One
augmented view x of each image feeds both networks::

    z_T = normalize(head_T(GAP(backbone_T(x))))     B x D   frozen, eval
    z_S = normalize(head_S(GAP(backbone_S(x))))     B x D
    loss = SEEDLoss(z_S, z_T, Q)                            Eq. 4
    Q <- FIFO(Q, all_gather(z_T))                   after the loss

Teacher and student are mmpretrain ``ImageClassifier`` s whose head is a
:class:`~kd_plugins.methods.seed.SEEDHead` (``mode='tensor'`` returns the
embedding). The student's backbone sits under ``student.backbone.*`` (what
``tools/export_backbone.py`` exports); the queue under ``queue.*``.
"""
from typing import Any, Dict, List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from kd_plugins.core.distiller import BaseDistiller
from kd_plugins.core.teacher import BNMode, KeyMap
from kd_plugins.core.teacher_cache import CachedTargets
from kd_plugins.registry import MODELS


def _embedding_dim(model: nn.Module) -> Optional[int]:
    head = getattr(model, 'head', None)
    return getattr(head, 'out_channels', None)


@MODELS.register_module()
class SEED(CachedTargets, BaseDistiller):
    """Similarity-distribution distillation of a self-supervised teacher.

    Args:
        student: classifier-style config whose ``mode='tensor'`` output is
            the B x D embedding (backbone, GAP neck, ``SEEDHead``).
        teacher: the same for the teacher (its head is the self-supervised
            model's projection head).
        teacher_ckpt: the teacher's self-supervised checkpoint.
        teacher_ckpt_map: ``'moco'`` to read an mmpretrain MoCo(-v2)
            checkpoint (query encoder: ``backbone.*`` and ``neck.mlp.*`` ->
            ``head.mlp.*``), a dict of prefix -> prefix, or None (keys as
            they are, optionally under ``teacher_ckpt_prefix``).
        queue: ``SEEDQueue`` config (paper: K=65536, dim=128).
        loss: ``SEEDLoss`` config (paper: tau_t=0.01, tau_s=0.2).
        teacher_bn_mode: ``'eval'`` (paper's pseudo-code: ``T.eval()``).
        teacher_cache: train from a cache of the teacher's normalised
            embeddings written by ``tools/cache_teacher.py`` (the queue is
            filled from them); no teacher is built.
    """

    TEACHER_FROM = ('a self-supervised MoCo-v2 model; for the embedded data '
                    'train configs/seed/mocov2_r18w16_mnist5k.py first')

    def __init__(self,
                 student: Union[dict, nn.Module],
                 teacher: Union[dict, nn.Module],
                 teacher_ckpt: Optional[str] = None,
                 teacher_ckpt_map: KeyMap = None,
                 queue: dict = dict(type='SEEDQueue', K=65536, dim=128),
                 loss: dict = dict(type='SEEDLoss', tau_t=0.01, tau_s=0.2),
                 teacher_bn_mode: BNMode = 'eval',
                 teacher_ckpt_prefix: str = '',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 teacher_cache: Optional[str] = None) -> None:
        super().__init__(student, teacher, teacher_ckpt, teacher_bn_mode,
                         teacher_ckpt_prefix, data_preprocessor, init_cfg,
                         teacher_ckpt_map=teacher_ckpt_map,
                         teacher_cache=teacher_cache)
        self.queue = MODELS.build(dict(queue))
        self.distill_loss = MODELS.build(dict(loss))
        if self.from_cache:
            self.check_cache_manifest()
        else:
            self._check_dims(_embedding_dim(self.teacher.model))
        # set by train_step: enqueue after the update (see train_step)
        self._enqueue_after_update = False
        self._pending_keys: Optional[Tensor] = None

    def _check_dims(self, d_t: Optional[int]) -> None:
        d_s = _embedding_dim(self.student)
        if d_t is not None and d_t != self.queue.dim:
            raise ValueError(
                f'SEED: the teacher head gives {d_t}-d embeddings but the '
                f'queue holds {self.queue.dim}-d rows; set '
                f'model.queue.dim={d_t}.')
        if d_s is not None and d_t is not None and d_s != d_t:
            raise ValueError(
                f'SEED: the student head gives {d_s}-d embeddings and the '
                f'teacher head {d_t}-d ones; set '
                f'model.student.head.out_channels={d_t}.')

    # ------------------------------------------------------------ embeddings
    def teacher_embed(self, inputs: Tensor) -> Tensor:
        """L2-normalised teacher embeddings z_T, B x D, no gradient."""
        return F.normalize(self.teacher(inputs, mode='tensor'), dim=1)

    def student_embed(self, inputs: Tensor) -> Tensor:
        """L2-normalised student embeddings z_S, B x D."""
        return F.normalize(self.student(inputs), dim=1)

    @torch.no_grad()
    def warm_fill_queue(self, teacher_embeddings: Tensor) -> None:
        """Replace the queue by teacher embeddings (K / world rows here)."""
        self.queue.fill(teacher_embeddings)

    # ------------------------------------------------------------------ loss
    def queue_fill_embeddings(self, data: dict) -> Tensor:
        """z_T of a preprocessed batch, for the queue's warm fill: the
        teacher's, or the cache's."""
        if self.from_cache:
            return self.cached_targets(data['data_samples'],
                                       data['inputs'].device)['embedding']
        return self.teacher_embed(data['inputs'])

    def loss(self, inputs: Tensor, data_samples: Optional[List] = None
             ) -> Dict[str, Tensor]:
        # Labels are never used: SEED is self-supervised.
        z_t = self.cached_targets(data_samples, inputs.device)['embedding'] \
            if self.from_cache else self.teacher_embed(inputs)  # B x D
        z_s = self.student_embed(inputs)  # B x D
        if self._enqueue_after_update:
            # train_step enqueues after the backward (the paper's order), so
            # the loss can read the queue itself: no K x D copy.
            loss = self.distill_loss(z_s, z_t, self.queue.queue)  # K x D
            self._pending_keys = z_t
        else:
            # A copy: the in-place enqueue below must not touch the tensor
            # that backward needs (MoCo does the same: queue.clone()).
            loss = self.distill_loss(z_s, z_t, self.queue.queue.clone())
            self.queue.enqueue(z_t)  # gathered over processes, FIFO
        return dict(loss_seed=loss)

    def train_step(self, data, optim_wrapper) -> Dict[str, Tensor]:
        """mmengine's step (preprocess, loss, backward, update), then the
        FIFO enqueue of this batch's teacher embeddings, as in the paper's
        pseudo-code (Appendix A.1). A step run by a wrapper that calls
        ``loss`` itself (mmengine's DDP wrapper) enqueues inside ``loss``
        on a copy of the queue instead; the two are equivalent."""
        self._enqueue_after_update, self._pending_keys = True, None
        try:
            log_vars = super().train_step(data, optim_wrapper)
        finally:
            self._enqueue_after_update = False
        keys, self._pending_keys = self._pending_keys, None
        if keys is not None:
            self.queue.enqueue(keys)  # gathered over processes, FIFO
        return log_vars

    # ------------------------------------------------------- teacher cache
    def teacher_targets(self, inputs: Tensor) -> Dict[str, Tensor]:
        return dict(embedding=self.teacher_embed(inputs))

    def cache_fields(self) -> Dict[str, Dict[str, Any]]:
        return dict(embedding=dict(dtype=self.cache_dtype,
                                   shape=[self.queue.dim]))

    def cache_info(self) -> Dict[str, Any]:
        return dict(dim=_embedding_dim(self.teacher.model))

    def use_cache_info(self, info: Dict[str, Any]) -> None:
        self._check_dims(info['dim'])

    def decode_targets(self, arrays: Dict[str, Tensor]) -> Dict[str, Tensor]:
        # unit length again after the float16 rounding
        return dict(embedding=F.normalize(arrays['embedding'].float(),
                                          dim=1))

    def predict(self, inputs: Tensor, data_samples: Optional[List] = None):
        raise RuntimeError(
            'SEED learns an embedding without labels and has no classifier '
            'to validate: set val_cfg/val_dataloader/val_evaluator to None '
            'and evaluate the exported backbone with a linear probe '
            '(configs/seed/*linear*).')
