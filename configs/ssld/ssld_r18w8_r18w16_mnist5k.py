# SSLD on the embedded digits with the 1/8-width student of the other
# methods (ssld_r18w4_r18w16_mnist5k.py at width 8: same teacher, loss,
# data and schedule), as the effectiveness benchmark runs it on the
# labeled digits plus the unlabeled ones mined by tools/ssld_mine.py.
#   python tools/ssld_mine.py configs/ssld/ssld_r18w8_r18w16_mnist5k.py \
#       --checkpoint work_dirs/ssld_mnist5k_demo/teacher.pth \
#       --gallery data/mnist5k/unlabeled --val data/mnist5k/val \
#       --out work_dirs/ssld_mined/unlabeled.txt --topk 250
#   python tools/train.py configs/ssld/ssld_r18w8_r18w16_mnist5k.py \
#       --cfg-options train_dataloader.dataset.unlabeled.ann_file=work_dirs/ssld_mined/unlabeled.txt
_base_ = ['./ssld_r18w4_r18w16_mnist5k.py']
model = dict(
    student=dict(
        backbone=dict(stem_channels=8, base_channels=8),
        head=dict(in_channels=64),
    ))
