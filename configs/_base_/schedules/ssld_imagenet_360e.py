# SSLD distillation schedule (paper, Sec. 4.1): SGD momentum 0.9, batch 256,
# lr 0.1, cosine decay after 5 linear warm-up epochs, 360 epochs. Weight decay
# is 1e-5 for small students and 4e-5 for large ones; configs set it.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-5))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=355, by_epoch=True, begin=5,
         end=360),
]
train_cfg = dict(by_epoch=True, max_epochs=360, val_interval=5)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=256)
