# OCRNet (output stride 8), Cityscapes 512x1024, 40k iterations, on a
# distilled ResNet-18 student backbone. mmseg has no ResNet-18 OCRNet: the
# heads are the ResNet-50 ones at a quarter of the width, as mmseg scales
# its other ResNet-18 configs.
# Backbone from configs/ssld/ssld_r18_r34_imagenet.py (SSLD),
# configs/sskd/sskd_r18_r34_imagenet.py (SSKD) or
# configs/kdep/kdep_r18_r50_imagenet10pct_90e.py (KDEP), all mmpretrain ResNet-18:
#   python tools/export_backbone.py work_dirs/ssld_r18_r34_imagenet/epoch_360.pth \
#       work_dirs/backbones/r18_distilled_mmseg.pth --config THIS_CONFIG
# Plain ResNet instead of mmseg's ResNetV1c: see the DeepLabV3+ R-18 config.
_base_ = ['./ocrnet_r50-distilled-d8_4xb2-40k_cityscapes-512x1024.py']
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(
        depth=18,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/backbones/r18_distilled_mmseg.pth')),
    decode_head=[
        dict(type='FCNHead', in_channels=256, in_index=2, channels=64,
             num_convs=1, concat_input=False, dropout_ratio=0.1,
             num_classes=19, norm_cfg=norm_cfg, align_corners=False,
             loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                              loss_weight=0.4)),
        dict(type='OCRHead', in_channels=512, in_index=3, channels=128,
             ocr_channels=64, dropout_ratio=0.1, num_classes=19,
             norm_cfg=norm_cfg, align_corners=False,
             loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                              loss_weight=1.0)),
    ])
