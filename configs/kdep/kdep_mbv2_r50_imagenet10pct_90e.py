# KDEP, R50 -> MobileNetV2 on 10% of ImageNet-1k for 90 epochs (paper,
# appendix). MobileNetV2's penultimate feature is 1280-d, so the basis must
# come from a teacher at least that wide: ResNet-50's 2048-d feature serves
# it (the official code's 512-d basis cannot). Steps as in
# ./kdep_r18_r50_imagenet10pct_90e.py, with the same basis file (it depends
# on the teacher and the images only):
#   bash tools/dist_train.sh configs/kdep/kdep_mbv2_r50_imagenet10pct_90e.py 8
_base_ = ['./kdep_r18_r50_imagenet10pct_90e.py']
model = dict(
    student=dict(_delete_=True, type='MobileNetV2', widen_factor=1.0,
                 out_indices=(7, )),  # D_s = 1280 (conv2, pre-ReLU6)
)
