"""SEED's MLP projection head, on the pooled feature of teacher and student.

Paper, Sec. 4.1: "two linear layers and one ReLU activation layer in between
... after average pooling. The dimension of the last feature dimension is
128": Linear(d, h) - ReLU - Linear(h, 128) with h = d.

Mobile students. Appendix A (Table 6) gives MobileNetV3 / EfficientNet "one
additional linear projection head". The official code
(github.com/jacobswan1/SEED, ``seed/builder.py`` with ``mlp=True``) puts the
two-layer MLP in place of the student network's last ``fc`` and keeps what
comes before it:

- MobileNetV3-L (``seed/architectures/mobilenet/mobilenetv3.py``): the
  network's ``classifier`` Linear(960, 1280) - h_swish - Dropout(0.2), then
  Linear(1280, 1280) - ReLU - Linear(1280, 128): here
  ``expand_channels=1280, dropout=0.2`` on a 960-d pooled feature;
- EfficientNet-B0 (``seed/architectures/efficientnet/model.py``, lukemelas'
  code, dropout rate 0.2 for b0): Dropout(0.2), then Linear(1280, 1280) -
  ReLU - Linear(1280, 128): here ``dropout=0.2``.

h_swish, x * relu6(x + 3) / 6, is ``nn.Hardswish``. ``num_layers=3``
(Linear(d, h) - ReLU - Linear(h, h) - ReLU - Linear(h, 128), all at the
backbone width) is another reading of the appendix, kept as an option; the
shipped mobile configs use the official heads.

The layers sit in ``self.mlp`` so that the two-layer head has the key names
of mmpretrain's ``MoCoV2Neck`` (``mlp.0.*``, ``mlp.2.*``): a MoCo-v2
checkpoint's ``neck.mlp.*`` maps onto a teacher's ``head.mlp.*``.
"""
from typing import Optional, Sequence, Union

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from kd_plugins.registry import MODELS


@MODELS.register_module()
class SEEDHead(BaseModule):
    """MLP projection head: pooled feature (B x d) -> embedding (B x D).

    Args:
        in_channels: d, the pooled backbone feature size.
        hid_channels: h, the hidden width (default: the MLP's input width,
            ``expand_channels`` or ``in_channels``).
        out_channels: D, the embedding size (paper: 128).
        num_layers: 2 (paper's head) or 3 (one more Linear-ReLU).
        expand_channels: put Linear(d, e) - Hardswish before the MLP
            (MobileNetV3's last layers in the official code: e = 1280).
        dropout: dropout probability before the MLP (official mobile
            students: 0.2; default 0, none).

    ``forward`` takes a tensor or an mmpretrain neck's tuple (last item) and
    returns the embedding *before* L2 normalisation.
    """

    def __init__(self, in_channels: int, hid_channels: Optional[int] = None,
                 out_channels: int = 128, num_layers: int = 2,
                 expand_channels: Optional[int] = None, dropout: float = 0.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if num_layers not in (2, 3):
            raise ValueError('SEEDHead: num_layers must be 2 (the paper\'s '
                             'head) or 3 (one more Linear-ReLU), got '
                             f'{num_layers!r}.')
        for name, value in (('in_channels', in_channels),
                            ('out_channels', out_channels),
                            ('expand_channels', 1 if expand_channels is None
                             else expand_channels)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'SEEDHead: {name} must be a positive '
                                 f'integer, got {value!r}.')
        if not 0 <= dropout < 1:
            raise ValueError(f'SEEDHead: dropout must be in [0, 1), got '
                             f'{dropout!r}.')
        self.in_channels = in_channels
        self.out_channels = out_channels
        layers = []
        d = in_channels
        if expand_channels is not None:  # MobileNetV3's Linear-hswish
            layers += [nn.Linear(d, expand_channels), nn.Hardswish()]
            d = expand_channels
        if dropout:
            layers.append(nn.Dropout(dropout))
        hid = hid_channels or d
        layers += [nn.Linear(d, hid), nn.ReLU(inplace=True)]
        if num_layers == 3:
            layers += [nn.Linear(hid, hid), nn.ReLU(inplace=True)]
        layers.append(nn.Linear(hid, out_channels))
        self.mlp = nn.Sequential(*layers)

    def forward(self, feats: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        x = feats[-1] if isinstance(feats, (tuple, list)) else feats
        if x.dim() != 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'SEEDHead expects pooled features B x {self.in_channels}; '
                f'got {tuple(x.shape)}. Put a GlobalAveragePooling neck '
                'before it and set in_channels to the backbone\'s output '
                'channels.')
        return self.mlp(x)  # B x D
