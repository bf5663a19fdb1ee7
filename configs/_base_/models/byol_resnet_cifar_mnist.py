# mmpretrain's BYOL around the CIFAR-style ResNet-18s of the MNIST-5k
# digits: projector and predictor Linear(., 256)-BN-ReLU-Linear(256, 64).
# byol_r18w16 (128-d feature) is the SimDis teacher, byol_r18w8 (64-d) the
# student; configs take them as {{_base_.byol_r18w16}}.


def _byol(width, dim=64, hid=256):
    return dict(
        type='BYOL',
        backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=width,
                      base_channels=width, out_indices=(3, )),
        neck=dict(type='NonLinearNeck', in_channels=width * 8,
                  hid_channels=hid, out_channels=dim, num_layers=2,
                  with_bias=True, with_last_bn=False, with_avg_pool=True,
                  norm_cfg=dict(type='BN1d')),
        head=dict(type='LatentPredictHead',
                  loss=dict(type='CosineSimilarityLoss'),
                  predictor=dict(type='NonLinearNeck', in_channels=dim,
                                 hid_channels=hid, out_channels=dim,
                                 num_layers=2, with_bias=True,
                                 with_last_bn=False, with_avg_pool=False,
                                 norm_cfg=dict(type='BN1d'))))


byol_r18w16 = _byol(16)
byol_r18w8 = _byol(8)
