"""The feature-tap contract shared by every method that reads features
from inside a network it does not own.

A tap

1. names its modules by their path in ``model.named_modules()`` and checks
   the names when it is built (:func:`resolve_module`: a wrong name raises
   ``ValueError`` listing the closest real names);
2. registers its forward hooks once, at build time, on the *unmodified*
   network (no forked class, no patching), and calls the network's own
   forward;
3. hands each recorded feature over once and forgets it, so a stale feature
   from an earlier step can never be read by mistake.

Two taps follow it, and they stay two because their hooks do different
jobs that one class would only hide behind flags:

- SSKD's :class:`~kd_plugins.methods.sskd.prefix.StagePrefix` records the
  output of each stage's last block *and stops the forward there*, so a
  stage-i step never computes the later stages;
- KDEP's :class:`~kd_plugins.methods.kdep.pre_relu.PreReLUTap` rebuilds a
  tensor no module returns (the last block's sum *before* its in-place
  ReLU) from hooks on the residual branch and the identity path (for a
  Vision Transformer, its ``ViTFeatureTap`` takes the head's input).
"""
import difflib

import torch.nn as nn


def resolve_module(model: nn.Module, name: str, owner: str = 'model'
                   ) -> nn.Module:
    """Return ``model``'s submodule called ``name`` or raise a clear error."""
    modules = dict(model.named_modules())
    if name in modules and name != '':
        return modules[name]
    candidates = [n for n in modules if n]
    close = difflib.get_close_matches(name, candidates, n=5, cutoff=0.4)
    top = sorted({n.split('.')[0] for n in candidates})
    hint = (f'closest names: {close}' if close else
            f'top-level modules: {top}')
    raise ValueError(
        f'feature tap {name!r} names no module of the {owner} '
        f'({type(model).__name__}); {hint}. Use a path from '
        f'{owner}.named_modules(), e.g. {candidates[:1] or ["backbone"]}.')
