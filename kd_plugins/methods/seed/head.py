"""SEED's MLP projection head, on the pooled feature of teacher and student.

Paper, Sec. 4.1: "two linear layers and one ReLU activation layer in between
... after average pooling. The dimension of the last feature dimension is
128": Linear(d, h) - ReLU - Linear(h, 128) with h = d. Appendix A (Table 6):
the MobileNet-v3 / EfficientNet students use a deeper head, one more
Linear-ReLU: Linear(d, h) - ReLU - Linear(h, h) - ReLU - Linear(h, 128)
(``num_layers=3``).

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
        hid_channels: h, the hidden width (default: ``in_channels``).
        out_channels: D, the embedding size (paper: 128).
        num_layers: 2 (paper's head) or 3 (the deeper head of Appendix A).

    ``forward`` takes a tensor or an mmpretrain neck's tuple (last item) and
    returns the embedding *before* L2 normalisation.
    """

    def __init__(self, in_channels: int, hid_channels: Optional[int] = None,
                 out_channels: int = 128, num_layers: int = 2,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if num_layers not in (2, 3):
            raise ValueError('SEEDHead: num_layers must be 2 (the paper\'s '
                             'head) or 3 (the deeper MobileNet/EfficientNet '
                             f'head), got {num_layers!r}.')
        for name, value in (('in_channels', in_channels),
                            ('out_channels', out_channels)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'SEEDHead: {name} must be a positive '
                                 f'integer, got {value!r}.')
        hid = hid_channels or in_channels
        self.in_channels = in_channels
        self.out_channels = out_channels
        layers = [nn.Linear(in_channels, hid), nn.ReLU(inplace=True)]
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
