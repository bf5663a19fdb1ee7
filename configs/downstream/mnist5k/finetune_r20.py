# Fine-tuning of the same-width SSKD pair's ResNet-20 student on the
# embedded MNIST-5k digits: the linear-probe config with every layer
# trained, at finetune_r18w8.py's learning rate and weight decay.
#   python tools/train.py configs/downstream/mnist5k/finetune_r20.py
_base_ = ['./linear_probe_r20.py']
model = dict(backbone=dict(frozen_stages=-1, norm_eval=False))
optim_wrapper = dict(optimizer=dict(lr=0.05, weight_decay=5e-4))
