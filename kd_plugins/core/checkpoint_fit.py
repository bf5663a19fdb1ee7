"""Does a checkpoint fit the model a config builds? Said by prefix and key.

mmengine loads ``load_from`` and ``--resume`` checkpoints non-strictly: keys
that do not fit only log a warning and leave those weights as initialised,
so a checkpoint of another config evaluates a random student, and a resume
fails later inside the optimizer (``size of tensor a (16) must match``).
:func:`fit_problems` compares a checkpoint's state dict with the model's and
returns one sentence per problem, naming whole prefixes where a whole part is
absent (``no student.* keys``) and keys otherwise;
:class:`~kd_plugins.core.hooks.SafeCheckpointHook` raises with them before
anything is loaded.
"""
from collections import defaultdict
from typing import Dict, List, Mapping, Tuple

from kd_plugins.core.checkpoint import DDP_PREFIX, compare_keys, listing

_COUNTER = 'num_batches_tracked'


def top_prefixes(keys) -> Dict[str, int]:
    """First key component -> number of keys (counters left out)."""
    out: Dict[str, int] = defaultdict(int)
    for k in keys:
        if not k.endswith(_COUNTER):
            out[k.split('.')[0]] += 1
    return dict(out)


def checkpoint_state(checkpoint: Mapping) -> dict:
    """The state dict mmengine loads from ``checkpoint`` (``state_dict``, or
    the file itself), without the DDP ``module.`` prefix."""
    state = checkpoint.get('state_dict', checkpoint)
    return {(k[len(DDP_PREFIX):] if k.startswith(DDP_PREFIX) else k): v
            for k, v in state.items()}


def _by_prefix(keys: List[str], totals: Mapping[str, int], what: str
               ) -> Tuple[List[str], List[str]]:
    """'no student.* keys (the model has 120)' for prefixes absent whole,
    then the other keys listed."""
    groups: Dict[str, List[str]] = defaultdict(list)
    for k in keys:
        if not k.endswith(_COUNTER):
            groups[k.split('.')[0]].append(k)
    out, rest = [], []
    for prefix, ks in sorted(groups.items()):
        if len(ks) == totals.get(prefix, -1) and '.' in ks[0]:
            out.append(what.format(prefix=prefix, n=len(ks)))
        else:
            rest.extend(ks)
    return out, rest


def fit_problems(own: Mapping, state: Mapping, exact: bool) -> List[str]:
    """Why ``state`` does not fit a model whose state dict is ``own``.

    Args:
        exact: also report keys the model does not have (a resume must
            restore exactly the model it continues).
    """
    found = compare_keys(own, state)
    problems, rest = _by_prefix(
        found.missing, top_prefixes(own),
        'no {prefix}.* keys (the model has {n} under {prefix}.)')
    if rest:
        problems.append(f'{len(rest)} of the model\'s keys missing: '
                        f'{listing(rest, 8)}')
    if found.wrong_shape:
        problems.append(f'{len(found.wrong_shape)} keys with another shape: '
                        f'{listing(found.wrong_shape, 8)}')
    if exact and found.unexpected:
        whole, rest = _by_prefix(
            found.unexpected, top_prefixes(state),
            '{n} {prefix}.* keys the model does not have')
        problems.extend(whole)
        if rest:
            problems.append(f'{len(rest)} keys the model does not have: '
                            f'{listing(rest, 8)}')
    return problems


def describe_prefixes(keys) -> str:
    """'student (120 keys), teacher (98 keys)'."""
    tops = top_prefixes(keys)
    return ', '.join(f'{p} ({n} keys)' for p, n in sorted(tops.items())) \
        or 'no keys'
