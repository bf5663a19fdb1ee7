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

timm ResNets (in mmpretrain's ``TIMMBackbone`` or ``TimmClassifier``, or
bare): timm's blocks give the last activation a module of its own
(``act2`` of ``BasicBlock``, ``act3`` of ``Bottleneck``) that receives
``out + shortcut``; a forward pre-hook copies that input, the pre-ReLU map.

Vision Transformers (mmpretrain's ``VisionTransformer``, DINOv2 archs
included) have no ReLU: :class:`ViTFeatureTap` takes the feature the
classifier head reads, see its docstring for why. :func:`penultimate_tap`
picks the tap for a network.

The hooks are registered once, when the tap is built, and validated then: an
unsupported backbone raises ``ValueError`` naming it and the supported ones.
"""
from typing import Any, Optional

import torch.nn as nn
from mmpretrain.models.backbones import (
    MobileNetV2,
    ResNet,
    VisionTransformer,
)
from mmpretrain.models.backbones.resnet import BasicBlock, Bottleneck
from torch import Tensor

SUPPORTED = ('ResNet (ResNetV1c, ResNetV1d, ResNet_CIFAR, CIFARResNet and '
             "other subclasses built from mmpretrain's BasicBlock or "
             'Bottleneck)', 'MobileNetV2',
             "timm ResNets (mmpretrain's TIMMBackbone or TimmClassifier)",
             "VisionTransformer (ViTFeatureTap: the head's input)")


def global_avg_pool(x: Tensor) -> Tensor:
    """N x C x H x W -> N x C (the pooled penultimate feature)."""
    return x.mean(dim=(2, 3))


def backbone_of(model: nn.Module) -> nn.Module:
    """The backbone of a classifier, or ``model`` itself if it is one."""
    return getattr(model, 'backbone', model)


def _timm_resnet(net: nn.Module) -> Optional[nn.Module]:
    """The timm ResNet in ``net`` (itself, a ``TIMMBackbone``'s
    ``timm_model`` or a ``TimmClassifier``'s ``model``), if any."""
    try:
        from timm.models.resnet import ResNet as TimmResNet
    except ImportError:  # timm is optional
        return None
    for candidate in (net, getattr(net, 'timm_model', None),
                      getattr(net, 'model', None)):
        if isinstance(candidate, TimmResNet):
            return candidate
    return None


def penultimate_tap(model: nn.Module, owner: str = 'model'):
    """KDEP's distillation feature of ``model``: :class:`ViTFeatureTap` for
    a Vision Transformer, :class:`PreReLUTap` for the CNN families."""
    if isinstance(backbone_of(model), VisionTransformer):
        return ViTFeatureTap(model, owner)
    return PreReLUTap(model, owner)


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
        elif _timm_resnet(backbone) is not None:
            self._tap_timm_resnet(_timm_resnet(backbone))
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

    def _tap_timm_resnet(self, net: nn.Module) -> None:
        from timm.models.resnet import BasicBlock as TimmBasic
        from timm.models.resnet import Bottleneck as TimmBottleneck
        index = len(net.layer4) - 1
        block = net.layer4[index]
        if type(block).forward not in (TimmBasic.forward,
                                       TimmBottleneck.forward):
            raise ValueError(
                f'KDEP pre-ReLU feature: the last block of the {self.owner} '
                f'timm ResNet is a {type(block).__name__} whose forward is '
                "not timm's BasicBlock/Bottleneck forward.")
        name, norm = ('act2', block.bn2) if isinstance(block, TimmBasic) \
            else ('act3', block.bn3)
        self.channels = norm.num_features
        self.layer = f'layer4.{index}.{name} input (pre-ReLU: out + shortcut)'
        self.activation = getattr(block, name)
        self._handles.append(
            self.activation.register_forward_pre_hook(self._keep_act_input))

    # ----------------------------------------------------------------- hooks
    def _keep_act_input(self, module: nn.Module, args: Any) -> None:
        # A copy: the activation runs in place on this very tensor.
        self._residual = args[0].clone()

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


class ViTFeatureTap:
    """KDEP's distillation feature for a Vision Transformer: the feature the
    classifier head reads, i.e. the backbone's last output with
    ``out_type='cls_token'`` (the class token after the final LayerNorm
    ``ln1``) or ``'avg_featmap'`` (the patch tokens' mean after ``ln2``).

    Why this feature stands in for the pre-ReLU one: KDEP distils the
    penultimate feature, the one the classifier reads, at the point where
    nothing has truncated it yet: a CNN's final ReLU zeroes the negative
    half, which the signed SVD-projected targets need (KDEP Sec. 3.2). A
    ViT has no such truncation after its last block: the final LayerNorm
    is a per-token affine normalisation that keeps signs, so the head's
    input is already signed and complete. The token before that norm (the
    residual stream) is not what the head reads, and its channel scales
    are not normalised: whatever spread they have would reach the SVD
    targets unchecked, the spread that KDEP's Std Ratio (Sec. 3.3) warns
    of.

    Same contract as :class:`PreReLUTap` (one forward hook on the
    unmodified backbone, registered and checked at build time; each
    feature handed over once).
    """

    OUT_TYPES = {'cls_token': 'class token', 'avg_featmap': 'mean patch token'}

    def __init__(self, model: nn.Module, owner: str = 'model') -> None:
        self.owner = owner
        backbone = backbone_of(model)
        if not isinstance(backbone, VisionTransformer):
            raise ValueError(
                f'ViTFeatureTap: the {owner} backbone is a '
                f'{type(backbone).__name__}, not a VisionTransformer.')
        if backbone.out_type not in self.OUT_TYPES:
            raise ValueError(
                f"KDEP feature: the {owner} VisionTransformer has "
                f"out_type={backbone.out_type!r}; set out_type='cls_token' "
                "(or 'avg_featmap'), the pooled feature its head reads.")
        last = backbone.num_layers - 1
        if max(backbone.out_indices) != last:
            raise ValueError(
                f'KDEP feature: the {owner} VisionTransformer outputs layers '
                f'{list(backbone.out_indices)}, not its last layer ({last}); '
                'set out_indices=-1.')
        self.channels = backbone.embed_dims
        norm = {'cls_token': ' after ln1' if backbone.final_norm else
                ' (no final norm)', 'avg_featmap': ' after ln2'}
        self.layer = (f'layers.{last} {self.OUT_TYPES[backbone.out_type]}'
                      f'{norm[backbone.out_type]} (the head\'s input)')
        self.activation = None
        self._feature: Optional[Tensor] = None
        self._handles = [backbone.register_forward_hook(self._keep)]

    def _keep(self, module: nn.Module, args: Any, output) -> None:
        self._feature = output[-1]  # N x D, the last layer's output

    def pop(self) -> Tensor:
        """The pooled feature (N x D); then forget it."""
        if self._feature is None:
            raise RuntimeError(
                f'ViT feature tap on the {self.owner} holds no feature: the '
                'backbone did not run since the last read.')
        feature, self._feature = self._feature, None
        return feature

    def pop_post_activation(self) -> Tensor:
        raise ValueError(
            'a Vision Transformer has no final activation: '
            "student_feature='post_relu' is for CNN students.")

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def __repr__(self) -> str:
        return f'ViTFeatureTap({self.owner}: {self.layer}, C={self.channels})'
