# SimDis-On in the plain setting of the paper (Sec. 4.3: no LARS, no SyncBN,
# 8 GPUs x 128 images, SGD): simdis_off_r18_r50_8xb128-sgd-100e_in1k.py with
# the teacher BYOL pair trained alongside, as
# simdis_on_r18_r50_32xb64-lars-100e_in1k.py does in the standard setting.
_base_ = ['./simdis_off_r18_r50_8xb128-sgd-100e_in1k.py']
model = dict(
    _delete_=True,
    type='SimDisOnline',
    student={{_base_.model.student}},
    teacher={{_base_.model.teacher}},
    targets='SimDis-On',
)
work_dir = 'work_dirs/simdis_in1k/simdis_on_r18_r50_sgd'
