# SSKD's multi-loss baseline: sskd_r18w8_r18w16_mnist5k.py with the four
# stage losses trained at once through full forward passes instead of stage
# by stage (``mode='multi_loss'``); same teacher, data and epochs.
#   python tools/train.py configs/sskd/sskd_r18w8_r18w16_mnist5k_multi_loss.py \
#       --cfg-options model.teacher_ckpt=work_dirs/ssld_mnist5k_demo/teacher.pth
_base_ = ['./sskd_r18w8_r18w16_mnist5k.py']
model = dict(mode='multi_loss')
work_dir = 'work_dirs/sskd_r18w8_r18w16_mnist5k_multi_loss'
