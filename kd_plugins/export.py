"""Extract the student's backbone from a distillation checkpoint.

The result holds only the backbone's tensors, with keys relative to the
backbone (no ``student.``/``backbone.`` prefix, no teacher, connector, neck
or head keys), plus a ``meta`` dict of plain strings and lists. It loads with
``torch.load(weights_only=True)`` anywhere, so mmpretrain, mmdet and mmseg
take it through ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` on the
backbone, without kd_plugins installed.

**Target awareness.** Given the downstream backbone (a downstream config's
``model.backbone``, or just the toolbox: ``'mmdet'``, ``'mmseg'``,
``'mmpretrain'``), the keys are renamed to that toolbox's names (see
:mod:`kd_plugins.downstream.key_mapping`) and checked against the backbone
as the toolbox builds it: every tensor it expects must come from the student
with the same shape, or nothing is written and the error says why (another
depth, a 7x7 stem into a deep-stem ResNetV1c, another family).

**Provenance** in ``meta``: ``method`` (the distillation algorithm),
``teacher`` (its architecture and checkpoint; ``teacher_sha256`` when that
file is on this machine), ``student`` (what the keys
describe), ``source`` and ``source_sha256`` (the distillation checkpoint),
``target`` and ``dropped_keys``.

**Refusals.** Nothing is written when the output is the input file (under
any spelling or link: the export would replace the training checkpoint),
when a backbone tensor holds NaN or inf (a diverged run: the error names the
tensors), or when the student does not fit the target. The file is written
to ``OUT.tmp`` and renamed, so a full disk or a kill leaves the old output
(or none) and no partial file.
"""
import os.path as osp
from typing import Dict, Optional

import torch
from mmengine.config import Config
from torch import Tensor

from kd_plugins.core.atomic_file import atomic_path
from kd_plugins.core.checkpoint import listing, read_checkpoint, sha256_file

STUDENT_PREFIX = 'student.'
BACKBONE = 'backbone.'
TEACHER_PREFIX = 'teacher.'


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
        if tops == [TEACHER_PREFIX.rstrip('.')]:
            raise ValueError(
                'the checkpoint holds teacher keys only '
                f'({len(state)} keys under {TEACHER_PREFIX!r}) and no '
                f'student: no key starts with {student_prefix!r}. Export the '
                'checkpoint that the distillation run wrote (student.* '
                'keys); a teacher is used downstream as it is.')
        raise ValueError(
            f'the checkpoint holds no student: no key starts with '
            f'{student_prefix!r} (top-level keys: {tops}). Export a '
            'checkpoint written by a kd_plugins distillation run, or pass '
            '--student-prefix for another layout.')
    if any(k.startswith(BACKBONE) for k in student):
        return {k[len(BACKBONE):]: v for k, v in student.items()
                if k.startswith(BACKBONE)}
    return student


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (links and spellings resolved)."""
    if osp.exists(a) and osp.exists(b):
        return osp.samefile(a, b)
    return osp.realpath(a) == osp.realpath(b)


def check_finite(state: Dict[str, Tensor], source: str) -> None:
    """Refuse a state dict with NaN or inf values, naming the tensors."""
    bad = [k for k, v in state.items()
           if torch.is_floating_point(v) and not torch.isfinite(v).all()]
    if bad:
        raise ValueError(
            f'the student backbone in {source} holds NaN or inf values in '
            f'{len(bad)} of its {len(state)} tensors ({listing(bad, 8)}): '
            'the run diverged before this checkpoint was written. Export an '
            'earlier checkpoint of the run, or train again with a lower '
            'learning rate (FiniteLossHook stops such a run at the first '
            'non-finite loss).')


def _arch(model_cfg) -> str:
    """'ImageClassifier(ResNet depth=34)' from a model config dict."""
    if not isinstance(model_cfg, dict):
        return 'unknown'
    backbone = model_cfg.get('backbone', model_cfg)
    parts = [f'{k}={backbone[k]}' for k in ('depth', 'widen_factor', 'arch')
             if k in backbone]
    inner = f"{backbone.get('type', '?')} {' '.join(parts)}".strip()
    if backbone is model_cfg:
        return inner
    return f"{model_cfg.get('type', '?')}({inner})"


def provenance(ckpt: dict) -> Dict[str, str]:
    """``method`` and ``teacher`` from the config text mmengine saves in a
    checkpoint's ``meta['cfg']`` (``'unknown'`` where it is absent)."""
    out = dict(method='unknown', teacher='unknown', teacher_sha256='')
    text = (ckpt.get('meta') or {}).get('cfg') if isinstance(
        ckpt.get('meta'), dict) else None
    if not text:
        return out
    try:
        cfg = Config.fromstring(text, file_format='.py')
    except Exception:  # an unreadable config text leaves 'unknown'
        return out
    model = cfg.get('model', {})
    out['method'] = str(model.get('type', 'unknown'))
    teacher = model.get('teacher')
    if teacher is None:
        out['method'] += ' (no teacher: not a distillation run)'
        out['teacher'] = 'none'
    else:
        ckpt_path = model.get('teacher_ckpt', '')
        out['teacher'] = f'{_arch(teacher)} from {ckpt_path}'.strip()
        if ckpt_path and osp.isfile(ckpt_path):  # the teacher file, if here
            out['teacher_sha256'] = sha256_file(ckpt_path)
    return out


def _target_state(source: Dict[str, Tensor], target: Optional[str],
                  config: Optional[str]):
    """(target backbone state dict, target description), or (None, '')."""
    from kd_plugins.downstream.key_mapping import inspect_backbone
    from kd_plugins.downstream.target import (
        backbone_from_config,
        build_backbone,
        default_backbone,
        describe_cfg,
    )
    if config is None and target is None:
        return None, ''
    if config is not None:
        backbone_cfg, toolbox = backbone_from_config(config)
        if target is not None and target != toolbox:
            raise ValueError(f'--target {target} but {config} runs in '
                             f'{toolbox} (its default_scope)')
    else:
        toolbox = target
        backbone_cfg = default_backbone(toolbox, inspect_backbone(source))
    module = build_backbone(backbone_cfg, toolbox)
    return module.state_dict(), describe_cfg(backbone_cfg, toolbox, config)


def export_backbone(checkpoint: str, out_file: str,
                    student_prefix: str = STUDENT_PREFIX,
                    source_note: Optional[str] = None,
                    target: Optional[str] = None,
                    config: Optional[str] = None,
                    method: Optional[str] = None,
                    teacher: Optional[str] = None) -> Dict[str, Tensor]:
    """Write the student backbone of ``checkpoint`` to ``out_file``.

    Args:
        target: ``'mmpretrain'``, ``'mmdet'`` or ``'mmseg'``: rename keys to
            that toolbox's backbone of the student's family and depth.
        config: a downstream config: rename keys to its ``model.backbone``
            (toolbox from its ``default_scope``) and check that they fit.
        method, teacher: provenance, when the checkpoint does not carry its
            config (overrides what is read from it).

    Returns:
        The state dict written (target key names when a target is given).
    """
    from kd_plugins.downstream.key_mapping import describe, map_state_to_target
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint!r} does not exist')
    if same_file(checkpoint, out_file):
        raise ValueError(
            f'the output {out_file!r} is the input checkpoint '
            f'{checkpoint!r}: exporting would replace the training '
            'checkpoint with the backbone alone. Name another output file.')
    state, ckpt = read_checkpoint(checkpoint)
    backbone = student_backbone_state(state, student_prefix)
    check_finite(backbone, checkpoint)
    student_desc = describe(backbone)
    target_state, target_desc = _target_state(backbone, target, config)
    dropped = []
    if target_state is not None:
        backbone, dropped = map_state_to_target(
            backbone, target_state, target_desc)
    info = provenance(ckpt)
    meta = dict(
        source=source_note or osp.abspath(checkpoint),
        source_sha256=sha256_file(checkpoint),
        method=method or info['method'],
        teacher=teacher or info['teacher'],
        teacher_sha256=info['teacher_sha256'],
        student=student_desc,
        target=target_desc or 'student keys as saved (no target given)',
        dropped_keys=list(dropped),
        exported_by='kd_plugins.export')
    with atomic_path(out_file) as tmp:  # never a half-written file
        torch.save(dict(state_dict=backbone, meta=meta), tmp)
    return backbone


def read_meta(path: str) -> Dict:
    """The ``meta`` of an exported backbone (empty when there is none)."""
    data = torch.load(path, map_location='cpu', weights_only=True)
    return dict(data.get('meta', {})) if isinstance(data, dict) else {}
