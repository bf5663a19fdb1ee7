# YOLOv3 at 320 px, COCO, on a distilled ResNet-50 student backbone instead
# of Darknet-53: C3-C5 (512/1024/2048 channels) feed the neck at Darknet's
# widths. Backbone from a distillation config whose student is mmpretrain's
# ResNet depth=50, e.g. configs/ssld/ssld_r18_r34_imagenet.py with the student at
# depth 50 (see configs/downstream/mmdet/faster-rcnn_r50-distilled_fpn_1x_coco.py):
#   python tools/export_backbone.py CKPT \
#       work_dirs/backbones/r50_distilled_mmdet.pth --config THIS_CONFIG
_base_ = ['./yolov3_r18-distilled_8xb8-320-273e_coco.py']
model = dict(
    backbone=dict(
        depth=50,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/backbones/r50_distilled_mmdet.pth')),
    neck=dict(in_channels=[2048, 1024, 512], out_channels=[512, 256, 128]),
    bbox_head=dict(in_channels=[512, 256, 128],
                   out_channels=[1024, 512, 256]))
