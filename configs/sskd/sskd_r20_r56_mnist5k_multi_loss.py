# The multi-loss baseline of sskd_r20_r56_mnist5k.py: the three stage
# losses trained at once (``mode='multi_loss'``); same teacher, data, epochs.
_base_ = ['./sskd_r20_r56_mnist5k.py']
model = dict(mode='multi_loss')
work_dir = 'work_dirs/sskd_r20_r56_mnist5k_multi_loss'
