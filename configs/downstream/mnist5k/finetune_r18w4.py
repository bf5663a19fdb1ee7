# Fine-tuning for the SSLD demo's 1/16-width student; see finetune_r18w8.py.
_base_ = ['./linear_probe_r18w4.py']
model = dict(backbone=dict(frozen_stages=-1, norm_eval=False))
optim_wrapper = dict(optimizer=dict(lr=0.05, weight_decay=5e-4))
