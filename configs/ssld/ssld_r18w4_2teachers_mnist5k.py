# SSLD with two teachers (the ensemble-teacher variant) on the embedded
# MNIST-5k digits: the 1/16-width student of ssld_r18w4_r18w16_mnist5k.py
# learns the mean of the softmax of two teachers, the quarter-width
# ResNet-18 of the demo and a 1/8-width one, over the same labeled and
# unlabeled digits; labels never reach the loss. Each teacher is built,
# loaded and checked on its own, with its own BN mode.
#   python tools/ssld_demo.py            # writes the quarter-width teacher
#   python tools/train.py configs/ssld/supervised_r18w8_mnist5k.py
#   python tools/train.py configs/ssld/ssld_r18w4_2teachers_mnist5k.py
# A teacher trained with other input statistics declares them in its model
# config, e.g. model=dict(..., data_preprocessor=dict(mean=[127.5] * 3,
# std=[127.5] * 3, to_rgb=True)); both teachers here were trained with the
# student's normalisation, so neither does.
_base_ = ['./ssld_r18w4_r18w16_mnist5k.py']
model = dict(
    _delete_=True,
    type='SSLD',
    student={{_base_.r18w4_classifier}},
    teachers=[
        dict(model={{_base_.r18w16_classifier}},
             ckpt='work_dirs/ssld_mnist5k_demo/teacher.pth'),
        dict(model={{_base_.r18w8_classifier}},
             ckpt='work_dirs/supervised_r18w8_mnist5k/iter_1000.pth'),
    ],
    teacher_bn_mode='train',  # the default of each entry (bn_mode=...)
    loss=dict(type='JSDivLoss', mode='soft_ce', loss_weight=1.0),
)
