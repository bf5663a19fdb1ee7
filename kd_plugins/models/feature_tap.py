"""Feature taps: read a named module's output through one forward hook.

A tap names a module by its path in ``model.named_modules()`` (for example
``'backbone.layer3'`` or ``'neck'``). The name is checked when the tap is
built, and a wrong name raises ``ValueError`` listing the closest real names.
The hook is registered once; each forward stores the module's output, and
:meth:`FeatureTap.pop` hands it over and clears it, so a stale feature from an
earlier step can never be read by mistake.
"""
import difflib
from typing import Any, Optional

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


class FeatureTap:
    """Record the output of ``model``'s submodule ``name`` on each forward.

    Args:
        model: the network that owns the module.
        name: dotted module path, validated now.
        owner: word used in error messages (``'student'``/``'teacher'``).
        index: when the module returns a tuple or list (mmpretrain backbones
            return a tuple of stage outputs), keep only this element.
    """

    def __init__(self, model: nn.Module, name: str, owner: str = 'model',
                 index: Optional[int] = None) -> None:
        self.name = name
        self.owner = owner
        self.index = index
        self.module = resolve_module(model, name, owner)
        self._value: Any = None
        self._handle = self.module.register_forward_hook(self._hook)

    def _hook(self, module: nn.Module, args: Any, output: Any) -> None:
        if self.index is not None:
            output = output[self.index]
        self._value = output

    def pop(self) -> Any:
        """Return the last recorded output and forget it."""
        if self._value is None:
            raise RuntimeError(
                f'feature tap {self.name!r} on the {self.owner} holds no '
                'output: the module did not run in the last forward. Check '
                'that the forward computes this module.')
        value, self._value = self._value, None
        return value

    def remove(self) -> None:
        self._handle.remove()

    def __repr__(self) -> str:
        return f'FeatureTap({self.owner}.{self.name})'
