"""Scale a config's parameter schedule to another run length.

Overriding only ``train_cfg.max_iters`` (or ``max_epochs``) leaves the
warm-up and decay where the config put them: a 20-iteration run of a
1,000-iteration config never leaves its 100-iteration warm-up, and a longer
run decays to the floor early and stays there. :func:`scale_schedulers`
moves every scheduler's ``begin``, ``end``, ``T_max`` and ``milestones`` by
new / old, rounded, so the run is the config's schedule at another length:
warm-up the same fraction, the cosine ending at the new end. A scheduler
that followed the previous one still does; none ends past the run. The
units do not matter (an epoch-based scheduler in an epoch loop, an
iteration-based one converted from epochs): the ratio is the same. A
scheduler that would start at or after the new end (a 1-epoch run of a
config with a 5-epoch warm-up: the cosine after it) is dropped.

``tools/train.py`` applies it when ``--cfg-options`` changes the run length
and sets no ``param_scheduler.*`` key (:func:`kd_plugins.cli.
apply_cfg_options`) and prints what it changed; the effectiveness benchmark
scales its configs with it.
"""
from typing import List, Optional


def _span(s) -> str:
    text = f"[{s.get('begin', 0)}, {s.get('end', 'end')})"
    if 'T_max' in s:
        text += f" T_max {s['T_max']}"
    if 'milestones' in s:
        text += f" milestones {list(s['milestones'])}"
    return text


def scale_schedulers(schedulers: Optional[list], old: int, new: int
                     ) -> List[str]:
    """Scale ``schedulers`` (config dicts, changed in place) from a run of
    ``old`` steps to one of ``new``; one line per scheduler changed."""
    if not schedulers or old == new or old <= 0 or new <= 0:
        return []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    lines, kept = [], []
    prev_end = (0, 0)  # (old, new) end of the previous scheduler
    for s in schedulers:
        before = _span(s)
        begin, end = s.get('begin', 0), s.get('end', old)
        full = s.get('T_max') == end - begin
        s['begin'] = round(begin * new / old)
        if begin >= prev_end[0]:  # it followed the previous one: still so
            s['begin'] = max(s['begin'], prev_end[1])
        if s['begin'] >= new:  # a run this short ends before it starts
            lines.append(f"{s.get('type', '?')} {before} dropped: the run "
                         'ends before it would start')
            continue
        s['end'] = min(new, max(s['begin'] + 1, round(end * new / old)))
        if 'T_max' in s:
            s['T_max'] = s['end'] - s['begin'] if full else max(
                1, round(s['T_max'] * new / old))
        if 'milestones' in s:
            s['milestones'] = sorted(
                {round(m * new / old) for m in s['milestones']}
                & set(range(1, new)))
        prev_end = (end, s['end'])
        kept.append(s)
        lines.append(f"{s.get('type', '?')} {before} -> {_span(s)}")
    schedulers[:] = kept
    return lines
