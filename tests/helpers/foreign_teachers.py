"""Tiny teachers from outside mmpretrain's ResNets, each with its own input
normalisation: a timm ResNet-18 at 1/8 width (through mmpretrain's
``TimmClassifier`` or ``TIMMBackbone``; timm is optional, so callers skip
without it) and a 2-layer Vision Transformer, plain or with DINOv2's
settings (patch 14, LayerScale)."""
import torch

from kd_plugins.core.distiller import build_data_preprocessor
from kd_plugins.registry import MODELS

#: the student side of every test here: MNIST statistics, BGR order
STUDENT_NORM = dict(mean=[33.3] * 3, std=[78.6] * 3, to_rgb=False)
#: timm's Inception-style statistics (0.5, 0.5 on the 0-1 scale), RGB
TIMM_NORM = dict(mean=[127.5] * 3, std=[127.5] * 3, to_rgb=True)
#: OpenAI CLIP's statistics on the 0-255 scale, RGB
CLIP_NORM = dict(mean=[122.770938, 116.7460125, 104.09373615],
                 std=[68.5005327, 66.6321579, 70.32316305], to_rgb=True)
#: ImageNet's statistics (DINOv2's), RGB
IMAGENET_NORM = dict(mean=[123.675, 116.28, 103.53],
                     std=[58.395, 57.12, 57.375], to_rgb=True)

IMG = 28  # image side of the batches fed to these teachers
#: timm's ResNet-18 at 1/8 width (64-d pooled feature); without timm's
#: zero-init of each block's last BN, so that at random weights the last
#: block's residual branch is not zero
TIMM_RESNET = dict(model_name='resnet18', channels=(8, 16, 32, 64),
                   stem_width=8, zero_init_last=False)
TINY_VIT = dict(embed_dims=32, num_layers=2, num_heads=2,
                feedforward_channels=64)


def vit_backbone(dinov2=False):
    """A 2-layer, 32-d VisionTransformer; ``dinov2``: DINOv2's patch size
    and LayerScale (mmpretrain's ``dinov2-*`` archs are these settings at
    full size)."""
    extra = dict(patch_size=14, layer_scale_init_value=1e-5) if dinov2 \
        else dict(patch_size=7)
    return dict(type='VisionTransformer', arch=dict(TINY_VIT), img_size=IMG,
                **extra)


def timm_classifier(num_classes=10, norm=TIMM_NORM):
    return dict(type='TimmClassifier', num_classes=num_classes,
                data_preprocessor=dict(norm), **TIMM_RESNET)


def vit_classifier(num_classes=10, dinov2=False, norm=CLIP_NORM):
    return dict(type='ImageClassifier', backbone=vit_backbone(dinov2),
                neck=None, data_preprocessor=dict(norm),
                head=dict(type='VisionTransformerClsHead',
                          num_classes=num_classes, in_channels=32))


def timm_encoder(out=16, norm=TIMM_NORM):
    """SEED teacher: timm ResNet (TIMMBackbone), GAP, SEEDHead."""
    return dict(type='ImageClassifier',
                backbone=dict(type='TIMMBackbone', **TIMM_RESNET),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='SEEDHead', in_channels=64, out_channels=out),
                data_preprocessor=dict(norm))


def vit_encoder(out=16, dinov2=True, norm=IMAGENET_NORM):
    """SEED teacher: ViT class token (after the final norm), SEEDHead."""
    return dict(type='ImageClassifier', backbone=vit_backbone(dinov2),
                neck=None, data_preprocessor=dict(norm),
                head=dict(type='SEEDHead', in_channels=32, out_channels=out))


#: the foreign teacher families, by name: (classifier, needs timm)
FAMILIES = {
    'timm_resnet': (timm_classifier, True),
    'vit': (vit_classifier, False),
    'vit_dinov2': (lambda **kw: vit_classifier(dinov2=True, **kw), False),
}


def own_network(cfg, ckpt):
    """The teacher network alone, loaded, in eval mode, and the data
    preprocessor its config declares (the student's when it declares
    none): the reference a bridged teacher must match."""
    cfg = dict(cfg)
    own = cfg.pop('data_preprocessor', None) or STUDENT_NORM
    net = MODELS.build(cfg)
    net.load_state_dict(torch.load(ckpt)['state_dict'])
    net.eval()
    return net, build_data_preprocessor(dict(own))
