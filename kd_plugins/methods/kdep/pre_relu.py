"""KDEP's distillation position: the penultimate feature *before* the ReLU.

KDEP (Sec. 3.2, "Pre-ReLU distillation feature position") distils the
teacher's and the student's globally pooled penultimate feature taken before
the final activation, because the SVD projection of the teacher feature has
negative as well as positive values. mmpretrain's backbones only return the
activated map, so :class:`PreReLUTap` rebuilds the pre-activation map from
forward hooks on *unmodified* backbones (no forked class, no patching):

ResNet family (``ResNet``, ``ResNetV1c``, ``ResNetV1d``, ``ResNet_CIFAR`` and
their subclasses, with mmpretrain's ``BasicBlock`` or ``Bottleneck``). The
last block of the last stage computes (mmpretrain ``resnet.py``)::

    out = drop_path(norm_last(conv_last(...)))   # residual branch
    identity = x if downsample is None else downsample(x)
    out += identity                               # in place
    out = relu(out)                               # in place

A hook on ``drop_path`` (an ``nn.Identity`` when the rate is 0) copies the
residual branch before the in-place addition; a pre-hook on the block (or a
hook on ``downsample``) records the identity path. ``pre = residual +
identity`` is exactly the tensor the final ReLU receives.

MobileNetV2: the last module ``conv2`` is a ``ConvModule`` (conv, BN,
ReLU6); the pre-activation map is the output of ``conv2``'s norm layer,
copied before the in-place ReLU6.

The hooks are registered once, when the tap is built, and validated then: an
unsupported backbone raises ``ValueError`` naming it and the supported ones.
"""
from typing import Any, Optional

import torch.nn as nn
from mmpretrain.models.backbones import MobileNetV2, ResNet
from mmpretrain.models.backbones.resnet import BasicBlock, Bottleneck
from torch import Tensor

SUPPORTED = ('ResNet (ResNetV1c, ResNetV1d, ResNet_CIFAR, CIFARResNet and '
             "other subclasses built from mmpretrain's BasicBlock or "
             'Bottleneck)', 'MobileNetV2')


def global_avg_pool(x: Tensor) -> Tensor:
    """N x C x H x W -> N x C (the pooled penultimate feature)."""
    return x.mean(dim=(2, 3))


def backbone_of(model: nn.Module) -> nn.Module:
    """The backbone of a classifier, or ``model`` itself if it is one."""
    return getattr(model, 'backbone', model)


class PreReLUTap:
    """Record the pre-activation output of a backbone's last layer.

    Args:
        model: an mmpretrain classifier (its ``backbone`` is tapped) or a
            bare backbone.
        owner: word used in error messages (``'student'``/``'teacher'``).

    Attributes:
        channels: C, the channel count of the tapped feature.
        activation: the backbone's own final activation module (ReLU or
            ReLU6), for the post-activation feature.
        layer: the tapped module's path in the backbone, for the record.
    """

    def __init__(self, model: nn.Module, owner: str = 'model') -> None:
        self.owner = owner
        backbone = backbone_of(model)
        self._residual: Optional[Tensor] = None
        self._identity: Optional[Tensor] = None
        self._handles = []
        if isinstance(backbone, ResNet):
            self._tap_resnet(backbone)
        elif isinstance(backbone, MobileNetV2):
            self._tap_mobilenet_v2(backbone)
        else:
            raise ValueError(
                f'KDEP pre-ReLU feature: the {owner} backbone '
                f'{type(backbone).__name__} is not supported; supported '
                f'families: {"; ".join(SUPPORTED)}. Use one of them, or add '
                'a tap for this family in '
                'kd_plugins/methods/kdep/pre_relu.py.')

    # ---------------------------------------------------------------- builds
    def _tap_resnet(self, backbone: ResNet) -> None:
        stage_name = backbone.res_layers[-1]
        index = len(getattr(backbone, stage_name)) - 1
        block = getattr(backbone, stage_name)[index]
        forward = type(block).forward
        if forward not in (BasicBlock.forward, Bottleneck.forward):
            raise ValueError(
                f'KDEP pre-ReLU feature: the last block of the {self.owner} '
                f'backbone {type(backbone).__name__} is a '
                f'{type(block).__name__} whose forward is not mmpretrain\'s '
                'BasicBlock/Bottleneck forward, so the pre-ReLU sum cannot be '
                f'rebuilt from hooks. Supported families: '
                f'{"; ".join(SUPPORTED)}.')
        if block.with_cp:
            raise ValueError(
                f'KDEP pre-ReLU feature: the {self.owner} backbone uses '
                'gradient checkpointing (with_cp=True), which re-runs the '
                'hooks in backward; set with_cp=False.')
        self.channels = block.out_channels
        self.layer = f'{stage_name}.{index} (pre-ReLU: out + identity)'
        self.activation = block.relu
        self._handles.append(
            block.drop_path.register_forward_hook(self._keep_residual))
        if block.downsample is not None:
            self._handles.append(
                block.downsample.register_forward_hook(self._keep_identity))
        else:
            self._handles.append(
                block.register_forward_pre_hook(self._keep_block_input))

    def _tap_mobilenet_v2(self, backbone: MobileNetV2) -> None:
        conv2 = backbone.conv2
        if conv2.norm_name is None or \
                tuple(conv2.order) != ('conv', 'norm', 'act'):
            raise ValueError(
                f'KDEP pre-ReLU feature: the {self.owner} MobileNetV2 last '
                f'ConvModule has norm={conv2.norm_name!r} and order '
                f'{conv2.order}; expected a norm layer and '
                "order=('conv', 'norm', 'act').")
        self.channels = conv2.conv.out_channels
        self.layer = f'conv2.{conv2.norm_name} (pre-ReLU6)'
        self.activation = conv2.activate
        self._handles.append(
            conv2.norm.register_forward_hook(self._keep_residual))

    # ----------------------------------------------------------------- hooks
    def _keep_residual(self, module: nn.Module, args: Any,
                       output: Tensor) -> None:
        # A copy: the block adds the identity and applies ReLU in place.
        self._residual = output.clone()

    def _keep_identity(self, module: nn.Module, args: Any,
                       output: Tensor) -> None:
        self._identity = output

    def _keep_block_input(self, module: nn.Module, args: Any) -> None:
        self._identity = args[0]

    # ------------------------------------------------------------------ read
    def pop_map(self) -> Tensor:
        """The last pre-activation map (N x C x H x W); then forget it."""
        if self._residual is None:
            raise RuntimeError(
                f'pre-ReLU tap on the {self.owner} holds no feature: the '
                'backbone did not run since the last read.')
        pre = self._residual  # N x C x H x W
        if self._identity is not None:
            pre = pre + self._identity  # N x C x H x W, before the ReLU
        self._residual, self._identity = None, None
        return pre

    def pop(self) -> Tensor:
        """The pooled pre-activation feature (N x C); then forget it."""
        return global_avg_pool(self.pop_map())

    def pop_post_activation(self) -> Tensor:
        """The pooled feature *after* the final activation (N x C), i.e.
        the backbone's usual pooled output (for the post-ReLU baseline)."""
        pre = self.pop_map()
        # out-of-place: the tapped modules are built with inplace=True
        return global_avg_pool(self.activation(pre.clone()))

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def __repr__(self) -> str:
        return f'PreReLUTap({self.owner}: {self.layer}, C={self.channels})'
