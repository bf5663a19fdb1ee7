# SimDis-On-7v in the plain setting of the paper (Sec. 4.3): as
# simdis_on_r18_r50_8xb128-sgd-100e_in1k.py, the student predicting all
# seven views (S-v', S^-v, S^-v', T-v, T-v', T^-v, T^-v').
_base_ = ['./simdis_on_r18_r50_8xb128-sgd-100e_in1k.py']
model = dict(targets='SimDis-On-7v')
work_dir = 'work_dirs/simdis_in1k/simdis_on7v_r18_r50_sgd'
