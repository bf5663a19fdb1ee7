"""Split a backbone into stages at its down-sampling points (SSKD, Sec. 3.3).

SSKD "treats each resolution down-sampling layer as a breakpoint"; for a
ResNet at 224 x 224 the four residual stages (56, 28, 14, 7) are the stages,
the stem (first conv and pooling) belonging to the first.

We find the stages from the network itself, for any sequential mmpretrain
backbone (ResNet family, MobileNetV2/V3, EfficientNet, ...), without forking
it:

1. *Blocks*: the backbone's children, with ``nn.Sequential``/``ModuleList``
   containers opened recursively (``layer1.0``, ``layers.3.1``, ...).
2. One forward of a dummy image records the order in which blocks run and
   the spatial size of each block's output.
3. Consecutive blocks with the same output resolution form a group. A
   leading group of stem layers only (no block with two or more
   convolutions: ResNet's conv1/norm1/relu, a deep stem's three ConvModules)
   joins the next group, as the paper's ResNet stem joins stage 1; a stem
   conv followed by real blocks at its resolution (MobileNet, EfficientNet)
   stays a stage.
4. ``num_stages`` larger than the natural count halves the first groups, one
   more per extra stage (the paper's 5-8 stage ablation: "the first stage is
   evenly divided into two halves, '6 stages' means that the first two stages
   are evenly divided, and so on").

Each stage knows its blocks (what is frozen once it is trained), its last
block (the tap whose output is the stage feature, and where the forward may
stop), and its output shape.
"""
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn


@dataclass
class Stage:
    blocks: List[str]              # module names in the backbone, run order
    shapes: List[Tuple[int, ...]]  # C x H x W after each block (dummy input)
    is_block: List[bool]           # a real block (2+ convs), not a stem layer

    @property
    def last(self) -> str:
        return self.blocks[-1]

    @property
    def out_shape(self) -> Tuple[int, ...]:
        return self.shapes[-1]

    def halves(self, owner: str, index: int) -> List['Stage']:
        """Split the real blocks evenly; stem layers stay with the first."""
        real = [j for j, b in enumerate(self.is_block) if b]
        if len(real) < 2:
            raise ValueError(
                f'{owner}: stage {index + 1} ({self.blocks}) has fewer than '
                'two blocks and cannot be halved for a finer split; use '
                'fewer stages.')
        cut = real[(len(real) + 1) // 2]
        return [Stage(self.blocks[:cut], self.shapes[:cut],
                      self.is_block[:cut]),
                Stage(self.blocks[cut:], self.shapes[cut:],
                      self.is_block[cut:])]


def _blocks(module: nn.Module, prefix: str = ''
            ) -> List[Tuple[str, nn.Module, bool]]:
    """(name, module, is_block) for every block candidate, in definition
    order; containers are opened recursively. ``is_block``: it holds two or
    more convolutions (a residual/inverted-residual block, not a stem layer).
    """
    out = []
    for name, child in module.named_children():
        full = f'{prefix}{name}'
        if isinstance(child, (nn.Sequential, nn.ModuleList)) and len(child):
            out += _blocks(child, full + '.')
        else:
            n_conv = sum(isinstance(m, nn.modules.conv._ConvNd)
                         for m in child.modules())
            out.append((full, child, n_conv >= 2))
    return out


def _first_tensor(x):
    while isinstance(x, (tuple, list)):
        x = x[0]
    return x


def _trace(backbone: nn.Module, input_size: Sequence[int]):
    """Run a dummy image; return blocks in run order with output shapes."""
    records = []
    handles = []
    for name, module, is_block in _blocks(backbone):
        def hook(m, args, out, name=name, is_block=is_block):
            t = _first_tensor(out)
            if torch.is_tensor(t) and t.dim() == 4 and \
                    all(r[0] != name for r in records):
                records.append((name, tuple(t.shape[1:]), is_block))
        handles.append(module.register_forward_hook(hook))
    was_training = backbone.training
    backbone.eval()
    try:
        with torch.no_grad():
            p = next(backbone.parameters(), None)
            device = p.device if p is not None else 'cpu'
            backbone(torch.zeros(1, *input_size, device=device))
    finally:
        for h in handles:
            h.remove()
        backbone.train(was_training)
    return records


def _halve(stages: List[Stage], extra: int, owner: str) -> List[Stage]:
    out: List[Stage] = []
    for i, st in enumerate(stages):
        out += st.halves(owner, i) if i < extra else [st]
    return out


def partition_backbone(backbone: nn.Module, num_stages: Optional[int] = None,
                       input_size: Sequence[int] = (3, 224, 224),
                       owner: str = 'backbone') -> List[Stage]:
    """Stages of ``backbone``; see the module docstring.

    Args:
        num_stages: ``None`` for the natural count (one per resolution),
            or more for a finer split (up to twice the natural count).
        input_size: C x H x W of the dummy image (use the training size).
        owner: word used in error messages.
    """
    records = _trace(backbone, input_size)
    if not records:
        raise ValueError(f'{owner}: {type(backbone).__name__} produced no 4-D '
                         'feature map; it cannot be split into stages.')
    groups: List[List[Tuple[str, tuple, bool]]] = []
    for rec in records:
        if groups and groups[-1][-1][1][1:] == rec[1][1:]:
            groups[-1].append(rec)
        else:
            groups.append([rec])
    # a group of stem layers only joins the next group
    while len(groups) > 1 and not any(r[2] for r in groups[0]):
        groups[1] = groups[0] + groups[1]
        groups.pop(0)
    stages = [Stage([r[0] for r in g], [r[1] for r in g], [r[2] for r in g])
              for g in groups]
    natural = len(stages)
    if num_stages is None or num_stages == natural:
        return stages
    if not natural < num_stages <= 2 * natural:
        raise ValueError(
            f'{owner}: {type(backbone).__name__} has {natural} stages at '
            f'its down-sampling points (at input {tuple(input_size)}); '
            f'{num_stages} stages cannot be made. Use {natural}, or up to '
            f'{2 * natural} to halve the first stages.')
    return _halve(stages, num_stages - natural, owner)
