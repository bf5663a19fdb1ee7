"""Extract the student's backbone from a distillation checkpoint.

The result holds only the backbone's tensors, with keys relative to the
backbone (no ``student.``/``backbone.`` prefix, no teacher, connector, neck
or head keys), plus a small ``meta`` of plain strings. It loads with
``torch.load(weights_only=True)`` anywhere, so mmpretrain, mmdet and mmseg
take it through ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` on the
backbone, without kd_plugins installed.
"""
import os
import os.path as osp
from typing import Dict, Optional

import torch
from mmengine.runner.checkpoint import CheckpointLoader
from torch import Tensor

STUDENT_PREFIX = 'student.'
BACKBONE = 'backbone.'


def student_backbone_state(state: Dict[str, Tensor],
                           student_prefix: str = STUDENT_PREFIX
                           ) -> Dict[str, Tensor]:
    """Keys of the student's backbone, with the prefixes stripped.

    A classifier student stores ``student.backbone.*``; a bare-backbone
    student stores ``student.*`` directly.
    """
    student = {k[len(student_prefix):]: v for k, v in state.items()
               if k.startswith(student_prefix)}
    if not student:
        tops = sorted({k.split('.')[0] for k in state})
        raise ValueError(
            f'the checkpoint holds no student: no key starts with '
            f'{student_prefix!r} (top-level keys: {tops}). Export a '
            'checkpoint written by a kd_plugins distillation run, or pass '
            '--student-prefix for another layout.')
    if any(k.startswith(BACKBONE) for k in student):
        return {k[len(BACKBONE):]: v for k, v in student.items()
                if k.startswith(BACKBONE)}
    return student


def export_backbone(checkpoint: str, out_file: str,
                    student_prefix: str = STUDENT_PREFIX,
                    source_note: Optional[str] = None) -> Dict[str, Tensor]:
    """Write the student backbone of ``checkpoint`` to ``out_file``."""
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint!r} does not exist')
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    state = {k[len('module.'):] if k.startswith('module.') else k: v
             for k, v in state.items()}
    backbone = student_backbone_state(state, student_prefix)
    meta = dict(source=source_note or osp.abspath(checkpoint),
                exported_by='kd_plugins.export')
    out_dir = osp.dirname(osp.abspath(out_file))
    os.makedirs(out_dir, exist_ok=True)
    tmp = out_file + '.tmp'
    torch.save(dict(state_dict=backbone, meta=meta), tmp)
    os.replace(tmp, out_file)  # never leave a half-written file behind
    return backbone
