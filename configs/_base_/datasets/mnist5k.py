# The embedded MNIST-5k digits for classifiers: mnist5k_train.py plus
# validation and test on the 1,000 digits of val/.
_base_ = ['./mnist5k_train.py']

val_dataloader = dict(
    batch_size=100,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CustomDataset', data_root={{_base_.data_root}},
                 data_prefix='val', pipeline={{_base_.test_pipeline}}),
)
val_evaluator = dict(type='Accuracy', topk=(1, ))
val_cfg = dict()
test_dataloader = val_dataloader
test_evaluator = val_evaluator
test_cfg = dict()
