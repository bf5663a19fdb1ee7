# SSLD's optional second stage: 30 epochs on the labeled set only, with
# cross-entropy. The paper gives no learning rate for it; we use one tenth of
# the distillation lr, cosine, no warm-up (the network is already trained).
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-5))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=30, by_epoch=True, begin=0, end=30),
]
train_cfg = dict(by_epoch=True, max_epochs=30, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
