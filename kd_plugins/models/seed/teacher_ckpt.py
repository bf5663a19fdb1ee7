"""Load a SEED teacher from a self-supervised checkpoint through a key map.

A MoCo-v2 checkpoint written by mmpretrain (``type='MoCo'``) holds the query
encoder (``backbone.*``, ``neck.mlp.*``), the momentum encoder
(``encoder_k.*``) and MoCo's own queue (``queue``, ``queue_ptr``). SEED's
teacher is the query encoder (as in the official code, which reads
``module.encoder_q.*``): ``backbone.*`` plus the fc-ReLU-fc neck, which maps
onto :class:`~kd_plugins.models.seed.SEEDHead` as ``head.mlp.*``.

``key_map`` maps checkpoint key prefixes to teacher key prefixes; keys under
no listed prefix are left out on purpose. Within what is mapped, loading is
strict: a missing, unexpected or differently shaped key raises a
``ValueError`` that lists the keys.
"""
import os.path as osp
from typing import Dict, Optional, Union

import torch.nn as nn
from kd_plugins.models.teacher import (BNMode, FrozenTeacher,
                                       build_frozen_teacher,
                                       load_teacher_weights, rename_prefixes)

#: mmpretrain MoCo / MoCo-v2 checkpoint -> ImageClassifier(backbone, GAP,
#: SEEDHead) teacher.
MOCO_KEY_MAP = {'backbone.': 'backbone.', 'neck.mlp.': 'head.mlp.'}
KEY_MAPS = dict(moco=MOCO_KEY_MAP)


def resolve_key_map(key_map: Union[str, Dict[str, str], None]
                    ) -> Optional[Dict[str, str]]:
    if key_map is None or isinstance(key_map, dict):
        return None if key_map is None else dict(key_map)
    if key_map in KEY_MAPS:
        return dict(KEY_MAPS[key_map])
    raise ValueError(f'teacher_ckpt_map {key_map!r} is not a known layout '
                     f'({sorted(KEY_MAPS)}); pass a dict of checkpoint '
                     'prefix -> teacher prefix instead.')


#: kept for callers of the SEED name; the renaming is the teacher loader's
map_state = rename_prefixes


def load_mapped_weights(model: nn.Module, checkpoint: str,
                        key_map: Dict[str, str]) -> None:
    """Strictly load the mapped part of ``checkpoint`` into ``model``."""
    if '://' not in checkpoint and not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'teacher checkpoint {checkpoint!r} does not exist. Set '
            '`model.teacher_ckpt` to the self-supervised teacher\'s '
            'checkpoint (for the embedded data: train '
            'configs/seed/mocov2_r18w16_mnist5k_teacher.py first).')
    load_teacher_weights(model, checkpoint, key_map=key_map)


def build_seed_teacher(cfg: Union[dict, nn.Module], checkpoint: Optional[str],
                       bn_mode: BNMode = 'eval', prefix: str = '',
                       key_map: Union[str, Dict[str, str], None] = None
                       ) -> FrozenTeacher:
    """Like :func:`build_frozen_teacher`, with an optional key map."""
    key_map = resolve_key_map(key_map)
    if key_map is None:
        return build_frozen_teacher(cfg, checkpoint, bn_mode, prefix)
    if prefix:
        raise ValueError('set either teacher_ckpt_prefix or teacher_ckpt_map,'
                         ' not both (a map names full prefixes).')
    if checkpoint is None:
        raise ValueError('`teacher_ckpt` is None: SEED distils a trained '
                         'self-supervised teacher. Set `model.teacher_ckpt`.')
    from kd_plugins.registry import MODELS
    model = cfg if isinstance(cfg, nn.Module) else MODELS.build(dict(cfg))
    load_mapped_weights(model, checkpoint, key_map)
    return FrozenTeacher(model, bn_mode)
