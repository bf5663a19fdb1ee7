# SimDis-On-7v on the embedded MNIST-5k digits: as SimDis-On, but the student
# predicts all seven views of the paper's appendix table (S-v', S^-v, S^-v',
# T-v, T-v', T^-v, T^-v'), one predictor each, losses averaged:
#   python tools/train.py configs/simdis/simdis_on7v_r18w8_mnist5k.py
_base_ = ['./simdis_on_r18w8_mnist5k.py']
model = dict(targets='SimDis-On-7v')
work_dir = 'work_dirs/simdis_mnist5k/simdis_on7v'
