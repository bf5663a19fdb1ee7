# mnist5k_iters.py stretched to 2,000 iterations (the SEED demo's MoCo-v2
# teacher and its student): the same warm-up and cosine decay.
_base_ = ['./mnist5k_iters.py']
max_iters = 2000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', T_max=max_iters - 100, by_epoch=False,
         begin=100, end=max_iters),
]
train_cfg = dict(max_iters=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters // 5))
