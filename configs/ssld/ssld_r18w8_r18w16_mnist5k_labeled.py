# SSLD's ablation without unlabeled data: ssld_r18w8_r18w16_mnist5k.py
# distilled over the 1,000 labeled digits only (their labels still never
# reach the loss).
#   python tools/train.py configs/ssld/ssld_r18w8_r18w16_mnist5k_labeled.py
_base_ = ['./ssld_r18w8_r18w16_mnist5k.py']
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root={{_base_.data_root}},
        data_prefix='train',
        pipeline={{_base_.train_pipeline}},
    ))
