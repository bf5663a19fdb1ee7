"""The seven target views of SimDis (paper, appendix Table 2) and the presets.

The student's online network S sees two augmentations v and v' of an image.
For each selected *target view* it has one predictor head, whose prediction
of v must match the view's projection (and symmetrically for v'):

=========================  =======  =====================  ===============
name                       paper    target of S(v)         official code
=========================  =======  =====================  ===============
``student_online_other``   S-v'     S's projection of v'   ``s_dv``
``student_ema_same``       S^-v     S^'s projection of v   ``sema_sv``
``student_ema_other``      S^-v'    S^'s projection of v'  ``sema_dv``
``teacher_online_same``    T-v      T's projection of v    ``t_sv``
``teacher_online_other``   T-v'     T's projection of v'   ``t_dv``
``teacher_ema_same``       T^-v     T^'s projection of v   ``tema_sv``
``teacher_ema_other``      T^-v'    T^'s projection of v'  ``tema_dv``
=========================  =======  =====================  ===============

(S^ and T^ are the EMA targets.) ``student_ema_other`` is BYOL's own loss and
is part of every row of the paper's table, so it is required.
"""
from typing import Sequence, Tuple

VIEWS: Tuple[str, ...] = (
    'student_online_other',
    'student_ema_same',
    'student_ema_other',
    'teacher_online_same',
    'teacher_online_other',
    'teacher_ema_same',
    'teacher_ema_other',
)
BYOL_VIEW = 'student_ema_other'

# The official code's 2-view setting (``resnet18.sema_dv.tema_dv``): BYOL plus
# the teacher's EMA projection of the other view.
SIMDIS_OFF: Tuple[str, ...] = ('student_ema_other', 'teacher_ema_other')
SIMDIS_ON: Tuple[str, ...] = SIMDIS_OFF
SIMDIS_ON_7V: Tuple[str, ...] = VIEWS
PRESETS = {'SimDis-Off': SIMDIS_OFF, 'SimDis-On': SIMDIS_ON,
           'SimDis-On-7v': SIMDIS_ON_7V}


def parse_targets(targets) -> Tuple[str, ...]:
    """Validate a list of view names, or expand a preset name."""
    if isinstance(targets, str):
        if targets not in PRESETS:
            raise ValueError(
                f'unknown SimDis preset {targets!r}; use one of '
                f'{sorted(PRESETS)} or a list of views from {list(VIEWS)}.')
        return PRESETS[targets]
    if not isinstance(targets, Sequence) or not targets:
        raise ValueError('targets must be a non-empty list of view names '
                         f'from {list(VIEWS)}, got {targets!r}')
    unknown = [t for t in targets if t not in VIEWS]
    if unknown:
        raise ValueError(f'unknown SimDis target view(s) {unknown}; valid '
                         f'names: {list(VIEWS)}.')
    if len(set(targets)) != len(targets):
        raise ValueError(f'targets {list(targets)} name a view twice.')
    if BYOL_VIEW not in targets:
        raise ValueError(
            f'targets {list(targets)} lack {BYOL_VIEW!r}, the student\'s own '
            'BYOL loss, which every SimDis variant keeps; add it.')
    # Keep the table's order so the logs read the same for any spelling.
    return tuple(v for v in VIEWS if v in targets)


def needs(targets: Sequence[str], prefix: str) -> bool:
    """Whether a view starting with ``prefix`` is selected."""
    return any(t.startswith(prefix) for t in targets)
