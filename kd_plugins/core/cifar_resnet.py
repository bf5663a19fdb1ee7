"""CIFARResNet: the 6n+2-layer CIFAR ResNets of He et al. (ResNet-20/56/110).

mmpretrain's ``ResNet_CIFAR`` has the CIFAR stem but only the ImageNet
depths (18 to 152, four stages from 64 channels). SSKD's CIFAR-100 pairs
(ResNet-56 teacher, ResNet-20 student) are the original three-stage networks
with 16/32/64 channels and n BasicBlocks per stage. This class only adds those
depths to ``ResNet_CIFAR``; everything else is mmpretrain's code.
"""
from mmpretrain.models.backbones.resnet import BasicBlock
from mmpretrain.models.backbones.resnet_cifar import ResNet_CIFAR

from kd_plugins.registry import MODELS


@MODELS.register_module()
class CIFARResNet(ResNet_CIFAR):
    """ResNet-(6n+2) for 32x32 images: 3 stages of n BasicBlocks, 16/32/64
    channels, strides 1/2/2.

    Args:
        depth: 20, 32, 44, 56 or 110.
        out_indices: stages to output (default the last).
        **kwargs: as mmpretrain's ``ResNet_CIFAR``.
    """

    arch_settings = {
        depth: (BasicBlock, ((depth - 2) // 6, ) * 3)
        for depth in (20, 32, 44, 56, 110)
    }

    def __init__(self, depth: int, out_indices=(2, ), **kwargs) -> None:
        if depth not in self.arch_settings:
            raise ValueError(f'CIFARResNet depth must be one of '
                             f'{sorted(self.arch_settings)}, got {depth}')
        kwargs.setdefault('num_stages', 3)
        kwargs.setdefault('stem_channels', 16)
        kwargs.setdefault('base_channels', 16)
        kwargs.setdefault('strides', (1, 2, 2))
        kwargs.setdefault('dilations', (1, 1, 1))
        super().__init__(depth, out_indices=out_indices, **kwargs)
