# Fine-tuning of a distilled backbone on the embedded MNIST-5k digits: the
# linear-probe config with every layer trained (lower learning rate), for
# the same students (see linear_probe_r18w8.py).
#   python tools/train.py configs/downstream/mnist5k/finetune_r18w8.py
_base_ = ['./linear_probe_r18w8.py']
model = dict(backbone=dict(frozen_stages=-1, norm_eval=False))
optim_wrapper = dict(optimizer=dict(lr=0.05, weight_decay=5e-4))
