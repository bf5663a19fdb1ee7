# SimDis-On on the embedded MNIST-5k digits: the 1/4-width teacher BYOL pair
# is trained from scratch at the same time as the 1/8-width student, with its
# own BYOL loss in the same optimizer; the student learns BYOL (S^-v') plus
# the teacher's EMA projection of the other view (T^-v'). No teacher
# checkpoint needed:
#   python tools/train.py configs/simdis/simdis_on_r18w8_mnist5k.py
_base_ = ['./simdis_off_r18w8_mnist5k.py']
model = dict(
    _delete_=True,
    type='SimDisOnline',
    student={{_base_.model.student}},
    teacher={{_base_.model.teacher}},
    targets='SimDis-On',  # = ['student_ema_other', 'teacher_ema_other']
)
work_dir = 'work_dirs/simdis_mnist5k/simdis_on'
