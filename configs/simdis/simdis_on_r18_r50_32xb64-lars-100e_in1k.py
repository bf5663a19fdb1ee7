# SimDis-On on ImageNet-1k: ResNet-18 student and ResNet-50 teacher BYOL
# pairs trained together (teacher with its own BYOL loss, same optimizer),
# standard LARS + SyncBN setting, 100 epochs.
_base_ = ['./simdis_off_r18_r50_32xb64-lars-100e_in1k.py']
model = dict(
    _delete_=True,
    type='SimDisOnline',
    student={{_base_.model.student}},
    teacher={{_base_.model.teacher}},
    targets='SimDis-On',
)
work_dir = 'work_dirs/simdis_in1k/simdis_on_r18_r50_lars'
